//! The ticket feed over HTTP (`firepoint serve`): township dispatch apps and map screens read
//! tickets and acknowledge and close them, without a shell on the server.
//!
//! | request | answer |
//! |---|---|
//! | `GET /tickets[?status=open&township=CODE]` | JSON Lines, one ticket a line |
//! | `GET /tickets.geojson[?status=…&township=…]` | GeoJSON FeatureCollection |
//! | `GET /tickets/{id}` | one ticket (JSON) |
//! | `POST /tickets/{id}/ack` body `{"by": "…"}` | the acknowledged ticket; 409 if closed |
//! | `POST /tickets/{id}/close` body `{"note": "…"}` | the closed ticket; 409 if closed already |
//! | `GET /health` | `ok` |
//!
//! [`handle`] is the whole logic as a plain function over the store; [`serve`] is the loop that
//! feeds it from `tiny_http`, one request at a time (SQLite's WAL lets the cron batch write
//! meanwhile). It binds where it is told; put it behind the county's reverse proxy for TLS and
//! authentication, which it does not do itself.

use std::path::Path;

use serde::Deserialize;

use crate::domain::Status;
use crate::store::{Store, StoreError, TicketFilter};

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

fn reply(status: u16, content_type: &'static str, body: impl Into<String>) -> Reply {
    Reply { status, content_type, body: body.into() }
}

fn error(status: u16, message: impl std::fmt::Display) -> Reply {
    reply(status, "application/json", serde_json::json!({ "error": message.to_string() }).to_string())
}

fn store_error(e: StoreError) -> Reply {
    let text = crate::text::error_chain(&e);
    match e {
        StoreError::NoTicket(_) => error(404, text),
        StoreError::BadTransition { .. } => error(409, text),
        _ => error(500, text),
    }
}

#[derive(Deserialize)]
struct AckBody {
    by: String,
}

#[derive(Deserialize)]
struct CloseBody {
    note: String,
}

/// `?status=open&township=999901002`.
fn ticket_filter(query: Option<&str>) -> Result<TicketFilter, Reply> {
    let mut filter = TicketFilter::all();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("status", v)) => {
                let status = Status::parse(v)
                    .ok_or_else(|| error(400, format!("unknown status `{v}` (open, acked, closed)")))?;
                filter.status = Some(status);
            }
            Some(("township", v)) => filter.township = Some(v.to_string()),
            _ => return Err(error(400, format!("unknown query `{pair}` (status=, township=)"))),
        }
    }
    Ok(filter)
}

/// Answers one request against the store at `store_path`.
pub fn handle(store_path: &Path, method: &str, url: &str, body: &str) -> Reply {
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (url, None),
    };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if segments == ["health"] {
        return reply(200, "text/plain", "ok\n");
    }
    let mut store = match Store::open(store_path) {
        Ok(s) => s,
        Err(e) => return error(500, e),
    };
    let now = chrono::Utc::now();
    let one = |r: Result<crate::domain::Ticket, StoreError>| match r {
        Ok(t) => reply(200, "application/json", serde_json::to_string(&t).expect("tickets serialise")),
        Err(e) => store_error(e),
    };
    match (method, segments.as_slice()) {
        ("GET", ["tickets"]) | ("GET", ["tickets.geojson"]) => {
            let filter = match ticket_filter(query) {
                Ok(f) => f,
                Err(r) => return r,
            };
            match store.tickets(&filter) {
                Ok(list) if segments[0] == "tickets" => reply(200, "application/x-ndjson", crate::feed::jsonl(&list)),
                Ok(list) => reply(200, "application/geo+json", crate::feed::geojson(&list).to_string()),
                Err(e) => store_error(e),
            }
        }
        ("GET", ["tickets", id]) => one(store.ticket(id)),
        ("POST", ["tickets", id, "ack"]) => match serde_json::from_str::<AckBody>(body) {
            Ok(b) if !b.by.trim().is_empty() => one(store.ack(id, b.by.trim(), now)),
            _ => error(400, "body must be JSON {\"by\": \"who acknowledges\"}"),
        },
        ("POST", ["tickets", id, "close"]) => match serde_json::from_str::<CloseBody>(body) {
            Ok(b) => one(store.close(id, b.note.trim(), now)),
            Err(_) => error(400, "body must be JSON {\"note\": \"what was done\"}"),
        },
        (_, ["tickets", ..]) | (_, ["tickets.geojson"]) => error(405, format!("{method} is not allowed on {path}")),
        _ => error(404, format!("no such resource {path}")),
    }
}

