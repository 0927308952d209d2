//! The ticket feed over HTTP (`firepoint serve`), on axum / hyper / tokio: township teams read
//! their tickets and take their steps; the county reads all. Each connection is its own task, so
//! a slow client holds only its own connection.
//!
//! | request | answer |
//! |---|---|
//! | `GET /health` | `ok` (no token) |
//! | `GET /`, `/app.js`, `/app.css`, `/vendor/leaflet.*` | the township page (no token) |
//! | `GET /me` | who the token speaks for |
//! | `GET /tickets[?status=active&township=CODE&since=RFC3339&limit=N]` | JSON Lines, one ticket a line |
//! | `GET /tickets.geojson[?…]` | GeoJSON FeatureCollection |
//! | `GET /tickets/{id}` · `/tickets/{id}/log` · `/tickets/{id}/cap` | a ticket · its audit log · CAP 1.2 XML |
//! | `GET /villages.geojson` | the villages the token may see (for the page's map) |
//! | `POST /tickets/{id}/{ack,on_site,resolve,false_alarm,duplicate}` | the ticket after the step |
//!
//! Every request but `/health` and the page needs `Authorization: Bearer TOKEN` (`firepoint
//! token add`); a township token sees, lists and changes only its township's tickets (another
//! township's ticket is answered 404, as if it did not exist). `by` in the audit log is the
//! token's name. Writes take JSON only (`Content-Type: application/json`, so a cross-site form or
//! `text/plain` POST is refused without a CORS preflight ever being granted) and a foreign
//! `Origin` is refused; the `Host` must be one of `serve.allowed_hosts` (DNS rebinding). Limits:
//! request head size and read time per connection, body size, whole-request time, connections.
//! Reads use read-only connections (no schema setup, no writes; WAL readers never wait for a
//! batch); each step is one conditional update, so a lost race answers 409.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::domain::{FalseAlarmCause, Ticket};
use crate::lifecycle::Step;
use crate::notify::NotifyConfig;
use crate::store::{Identity, Store, StoreError, TicketFilter};

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
        if self.max_connections_per_ip == 0 || self.connection_timeout_s < self.request_timeout_s {
            return Err("serve: max_connections_per_ip ≥ 1 and connection_timeout_s ≥ request_timeout_s".into());
        }
        Ok(())
    }

    fn host_allowed(&self, host: &str, listen: &SocketAddr) -> bool {
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

/// An error as the client sees it: a status and a JSON `{"error": …}`.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"firepoint\""));
        }
        r
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let text = crate::text::error_chain(&e);
        match e {
            StoreError::NoTicket(_) => ApiError(StatusCode::NOT_FOUND, text),
            StoreError::BadTransition { .. } => ApiError(StatusCode::CONFLICT, text),
            StoreError::BadStep(_) => ApiError(StatusCode::BAD_REQUEST, text),
            StoreError::TooLate => ApiError(
                StatusCode::SERVICE_UNAVAILABLE,
                "the ticket store was busy until the request's time ran out; nothing was changed, try again".into(),
            ),
            ref e if e.is_busy() => ApiError(
                StatusCode::SERVICE_UNAVAILABLE,
                "the ticket store is busy (a batch is writing); nothing was changed, try again".into(),
            ),
            _ => {
                tracing::error!("{text}");
                ApiError(StatusCode::INTERNAL_SERVER_ERROR, "the ticket store failed; see the server log".into())
            }
        }
    }
}

fn err(status: StatusCode, text: impl Into<String>) -> ApiError {
    ApiError(status, text.into())
}

/// Read-only store connections, reused.
struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Store>>,
}

struct App {
    readers: Readers,
    /// The one writing connection (steps are short transactions; batches write meanwhile).
    writer: Mutex<Store>,
    villages: serde_json::Value,
    /// Township codes of the district (a county token's `?township=` must name one).
    townships: Vec<String>,
    /// Lists already built, by filter and format, with the tickets' version they were built at:
    /// a list is rebuilt only after a ticket changed.
    lists: Mutex<std::collections::HashMap<String, (i64, axum::body::Bytes)>>,
    cap_sender: String,
}

type Shared = Arc<App>;

