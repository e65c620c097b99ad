//! The model registry: every trained model in Hugging Face layout under `<data>/models/<version>/`
//! (`config.json`, `model.safetensors`, `tokenizer.json`, `README.md` model card, ...), a row in
//! `ai_models` with its held-out metrics, semantic versions (`vMAJOR.MINOR.PATCH`: each trained
//! model bumps MINOR), a push to the Hugging Face Hub when `HF_TOKEN` is set, and pruning that keeps
//! the artifacts of the last two versions plus every model that serves or may be rolled back to.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use coach_shared::types::training::{AiModel, DeploymentEnvironment, ModelMetrics, ModelStatus, RollbackData};
use serde_json::Value;
use sqlx::FromRow;

use super::gate::Verdict;
use super::sessions::SessionRow;
use crate::db::{Db, DbBool, OptF64, new_id, now_ms, to_dt, to_dt_opt};
use crate::state::AppState;

/// Local artifacts kept: the newest this many versions (plus live and rollback targets).
pub const KEEP_VERSIONS: usize = 2;

/// An `ai_models` row.
#[derive(Debug, Clone, FromRow)]
pub struct ModelRow {
    /// Id.
    pub id: String,
    /// `vX.Y.Z`.
    pub version: String,
    /// Hub repository, or `local/<name>` when not pushed.
    pub hugging_face_model_id: String,
    /// What it continued from, or the architecture trained from scratch.
    pub base_model: String,
    /// Batch it was trained on.
    pub training_data_batch: String,
    /// Session that produced it.
    pub session_id: Option<String>,
    /// `training`, `validating`, `deployed` or `archived`.
    pub status: String,
    /// Epoch ms.
    pub training_started_at: i64,
    /// Epoch ms.
    pub training_completed_at: Option<i64>,
    /// Epoch ms of the last deployment.
    pub deployed_at: Option<i64>,
    /// Held-out metrics.
    pub perplexity: Option<f64>,
    /// Held-out BLEU-4, 0–1.
    pub bleu_score: Option<f64>,
    /// Held-out loss.
    pub validation_loss: Option<f64>,
    /// Final training loss.
    pub training_loss: Option<f64>,
    /// Tone fit, 0–1.
    pub responsiveness: Option<f64>,
    /// Local HF-layout directory (NULL once pruned).
    pub artifact_path: Option<String>,
    /// Whether the validation gate passed.
    pub gate_passed: Option<DbBool>,
    /// The gate's findings (JSON).
    pub gate_report: Option<String>,
    /// The model serving before this one was deployed.
    pub previous_model_id: Option<String>,
    /// Its version.
    pub previous_version: Option<String>,
    /// Why this model was rolled back, if it was.
    pub rollback_reason: Option<String>,
    /// Epoch ms.
    pub created_at: i64,
}

/// Columns of [`ModelRow`], for `concat!`.
macro_rules! model_columns {
    () => {
        "id, version, hugging_face_model_id, base_model, training_data_batch, session_id, status, training_started_at, \
         training_completed_at, deployed_at, perplexity, bleu_score, validation_loss, training_loss, responsiveness, \
         artifact_path, gate_passed, gate_report, previous_model_id, previous_version, rollback_reason, created_at"
    };
}
pub(crate) use model_columns;

impl ModelRow {
    /// Held-out metrics, when the model has them.
    pub fn metrics(&self) -> Option<ModelMetrics> {
        Some(ModelMetrics {
            perplexity: self.perplexity?,
            bleu_score: self.bleu_score?,
            validation_loss: self.validation_loss?,
            training_loss: self.training_loss?,
            responsiveness: self.responsiveness?,
        })
    }

    /// The wire representation, with the environments it serves in.
    pub fn to_api(&self, live_in: Vec<DeploymentEnvironment>) -> AiModel {
        let status = match self.status.as_str() {
            "training" => ModelStatus::Training,
            "deployed" => ModelStatus::Deployed,
            "archived" => ModelStatus::Archived,
            _ => ModelStatus::Validating,
        };
        AiModel {
            id: self.id.clone(),
            version: self.version.clone(),
            hugging_face_model_id: self.hugging_face_model_id.clone(),
            base_model: self.base_model.clone(),
            training_data_batch: self.training_data_batch.clone(),
            training_started_at: to_dt(self.training_started_at),
            training_completed_at: to_dt_opt(self.training_completed_at),
            deployed_at: to_dt_opt(self.deployed_at),
            status,
            performance_metrics: self.metrics(),
            rollback_data: match (&self.previous_model_id, &self.previous_version) {
                (Some(id), Some(v)) => Some(RollbackData {
                    previous_model_id: id.clone(),
                    previous_version: v.clone(),
                    rollback_reason: self.rollback_reason.clone(),
                }),
                _ => None,
            },
            deployed_environments: live_in,
        }
    }
}

/// Reads a model.
pub async fn find(db: &Db, id: &str) -> Result<Option<ModelRow>, sqlx::Error> {
    sqlx::query_as(concat!("SELECT ", model_columns!(), " FROM ai_models WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await
}

/// The model live in `environment`, if any.
pub async fn live_model(db: &Db, environment: &str) -> Result<Option<ModelRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        model_columns!(),
        " FROM ai_models WHERE id = (SELECT model_id FROM model_deployments WHERE environment = $1 AND retired_at IS NULL)"
    ))
    .bind(environment)
    .fetch_optional(&db.pool)
    .await
}

fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let mut it = v.strip_prefix('v')?.split('.').map(|p| p.parse::<u64>().ok());
    let parsed = (it.next()??, it.next()??, it.next()??);
    it.next().is_none().then_some(parsed)
}

/// The version the next trained model gets: the highest so far with MINOR + 1 (`v1.0.0` first).
pub async fn next_version(db: &Db) -> Result<String> {
    let versions: Vec<(String,)> = sqlx::query_as("SELECT version FROM ai_models").fetch_all(&db.pool).await?;
    let max = versions.iter().filter_map(|(v,)| parse_version(v)).max();
    Ok(match max {
        None => "v1.0.0".into(),
        Some((major, minor, _)) => format!("v{major}.{}.0", minor + 1),
    })
}

fn num(v: &Value, keys: &[&str]) -> Option<f64> {
    keys.iter().find_map(|k| v.get(*k).and_then(Value::as_f64)).filter(|x| x.is_finite())
}

/// Where `version`'s artifacts live.
pub fn artifact_dir(state: &AppState, version: &str) -> PathBuf {
    state.config.data_dir.join("models").join(version)
}

/// Moves the trainer's output into the registry and records the model.
#[allow(clippy::too_many_arguments)]
pub async fn register(
    state: &AppState,
    session: &SessionRow,
    version: &str,
    started_ms: i64,
    out: &Path,
    report: &Value,
    verdict: &Verdict,
) -> Result<ModelRow> {
    let dest = artifact_dir(state, version);
    if dest.exists() {
        std::fs::remove_dir_all(&dest).ok();
    }
    std::fs::create_dir_all(dest.parent().expect("models dir"))?;
    std::fs::rename(out, &dest).with_context(|| format!("moving the model into {}", dest.display()))?;
    let m = report.get("metrics").unwrap_or(report);
    let base = match report.pointer("/init/fromVersion").and_then(Value::as_str) {
        Some(from) => format!("coach-gpt {from} (continued)"),
        None => {
            let d = |k: &str| report.pointer(&format!("/model/{k}")).and_then(Value::as_u64).unwrap_or(0);
            format!("coach-gpt d{}-L{}-H{}-V{} (from scratch)", d("dModel"), d("nLayers"), d("nHeads"), d("vocabSize"))
        }
    };
    let id = new_id();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO ai_models (id, version, hugging_face_model_id, base_model, training_data_batch, session_id, status,
             training_started_at, training_completed_at, perplexity, bleu_score, validation_loss, training_loss,
             responsiveness, artifact_path, gate_passed, gate_report, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'validating', $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $8)",
    )
    .bind(&id)
    .bind(version)
    .bind(format!("local/coach-{version}"))
    .bind(&base)
    .bind(&session.batch_id)
    .bind(&session.id)
    .bind(started_ms)
    .bind(now)
    .bind(OptF64(num(m, &["perplexity"])))
    .bind(OptF64(num(m, &["bleuScore", "bleu_score", "bleu"])))
    .bind(OptF64(num(m, &["validationLoss", "validation_loss"])))
    .bind(OptF64(num(m, &["trainingLoss", "training_loss"])))
    .bind(OptF64(num(m, &["responsiveness"])))
    .bind(dest.display().to_string())
    .bind(verdict.passed)
    .bind(verdict.report.to_string())
    .execute(&state.db.pool)
    .await?;
    if let Some(hub) = &state.training.hub {
        match hub.push(&dest, version).await {
            Ok(repo) => {
                sqlx::query("UPDATE ai_models SET hugging_face_model_id = $2 WHERE id = $1")
                    .bind(&id)
                    .bind(&repo)
                    .execute(&state.db.pool)
                    .await?;
            }
            Err(e) => tracing::warn!(version, error = %format!("{e:#}"), "Hub push failed; the model stays local"),
        }
    }
    find(&state.db, &id).await?.context("the model row vanished")
}

/// Deletes local artifacts beyond the newest [`KEEP_VERSIONS`], keeping every live model and the
/// models live ones would roll back to.
pub async fn prune_artifacts(state: &AppState) -> Result<u64> {
    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT id, version, artifact_path FROM ai_models WHERE artifact_path IS NOT NULL")
            .fetch_all(&state.db.pool)
            .await?;
    let protected: Vec<(String,)> = sqlx::query_as(
        "SELECT model_id FROM model_deployments WHERE retired_at IS NULL
         UNION SELECT previous_model_id FROM ai_models
           WHERE id IN (SELECT model_id FROM model_deployments WHERE retired_at IS NULL) AND previous_model_id IS NOT NULL",
    )
    .fetch_all(&state.db.pool)
    .await?;
    let mut by_version: Vec<_> = rows.iter().filter_map(|r| parse_version(&r.1).map(|v| (v, r))).collect();
    by_version.sort_by_key(|b| std::cmp::Reverse(b.0));
    let mut pruned = 0;
    for (_, (id, version, path)) in by_version.into_iter().skip(KEEP_VERSIONS) {
        if protected.iter().any(|(p,)| p == id) {
            continue;
        }
        if let Some(p) = path {
            let _ = std::fs::remove_dir_all(p);
        }
        sqlx::query("UPDATE ai_models SET artifact_path = NULL WHERE id = $1").bind(id).execute(&state.db.pool).await?;
        tracing::info!(version, "pruned local model artifacts");
        pruned += 1;
    }
    Ok(pruned)
}
