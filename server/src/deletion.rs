//! `DELETE /v1/users/me`: a user's request to be forgotten, carried out at once (the promise is 30
//! days).
//!
//! Each area owns the deletion of its own rows and files — a `delete_for_user(tx, …)` in
//! [`crate::users`], [`crate::workouts`], [`crate::idempotency`], the voice modules
//! ([`voice::preferences`], [`voice::cache_index`], [`voice::clip_store`],
//! [`voice::interactions`], [`voice::clone`]) and the training intake
//! ([`crate::training::intake`]) — and this orchestrator calls them in **one transaction** that
//! first takes the user's row lock ([`users::lock_in`]): the writers that insert rows for a user
//! outside the per-user tables' foreign keys (training intake, the workout export, a clone job's
//! bookkeeping) take the same lock and re-check that the user exists and consents, so nothing is
//! written for them after this commits; the per-user tables' foreign keys refuse the rest.
//!
//! Provider-side deletions (the cloned voices) are written to the durable outbox
//! ([`voice::outbox`]) in that same transaction and carried out after the commit by a background
//! task and the scheduler's retries, so the answer never waits for the speech provider. After the
//! commit the exported training shards on this replica's disk are scrubbed of the user's rows
//! ([`crate::training::workdir`]).
//!
//! Models already trained keep what they learned from earlier batches; the next training run
//! excludes the deleted rows (they no longer exist), so the data leaves the deployed model at the
//! next weekly retrain. docs/api-training.md says so.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AuthUser;
use crate::error::{ApiResult, AppError};
use crate::state::AppState;
use crate::training::{intake, workdir};
use crate::users::{self, RowLock};
use crate::voice::{self, cache_index, interactions, outbox, preferences};
use crate::{idempotency, workouts};

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(delete_me))
}

/// What was deleted.
#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletedCounts {
    /// Anonymized training rows.
    pub training_records: u64,
    /// Logged sets.
    pub workouts: u64,
    /// Voice interactions.
    pub voice_interactions: u64,
    /// Cache index entries.
    pub cache_entries: u64,
    /// Clips removed (files and rows): those made with the user's cloned voice and those in their
    /// cache index, unless another user's index still references them.
    pub private_clips: u64,
    /// Voice preferences (0 or 1).
    pub voice_preferences: u64,
    /// Voice clone jobs.
    pub clone_jobs: u64,
    /// Cloned voices deleted at the provider before the answer: always 0, the answer never waits
    /// for the provider (kept for the response's shape).
    pub provider_voices_deleted: u64,
    /// Cloned voices queued for deletion at the provider (the outbox delivers them after the
    /// answer, retrying with backoff until the provider confirms).
    pub provider_voices_queued: u64,
}

/// The answer to a deletion request.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletionResult {
    /// The user that no longer exists.
    pub user_id: String,
    /// What was removed.
    pub deleted: DeletedCounts,
    /// When.
    pub completed_at: chrono::DateTime<chrono::Utc>,
}

/// Delete my account and all my data.
#[utoipa::path(delete, path = "/v1/users/me", tag = "Users",
    responses(
        (status = 200, description = "Everything of the caller was deleted", body = DeletionResult),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse)),
    security(("BearerAuth" = [])))]
pub async fn delete_me(State(state): State<AppState>, auth: AuthUser) -> ApiResult<axum::Json<DeletionResult>> {
    Ok(axum::Json(delete_user(&state, auth.id()).await?))
}

/// Deletes `user_id` and everything of theirs (see the module docs); 401 when the user is
/// already gone (a concurrent deletion won).
pub async fn delete_user(state: &AppState, user_id: &str) -> ApiResult<DeletionResult> {
    let mut c = DeletedCounts::default();
    let mut tx = state.db.begin().await?;
    let Some(user) = users::lock_in(&mut tx, state.db.engine, user_id, RowLock::Exclusive).await? else {
        return Err(AppError::Unauthorized { code: "invalid_token", message: "The account no longer exists".into() });
    };
    let mut voices: Vec<String> = user.voice_id.into_iter().collect();
    let (jobs, job_voices) = voice::clone::delete_for_user(&mut tx, user_id).await?;
    let (prefs, prefs_voice) = preferences::delete_for_user(&mut tx, user_id).await?;
    voices.extend(job_voices.into_iter().chain(prefs_voice));
    let (entries, referenced) = cache_index::delete_for_user(&mut tx, user_id).await?;
    (c.clone_jobs, c.voice_preferences, c.cache_entries) = (jobs, prefs, entries);
    c.voice_interactions = interactions::delete_for_user(&mut tx, user_id).await?;
    c.workouts = workouts::delete_for_user(&mut tx, user_id).await?;
    c.training_records = intake::delete_for_user(&mut tx, &state.secrets.subject_pepper, user_id).await?;
    idempotency::delete_for_user(&mut tx, user_id).await?;
    voices.sort();
    voices.dedup();
    c.provider_voices_queued = outbox::enqueue(&mut tx, &voices, "account deleted").await?;
    // Last before the user's row: the clip files go before the commit (see the clip store).
    c.private_clips =
        state.voice.clips.delete_for_user(&mut tx, state.db.engine, user_id, &referenced).await?.removed.len() as u64;
    users::delete_for_user(&mut tx, user_id).await?;
    tx.commit().await?;

    if c.provider_voices_queued > 0 {
        outbox::kick(state);
    }
    let scrubbed = match workdir::scrub_all(state).await {
        Ok(lines) => lines,
        Err(e) => {
            // The rows are gone; shards that could not be checked go too (a running session then
            // fails its phase and is retried with a fresh export).
            tracing::error!(error = %format!("{e:#}"), "could not scrub the exported shards; removing them");
            let _ = std::fs::remove_dir_all(workdir::root(&state.config.data_dir));
            0
        }
    };
    tracing::info!(
        training = c.training_records,
        workouts = c.workouts,
        voices_queued = c.provider_voices_queued,
        shard_lines = scrubbed,
        "user deleted on request"
    );
    Ok(DeletionResult { user_id: user_id.to_string(), deleted: c, completed_at: chrono::Utc::now() })
}
