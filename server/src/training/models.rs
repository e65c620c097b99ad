//! AI models: `GET /v1/ai-training/models`, `GET .../{modelId}`, `POST .../{modelId}/deploy`,
//! `POST .../{modelId}/rollback` (admins).
//!
//! An admin may deploy any trained model that has metrics — also one the validation gate held
//! back. Rollback takes the model live now, and brings back `targetModelId` or, by default, the
//! model it replaced in that environment; the rolled-back model keeps its artifacts and records the
//! reason.

use axum::extract::State;
use coach_shared::types::training::{
    AiModel, AiModelsList, DeploymentEnvironment, DeploymentStatus, ModelDeploymentRequest, ModelDeploymentResponse,
    ModelRollbackRequest, ModelRollbackResponse, RollbackStrategy,
};
use serde::Deserialize;
use utoipa::IntoParams;

use super::deploy;
use super::registry::{self, ModelRow, model_columns};
use crate::auth::Admin;
use crate::db::Db;
use crate::error::{ApiResult, AppError};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

fn env_of(s: &str) -> Option<DeploymentEnvironment> {
    match s {
        "production" => Some(DeploymentEnvironment::Production),
        "staging" => Some(DeploymentEnvironment::Staging),
        _ => None,
    }
}

async fn live_envs(db: &Db, model_id: &str) -> Result<Vec<DeploymentEnvironment>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT environment FROM model_deployments WHERE model_id = $1 AND retired_at IS NULL ORDER BY environment",
    )
    .bind(model_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.iter().filter_map(|(e,)| env_of(e)).collect())
}

async fn to_api(db: &Db, m: &ModelRow) -> Result<AiModel, sqlx::Error> {
    Ok(m.to_api(live_envs(db, &m.id).await?))
}

/// Filters of the model list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `training`, `validating`, `deployed` or `archived`.
    status: Option<String>,
    /// Exact version, e.g. `v1.2.0`.
    version: Option<String>,
}

/// List AI models, newest first (admin).
#[utoipa::path(get, path = "/v1/ai-training/models", tag = "AI Models",
    params(ListQuery),
    responses(
        (status = 200, description = "List of AI models", body = AiModelsList),
        (status = 400, description = "Invalid filter", body = coach_shared::ErrorResponse),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 403, description = "Not an admin", body = coach_shared::ErrorResponse)),
    security(("ApiKeyAuth" = []), ("BearerAuth" = [])))]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<axum::Json<AiModelsList>> {
    if let Some(s) = &q.status
        && !["training", "validating", "deployed", "archived"].contains(&s.as_str())
    {
        return Err(AppError::field("status", "unknown_value", "must be training, validating, deployed or archived"));
    }
    let rows: Vec<ModelRow> = sqlx::query_as(concat!(
        "SELECT ",
        model_columns!(),
        " FROM ai_models WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR version = $2)
          ORDER BY created_at DESC, id DESC"
    ))
    .bind(q.status.as_deref())
    .bind(q.version.as_deref())
    .fetch_all(&state.db.pool)
    .await?;
    let mut models = Vec::with_capacity(rows.len());
    for m in &rows {
        models.push(to_api(&state.db, m).await?);
    }
    Ok(axum::Json(AiModelsList { total: models.len() as u64, models }))
}

/// Get an AI model (admin).
#[utoipa::path(get, path = "/v1/ai-training/models/{modelId}", tag = "AI Models",
    params(("modelId" = String, Path, description = "AI model identifier")),
    responses(
        (status = 200, description = "AI model details", body = AiModel),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 403, description = "Not an admin", body = coach_shared::ErrorResponse),
        (status = 404, description = "AI model not found", body = coach_shared::ErrorResponse)),
    security(("ApiKeyAuth" = []), ("BearerAuth" = [])))]
pub async fn get(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<axum::Json<AiModel>> {
    let m = registry::find(&state.db, &id).await?.ok_or_else(|| AppError::not_found("AI model"))?;
    Ok(axum::Json(to_api(&state.db, &m).await?))
}

/// Deploy a trained model to staging or production (admin).
#[utoipa::path(post, path = "/v1/ai-training/models/{modelId}/deploy", tag = "AI Models",
    params(("modelId" = String, Path, description = "AI model identifier")),
    request_body = ModelDeploymentRequest,
    responses(
        (status = 200, description = "Model deployed successfully", body = ModelDeploymentResponse),
        (status = 400, description = "Model not ready for deployment", body = coach_shared::ErrorResponse),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 403, description = "Not an admin", body = coach_shared::ErrorResponse),
        (status = 404, description = "AI model not found", body = coach_shared::ErrorResponse),
        (status = 409, description = "A concurrent deployment to the same environment won", body = coach_shared::ErrorResponse)),
    security(("ApiKeyAuth" = []), ("BearerAuth" = [])))]