impl App {
    /// Runs `f` on a read-only connection, off the async threads.
    async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let app = self.clone();
        tokio::task::spawn_blocking(move || {
            let taken = app.readers.idle.lock().expect("reader pool").pop();
            let store = match taken {
                Some(s) => s,
                None => Store::open_read_only(&app.readers.path)?,
            };
            let out = f(&store);
            app.readers.idle.lock().expect("reader pool").push(store);
            out
        })
        .await
        .map_err(|e| err(StatusCode::INTERNAL_SERVER_ERROR, format!("reader task failed: {e}")))?
    }

    /// Runs `f` on the one writing connection, off the async threads, if it can start before
    /// `deadline`: a write queued behind others (or behind a batch) past the request's own time
    /// is never started, and waits for the store's lock only until then.
    async fn write<T: Send + 'static>(
        self: &Arc<Self>,
        deadline: Instant,
        f: impl FnOnce(&mut Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let app = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut writer = app.writer.lock().expect("writer");
            let left = deadline.checked_duration_since(Instant::now()).ok_or(StoreError::TooLate)?;
            writer.set_busy_timeout(left)?;
            f(&mut writer)
        })
        .await
        .map_err(|e| err(StatusCode::INTERNAL_SERVER_ERROR, format!("writer task failed: {e}")))?
    }

    /// The identity of the request's bearer token; 401 without a valid one.
    async fn who(self: &Arc<Self>, headers: &HeaderMap) -> Result<Identity, ApiError> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' ').filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer")).map(|(_, t)| t))
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty() && t.len() <= 200)
            .ok_or_else(|| err(StatusCode::UNAUTHORIZED, "send `Authorization: Bearer TOKEN` (firepoint token add)"))?;
        self.read(move |s| s.identity(&token)?.ok_or_else(|| err(StatusCode::UNAUTHORIZED, "unknown or revoked token")))
            .await
    }
}

/// Ticket `id` if `who` may see it; another township's is "no ticket", as a missing one.
fn visible(store: &Store, who: &Identity, id: &str) -> Result<Ticket, ApiError> {
    let t = store.ticket(id)?;
    if !who.sees(&t.township_code) {
        return Err(StoreError::NoTicket(id.into()).into());
    }
    Ok(t)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    township: Option<String>,
    /// RFC 3339: only tickets last seen at or after it.
    since: Option<String>,
    /// At most this many, the most recently first seen.
    limit: Option<usize>,
}

fn filter_for(who: &Identity, q: ListQuery, known_townships: &[String]) -> Result<TicketFilter, ApiError> {
    let status =
        q.status.map(|s| TicketFilter::parse_status(&s)).transpose().map_err(|e| err(StatusCode::BAD_REQUEST, e))?;
    let township = match (&who.township_code, q.township) {
        (Some(own), Some(asked)) if *own != asked => {
            return Err(err(StatusCode::FORBIDDEN, format!("this token sees township {own} only")))
        }
        (Some(own), _) => Some(own.clone()),
        (None, Some(asked)) if !known_townships.contains(&asked) => {
            return Err(err(StatusCode::BAD_REQUEST, format!("no township {asked} in the district")))
        }
        (None, asked) => asked,
    };
    let since = q
        .since
        .map(|s| chrono::DateTime::parse_from_rfc3339(&s).map(|t| t.to_utc()))
        .transpose()
        .map_err(|e| err(StatusCode::BAD_REQUEST, format!("since: not an RFC 3339 time ({e})")))?;
    Ok(TicketFilter { status, township, since, limit: q.limit })
}

fn typed(content_type: &'static str, body: impl Into<Body>) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], body.into()).into_response()
}

/// The list of `filter` as JSON Lines or GeoJSON: built from the store, or the copy built at the
/// same tickets' version; with an ETag of that version, so a client that has it gets 304.
async fn list_as(app: &Shared, headers: &HeaderMap, filter: TicketFilter, geojson: bool) -> Result<Response, ApiError> {
    let key = format!("{}|{:?}", if geojson { "geojson" } else { "jsonl" }, filter);
    let shared = app.clone();
    let (version, body) = app
        .read(move |s| {
            let version = s.tickets_version()?;
            if let Some((v, body)) = shared.lists.lock().expect("list cache").get(&key) {
                if *v == version {
                    return Ok((version, body.clone()));
                }
            }
            let list = s.tickets(&filter)?;
            let body = axum::body::Bytes::from(if geojson {
                crate::feed::geojson(&list).to_string()
            } else {
                crate::feed::jsonl(&list)
            });
            let mut cache = shared.lists.lock().expect("list cache");
            if cache.len() >= 256 {
                cache.clear(); // filters are few (a status, a township); this bounds odd ones
            }
            cache.insert(key.clone(), (version, body.clone()));
            Ok((version, body))
        })
        .await?;
    let etag = format!("\"v{version}-{}\"", body.len());
    let matches = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v == etag);
    let mut r = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        typed(if geojson { "application/geo+json" } else { "application/x-ndjson" }, body)
    };
    r.headers_mut().insert(header::ETAG, HeaderValue::from_str(&etag).expect("ASCII"));
    Ok(r)
}

