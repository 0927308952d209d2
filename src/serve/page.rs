//! The township page (embedded by build.rs: `web/page/`, Leaflet from `web/node_modules`), the
//! token's own identity and the village layer its map draws.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::Json;

use super::auth::Who;
use super::error::ApiError;
use super::state::Shared;
use super::tickets::typed;

pub(super) mod assets {
    pub const INDEX: &str = include_str!(concat!(env!("OUT_DIR"), "/index.html"));
    pub const APP_JS: &str = include_str!(concat!(env!("OUT_DIR"), "/app.js"));
    pub const APP_CSS: &str = include_str!(concat!(env!("OUT_DIR"), "/app.css"));
    pub const LEAFLET_JS: &str = include_str!(concat!(env!("OUT_DIR"), "/leaflet.js"));
    pub const LEAFLET_CSS: &str = include_str!(concat!(env!("OUT_DIR"), "/leaflet.css"));
}

pub(super) fn asset(content_type: &'static str, text: &'static str) -> Response {
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
    // the towers, for the county duty page's map (their state comes from the store: /towers)
    let cameras: Vec<serde_json::Value> = aoi
        .cameras
        .iter()
        .map(|c| {
            let place = aoi.place(c.lon, c.lat);
            serde_json::json!({
                "id": c.id, "name": c.name, "lon": c.lon, "lat": c.lat,
                "township_code": place.township.as_ref().map(|t| t.code.clone()),
                "township": place.township.map(|t| t.name),
            })
        })
        .collect();
    serde_json::json!({ "type": "FeatureCollection", "features": features, "townships": townships, "cameras": cameras })
}

/// `GET /me`: who the token speaks for.
pub(super) async fn me(State(app): State<Shared>, Who(who): Who) -> Result<Json<serde_json::Value>, ApiError> {
    let township = who
        .township_code
        .as_ref()
        .and_then(|code| app.villages["townships"].get(code).and_then(|n| n.as_str()).map(String::from));
    Ok(Json(serde_json::json!({
        "name": who.name, "township_code": who.township_code, "township": township, "refresh_s": app.refresh_s,
    })))
}

/// `GET /villages.geojson`: the villages the token may see.
pub(super) async fn village_layer(State(app): State<Shared>, Who(who): Who) -> Result<Response, ApiError> {
    let features: Vec<&serde_json::Value> = app.villages["features"]
        .as_array()
        .map(|f| f.iter().filter(|v| who.sees(v["properties"]["township_code"].as_str().unwrap_or(""))).collect())
        .unwrap_or_default();
    let body = serde_json::json!({ "type": "FeatureCollection", "features": features });
    Ok(typed("application/geo+json", body.to_string()))
}

/// `GET /e/{id}`: the SMS's short link to a ticket's pictures, a redirect to the page opened at
/// that ticket (the page asks for the token; an id that is not a ticket id goes to the page).
pub(super) fn to_ticket(id: &str) -> Response {
    let safe = id.len() <= 80 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let to = if safe { format!("/#ticket={id}") } else { "/".into() };
    let mut r = Response::new(axum::body::Body::empty());
    *r.status_mut() = axum::http::StatusCode::FOUND;
    r.headers_mut().insert(header::LOCATION, HeaderValue::from_str(&to).expect("ASCII"));
    r
}

/// `GET /towers`: the towers the token may see (the county: all) with their health: `ok`,
/// `offline` or `frozen` since when (an open notice), or `unknown` (no frame in 7 days), and
/// their last frame.
pub(super) async fn towers(State(app): State<Shared>, Who(who): Who) -> Result<Response, ApiError> {
    let cameras = app.villages["cameras"].as_array().cloned().unwrap_or_default();
    let body = app
        .read(move |s| {
            let status = s.tower_status(chrono::Utc::now())?;
            let features: Vec<serde_json::Value> = cameras
                .iter()
                .filter(|c| who.sees(c["township_code"].as_str().unwrap_or("")))
                .map(|c| {
                    let id = c["id"].as_str().unwrap_or_default();
                    let tower = status.get(id).cloned().unwrap_or_default();
                    let (state, notice, last) = (tower.state(), &tower.notice, tower.last_frame);
                    serde_json::json!({
                        "type": "Feature",
                        "geometry": { "type": "Point", "coordinates": [c["lon"], c["lat"]] },
                        "properties": {
                            "id": id, "name": c["name"], "township": c["township"], "state": state,
                            "since": notice.as_ref().map(|n| crate::store::ts(n.since)), "last_frame": last.map(crate::store::ts),
                        },
                    })
                })
                .collect();
            Ok(serde_json::json!({ "type": "FeatureCollection", "features": features }).to_string())
        })
        .await?;
    Ok(typed("application/geo+json", body))
}

/// `GET /passes`: the satellite inputs (scenes, fire products, tables) received in the last
/// 24 hours, newest first, with their detections: the duty officer sees which passes came in
/// (the county's token only: the list names every input of the county).
pub(super) async fn passes(State(app): State<Shared>, Who(who): Who) -> Result<Json<serde_json::Value>, ApiError> {
    if who.township_code.is_some() {
        let why = "the satellite inputs received are for the county office's token";
        return Err(super::error::err(axum::http::StatusCode::FORBIDDEN, why));
    }
    let since = chrono::Utc::now() - chrono::Duration::hours(24);
    let list = app.read(move |s| Ok(s.satellite_inputs(since)?)).await?;
    Ok(Json(serde_json::json!({ "since": crate::store::ts(since), "inputs": list })))
}
