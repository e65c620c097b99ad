//! Deployment and rollback. Exactly one model is live per environment — the database enforces it
//! with a partial unique index on `model_deployments(environment) WHERE retired_at IS NULL` — and
//! every change is one transaction: retire the live deployment, insert the new one, update the
//! models' statuses and rollback data. The model's artifacts are loaded *before* the transaction,
//! and the serving model is swapped right after it commits, so a model that cannot load never goes
//! live and the API never restarts.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use sqlx::Any;

use super::registry::{self, ModelRow};
use super::serving::LiveModel;
use crate::db::{is_unique_violation, new_id, now_ms, to_dt};
use crate::error::AppError;
use crate::state::AppState;

/// What a deployment did.
#[derive(Debug, Clone)]
pub struct Deployed {
    /// `model_deployments.id`.
    pub deployment_id: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The model that served before in that environment.
    pub previous: Option<ModelRow>,
}

async fn live_deployment(
    tx: &mut sqlx::Transaction<'static, Any>,
    environment: &str,
) -> Result<Option<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, model_id FROM model_deployments WHERE environment = $1 AND retired_at IS NULL")
        .bind(environment)
        .fetch_optional(&mut **tx)
        .await
}

/// Makes `model_id` the live model of `environment`. `action` is `deploy` or `rollback`.
pub async fn deploy(
    state: &AppState,
    model_id: &str,
    environment: &str,
    strategy: &str,
    action: &str,
    reason: Option<&str>,
) -> Result<Deployed, AppError> {
    let model = registry::find(&state.db, model_id).await?.ok_or_else(|| AppError::not_found("AI model"))?;
    if model.metrics().is_none() {
        return Err(AppError::BadRequest {
            code: "model_not_ready",
            message: format!("Model {} has no validation metrics yet and cannot be deployed", model.version),
            details: None,
        });
    }
    let Some(path) = model.artifact_path.clone() else {
        return Err(AppError::BadRequest {
            code: "artifacts_missing",
            message: format!("The artifacts of {} were pruned; it can no longer be deployed", model.version),
            details: None,
        });
    };
    let generator = state.training.serving.load(std::path::Path::new(&path)).map_err(|e| AppError::BadRequest {
        code: "model_unloadable",
        message: format!("Model {} could not be loaded: {e:#}", model.version),
        details: None,
    })?;

    let now = now_ms();
    let mut tx = state.db.begin().await?;
    let current = live_deployment(&mut tx, environment).await?;
    if let Some((dep_id, live_id)) = &current {
        if live_id == model_id {
            tx.rollback().await?;
            state
                .training
                .serving
                .swap(environment, LiveModel { model_id: model.id.clone(), version: model.version.clone(), generator });
            return Ok(Deployed {
                deployment_id: dep_id.clone(),
                at: to_dt(model.deployed_at.unwrap_or(now)),
                previous: None,
            });
        }
        sqlx::query("UPDATE model_deployments SET retired_at = $2 WHERE id = $1")
            .bind(dep_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    let deployment_id = new_id();
    let inserted = sqlx::query(
        "INSERT INTO model_deployments (id, model_id, environment, strategy, action, reason, previous_model_id, deployed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&deployment_id)
    .bind(model_id)
    .bind(environment)
    .bind(strategy)
    .bind(action)
    .bind(reason)
    .bind(current.as_ref().map(|c| c.1.clone()))
    .bind(now)
    .execute(&mut *tx)
    .await;
    if let Err(e) = inserted {
        return Err(if is_unique_violation(&e) {
            AppError::Conflict {
                code: "deployment_conflict",
                message: "Another deployment to this environment happened meanwhile".into(),
            }
        } else {
            e.into()
        });
    }
    let previous = match &current {
        Some((_, prev)) => registry::find(&state.db, prev).await?,
        None => None,
    };
    // rollback data of the new model names the model it replaced (a rollback keeps the old pointer)
    if action == "deploy" {
        sqlx::query(
            "UPDATE ai_models SET previous_model_id = $2, previous_version = $3 WHERE id = $1 AND $2 IS NOT NULL",
        )
        .bind(model_id)
        .bind(previous.as_ref().map(|p| p.id.clone()))
        .bind(previous.as_ref().map(|p| p.version.clone()))
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("UPDATE ai_models SET status = 'deployed', deployed_at = $2 WHERE id = $1")
        .bind(model_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    if let Some(p) = &previous {
        // archived unless it still serves elsewhere
        sqlx::query(
            "UPDATE ai_models SET status = 'archived' WHERE id = $1
               AND NOT EXISTS (SELECT 1 FROM model_deployments WHERE model_id = $1 AND retired_at IS NULL)",
        )
        .bind(&p.id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    state
        .training
        .serving
        .swap(environment, LiveModel { model_id: model.id.clone(), version: model.version.clone(), generator });
    tracing::info!(model = %model.version, environment, action, "model deployed");
    Ok(Deployed { deployment_id, at: to_dt(now), previous })
}

/// Makes the serving models match the database: loads the live model of each environment when it
/// differs from the one this process serves. Run at start and every few seconds, so a deployment
/// or rollback made through another replica reaches this one without a restart.
pub async fn sync_live_models(state: &AppState) -> Result<()> {
    for env in ["production", "staging"] {
        let live = registry::live_model(&state.db, env).await?;
        let serving = state.training.serving.get(env).map(|m| m.model_id.clone());
        match live {
            Some(m) if serving.as_deref() != Some(m.id.as_str()) => {
                let Some(path) = &m.artifact_path else { continue };
                let generator = state
                    .training
                    .serving
                    .load(std::path::Path::new(path))
                    .with_context(|| format!("loading {} for {env}", m.version))?;
                state
                    .training
                    .serving
                    .swap(env, LiveModel { model_id: m.id.clone(), version: m.version.clone(), generator });
            }
            None if serving.is_some() => state.training.serving.clear(env),
            _ => {}
        }
    }
    Ok(())
}
