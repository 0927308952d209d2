//! The tickets as a resource: lists (JSON Lines, GeoJSON; filtered, cached per version, with an
//! ETag), one ticket, its audit log, its CAP alert. A township token sees its own township's.

use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::auth::Who;
use super::error::{err, ApiError};
use super::state::Shared;
use crate::domain::Ticket;
use crate::store::{Identity, Store, StoreError, TicketFilter};

/// Ticket `id` if `who` may see it; another township's is "no ticket", as a missing one.
pub(super) fn visible(store: &Store, who: &Identity, id: &str) -> Result<Ticket, ApiError> {
    let t = store.ticket(id)?;
    if !who.sees(&t.township_code) {
        return Err(StoreError::NoTicket(id.into()).into());
    }
    Ok(t)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
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

pub(super) fn typed(content_type: &'static str, body: impl Into<Body>) -> Response {
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
    Who(who): Who,
    headers: HeaderMap,
    query: ListQueryResult,
    geojson: bool,
) -> Result<Response, ApiError> {
    let Query(q) =
        query.map_err(|e| err(StatusCode::BAD_REQUEST, format!("{e} (status=, township=, since=, limit=)")))?;
    let filter = filter_for(&who, q, &app.townships)?;
    list_as(&app, &headers, filter, geojson).await
}

pub(super) type ListQueryResult = Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>;

/// `GET /tickets`: JSON Lines.
pub(super) async fn list(
    State(app): State<Shared>,
    who: Who,
    headers: HeaderMap,
    query: ListQueryResult,
) -> Result<Response, ApiError> {
    list_by_query(app, who, headers, query, false).await
}

/// `GET /tickets.geojson`.
pub(super) async fn list_geojson(
    State(app): State<Shared>,
    who: Who,
    headers: HeaderMap,
    query: ListQueryResult,
) -> Result<Response, ApiError> {
    list_by_query(app, who, headers, query, true).await
}

/// `GET /tickets/{id}`.
pub(super) async fn one(
    State(app): State<Shared>,
    Who(who): Who,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Ticket>, ApiError> {
    Ok(Json(app.read(move |s| visible(s, &who, &id)).await?))
}

/// `GET /tickets/{id}/log`.
pub(super) async fn log(
    State(app): State<Shared>,
    Who(who): Who,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Vec<crate::store::LogEntry>>, ApiError> {
    Ok(Json(app.read(move |s| visible(s, &who, &id).and_then(|_| Ok(s.log(&id)?))).await?))
}

/// `GET /tickets/{id}/cap`: CAP 1.2 XML.
pub(super) async fn cap(
    State(app): State<Shared>,
    Who(who): Who,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    let sender = app.cap_sender.clone();
    let t = app.read(move |s| visible(s, &who, &id)).await?;
    Ok(typed("application/cap+xml", crate::cap::alert_xml(&t, &sender)))
}

/// `GET /tickets/{id}/evidence`: what evidence the ticket has, each piece with its address
/// (pictures of a camera or drone sighting, or why there are none; the satellite footprints).
pub(super) async fn evidence_list(
    State(app): State<Shared>,
    Who(who): Who,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let list = app
        .read(move |s| {
            let t = visible(s, &who, &id)?;
            let mut items: Vec<serde_json::Value> = s
                .evidence_list(&id)?
                .into_iter()
                .map(|e| {
                    let mut v = serde_json::to_value(&e).expect("evidence serialises");
                    v["url"] = format!("/tickets/{id}/evidence/{}", e.name).into();
                    v
                })
                .collect();
            let footprints = s.footprints(&id)?;
            if !footprints.is_empty() {
                items.push(serde_json::json!({
                    "name": "footprints.geojson", "content_type": "application/geo+json",
                    "count": footprints.len(), "url": format!("/tickets/{id}/evidence/footprints.geojson"),
                }));
            }
            Ok(serde_json::json!({ "ticket": t.id, "evidence": items }))
        })
        .await?;
    Ok(Json(list))
}

/// `GET /tickets/{id}/evidence/{name}`: one picture (JPEG), the note of a ticket without one,
/// or the satellite footprints as GeoJSON (sensor, pass time, FRP and confidence per pixel).
pub(super) async fn evidence_one(
    State(app): State<Shared>,
    Who(who): Who,
    UrlPath((id, name)): UrlPath<(String, String)>,
) -> Result<Response, ApiError> {
    let found = app
        .read(move |s| {
            visible(s, &who, &id)?;
            if name == "footprints.geojson" {
                let features: Vec<serde_json::Value> = s
                    .footprints(&id)?
                    .into_iter()
                    .map(|f| {
                        let point = serde_json::json!({ "type": "Point", "coordinates": f.point });
                        serde_json::json!({
                            "type": "Feature",
                            "geometry": f.geometry.unwrap_or(point),
                            "properties": {
                                "sensor": f.sensor,
                                "observed_at": f.observed_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                                "confidence": f.confidence,
                                "frp_mw": f.evidence.get("frp_mw").cloned().unwrap_or(serde_json::Value::Null),
                                "evidence": f.evidence,
                            },
                        })
                    })
                    .collect();
                let body = serde_json::json!({ "type": "FeatureCollection", "features": features });
                return Ok(Some(("application/geo+json".to_string(), body.to_string().into_bytes())));
            }
            Ok(s.evidence(&id, &name)?)
        })
        .await?;
    let (content_type, bytes) = found.ok_or_else(|| err(StatusCode::NOT_FOUND, "no such evidence for this ticket"))?;
    let mut r = Response::new(Body::from(bytes));
    let ct = HeaderValue::from_str(&content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    r.headers_mut().insert(header::CONTENT_TYPE, ct);
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    Ok(r)
}