pub async fn deploy_model(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ModelDeploymentRequest>,
) -> ApiResult<axum::Json<ModelDeploymentResponse>> {
    let strategy = match req.rollback_strategy {
        RollbackStrategy::Immediate => "immediate",
        RollbackStrategy::Gradual => "gradual",
        RollbackStrategy::Manual => "manual",
    };
    let env = req.deployment_environment.as_str();
    let reason = format!("deployed by {}", admin.actor);
    let done = deploy::deploy(&state, &id, env, strategy, "deploy", Some(&reason)).await?;
    let rollback_available =
        done.previous.is_some() || registry::find(&state.db, &id).await?.is_some_and(|m| m.previous_model_id.is_some());
    Ok(axum::Json(ModelDeploymentResponse {
        deployment_id: done.deployment_id,
        status: DeploymentStatus::Deployed,
        deployed_at: done.at,
        rollback_available,
    }))
}

/// Roll back from a live model to the previous one, or to `targetModelId` (admin).
#[utoipa::path(post, path = "/v1/ai-training/models/{modelId}/rollback", tag = "AI Models",
    params(("modelId" = String, Path, description = "Current AI model identifier")),
    request_body = ModelRollbackRequest,
    responses(
        (status = 200, description = "Model rolled back successfully", body = ModelRollbackResponse),
        (status = 400, description = "Rollback not available", body = coach_shared::ErrorResponse),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 403, description = "Not an admin", body = coach_shared::ErrorResponse),
        (status = 404, description = "AI model not found", body = coach_shared::ErrorResponse)),
    security(("ApiKeyAuth" = []), ("BearerAuth" = [])))]
pub async fn rollback(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ModelRollbackRequest>,
) -> ApiResult<axum::Json<ModelRollbackResponse>> {
    let current = registry::find(&state.db, &id).await?.ok_or_else(|| AppError::not_found("AI model"))?;
    let unavailable = |message: String| AppError::BadRequest { code: "rollback_unavailable", message, details: None };
    let envs = live_envs(&state.db, &id).await?;
    let env = if envs.contains(&DeploymentEnvironment::Production) {
        DeploymentEnvironment::Production
    } else if let Some(e) = envs.first() {
        *e
    } else {
        return Err(unavailable(format!(
            "Model {} is not deployed, so there is nothing to roll back",
            current.version
        )));
    };
    let previous: Option<(Option<String>,)> =
        sqlx::query_as("SELECT previous_model_id FROM model_deployments WHERE environment = $1 AND retired_at IS NULL")
            .bind(env.as_str())
            .fetch_optional(&state.db.pool)
            .await?;
    let target_id = match (&req.target_model_id, previous.and_then(|p| p.0), &current.previous_model_id) {
        (Some(t), _, _) => t.clone(),
        (None, Some(p), _) => p,
        (None, None, Some(p)) => p.clone(),
        _ => return Err(unavailable(format!("No previous model to roll back to from {}", current.version))),
    };
    if target_id == id {
        return Err(unavailable("The target is the model being rolled back".into()));
    }
    let target = registry::find(&state.db, &target_id)
        .await?
        .ok_or_else(|| unavailable(format!("Target model {target_id} does not exist")))?;
    let reason = req.rollback_reason.trim().to_string();
    let done = deploy::deploy(&state, &target.id, env.as_str(), "immediate", "rollback", Some(&reason)).await.map_err(
        |e| match e {
            AppError::BadRequest { message, .. } => unavailable(message),
            other => other,
        },
    )?;
    sqlx::query("UPDATE ai_models SET rollback_reason = $2 WHERE id = $1")
        .bind(&id)
        .bind(&reason)
        .execute(&state.db.pool)
        .await?;
    tracing::warn!(from = %current.version, to = %target.version, env = env.as_str(), actor = %admin.actor, reason, "model rolled back");
    Ok(axum::Json(ModelRollbackResponse {
        rollback_id: done.deployment_id,
        rolled_back_to: target.id,
        rolled_back_at: done.at,
    }))
}
