//! Extractors that turn every framework rejection into an [`AppError`] (and so into the JSON
//! `ErrorResponse`), and validate bodies on the way in.
//!
//! * [`ApiJson`]: JSON body, deserialized then [`Validate`]d. Malformed JSON → 400 `invalid_json`;
//!   wrong types or missing fields → 400 `validation_error`; no JSON content type → 415; too large
//!   → 413.
//! * [`ApiQuery`], [`ApiPath`]: query string and path parameters → 400 on mismatch.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use coach_shared::Validate;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::error::AppError;

/// A validated JSON request body.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned + Validate,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await.map_err(json_rejection)?;
        value.validate()?;
        Ok(ApiJson(value))
    }
}

/// Maps axum's JSON rejection onto our error codes.
pub fn json_rejection(r: JsonRejection) -> AppError {
    let text = r.body_text();
    match r {
        JsonRejection::JsonDataError(_) => AppError::BadRequest {
            code: "validation_error",
            message: format!("Invalid request body: {}", strip_prefix(&text)),
            details: Some(json!({ "reason": strip_prefix(&text) })),
        },
        JsonRejection::JsonSyntaxError(_) => AppError::BadRequest {
            code: "invalid_json",
            message: format!("Malformed JSON: {}", strip_prefix(&text)),
            details: None,
        },
        JsonRejection::MissingJsonContentType(_) => AppError::Status {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "unsupported_media_type",
            message: "Expected a body with Content-Type: application/json".into(),
        },
        other => {
            let status = other.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::Status { status, code: "payload_too_large", message: "The request body is too large".into() }
            } else {
                AppError::BadRequest {
                    code: "invalid_body",
                    message: format!("Could not read the body: {text}"),
                    details: None,
                }
            }
        }
    }
}

fn strip_prefix(text: &str) -> String {
    // axum's texts read "Failed to deserialize the JSON body into the target type: <serde error>"
    text.split_once(": ").map(|(_, rest)| rest).unwrap_or(text).to_string()
}

/// A query string.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(v) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await.map_err(|r: QueryRejection| {
                AppError::BadRequest {
                    code: "invalid_query",
                    message: format!("Invalid query string: {}", strip_prefix(&r.body_text())),
                    details: None,
                }
            })?;
        Ok(ApiQuery(v))
    }
}

/// Path parameters.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(v) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await.map_err(|r: PathRejection| {
                AppError::BadRequest {
                    code: "invalid_path",
                    message: format!("Invalid path parameter: {}", strip_prefix(&r.body_text())),
                    details: None,
                }
            })?;
        Ok(ApiPath(v))
    }
}
