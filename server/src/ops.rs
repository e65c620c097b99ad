//! Operational endpoints: liveness, readiness, Prometheus metrics and the generated OpenAPI
//! document.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::db::Engine;
use crate::error::{ApiResult, AppError};
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(metrics))
        .routes(routes!(openapi_json))
}

/// Liveness and readiness answers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthStatus {
    /// `ok` or `ready`.
    pub status: String,
    /// Server version.
    pub version: String,
    /// `sqlite` or `postgres` (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health", tag = "Operations",
    responses((status = 200, description = "Alive", body = HealthStatus)))]
async fn health() -> axum::Json<HealthStatus> {
    axum::Json(HealthStatus { status: "ok".into(), version: env!("CARGO_PKG_VERSION").into(), database: None })
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/ready", tag = "Operations",
    responses(
        (status = 200, description = "Ready", body = HealthStatus),
        (status = 503, description = "Database unreachable", body = coach_shared::ErrorResponse)))]
async fn ready(State(state): State<AppState>) -> ApiResult<axum::Json<HealthStatus>> {
    // The driver's error (host names, paths, server messages) goes to the log only.
    state.db.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "readiness: the database does not answer");
        AppError::Unavailable {
            code: "not_ready",
            message: "The database is not reachable".into(),
            details: None,
            retry_after_secs: Some(5),
        }
    })?;
    let database = match state.db.engine {
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "postgres",
    };
    Ok(axum::Json(HealthStatus {
        status: "ready".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        database: Some(database.into()),
    }))
}

/// Prometheus metrics (text exposition format 0.0.4).
#[utoipa::path(get, path = "/metrics", tag = "Operations",
    responses((status = 200, description = "Metrics", content_type = "text/plain", body = String)))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render())
}

/// The OpenAPI document, rendered once at start.
#[derive(Clone)]
pub struct OpenApiJson(pub Arc<String>);

/// This API's OpenAPI 3.1 document, generated from the code.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "Operations",
    responses((status = 200, description = "OpenAPI document", content_type = "application/json", body = Object)))]
async fn openapi_json(Extension(doc): Extension<OpenApiJson>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], doc.0.as_str().to_owned())
}
