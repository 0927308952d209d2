//! The `[serve]` section: where the feed listens, which hosts it answers to, and its limits.

use std::net::SocketAddr;

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
    /// Connections from one address at once; more are closed at once.
    pub max_connections_per_ip: usize,
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
        Ok(())
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
