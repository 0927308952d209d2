//! The ticket feed over HTTP (`firepoint serve`), on axum / hyper / tokio: township teams read
//! their tickets and take their steps; the county reads all. Each connection is its own task, so
//! a slow client holds only its own connection.
//!
//! | request | answer |
//! |---|---|
//! | `GET /health` | `ok` (no token): the server answers |
//! | `GET /health/batch` | `ok` and the last batch's end, or 503 `stale` past `batch.stale_after_min` (no token) |
//! | `GET /`, `/app.js`, `/app.css`, `/vendor/leaflet.*` | the township page (no token) |
//! | `GET /me` | who the token speaks for |
//! | `GET /tickets[?status=active&township=CODE&since=RFC3339&limit=N]` | JSON Lines, one ticket a line |
//! | `GET /tickets.geojson[?…]` | GeoJSON FeatureCollection |
//! | `GET /tickets/{id}` · `/tickets/{id}/log` · `/tickets/{id}/cap` | a ticket · its audit log · CAP 1.2 XML |
//! | `GET /villages.geojson` | the villages the token may see (for the page's map) |
//! | `POST /tickets/{id}/{ack,on_site,resolve,false_alarm,duplicate}` | the ticket after the step |
//! | `GET /metrics` | Prometheus text format (county token) |
//!
//! Every request but `/health`, `/health/batch` and the page needs `Authorization: Bearer TOKEN` (`firepoint
//! token add`); a township token sees, lists and changes only its township's tickets (another
//! township's ticket is answered 404, as if it did not exist). `by` in the audit log is the
//! token's name. Writes take JSON only (`Content-Type: application/json`, so a cross-site form or
//! `text/plain` POST is refused without a CORS preflight ever being granted) and a foreign
//! `Origin` is refused; the `Host` must be one of `serve.allowed_hosts` (DNS rebinding). Limits:
//! request head size and read time per connection, body size, whole-request time, connections at
//! once, and per client address (its connections; behind a trusted proxy, its requests).
//! Reads use read-only connections (no schema setup, no writes; WAL readers never wait for a
//! batch) from a pool of `serve.pool_size`: a read that finds none free in time is answered 503
//! with `Retry-After`, so a burst never takes more of a shared PostgreSQL's connections than that;
//! each step is one conditional update, so a lost race answers 409.
//!
//! Layout: [`config`] (the `[serve]` section), [`error`] (every error answer is JSON), [`state`]
//! (the store's connections), [`client`] (who a request comes from, behind a trusted proxy too),
//! [`auth`] (the token extractor and the guard), [`tickets`], [`steps`] and [`page`] (the
//! resources), [`metrics`] (`/metrics`); the sender loop that `serve` runs beside the feed is
//! `sender::spawn_loop`. This file builds the router and runs the accept loop.

mod auth;
mod client;
mod config;
mod error;
mod metrics;
mod page;
mod state;
mod steps;
mod tickets;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Path as UrlPath;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

pub use config::ServeConfig;
pub use error::ApiError;
pub use page::villages_geojson;

use crate::notify::NotifyConfig;
use crate::store::Store;
use error::err;
use page::{asset, assets};