/// `GET /tickets` and `GET /tickets.geojson`: the token's tickets by the query's filter.
async fn list_by_query(
    app: Shared,
    headers: HeaderMap,
    query: ListQueryResult,
    geojson: bool,
) -> Result<Response, ApiError> {
    let who = app.who(&headers).await?;
    let Query(q) =
        query.map_err(|e| err(StatusCode::BAD_REQUEST, format!("{e} (status=, township=, since=, limit=)")))?;
    let filter = filter_for(&who, q, &app.townships)?;
    list_as(&app, &headers, filter, geojson).await
}

type ListQueryResult = Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>;

async fn list(State(app): State<Shared>, headers: HeaderMap, query: ListQueryResult) -> Result<Response, ApiError> {
    list_by_query(app, headers, query, false).await
}

async fn list_geojson(
    State(app): State<Shared>,
    headers: HeaderMap,
    query: ListQueryResult,
) -> Result<Response, ApiError> {
    list_by_query(app, headers, query, true).await
}

async fn one(
    State(app): State<Shared>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Ticket>, ApiError> {
    let who = app.who(&headers).await?;
    Ok(Json(app.read(move |s| visible(s, &who, &id)).await?))
}

async fn log(
    State(app): State<Shared>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Vec<crate::store::LogEntry>>, ApiError> {
    let who = app.who(&headers).await?;
    Ok(Json(app.read(move |s| visible(s, &who, &id).and_then(|_| Ok(s.log(&id)?))).await?))
}

async fn cap(
    State(app): State<Shared>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    let who = app.who(&headers).await?;
    let sender = app.cap_sender.clone();
    let t = app.read(move |s| visible(s, &who, &id)).await?;
    Ok(typed("application/cap+xml", crate::cap::alert_xml(&t, &sender)))
}

async fn me(State(app): State<Shared>, headers: HeaderMap) -> Result<Json<serde_json::Value>, ApiError> {
    let who = app.who(&headers).await?;
    let township = who
        .township_code
        .as_ref()
        .and_then(|code| app.villages["townships"].get(code).and_then(|n| n.as_str()).map(String::from));
    Ok(Json(serde_json::json!({ "name": who.name, "township_code": who.township_code, "township": township })))
}

async fn village_layer(State(app): State<Shared>, headers: HeaderMap) -> Result<Response, ApiError> {
    let who = app.who(&headers).await?;
    let features: Vec<&serde_json::Value> = app.villages["features"]
        .as_array()
        .map(|f| f.iter().filter(|v| who.sees(v["properties"]["township_code"].as_str().unwrap_or(""))).collect())
        .unwrap_or_default();
    let body = serde_json::json!({ "type": "FeatureCollection", "features": features });
    Ok(typed("application/geo+json", body.to_string()))
}

/// A step's body, by its name in the URL.
fn parse_step(action: &str, body: &[u8]) -> Result<Step, ApiError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Fields {
        note: Option<String>,
        action: Option<String>,
        cause: Option<String>,
        of: Option<String>,
    }
    let text = if body.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { body };
    let f: Fields = serde_json::from_slice(text).map_err(|e| err(StatusCode::BAD_REQUEST, format!("body: {e}")))?;
    let need = |v: Option<String>, what: &str| {
        v.filter(|s| !s.trim().is_empty())
            .ok_or_else(|| err(StatusCode::BAD_REQUEST, format!("{action} needs `{what}`")))
    };
    Ok(match action {
        "ack" => Step::Ack,
        "on_site" => Step::OnSite { note: f.note },
        "resolve" => Step::Resolve { action: need(f.action, "action")? },
        "false_alarm" => {
            let cause = need(f.cause, "cause")?;
            let cause = FalseAlarmCause::parse(&cause).ok_or_else(|| {
                let all: Vec<&str> = FalseAlarmCause::ALL.iter().map(|c| c.as_str()).collect();
                err(StatusCode::BAD_REQUEST, format!("unknown cause `{cause}` ({})", all.join(", ")))
            })?;
            Step::FalseAlarm { cause, note: f.note }
        }
        "duplicate" => Step::Duplicate { of: need(f.of, "of")? },
        _ => {
            return Err(err(
                StatusCode::NOT_FOUND,
                format!("no step `{action}` (ack, on_site, resolve, false_alarm, duplicate)"),
            ))
        }
    })
}

async fn take_step(
    State(app): State<Shared>,
    axum::Extension(Deadline(deadline)): axum::Extension<Deadline>,
    headers: HeaderMap,
    UrlPath((id, action)): UrlPath<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Ticket>, ApiError> {
    let who = app.who(&headers).await?;
    let step = parse_step(&action, &body)?;
    let t = app
        .write(deadline, move |s| {
            visible(s, &who, &id)?;
            if let Step::Duplicate { of } = &step {
                visible(s, &who, of)?;
            }
            Ok(s.step_until(&id, &step, &who.by(), chrono::Utc::now(), Some(deadline))?)
        })
        .await?;
    Ok(Json(t))
}

/// The last moment a request's write may commit: a second before `serve.request_timeout_s`
/// answers 408, so that a 408 always means nothing was changed (the commit itself is
/// milliseconds). Set by [`guard`], which runs inside the timeout layer.
#[derive(Clone, Copy)]
struct Deadline(Instant);

/// Host allow-list for every request; for writes, JSON only and no foreign `Origin`.
async fn guard(State((cfg, listen)): State<(Arc<ServeConfig>, SocketAddr)>, mut req: Request, next: Next) -> Response {
    let deadline = Instant::now() + Duration::from_secs(cfg.request_timeout_s) - Duration::from_secs(1);
    req.extensions_mut().insert(Deadline(deadline));
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if !cfg.host_allowed(host, &listen) {
        return err(StatusCode::MISDIRECTED_REQUEST, format!("host `{host}` is not served here (serve.allowed_hosts)"))
            .into_response();
    }
    if req.method() != axum::http::Method::GET && req.method() != axum::http::Method::HEAD {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return err(StatusCode::UNSUPPORTED_MEDIA_TYPE, "writes take `Content-Type: application/json`")
                .into_response();
        }
        if let Some(origin) = req.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
            // the page's own origin: the Host it was served under, or a name the county's reverse
            // proxy serves it as (which may rewrite Host to the backend's address)
            let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(origin);
            if origin_host != host && !cfg.allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(origin_host)) {
                return err(StatusCode::FORBIDDEN, format!("cross-origin write from `{origin}` refused"))
                    .into_response();
            }
        }
    }
    next.run(req).await
}

