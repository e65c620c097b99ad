//! The pipeline worker: drives each session through
//! `scheduled → data_collection → training → validation → completed | failed`.
//!
//! * **Claiming** is a conditional `UPDATE` (status `scheduled`, due, not held by a live worker),
//!   so several replicas can run workers and each session runs once.
//! * **Resumable**: a worker writes a heartbeat; at start, and whenever a heartbeat is older than
//!   [`STALE_MS`], sessions in a running state are put back to `scheduled` and start over from data
//!   collection (every phase is idempotent).
//! * **Retries**: a transient failure (the trainer crashed, was killed, timed out) puts the session
//!   back to `scheduled` with `retryCount + 1` and a jittered exponential backoff (`nextAttemptAt`),
//!   at most [`MAX_TRAINING_RETRIES`] times; then it ends `failed`. A session with no data fails at
//!   once and is not retried (retrying cannot help).
//! * **No training data outlives its attempt on disk**: the session's work directory (shards,
//!   their ids, the trainer's output) is removed when the attempt ends, whatever the outcome, and
//!   the shards are scrubbed of deleted rows after the export and before validation
//!   ([`super::workdir`]).
//! * **The live model changes only after validation passes** ([`super::gate`]); otherwise the model
//!   is registered but held back, and the previous model keeps serving.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use coach_shared::limits::{MAX_TRAINING_RETRIES, RETENTION_DAYS};
use rand::RngExt;

use super::export::export_batch;
use super::runner::{self, RunError};
use super::sessions::{self, SessionRow};
use super::{gate, registry, workdir, workouts_export};
use crate::db::now_ms;
use crate::state::AppState;

/// A running session whose heartbeat is older than this is considered orphaned (its worker died).
pub const STALE_MS: i64 = 60_000;
const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);

/// Why a session attempt stopped.
enum Outcome {
    /// Done: a model was produced (deployed or held back).
    Completed { model_path: String, note: Option<String> },
    /// Failed for good (no data, cancelled, misconfiguration).
    Fatal(String),
    /// Failed in a way a retry may fix.
    Transient(String),
    /// Cancelled by an admin: the row was already updated.
    Cancelled,
}

