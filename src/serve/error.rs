//! Errors as clients see them: a status and `{"error": …}`, whatever layer answered.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::store::StoreError;

/// An error as the client sees it: a status and a JSON `{"error": …}`.
#[derive(Debug)]
pub struct ApiError(pub(super) StatusCode, pub(super) String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"firepoint\""));
        }
        // every 503 of the feed is passing (a busy store, no free connection): say when to retry
        if self.0 == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
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

pub(super) fn err(status: StatusCode, text: impl Into<String>) -> ApiError {
    ApiError(status, text.into())
}

/// Every error answer is JSON `{"error": …}`, those of the limit and timeout layers included
/// (they answer in plain text or with no body).
pub(super) async fn json_errors(r: Response) -> Response {
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