mod page {
    pub const INDEX: &str = include_str!(concat!(env!("OUT_DIR"), "/index.html"));
    pub const APP_JS: &str = include_str!(concat!(env!("OUT_DIR"), "/app.js"));
    pub const APP_CSS: &str = include_str!(concat!(env!("OUT_DIR"), "/app.css"));
    pub const LEAFLET_JS: &str = include_str!(concat!(env!("OUT_DIR"), "/leaflet.js"));
    pub const LEAFLET_CSS: &str = include_str!(concat!(env!("OUT_DIR"), "/leaflet.css"));
}

fn asset(content_type: &'static str, text: &'static str) -> Response {
    let mut r = typed(content_type, text);
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// The village layer for the page's map: polygons with code, name and township, and the
/// township names by code.
pub fn villages_geojson(aoi: &crate::aoi::Aoi) -> serde_json::Value {
    let ring = |r: &geo::LineString<f64>| r.0.iter().map(|c| [c.x, c.y]).collect::<Vec<_>>();
    let features: Vec<serde_json::Value> = aoi
        .villages
        .iter()
        .map(|v| {
            let polys: Vec<Vec<Vec<[f64; 2]>>> = v
                .area
                .0
                .iter()
                .map(|p| std::iter::once(ring(p.exterior())).chain(p.interiors().iter().map(ring)).collect())
                .collect();
            let township = aoi.township(&v.township).map(|t| t.name.clone()).unwrap_or_default();
            serde_json::json!({
                "type": "Feature",
                "geometry": { "type": "MultiPolygon", "coordinates": polys },
                "properties": { "code": v.code, "name": v.name, "township_code": v.township, "township": township,
                                "grid_id": v.grid_id },
            })
        })
        .collect();
    let townships: serde_json::Map<String, serde_json::Value> =
        aoi.townships.iter().map(|t| (t.code.clone(), t.name.clone().into())).collect();
    serde_json::json!({ "type": "FeatureCollection", "features": features, "townships": townships })
}

/// The application: routes, limits and guards (what [`serve`] runs on each connection).
pub fn router(
    store_path: &Path,
    cfg: &ServeConfig,
    notify: &NotifyConfig,
    villages: serde_json::Value,
    listen: SocketAddr,
) -> anyhow::Result<Router> {
    let mut writer = Store::open(store_path)?.with_notify(notify);
    // a step gives up waiting for a batch's lock before the request's own time runs out, so an
    // answer of 408 never hides a step that was written after all (it says 503, nothing changed)
    writer.set_busy_timeout(Duration::from_secs(cfg.request_timeout_s.saturating_sub(1).max(1)))?;
    let townships = villages["townships"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    let app = Arc::new(App {
        readers: Readers { path: store_path.into(), idle: Mutex::new(Vec::new()) },
        writer: Mutex::new(writer),
        villages,
        townships,
        lists: Mutex::default(),
        cap_sender: cfg.cap_sender.clone(),
    });
    let serve = Arc::new(cfg.clone());
    Ok(Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/", get(|| async { asset("text/html; charset=utf-8", page::INDEX) }))
        .route("/app.js", get(|| async { asset("text/javascript; charset=utf-8", page::APP_JS) }))
        .route("/app.css", get(|| async { asset("text/css; charset=utf-8", page::APP_CSS) }))
        .route("/vendor/leaflet.js", get(|| async { asset("text/javascript; charset=utf-8", page::LEAFLET_JS) }))
        .route("/vendor/leaflet.css", get(|| async { asset("text/css; charset=utf-8", page::LEAFLET_CSS) }))
        .route("/me", get(me))
        .route("/villages.geojson", get(village_layer))
        .route("/tickets", get(list))
        .route("/tickets.geojson", get(list_geojson))
        .route("/tickets/{id}", get(one))
        .route("/tickets/{id}/log", get(log))
        .route("/tickets/{id}/cap", get(cap))
        .route("/tickets/{id}/{action}", post(take_step))
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
        .layer(middleware::from_fn_with_state((serve.clone(), listen), guard))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(serve.body_limit_bytes))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(serve.request_timeout_s),
        ))
        .layer(axum::middleware::map_response(json_errors)))
}

