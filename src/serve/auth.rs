//! Who a request speaks for and whether it may be served: the bearer token as an extractor
//! ([`Who`]), and the guard every request passes first (allowed `Host`, JSON writes from the same
//! origin, the request's write deadline).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{err, ApiError};
use super::state::Shared;
use super::ServeConfig;
use crate::store::Identity;

/// The identity of the request's bearer token (`Authorization: Bearer TOKEN`); 401 without a
/// valid one. A handler that takes it needs a token.
pub(super) struct Who(pub(super) Identity);

impl FromRequestParts<Shared> for Who {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Shared) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' ').filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer")).map(|(_, t)| t))
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty() && t.len() <= 200)
            .ok_or_else(|| err(StatusCode::UNAUTHORIZED, "send `Authorization: Bearer TOKEN` (firepoint token add)"))?;
        let who = app
            .read(move |s| s.identity(&token)?.ok_or_else(|| err(StatusCode::UNAUTHORIZED, "unknown or revoked token")))
            .await?;
        Ok(Who(who))
    }
}

/// The last moment a request's write may commit: a second before `serve.request_timeout_s`
/// answers 408, so that a 408 always means nothing was changed (the commit itself is
/// milliseconds). Set by [`guard`], which runs inside the timeout layer.
#[derive(Clone, Copy)]
pub(super) struct Deadline(pub(super) Instant);

/// Host allow-list for every request; for writes, JSON only and no foreign `Origin`.
pub(super) async fn guard(
    State((cfg, listen)): State<(Arc<ServeConfig>, SocketAddr)>,
    mut req: Request,
    next: Next,
) -> Response {
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