/// The worker loop: runs forever (until the runtime shuts down).
pub async fn worker(state: AppState) {
    let me = state.training.worker_id.clone();
    if let Err(e) = recover_orphans(&state, true).await {
        tracing::warn!(error = %e, "could not recover orphaned sessions");
    }
    if let Err(e) = workdir::sweep(&state).await {
        tracing::warn!(error = %format!("{e:#}"), "could not sweep stale session work directories");
    }
    loop {
        match claim_next(&state, &me).await {
            Ok(Some(session)) => run_session(&state, session).await,
            Ok(None) => {
                let wait = until_next_retry(&state).await.unwrap_or(state.training.poll_interval);
                let _ = tokio::time::timeout(wait.min(state.training.poll_interval), state.training.notified()).await;
                let _ = recover_orphans(&state, false).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "training worker could not claim a session");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

/// Puts running sessions without a live worker back to `scheduled`. At start (`all_mine`), this
/// worker's own leftovers count as orphans too (its previous process died).
async fn recover_orphans(state: &AppState, all_mine: bool) -> Result<u64> {
    let now = now_ms();
    let r = sqlx::query(
        "UPDATE training_sessions SET status = 'scheduled', worker_id = NULL, updated_at = $1,
             error_message = 'Resumed after an interrupted run'
         WHERE status IN ('data_collection', 'training', 'validation')
           AND (heartbeat_at IS NULL OR heartbeat_at < $2 OR ($3 AND worker_id = $4))",
    )
    .bind(now)
    .bind(now - STALE_MS)
    .bind(all_mine)
    .bind(&state.training.worker_id)
    .execute(&state.db.pool)
    .await?;
    if r.rows_affected() > 0 {
        tracing::warn!(count = r.rows_affected(), "orphaned training sessions rescheduled");
        state.training.wake_worker();
    }
    Ok(r.rows_affected())
}

/// How long until the earliest scheduled retry is due (`None` when no retry is waiting), so a
/// session retried after a short backoff starts then, not at the next idle poll.
async fn until_next_retry(state: &AppState) -> Option<Duration> {
    let (next,): (Option<i64>,) = sqlx::query_as(
        "SELECT MIN(next_attempt_at) FROM training_sessions WHERE status = 'scheduled' AND next_attempt_at IS NOT NULL",
    )
    .fetch_one(&state.db.pool)
    .await
    .ok()?;
    Some(Duration::from_millis(u64::try_from(next? - now_ms()).unwrap_or(0)))
}

async fn claim_next(state: &AppState, me: &str) -> Result<Option<SessionRow>> {
    let now = now_ms();
    let candidate: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM training_sessions WHERE status = 'scheduled' AND (next_attempt_at IS NULL OR next_attempt_at <= $1)
         ORDER BY scheduled_at LIMIT 1",
    )
    .bind(now)
    .fetch_optional(&state.db.pool)
    .await?;
    let Some((id,)) = candidate else { return Ok(None) };
    let claimed = sqlx::query(
        "UPDATE training_sessions SET status = 'data_collection', worker_id = $2, heartbeat_at = $3,
             started_at = COALESCE(started_at, $3), updated_at = $3
         WHERE id = $1 AND status = 'scheduled'",
    )
    .bind(&id)
    .bind(me)
    .bind(now)
    .execute(&state.db.pool)
    .await?;
    if claimed.rows_affected() == 0 {
        return Ok(None); // another worker won
    }
    Ok(sessions::find(&state.db, &id).await?)
}

/// Moves the session to `status` if it is still ours and not cancelled; false otherwise.
async fn advance(state: &AppState, id: &str, status: &str) -> Result<bool> {
    let now = now_ms();
    let r = sqlx::query(
        "UPDATE training_sessions SET status = $2, heartbeat_at = $3, updated_at = $3
         WHERE id = $1 AND worker_id = $4 AND status IN ('data_collection', 'training', 'validation')",
    )
    .bind(id)
    .bind(status)
    .bind(now)
    .bind(&state.training.worker_id)
    .execute(&state.db.pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

async fn run_session(state: &AppState, session: SessionRow) {
    let id = session.id.clone();
    tracing::info!(session = %id, batch = %session.batch_id, retry = session.retry_count, "training session started");
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    state.training.register_running(&id, cancel_tx);
    let heartbeat = {
        let (state, id) = (state.clone(), id.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(HEARTBEAT_EVERY).await;
                let _ = sqlx::query("UPDATE training_sessions SET heartbeat_at = $2 WHERE id = $1 AND worker_id = $3")
                    .bind(&id)
                    .bind(now_ms())
                    .bind(&state.training.worker_id)
                    .execute(&state.db.pool)
                    .await;
            }
        })
    };
    let outcome = match attempt(state, &session, cancel_rx).await {
        Ok(o) => o,
        Err(e) => Outcome::Transient(format!("{e:#}")),
    };
    heartbeat.abort();
    state.training.unregister_running(&id);
    if let Err(e) = finish(state, &session, outcome).await {
        tracing::error!(session = %id, error = %e, "could not record the session's outcome");
    }
    // Whatever the outcome (a retry exports again): the shards and any unregistered model go.
    workdir::remove(&state.config.data_dir, &id);
}

async fn attempt(
    state: &AppState,
    session: &SessionRow,
    cancel: tokio::sync::watch::Receiver<bool>,
) -> Result<Outcome> {
    let id = &session.id;
    let force = session.force_retrain.0;
    let work = workdir::dir(&state.config.data_dir, id);

    // data_collection: workouts of consenting users become rows; the batch takes the pending rows.
    let from_workouts = workouts_export::export_consented_workouts(state).await?;
    let cutoff = now_ms() - RETENTION_DAYS * 86_400_000;
    sqlx::query(
        "UPDATE ai_training_data SET batch_id = $1, status = 'queued_for_training'
         WHERE batch_id IS NULL AND event_at >= $2",
    )
    .bind(&session.batch_id)
    .bind(cutoff)
    .execute(&state.db.pool)
    .await?;
    let exported = {
        // Rows deleted while the batch was read (an account deletion) leave the shards at once.
        let _shards = workdir::lock().await;
        let mut e = export_batch(&state.db, &session.batch_id, force, &work.join("data")).await?;
        e.records -= workdir::scrub_locked(&state.db, &e.dir).await?.min(e.records);
        e
    };
    sqlx::query("UPDATE training_sessions SET record_count = $2, data_size = $3, updated_at = $4 WHERE id = $1")
        .bind(id)
        .bind(exported.records as i64)
        .bind(exported.bytes as i64)
        .bind(now_ms())
        .execute(&state.db.pool)
        .await?;
    tracing::info!(session = %id, records = exported.records, bytes = exported.bytes, from_workouts, "batch exported");
    if exported.records == 0 {
        return Ok(Outcome::Fatal(
            "No training data: no consented records are pending (submit data or start with forceRetrain)".into(),
        ));
    }

    // training: the trainer runs as its own process.
    if !advance(state, id, "training").await? {
        return Ok(Outcome::Cancelled);
    }
    let version = registry::next_version(&state.db).await?;
    let out = work.join("model");
    if out.exists() {
        std::fs::remove_dir_all(&out).ok();
    }
    let production = registry::live_model(&state.db, "production").await?;
    let init_from = match (&production, force) {
        (Some(m), false) => m.artifact_path.clone().map(PathBuf::from).filter(|p| p.join("config.json").is_file()),
        _ => None,
    };
    let mut args = vec![
        "train".to_string(),
        "--data".into(),
        exported.dir.display().to_string(),
        "--out".into(),
        out.display().to_string(),
        "--budget-secs".into(),
        state.config.training.train_budget.as_secs().to_string(),
        "--version".into(),
        version.clone(),
        "--seed".into(),
        (session.retry_count + 1).to_string(),
    ];
    if let Some(init) = &init_from {
        args.push("--init-from".into());
        args.push(init.display().to_string());
    }
    sqlx::query("UPDATE training_sessions SET hugging_face_job_id = $2 WHERE id = $1")
        .bind(id)
        .bind(format!("local-trainer:{id}:{}", session.retry_count))
        .execute(&state.db.pool)
        .await?;
    let limit = state.config.training.train_budget + Duration::from_secs(180);
    let progress_id = id.clone();
    let started = now_ms();
    let report = match runner::run(&state.config.training.trainer_command, &args, limit, cancel, |p| {
        tracing::debug!(session = %progress_id, progress = %p, "trainer progress");
    })
    .await
    {
        Ok((report, _pid)) => report,
        Err(RunError::Cancelled) => return Ok(Outcome::Cancelled),
        Err(e @ RunError::Spawn { .. }) => return Ok(Outcome::Fatal(e.to_string())),
        Err(e) => return Ok(Outcome::Transient(e.to_string())),
    };

    // validation: held-out metrics, compliance sample, comparison with the deployed model.
    if !advance(state, id, "validation").await? {
        return Ok(Outcome::Cancelled);
    }
    // Deletions made meanwhile through another replica leave this replica's shards too.
    workdir::scrub(&state.db, &exported.dir).await?;
    let verdict = gate::evaluate(state, &out, &exported.dir, &report, production.as_ref()).await?;
    let model = registry::register(state, session, &version, started, &out, &report, &verdict).await?;
    let note = if verdict.passed {
        super::deploy::deploy(state, &model.id, "production", "gradual", "deploy", Some("validation passed"))
            .await
            .context("deploying the validated model")?;
        None
    } else {
        Some(format!("Model {version} was trained but held back by validation: {}", verdict.reason))
    };
    registry::prune_artifacts(state).await?;
    Ok(Outcome::Completed { model_path: model.artifact_path.unwrap_or_default(), note })
}

fn backoff_ms(base: Duration, retry: i64) -> i64 {
    let exp = base.as_millis() as i64 * (1i64 << retry.clamp(0, 10));
    let capped = exp.min(3_600_000);
    let jitter = rand::rng().random_range(0..=capped / 4 + 1);
    capped + jitter
}

async fn finish(state: &AppState, session: &SessionRow, outcome: Outcome) -> Result<()> {
    let now = now_ms();
    let id = &session.id;
    let me = &state.training.worker_id;
    match outcome {
        Outcome::Cancelled => {
            tracing::info!(session = %id, "session cancelled");
        }
        Outcome::Completed { model_path, note } => {
            sqlx::query(
                "UPDATE training_sessions SET status = 'completed', completed_at = $2, model_output_path = $3,
                     error_message = $4, worker_id = NULL, next_attempt_at = NULL, updated_at = $2
                 WHERE id = $1 AND worker_id = $5",
            )
            .bind(id)
            .bind(now)
            .bind(&model_path)
            .bind(note.as_deref())
            .bind(me)
            .execute(&state.db.pool)
            .await?;
            tracing::info!(session = %id, model = %model_path, "training session completed");
        }
        Outcome::Fatal(msg) => {
            sqlx::query(
                "UPDATE training_sessions SET status = 'failed', completed_at = $2, error_message = $3, worker_id = NULL,
                     next_attempt_at = NULL, updated_at = $2
                 WHERE id = $1 AND worker_id = $4",
            )
            .bind(id)
            .bind(now)
            .bind(&msg)
            .bind(me)
            .execute(&state.db.pool)
            .await?;
            tracing::warn!(session = %id, error = %msg, "training session failed (not retried)");
        }
        Outcome::Transient(msg) => {
            let current = sessions::find(&state.db, id).await?.map(|s| s.retry_count).unwrap_or(session.retry_count);
            if current >= i64::from(MAX_TRAINING_RETRIES) {
                let msg = format!(
                    "{msg} — Maximum retry limit ({MAX_TRAINING_RETRIES}) exceeded; the previous model keeps serving"
                );
                sqlx::query(
                    "UPDATE training_sessions SET status = 'failed', completed_at = $2, error_message = $3, worker_id = NULL,
                         next_attempt_at = NULL, updated_at = $2
                     WHERE id = $1 AND worker_id = $4",
                )
                .bind(id)
                .bind(now)
                .bind(&msg)
                .bind(me)
                .execute(&state.db.pool)
                .await?;
                tracing::error!(session = %id, error = %msg, "training session failed after the last retry");
            } else {
                let at = now + backoff_ms(state.config.training.retry_base, current);
                let msg = format!("Attempt {} failed: {msg}; retrying automatically", current + 1);
                sqlx::query(
                    "UPDATE training_sessions SET status = 'scheduled', retry_count = retry_count + 1, next_attempt_at = $2,
                         error_message = $3, worker_id = NULL, updated_at = $4
                     WHERE id = $1 AND worker_id = $5",
                )
                .bind(id)
                .bind(at)
                .bind(&msg)
                .bind(now)
                .bind(me)
                .execute(&state.db.pool)
                .await?;
                tracing::warn!(session = %id, error = %msg, retry_at = at, "training session will be retried");
            }
        }
    }
    Ok(())
}
