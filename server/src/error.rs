//! The one error type of the API. Every failure, axum's own rejections included, is rendered as
//! the contracts' `ErrorResponse` JSON (`error`, `message`, `details`, `timestamp`) with a 4xx or
//! 5xx status, so handlers simply use `?`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coach_shared::{ErrorResponse, ValidationErrors};
use serde_json::{Value, json};

/// Result of a handler.
pub type ApiResult<T> = Result<T, AppError>;

/// Everything that can go wrong while answering a request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400 `validation_error`: one or more fields are invalid (`details.fields`).
    #[error("{0}")]
    Validation(ValidationErrors),
    /// 400 with a specific code (`invalid_json`, `invalid_query`, ...).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String, details: Option<Value> },
    /// 401: missing, malformed, forged or expired credentials.
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// 403: authenticated but not allowed (`forbidden`, `premium_required`, `consent_required`).
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// 404: no such resource (or not the caller's).
    #[error("{0}")]
    NotFound(String),
    /// 409: the request conflicts with the current state.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 429: slow down; `Retry-After` tells when.
    #[error("{message}")]
    TooManyRequests { message: String, retry_after_secs: u64 },
    /// 503: a dependency is down; `details` may carry what the client can still use. Neither
    /// `message` nor `details` carries internal error text (a driver's or provider's message, a
    /// path): log that, and answer with fixed phrases and closed codes.
    #[error("{message}")]
    Unavailable { code: &'static str, message: String, details: Option<Value>, retry_after_secs: Option<u64> },
    /// Any other status with its own code (framework rejections: 405, 413, 415, 416, ...).
    #[error("{message}")]
    Status { status: StatusCode, code: &'static str, message: String },
    /// A database failure (500, or 503 when the pool is exhausted or the server unreachable).
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A bug or an unexpected failure (500).
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// 400 `validation_error` for a single field.
    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        let mut v = ValidationErrors::default();
        v.add(field, code, message);
        AppError::Validation(v)
    }

    /// 404 with a message naming what was not found.
    pub fn not_found(what: &str) -> Self {
        AppError::NotFound(format!("{what} not found"))
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        AppError::Forbidden { code: "forbidden", message: message.into() }
    }

    /// 403 `premium_required`.
    pub fn premium_required() -> Self {
        AppError::Forbidden {
            code: "premium_required",
            message: "A premium subscription is required for voice features".into(),
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Validation(_) | AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            AppError::Forbidden { .. } => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Status { status, .. } => *status,
            AppError::Database(e) if db_unavailable(e) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Database(e) if gone_meanwhile(e) => StatusCode::CONFLICT,
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            AppError::Validation(_) => "validation_error",
            AppError::BadRequest { code, .. }
            | AppError::Unauthorized { code, .. }
            | AppError::Forbidden { code, .. }
            | AppError::Conflict { code, .. }
            | AppError::Unavailable { code, .. }
            | AppError::Status { code, .. } => code,
            AppError::NotFound(_) => "not_found",
            AppError::TooManyRequests { .. } => "rate_limited",
            AppError::Database(e) if db_unavailable(e) => "database_unavailable",
            AppError::Database(e) if gone_meanwhile(e) => "conflict",
            AppError::Database(_) | AppError::Internal(_) => "internal_error",
        }
    }
}

/// A foreign-key violation: what the row points at (the user, a workout) was deleted while the
/// request ran — e.g. a set logged while its user's `DELETE /v1/users/me` committed. The foreign
/// key kept the row out; the client is told so (409), it is not a server fault.
fn gone_meanwhile(e: &sqlx::Error) -> bool {
    crate::db::is_foreign_key_violation(e)
}

fn db_unavailable(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_))
}

/// Builds the `ErrorResponse` body.
pub fn error_body(code: &str, message: impl Into<String>, details: Option<Value>) -> ErrorResponse {
    ErrorResponse { error: code.to_string(), message: message.into(), details, timestamp: chrono::Utc::now() }
}

/// A complete JSON error response.
pub fn error_response(status: StatusCode, code: &str, message: impl Into<String>, details: Option<Value>) -> Response {
    (status, axum::Json(error_body(code, message, details))).into_response()
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = self.code();
        let (message, details) = match &self {
            AppError::Validation(v) => (
                format!("Invalid request: {}", v.summary()),
                Some(json!({ "fields": v.0, "field": v.0.first().map(|f| f.field.clone()) })),
            ),
            AppError::BadRequest { message, details, .. } | AppError::Unavailable { message, details, .. } => {
                (message.clone(), details.clone())
            }
            AppError::Database(e) if db_unavailable(e) => {
                tracing::warn!(error = %e, "database unavailable");
                ("The database is temporarily unavailable".into(), None)
            }
            AppError::Database(e) if gone_meanwhile(e) => {
                tracing::info!(error = %e, "a referenced row was deleted meanwhile");
                ("What this request refers to was deleted meanwhile".into(), None)
            }
            AppError::Database(e) => {
                tracing::error!(error = %e, "database error");
                ("An internal error occurred".into(), None)
            }
            AppError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "internal error");
                ("An internal error occurred".into(), None)
            }
            other => (other.to_string(), None),
        };
        let mut resp = error_response(status, code, message, details);
        let retry = match &self {
            AppError::TooManyRequests { retry_after_secs, .. } => Some(*retry_after_secs),
            AppError::Unavailable { retry_after_secs, .. } => *retry_after_secs,
            _ => None,
        };
        if let Some(secs) = retry {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

impl From<ValidationErrors> for AppError {
    fn from(v: ValidationErrors) -> Self {
        AppError::Validation(v)
    }
}

/// The error code used when a bare status (from a layer or the router) is turned into JSON.
pub fn code_for_status(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::NOT_ACCEPTABLE => "not_acceptable",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::RANGE_NOT_SATISFIABLE => "range_not_satisfiable",
        StatusCode::UNPROCESSABLE_ENTITY => "validation_error",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "service_unavailable",
        StatusCode::GATEWAY_TIMEOUT => "timeout",
        s if s.is_server_error() => "internal_error",
        _ => "error",
    }
}
