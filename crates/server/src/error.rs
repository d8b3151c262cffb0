//! The one error shape of the API, `{"error": {"code": "...", "message": "..."}}`,
//! and the middleware that enforces it for responses axum and tower-http build
//! themselves (unknown path, wrong method, body too large, timeout).

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

/// The JSON body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// A machine-readable code and a human message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// A stable code, e.g. `invalid_parameter`, `not_found`, `unauthorized`.
    pub code: String,
    /// What went wrong, for a human. Never contains credentials.
    pub message: String,
}

/// An error a handler returns; it renders as [`ErrorBody`] with its status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query or path parameter is invalid (400).
    #[error("invalid parameter `{param}`: {message}")]
    InvalidParameter {
        /// The parameter's name.
        param: &'static str,
        /// Why it is invalid.
        message: String,
    },
    /// The request could not be parsed at all, e.g. an unknown query
    /// parameter (400).
    #[error("{0}")]
    BadRequest(String),
    /// The addressed resource does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// Missing or wrong bearer token (401).
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// The endpoint is disabled by configuration (403).
    #[error("{0}")]
    Forbidden(String),
    /// The daemon cannot serve this now, e.g. shutting down (503).
    #[error("{0}")]
    Unavailable(String),
    /// Anything else; the detail is logged, never sent (500).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A 400 naming the parameter.
    pub fn invalid(param: &'static str, message: impl Into<String>) -> Self {
        ApiError::InvalidParameter {
            param,
            message: message.into(),
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::InvalidParameter { .. } => (StatusCode::BAD_REQUEST, "invalid_parameter"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        // The rejection text names the offending field (serde's message), e.g.
        // "unknown field `stauts`", which is what the caller needs.
        ApiError::BadRequest(rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

pub(crate) fn error_response(status: StatusCode, code: &str, message: String) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.to_owned(),
            message,
        },
    };
    (status, Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error while serving a request");
                "internal error; see the daemon's log".to_owned()
            }
            other => other.to_string(),
        };
        let mut response = error_response(status, code, message);
        if matches!(self, ApiError::Unauthorized) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"blindspot\""),
            );
        }
        response
    }
}

/// The fallback for paths no route matches.
pub(crate) async fn unknown_route(request: Request) -> ApiError {
    ApiError::NotFound(format!("no such endpoint: {}", request.uri().path()))
}

/// Replaces the body of any error response that is not already JSON with the
/// JSON error shape, keeping its status and headers (e.g. `Allow` on a 405).
pub(crate) async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "not found".to_owned()),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this endpoint does not accept that method; see the Allow header".to_owned(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            "the request body exceeds the size limit".to_owned(),
        ),
        StatusCode::SERVICE_UNAVAILABLE => (
            "unavailable",
            "the request did not complete in time or the server is unavailable".to_owned(),
        ),
        s if s.is_client_error() => (
            "bad_request",
            s.canonical_reason().unwrap_or("bad request").to_owned(),
        ),
        _ => (
            "internal_error",
            "internal error; see the daemon's log".to_owned(),
        ),
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let rebuilt = error_response(status, code, message);
    let (json_parts, body) = rebuilt.into_parts();
    for (name, value) in json_parts.headers.iter() {
        parts.headers.insert(name.clone(), value.clone());
    }
    Response::from_parts(parts, Body::new(body))
}
