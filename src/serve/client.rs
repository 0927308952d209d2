//! Who is on the other end of a request: the socket's address, or behind a trusted reverse proxy
//! (`serve.trusted_proxies`) the client address the proxy forwards. That address is what the
//! per-address cap counts and what the logs name. A forwarded header from any other peer is
//! ignored, so a client cannot name addresses of its choosing to get round the cap.
//!
//! The accept loop caps connections per socket address for every peer but a trusted proxy (all
//! its clients arrive from its one address); [`limit`] caps a proxied client's requests at once.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::config::Block;
use super::error::err;

/// The socket's peer, put on each request by the accept loop.
#[derive(Debug, Clone, Copy)]
pub(super) struct Peer(pub(super) SocketAddr);

/// The trusted proxies and the proxied clients' requests at once, by address.
pub(super) struct Proxies {
    trusted: Vec<Block>,
    cap: usize,
    busy: Mutex<HashMap<IpAddr, usize>>,
}

impl Proxies {
    pub(super) fn new(trusted: Vec<Block>, cap: usize) -> Proxies {
        Proxies { trusted, cap, busy: Mutex::default() }
    }

    /// Whether `ip` is one of `serve.trusted_proxies`.
    pub(super) fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|b| b.contains(ip))
    }

    /// The client a request from `peer` speaks for: `peer` itself unless it is a trusted proxy;
    /// then the rightmost forwarded address that is not a trusted proxy (the one the nearest
    /// untrusted hop connected from), or the leftmost when every hop is trusted. An entry that
    /// is no address ends the walk: whatever is left of it was written by someone untrusted.
    pub(super) fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        for hop in forwarded_chain(headers).iter().rev() {
            match hop {
                Some(ip) => {
                    client = *ip;
                    if !self.trusts(*ip) {
                        break;
                    }
                }
                None => break,
            }
        }
        client
    }

    /// Counts one request of `client` until the returned guard drops; `None` past the cap.
    fn enter(self: &Arc<Self>, client: IpAddr) -> Option<Busy> {
        let mut busy = self.busy.lock().expect("proxied clients");
        let n = busy.entry(client).or_insert(0);
        if *n >= self.cap {
            return None;
        }
        *n += 1;
        Some(Busy { proxies: self.clone(), client })
    }
}

/// One proxied request being served; its count ends when dropped.
struct Busy {
    proxies: Arc<Proxies>,
    client: IpAddr,
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut busy = self.proxies.busy.lock().expect("proxied clients");
        if let Some(n) = busy.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                busy.remove(&self.client);
            }
        }
    }
}

/// The hops a request passed, oldest first: `X-Forwarded-For` if any, else `Forwarded`'s `for=`
/// (RFC 7239). `None` for an entry that is not an address (`unknown`, an obfuscated name).
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name| headers.get_all(name).iter().filter_map(|v: &HeaderValue| v.to_str().ok()).collect::<Vec<_>>();
    let xff = values(header::HeaderName::from_static("x-forwarded-for"));
    if !xff.is_empty() {
        return xff.iter().flat_map(|v| v.split(',')).map(address).collect();
    }
    values(header::FORWARDED)
        .iter()
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                k.trim().eq_ignore_ascii_case("for").then(|| address(v))
            })
        })
        .collect()
}

/// `1.2.3.4`, `1.2.3.4:80`, `"[2001:db8::1]:4711"`, `2001:db8::1` → the address.
fn address(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_matches('"');
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    s.rsplit_once(':').and_then(|(ip, _)| ip.parse().ok())
}

/// Names each request's client in its log span; a proxied client past
/// `serve.max_connections_per_ip` requests at once is answered 429.
pub(super) async fn limit(State(proxies): State<Arc<Proxies>>, req: Request, next: Next) -> Response {
    let Some(Peer(peer)) = req.extensions().get::<Peer>().copied() else {
        return next.run(req).await; // served without a socket (tests of the router)
    };
    let client = proxies.client(peer.ip(), req.headers());
    let span = tracing::info_span!("request", %client);
    let _busy = if client != peer.ip() {
        match proxies.enter(client) {
            Some(b) => Some(b),
            None => {
                span.in_scope(
                    || tracing::warn!(via = %peer.ip(), "too many requests from one address behind the proxy"),
                );
                let mut r =
                    err(StatusCode::TOO_MANY_REQUESTS, "too many requests at once from your address; try again")
                        .into_response();
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                return r;
            }
        }
    } else {
        None
    };
    next.run(req).instrument(span).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(trusted: &[&str]) -> Proxies {
        let cfg = super::super::ServeConfig {
            trusted_proxies: trusted.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        Proxies::new(cfg.trusted().unwrap(), 2)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn r23_the_client_is_the_rightmost_untrusted_forwarded_address_of_a_trusted_peer() {
        let p = proxies(&["127.0.0.1", "10.0.0.0/8"]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let local = ip("127.0.0.1");
        // the client wrote a spoofed first entry; the proxy appended the address it saw
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.1.2.3")]);
        assert_eq!(p.client(local, &h), ip("203.0.113.7"));
        // a peer that is no trusted proxy is itself, whatever it forwards
        assert_eq!(p.client(ip("198.51.100.9"), &h), ip("198.51.100.9"));
        let h = headers(&[("forwarded", "for=192.0.2.43, for=\"[2001:db8:cafe::17]:4711\";proto=https")]);
        assert_eq!(p.client(local, &h), ip("2001:db8:cafe::17"));
        // without a header, or with garbage, the proxy stands for itself
        assert_eq!(p.client(local, &HeaderMap::new()), local);
        assert_eq!(p.client(local, &headers(&[("x-forwarded-for", "unknown")])), local);
        // two header lines are one list
        let h = headers(&[("x-forwarded-for", "203.0.113.1"), ("x-forwarded-for", "203.0.113.2:5555")]);
        assert_eq!(p.client(local, &h), ip("203.0.113.2"));
    }

    #[test]
    fn r23_a_proxied_client_is_capped_alone() {
        let p = Arc::new(proxies(&["127.0.0.1"]));
        let a: IpAddr = "203.0.113.1".parse().unwrap();
        let held = [p.enter(a).unwrap(), p.enter(a).unwrap()];
        assert!(p.enter(a).is_none(), "a third request at once is over the cap of 2");
        assert!(p.enter("203.0.113.2".parse().unwrap()).is_some(), "another client is not");
        drop(held);
        assert!(p.enter(a).is_some());
        assert!(p.busy.lock().unwrap().is_empty(), "every count ends with its request");
    }
}
