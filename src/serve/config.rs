//! The `[serve]` section: where the feed listens, which hosts it answers to, and its limits.

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

/// The `[serve]` section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// Address to listen on (`--listen` overrides).
    pub listen: String,
    /// Host names (with or without port) the server answers to; requests naming another `Host`
    /// are refused (DNS rebinding). Add the name the county's reverse proxy forwards.
    pub allowed_hosts: Vec<String>,
    /// Largest request body, bytes (chunked bodies included).
    pub body_limit_bytes: usize,
    /// Largest request head (request line and headers), bytes.
    pub head_limit_bytes: usize,
    /// Seconds a client may take to send the request head.
    pub head_timeout_s: u64,
    /// Seconds a whole request may take, body included (then 408).
    pub request_timeout_s: u64,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// Connections from one address at once; more are closed at once. Behind a trusted proxy
    /// (`trusted_proxies`) the address is the client's as the proxy forwards it, and the cap counts
    /// its requests at once; more are answered 429.
    pub max_connections_per_ip: usize,
    /// Reverse proxies whose forwarded client address is believed (addresses or CIDR blocks,
    /// `127.0.0.1`, `10.0.0.0/8`, `::1`). A request from one of them is counted and logged as
    /// the rightmost address of `X-Forwarded-For` (else `Forwarded: for=`) that is not itself a
    /// trusted proxy. Empty (the default): forwarded headers are ignored, every client is its
    /// socket's address, and no client can name another address to get round the cap.
    pub trusted_proxies: Vec<String>,
    /// Store connections the feed holds at most, for reads (the one writing connection and the
    /// sender's are beside them). A read that finds none free within `pool_wait_ms` is answered
    /// 503 with `Retry-After`. 8 is well under PostgreSQL's default `max_connections` (100),
    /// leaving the rest to workers, senders and the CLI (docs/DEPLOY.md, "Connection budget").
    pub pool_size: usize,
    /// Milliseconds a read waits for a free store connection before it is answered 503.
    pub pool_wait_ms: u64,
    /// Seconds a connection may stay open, keep-alive included (a client that never reads its
    /// answers gives its slot back then).
    pub connection_timeout_s: u64,
    /// The page asks for new tickets every this many seconds (a new alarm shows within it).
    pub page_refresh_s: u64,
    /// Run the notification sender every this many seconds inside `serve` (0: leave it to
    /// `firepoint notify` from cron).
    pub notify_every_s: u64,
    /// The CAP `sender` of this county's alerts (`GET /tickets/{id}/cap`, `tickets cap`): the same
    /// everywhere, so that an Update's references name its Alert.
    pub cap_sender: String,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: "127.0.0.1:8787".into(),
            allowed_hosts: vec!["127.0.0.1".into(), "localhost".into(), "[::1]".into()],
            body_limit_bytes: 64 * 1024,
            head_limit_bytes: 16 * 1024,
            head_timeout_s: 10,
            request_timeout_s: 15,
            max_connections: 1024,
            max_connections_per_ip: 128,
            trusted_proxies: Vec::new(),
            pool_size: 8,
            pool_wait_ms: 5000,
            connection_timeout_s: 120,
            notify_every_s: 30,
            page_refresh_s: 30,
            cap_sender: "firepoint@localhost".into(),
        }
    }
}

impl ServeConfig {
    pub fn check(&self) -> Result<(), String> {
        if self.body_limit_bytes == 0 || self.head_limit_bytes < 8192 {
            return Err("serve: body_limit_bytes must be > 0 and head_limit_bytes ≥ 8192".into());
        }
        if self.head_timeout_s == 0 || self.request_timeout_s < 2 || self.max_connections == 0 {
            return Err("serve: head_timeout_s ≥ 1, request_timeout_s ≥ 2 and max_connections ≥ 1".into());
        }
        if self.allowed_hosts.is_empty() {
            return Err("serve.allowed_hosts is empty: no request could be served".into());
        }
        if self.cap_sender.is_empty() || self.cap_sender.contains([' ', ',', '<', '&']) {
            return Err("serve.cap_sender must be non-empty, without spaces, commas, < or &".into());
        }
        if self.page_refresh_s == 0 {
            return Err("serve.page_refresh_s must be ≥ 1".into());
        }
        if self.max_connections_per_ip == 0 || self.connection_timeout_s < self.request_timeout_s {
            return Err("serve: max_connections_per_ip ≥ 1 and connection_timeout_s ≥ request_timeout_s".into());
        }
        if self.pool_size == 0 {
            return Err("serve.pool_size must be ≥ 1".into());
        }
        self.trusted()?;
        Ok(())
    }

    /// `trusted_proxies` parsed; an entry that is no address or block is an error naming it.
    pub(super) fn trusted(&self) -> Result<Vec<Block>, String> {
        self.trusted_proxies.iter().map(|s| Block::parse(s)).collect()
    }

    pub(super) fn host_allowed(&self, host: &str, listen: &SocketAddr) -> bool {
        let name = strip_port(host);
        name == listen.ip().to_string()
            || self.allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(host) || h.eq_ignore_ascii_case(name))
    }
}

/// `host:port` → `host` (`[::1]:80` → `[::1]`).
fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) && !name.ends_with(':') => name,
        _ => host,
    }
}

/// An address block of `serve.trusted_proxies`: an address and how many leading bits count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Block {
    net: IpAddr,
    bits: u8,
}

impl Block {
    fn parse(s: &str) -> Result<Block, String> {
        let bad = || format!("serve.trusted_proxies: `{s}` is not an address or a CIDR block (10.0.0.0/8)");
        let (addr, bits) = s.trim().split_once('/').map_or((s.trim(), None), |(a, b)| (a, Some(b)));
        let net: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = bits.map_or(Ok(max), |b| b.parse::<u8>().map_err(|_| bad()))?;
        if bits > max {
            return Err(bad());
        }
        Ok(Block { net, bits })
    }

    pub(super) fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical(); // an IPv4 client seen on an IPv6 socket (::ffff:a.b.c.d)
        let prefix = |a: u128, b: u128, width: u32| {
            let shift = width - u32::from(self.bits);
            shift >= width || (a >> shift) == (b >> shift)
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix(u32::from(n).into(), u32::from(a).into(), 32),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix(u128::from(n), u128::from(a), 128),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r23_trusted_proxies_are_addresses_or_blocks() {
        let cfg = |list: &[&str]| ServeConfig {
            trusted_proxies: list.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let blocks = cfg(&["127.0.0.1", "10.0.0.0/8", "fd00::/8"]).trusted().unwrap();
        let trusted = |ip: &str| blocks.iter().any(|b| b.contains(ip.parse().unwrap()));
        assert!(trusted("127.0.0.1") && trusted("10.9.8.7") && trusted("::ffff:10.1.1.1") && trusted("fd12::1"));
        assert!(!trusted("127.0.0.2") && !trusted("11.0.0.1") && !trusted("fe80::1"));
        for bad in ["proxy.local", "10.0.0.0/33", "10.0.0.0/x"] {
            assert!(cfg(&[bad]).check().unwrap_err().contains(bad), "{bad}");
        }
        assert!(cfg(&["0.0.0.0/0"]).trusted().unwrap()[0].contains("8.8.8.8".parse().unwrap()));
    }
}
