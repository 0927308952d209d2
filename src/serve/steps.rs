//! A team's steps on a ticket, one typed route each: `POST /tickets/{id}/ack`, `/on_site`
//! (`{"note": …}`), `/resolve` (`{"action": …}`), `/false_alarm` (`{"cause": …, "note": …}`) and
//! `/duplicate` (`{"of": …}`); an empty body is `{}`. Each is one conditional update in the store,
//! committed only before the request's deadline, so an answer other than 200 changed nothing.

use axum::body::Bytes;
use axum::extract::{FromRequest, Path as UrlPath, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

use super::auth::{Deadline, Who};
use super::error::{err, ApiError};
use super::state::Shared;
use super::tickets::visible;
use crate::domain::{FalseAlarmCause, Ticket};
use crate::lifecycle::Step;

/// What a step's body may say (each step reads its own fields; unknown fields are refused).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct Fields {
    note: Option<String>,
    action: Option<String>,
    cause: Option<String>,
    of: Option<String>,
}

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = Bytes::from_request(req, state).await.map_err(IntoResponse::into_response)?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Fields::default());
        }
        serde_json::from_slice(&body).map_err(|e| err(StatusCode::BAD_REQUEST, format!("body: {e}")).into_response())
    }
}

/// A field a step cannot do without.
fn need(v: Option<String>, step: &str, what: &str) -> Result<String, ApiError> {
    v.filter(|s| !s.trim().is_empty()).ok_or_else(|| err(StatusCode::BAD_REQUEST, format!("{step} needs `{what}`")))
}

/// Takes `step` on ticket `id` for `who`, before `deadline`.
async fn take(app: Shared, deadline: Deadline, who: Who, id: String, step: Step) -> Result<Json<Ticket>, ApiError> {
    let (Deadline(deadline), Who(who)) = (deadline, who);
    let settings = app.clone();
    let t = app
        .write(deadline, move |s| {
            visible(s, &who, &id)?;
            if let Step::Duplicate { of } = &step {
                visible(s, &who, of)?;
            }
            Ok(s.step_until(&id, &step, &who.by(), chrono::Utc::now(), Some(deadline), &settings.notify)?)
        })
        .await?;
    Ok(Json(t))
}

type Steps = (State<Shared>, Extension<Deadline>, Who, UrlPath<String>);

/// `POST /tickets/{id}/ack`.
pub(super) async fn ack(
    (State(app), Extension(d), who, UrlPath(id)): Steps,
    _: Fields,
) -> Result<Json<Ticket>, ApiError> {
    take(app, d, who, id, Step::Ack).await
}

/// `POST /tickets/{id}/on_site`.
pub(super) async fn on_site(
    (State(app), Extension(d), who, UrlPath(id)): Steps,
    f: Fields,
) -> Result<Json<Ticket>, ApiError> {
    take(app, d, who, id, Step::OnSite { note: f.note }).await
}

/// `POST /tickets/{id}/resolve`.
pub(super) async fn resolve(
    (State(app), Extension(d), who, UrlPath(id)): Steps,
    f: Fields,
) -> Result<Json<Ticket>, ApiError> {
    let action = need(f.action, "resolve", "action")?;
    take(app, d, who, id, Step::Resolve { action }).await
}

/// `POST /tickets/{id}/false_alarm`.
pub(super) async fn false_alarm(
    (State(app), Extension(d), who, UrlPath(id)): Steps,
    f: Fields,
) -> Result<Json<Ticket>, ApiError> {
    let cause = need(f.cause, "false_alarm", "cause")?;
    let cause = FalseAlarmCause::parse(&cause).ok_or_else(|| {
        let all: Vec<&str> = FalseAlarmCause::ALL.iter().map(|c| c.as_str()).collect();
        err(StatusCode::BAD_REQUEST, format!("unknown cause `{cause}` ({})", all.join(", ")))
    })?;
    take(app, d, who, id, Step::FalseAlarm { cause, note: f.note }).await
}

/// `POST /tickets/{id}/duplicate`.
pub(super) async fn duplicate(
    (State(app), Extension(d), who, UrlPath(id)): Steps,
    f: Fields,
) -> Result<Json<Ticket>, ApiError> {
    let of = need(f.of, "duplicate", "of")?;
    take(app, d, who, id, Step::Duplicate { of }).await
}

/// `POST /tickets/{id}/escalate` (督办): the county office only.
pub(super) async fn escalate(
    (State(app), Extension(d), who, UrlPath(id)): Steps,
    f: Fields,
) -> Result<Json<Ticket>, ApiError> {
    if who.0.township_code.is_some() {
        return Err(err(StatusCode::FORBIDDEN, "escalating (督办) is for the county office's token"));
    }
    take(app, d, who, id, Step::Escalate { note: f.note }).await
}

/// `POST /tickets/{id}/{anything else}`: says which steps there are.
pub(super) async fn unknown(_: Who, UrlPath((_, action)): UrlPath<(String, String)>) -> ApiError {
    err(StatusCode::NOT_FOUND, format!("no step `{action}` (ack, on_site, resolve, false_alarm, duplicate, escalate)"))
}