/// Every error answer is JSON `{"error": …}`, those of the limit and timeout layers included
/// (they answer in plain text or with no body).
async fn json_errors(r: Response) -> Response {
    let status = r.status();
    let json = r
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || json {
        return r;
    }
    let (mut parts, body) = r.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let reason = status.canonical_reason().unwrap_or("error").to_lowercase();
    let message = if text.trim().is_empty() { reason } else { format!("{reason}: {}", text.trim()) };
    let body = serde_json::json!({ "error": message }).to_string();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// Serves the feed on `listen` until SIGINT / SIGTERM; with `notify_every_s`, the notification
/// sender runs beside it on its own store connection.
pub fn serve(
    listen: &str,
    store_path: &Path,
    cfg: &ServeConfig,
    notify: &NotifyConfig,
    villages: serde_json::Value,
) -> anyhow::Result<()> {
    Store::open(store_path)?; // migrate once before the read-only connections open it
                              // bound and built before the runtime starts: the store's connections (PostgreSQL's driver
                              // blocks on a runtime of its own) are opened outside async code
    let std_listener =
        std::net::TcpListener::bind(listen).map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let app = router(store_path, cfg, notify, villages, addr)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(std_listener)?;
        if cfg.notify_every_s > 0 {
            spawn_sender(store_path.into(), notify.clone(), Duration::from_secs(cfg.notify_every_s));
        }
        eprintln!("serving the ticket feed on http://{addr}/ (store {}); stop with Ctrl-C", store_path.display());
        accept_loop(listener, app, cfg).await
    })
}

fn spawn_sender(store_path: PathBuf, notify: NotifyConfig, every: Duration) {
    std::thread::spawn(move || loop {
        let sent = Store::open(&store_path)
            .map(|s| s.with_notify(&notify))
            .and_then(|mut s| crate::sender::send_due(&mut s, &notify, 1000));
        match sent {
            Ok(r) if r.delivered + r.escalated + r.failed.len() > 0 => tracing::info!(?r, "notifications"),
            Ok(_) => {}
            Err(e) => tracing::warn!("notification sender: {}", crate::text::error_chain(&e)),
        }
        std::thread::sleep(every);
    });
}

async fn accept_loop(listener: tokio::net::TcpListener, app: Router, cfg: &ServeConfig) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;
    let slots = Arc::new(tokio::sync::Semaphore::new(cfg.max_connections));
    let (head_timeout, head_limit) = (Duration::from_secs(cfg.head_timeout_s), cfg.head_limit_bytes);
    let lifetime = Duration::from_secs(cfg.connection_timeout_s);
    let per_ip: Arc<Mutex<std::collections::HashMap<std::net::IpAddr, usize>>> = Default::default();
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
        {
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
                app.clone().oneshot(req.map(Body::new))
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
