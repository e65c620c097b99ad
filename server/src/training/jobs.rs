//! Scheduled jobs — the weekly training run (Sunday 02:00 UTC by default, `COACH_TRAINING_CRON`)
//! and the daily retention cleanup (`COACH_RETENTION_CRON`) — and `POST /v1/admin/jobs/{job}` to
//! run one now.
//!
//! Each job runs on one replica only: before running, a replica takes the job's lease in
//! `job_leases` with a conditional update (held until it expires), so replicas that wake at the same
//! minute do not both run it. `last_run_at` in the same row makes a slot run once even across
//! restarts.
//!
//! Every tick the scheduler also delivers the provider-voice deletion outbox
//! ([`crate::voice::outbox`]): rows whose backoff has elapsed are retried. No lease is needed
//! there: each row is claimed on its own before its provider call.

use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::extract::State;
use chrono::{DateTime, Utc};
use coach_shared::limits::RETENTION_DAYS;
use coach_shared::types::training::TrainingSessionRequest;
use croner::Cron;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{sessions, workdir};
use crate::auth::Admin;
use crate::db::{Db, now_ms, to_dt};
use crate::error::{ApiResult, AppError};
use crate::extract::ApiPath;
use crate::state::AppState;
use crate::voice::outbox;

/// The weekly training job.
pub const WEEKLY_TRAINING: &str = "weekly-training";
/// The daily retention job.
pub const RETENTION_CLEANUP: &str = "retention-cleanup";
const LEASE_MS: i64 = 10 * 60 * 1000;

/// Parses a cron expression (5 fields, UTC), for config validation.
pub fn parse_cron(expr: &str) -> Result<Cron> {
    Cron::from_str(expr).map_err(|e| anyhow::anyhow!("invalid cron expression {expr:?}: {e}"))
}