/// Serves the feed on `listen` (e.g. `127.0.0.1:8787`) until the process is stopped.
pub fn serve(listen: &str, store_path: &Path) -> anyhow::Result<()> {
    let server = tiny_http::Server::http(listen).map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    tracing::info!(%listen, store = %store_path.display(), "serving the ticket feed");
    for mut request in server.incoming_requests() {
        let mut body = String::new();
        let answer = if request.body_length().unwrap_or(0) > 64 * 1024 {
            error(413, "body larger than 64 KiB")
        } else if std::io::Read::read_to_string(request.as_reader(), &mut body).is_err() {
            error(400, "body is not UTF-8")
        } else {
            handle(store_path, request.method().as_str(), request.url(), &body)
        };
        tracing::info!(method = %request.method(), url = %request.url(), status = answer.status, "request");
        let header =
            tiny_http::Header::from_bytes(&b"Content-Type"[..], answer.content_type.as_bytes()).expect("static header");
        let response =
            tiny_http::Response::from_string(answer.body).with_status_code(answer.status).with_header(header);
        if let Err(e) = request.respond(response) {
            tracing::warn!("could not answer a request: {e}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::domain::{Detection, SourceKind};
    use crate::locate::Located;
    use chrono::TimeZone;

    fn store_with_one_ticket() -> (tempfile::TempDir, std::path::PathBuf, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        let mut store = Store::open(&path).unwrap();
        let at = chrono::Utc.with_ymd_and_hms(2026, 6, 10, 5, 30, 0).unwrap();
        let loc = Located::on_farmland(Detection::point(SourceKind::Satellite, 115.6, 37.6, at, 500.0));
        let cfg = Config::default();
        let input =
            crate::batch::InputRef { path: "x".as_ref(), sha256: "sha", kind: "satellite", frame: None, note: None };
        let rec = crate::batch::record_input(&mut store, input, &[loc], &cfg.rules(), cfg.persistence.cell_deg);
        let id = rec.unwrap().opened.remove(0);
        (dir, path, id)
    }

    #[test]
    fn list_ack_close_and_the_errors_a_client_sees() {
        let (_d, path, id) = store_with_one_ticket();
        let r = handle(&path, "GET", "/tickets?status=open", "");
        assert_eq!((r.status, r.body.lines().count()), (200, 1));
        assert_eq!(handle(&path, "GET", "/tickets?status=nope", "").status, 400);
        assert_eq!(handle(&path, "GET", "/tickets?colour=red", "").status, 400);
        assert_eq!(handle(&path, "GET", "/tickets?township=999901002", "").body, "", "the ticket has no township");
        let gj: serde_json::Value = serde_json::from_str(&handle(&path, "GET", "/tickets.geojson", "").body).unwrap();
        assert_eq!(gj["features"][0]["id"], id.as_str());
        assert_eq!(handle(&path, "POST", &format!("/tickets/{id}/ack"), "{}").status, 400);
        let r = handle(&path, "POST", &format!("/tickets/{id}/ack"), r#"{"by": "网格员001"}"#);
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains("\"status\":\"acked\""));
        let r = handle(&path, "POST", &format!("/tickets/{id}/close"), r#"{"note": "已扑灭"}"#);
        assert!(r.body.contains("\"status\":\"closed\""), "{}", r.body);
        assert_eq!(handle(&path, "POST", &format!("/tickets/{id}/close"), r#"{"note": "again"}"#).status, 409);
        assert_eq!(handle(&path, "GET", "/tickets/FP-NOPE", "").status, 404);
        assert_eq!(handle(&path, "DELETE", &format!("/tickets/{id}"), "").status, 405);
        assert_eq!(handle(&path, "GET", "/health", "").body, "ok\n");
    }
}