/// The application: routes, limits and guards (what [`serve`] runs on each connection).
/// `stale_after_min` is `batch.stale_after_min`, for `/health/batch`.
pub fn router(
    store_path: &Path,
    cfg: &ServeConfig,
    notify: &NotifyConfig,
    stale_after_min: i64,
    villages: serde_json::Value,
    listen: SocketAddr,
) -> anyhow::Result<Router> {
    let mut writer = Store::open(store_path)?;
    // a step gives up waiting for a batch's lock before the request's own time runs out, so an
    // answer of 408 never hides a step that was written after all (it says 503, nothing changed)
    writer.set_busy_timeout(Duration::from_secs(cfg.request_timeout_s.saturating_sub(1).max(1)))?;
    let townships = villages["townships"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    let proxies =
        Arc::new(client::Proxies::new(cfg.trusted().map_err(anyhow::Error::msg)?, cfg.max_connections_per_ip));
    let app = Arc::new(state::App {
        readers: state::Readers::new(store_path, cfg.pool_size, Duration::from_millis(cfg.pool_wait_ms)),
        writer: Mutex::new(writer),
        villages,
        townships,
        lists: Mutex::default(),
        cap_sender: cfg.cap_sender.clone(),
        notify: notify.clone(),
        refresh_s: cfg.page_refresh_s,
        stale_after: chrono::Duration::minutes(stale_after_min),
        runs: Mutex::default(),
    });
    let serve = Arc::new(cfg.clone());
    Ok(Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/health/batch", get(metrics::batch_health))
        .route("/", get(|| async { asset("text/html; charset=utf-8", assets::INDEX) }))
        .route("/app.js", get(|| async { asset("text/javascript; charset=utf-8", assets::APP_JS) }))
        .route("/app.css", get(|| async { asset("text/css; charset=utf-8", assets::APP_CSS) }))
        .route("/vendor/leaflet.js", get(|| async { asset("text/javascript; charset=utf-8", assets::LEAFLET_JS) }))
        .route("/vendor/leaflet.css", get(|| async { asset("text/css; charset=utf-8", assets::LEAFLET_CSS) }))
        .route("/me", get(page::me))
        .route("/villages.geojson", get(page::village_layer))
        .route("/towers", get(page::towers))
        .route("/passes", get(page::passes))
        .route("/tickets", get(tickets::list))
        .route("/tickets.geojson", get(tickets::list_geojson))
        .route("/tickets/{id}", get(tickets::one))
        .route("/tickets/{id}/log", get(tickets::log))
        .route("/tickets/{id}/cap", get(tickets::cap))
        // the SMS's short link to a ticket's pictures: the page, which asks for the token
        .route("/e/{id}", get(|UrlPath(id): UrlPath<String>| async move { page::to_ticket(&id) }))
        .route("/tickets/{id}/evidence", get(tickets::evidence_list))
        .route("/tickets/{id}/evidence/{name}", get(tickets::evidence_one))
        .route("/tickets/{id}/ack", post(steps::ack))
        .route("/tickets/{id}/on_site", post(steps::on_site))
        .route("/tickets/{id}/resolve", post(steps::resolve))
        .route("/tickets/{id}/false_alarm", post(steps::false_alarm))
        .route("/tickets/{id}/duplicate", post(steps::duplicate))
        .route("/tickets/{id}/escalate", post(steps::escalate))
        .route("/tickets/{id}/{action}", post(steps::unknown))
        .route("/metrics", get(metrics::metrics))
        .fallback(|| async { err(StatusCode::NOT_FOUND, "no such resource") })
        .method_not_allowed_fallback(|| async { err(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here") })
        .with_state(app)
        // the page is never framed by another site (its buttons would be clickable there)
        .layer(axum::middleware::map_response(|mut r: Response| async move {
            let h = r.headers_mut();
            h.insert("x-frame-options", HeaderValue::from_static("DENY"));
            h.insert("content-security-policy", HeaderValue::from_static("frame-ancestors 'none'"));
            h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
            r
        }))
        .layer(middleware::from_fn_with_state((serve.clone(), listen), auth::guard))
        .layer(middleware::from_fn_with_state(proxies, client::limit))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(serve.body_limit_bytes))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(serve.request_timeout_s),
        ))
        .layer(axum::middleware::map_response(error::json_errors)))
}

/// Serves the feed on `listen` until SIGINT / SIGTERM; with `notify_every_s`, the notification
/// sender runs beside it on its own store connection.
pub fn serve(
    listen: &str,
    store_path: &Path,
    cfg: &ServeConfig,
    notify: &NotifyConfig,
    stale_after_min: i64,
    villages: serde_json::Value,
) -> anyhow::Result<()> {
    Store::open(store_path)?; // migrate once before the read-only connections open it
                              // bound and built before the runtime starts: the store's connections (PostgreSQL's driver
                              // blocks on a runtime of its own) are opened outside async code
    let std_listener =
        std::net::TcpListener::bind(listen).map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let app = router(store_path, cfg, notify, stale_after_min, villages, addr)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(std_listener)?;
        if cfg.notify_every_s > 0 {
            crate::sender::spawn_loop(store_path.into(), notify.clone(), Duration::from_secs(cfg.notify_every_s));
        }
        eprintln!("serving the ticket feed on http://{addr}/ (store {}); stop with Ctrl-C", store_path.display());
        accept_loop(listener, app, cfg).await
    })
}

async fn accept_loop(listener: tokio::net::TcpListener, app: Router, cfg: &ServeConfig) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;
    let slots = Arc::new(tokio::sync::Semaphore::new(cfg.max_connections));
    let (head_timeout, head_limit) = (Duration::from_secs(cfg.head_timeout_s), cfg.head_limit_bytes);
    let lifetime = Duration::from_secs(cfg.connection_timeout_s);
    let per_ip: Arc<Mutex<std::collections::HashMap<std::net::IpAddr, usize>>> = Default::default();
    // a trusted proxy's clients all arrive from its address: they are capped by request instead
    let proxies = client::Proxies::new(cfg.trusted().map_err(anyhow::Error::msg)?, cfg.max_connections_per_ip);
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        let permit = slots.clone().acquire_owned().await.expect("never closed");
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => { tracing::warn!("accept: {e}"); continue; }
            },
            _ = &mut stop => { tracing::info!("stopping"); return Ok(()); }
        };
        let ip = peer.ip();
        if !proxies.trusts(ip) {
            let mut counts = per_ip.lock().expect("per-ip counts");
            let n = counts.entry(ip).or_insert(0);
            if *n >= cfg.max_connections_per_ip {
                tracing::warn!(%ip, "too many connections from one address; closed");
                continue; // dropping the stream closes it
            }
            *n += 1;
        }
        let (app, per_ip) = (app.clone(), per_ip.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let mut req = req.map(Body::new);
                req.extensions_mut().insert(client::Peer(peer));
                app.clone().oneshot(req)
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(head_timeout)
                .max_buf_size(head_limit)
                .serve_connection(TokioIo::new(stream), service);
            match tokio::time::timeout(lifetime, connection).await {
                Ok(Err(e)) => tracing::debug!("connection: {e}"),
                Err(_) => tracing::debug!(%ip, "connection closed after serve.connection_timeout_s"),
                Ok(Ok(())) => {}
            }
            let mut counts = per_ip.lock().expect("per-ip counts");
            if let Some(n) = counts.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    counts.remove(&ip);
                }
            }
            drop(permit);
        });
    }
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