/// Takes the lease of `job` for `holder`; false when another replica holds it.
pub async fn acquire_lease(db: &Db, job: &str, holder: &str) -> Result<bool> {
    let now = now_ms();
    sqlx::query("INSERT INTO job_leases (name, holder, expires_at) VALUES ($1, '', 0) ON CONFLICT (name) DO NOTHING")
        .bind(job)
        .execute(&db.pool)
        .await?;
    let r = sqlx::query(
        "UPDATE job_leases SET holder = $2, expires_at = $3 WHERE name = $1 AND (expires_at < $4 OR holder = $2)",
    )
    .bind(job)
    .bind(holder)
    .bind(now + LEASE_MS)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

async fn release_lease(db: &Db, job: &str, holder: &str, result: &Value) -> Result<()> {
    sqlx::query(
        "UPDATE job_leases SET expires_at = 0, last_run_at = $3, last_result = $4 WHERE name = $1 AND holder = $2",
    )
    .bind(job)
    .bind(holder)
    .bind(now_ms())
    .bind(result.to_string())
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Deletes training rows older than the retention period and expired idempotency keys, delivers
/// the due provider voice deletions and removes the work directories of finished sessions.
pub async fn retention_cleanup(state: &AppState) -> Result<Value> {
    let cutoff = now_ms() - RETENTION_DAYS * 86_400_000;
    let rows =
        sqlx::query("DELETE FROM ai_training_data WHERE event_at < $1").bind(cutoff).execute(&state.db.pool).await?;
    let keys = crate::idempotency::purge_expired(&state.db).await?;
    state.training.intake_limiter.shrink();
    state.limits.shrink();
    let voices = outbox::deliver_due(state, now_ms()).await?;
    let workdirs = workdir::sweep(state).await?;
    tracing::info!(deleted = rows.rows_affected(), keys, voices = voices.deleted, workdirs, "retention cleanup");
    Ok(json!({
        "deletedTrainingRecords": rows.rows_affected(),
        "purgedIdempotencyKeys": keys,
        "providerVoicesDeleted": voices.deleted,
        "providerVoiceDeletionsFailed": voices.failed,
        "providerVoiceDeletionsPending": outbox::pending(state).await?,
        "staleWorkDirsRemoved": workdirs,
        "cutoff": to_dt(cutoff),
    }))
}

/// Starts this week's session (a no-op answer when one is already in flight).
pub async fn weekly_training(state: &AppState) -> Result<Value> {
    let batch_id = format!("weekly-{}", Utc::now().format("%Y%m%dT%H%M%S"));
    let req = TrainingSessionRequest { batch_id, force_retrain: false };
    match sessions::create(state, &req, "schedule").await {
        Ok(row) => Ok(json!({ "session": row.to_api() })),
        Err(AppError::Conflict { message, .. }) => Ok(json!({ "skipped": message })),
        Err(e) => Err(anyhow::anyhow!("{e}")),
    }
}

async fn run(state: &AppState, job: &str) -> Result<Value> {
    match job {
        WEEKLY_TRAINING => weekly_training(state).await,
        RETENTION_CLEANUP => retention_cleanup(state).await,
        other => anyhow::bail!("unknown job {other}"),
    }
}

/// Whether `job` is due: its cron has a slot after its last run (or after the lease row was
/// created) that is not in the future.
async fn due(db: &Db, job: &str, cron: &Cron) -> Result<bool> {
    let last: Option<(Option<i64>,)> =
        sqlx::query_as("SELECT last_run_at FROM job_leases WHERE name = $1").bind(job).fetch_optional(&db.pool).await?;
    let Some((Some(last),)) = last else {
        // never ran: remember "now" as the starting point so the first slot is the next one
        sqlx::query("INSERT INTO job_leases (name, holder, expires_at, last_run_at) VALUES ($1, '', 0, $2) ON CONFLICT (name) DO NOTHING")
            .bind(job)
            .bind(now_ms())
            .execute(&db.pool)
            .await?;
        sqlx::query("UPDATE job_leases SET last_run_at = $2 WHERE name = $1 AND last_run_at IS NULL")
            .bind(job)
            .bind(now_ms())
            .execute(&db.pool)
            .await?;
        return Ok(false);
    };
    let next: DateTime<Utc> = cron.find_next_occurrence(&to_dt(last), false).context("next cron slot")?;
    Ok(next <= Utc::now())
}

/// The scheduler loop: checks both jobs every `tick`.
pub async fn scheduler(state: AppState, tick: Duration) {
    let jobs = [
        (WEEKLY_TRAINING, state.config.training.training_cron.clone()),
        (RETENTION_CLEANUP, state.config.training.retention_cron.clone()),
    ];
    let parsed: Vec<(&str, Cron)> = jobs.iter().filter_map(|(j, e)| parse_cron(e).ok().map(|c| (*j, c))).collect();
    let me = state.training.worker_id.clone();
    loop {
        if let Err(e) = outbox::deliver_due(&state, now_ms()).await {
            tracing::warn!(error = %format!("{e:#}"), "provider voice deletion outbox");
        }
        for (job, cron) in &parsed {
            match due(&state.db, job, cron).await {
                Ok(true) => match acquire_lease(&state.db, job, &me).await {
                    Ok(true) => {
                        let result = run(&state, job).await.unwrap_or_else(|e| json!({ "error": format!("{e:#}") }));
                        tracing::info!(job, %result, "scheduled job ran");
                        let _ = release_lease(&state.db, job, &me, &result).await;
                    }
                    Ok(false) => tracing::debug!(job, "another replica holds the lease"),
                    Err(e) => tracing::warn!(job, error = %e, "lease"),
                },
                Ok(false) => {}
                Err(e) => tracing::warn!(job, error = %e, "scheduler"),
            }
        }
        tokio::time::sleep(tick).await;
    }
}

/// What a job run did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobRun {
    /// `weekly-training` or `retention-cleanup`.
    pub job: String,
    /// When it ran.
    pub ran_at: DateTime<Utc>,
    /// What it did.
    #[schema(value_type = Object)]
    pub result: Value,
}

/// Run a scheduled job now (admin): `weekly-training` or `retention-cleanup`.
#[utoipa::path(post, path = "/v1/admin/jobs/{job}", tag = "Training Sessions",
    params(("job" = String, Path, description = "`weekly-training` or `retention-cleanup`")),
    responses(
        (status = 200, description = "The job ran", body = JobRun),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 403, description = "Not an admin", body = coach_shared::ErrorResponse),
        (status = 404, description = "No such job", body = coach_shared::ErrorResponse),
        (status = 409, description = "The job is running on another replica", body = coach_shared::ErrorResponse)),
    security(("ApiKeyAuth" = []), ("BearerAuth" = [])))]
pub async fn run_now(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(job): ApiPath<String>,
) -> ApiResult<axum::Json<JobRun>> {
    if job != WEEKLY_TRAINING && job != RETENTION_CLEANUP {
        return Err(AppError::NotFound(format!("No job named {job} (weekly-training, retention-cleanup)")));
    }
    let me = format!("{}:admin", state.training.worker_id);
    if !acquire_lease(&state.db, &job, &me).await? {
        return Err(AppError::Conflict {
            code: "job_running",
            message: format!("{job} is running on another replica"),
        });
    }
    let result = run(&state, &job).await;
    let value = match &result {
        Ok(v) => v.clone(),
        Err(e) => json!({ "error": format!("{e:#}") }),
    };
    release_lease(&state.db, &job, &me, &value).await?;
    let result = result?;
    tracing::info!(job, actor = %admin.actor, "job run by admin");
    Ok(axum::Json(JobRun { job, ran_at: Utc::now(), result }))
}
