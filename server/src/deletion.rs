//! `DELETE /v1/users/me`: a user's request to be forgotten, carried out at once (the promise is 30
//! days). In one transaction it removes the user and everything that is theirs — voice preferences,
//! the cache index and the clips made with their personal cloned voice, voice interactions, clone
//! jobs, workouts, idempotency records, and their anonymized training rows (found by recomputing
//! the keyed hash from their id). The cloned voice is deleted at the speech provider; if the
//! provider cannot be reached, its id is queued and the retention job retries until it can.
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
use crate::db::now_ms;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::training::subject::subject_key_for_user;

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
    /// Clips made with the user's cloned voice (files and rows).
    pub private_clips: u64,
    /// Voice preferences (0 or 1).
    pub voice_preferences: u64,
    /// Voice clone jobs.
    pub clone_jobs: u64,
    /// Cloned voices deleted at the provider now.
    pub provider_voices_deleted: u64,
    /// Cloned voices queued for deletion because the provider could not be reached.
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

async fn exec(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    sql: &'static str,
    arg: &str,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(sql).bind(arg).execute(&mut **tx).await?.rows_affected())
}

/// Delete my account and all my data.
#[utoipa::path(delete, path = "/v1/users/me", tag = "Users",
    responses(
        (status = 200, description = "Everything of the caller was deleted", body = DeletionResult),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse)),
    security(("BearerAuth" = [])))]
pub async fn delete_me(State(state): State<AppState>, auth: AuthUser) -> ApiResult<axum::Json<DeletionResult>> {
    let uid = auth.id().to_string();
    let mut counts = DeletedCounts::default();

    // Provider voices first (outside the transaction: a network call).
    let mut voices: Vec<String> = sqlx::query_as::<_, (Option<String>,)>(
        "SELECT voice_id FROM users WHERE id = $1
         UNION SELECT eleven_labs_voice_id FROM voice_preferences WHERE user_id = $1
         UNION SELECT provider_voice_id FROM voice_clone_jobs WHERE user_id = $1",
    )
    .bind(&uid)
    .fetch_all(&state.db.pool)
    .await?
    .into_iter()
    .filter_map(|(v,)| v)
    .collect();
    voices.sort();
    voices.dedup();
    for v in &voices {
        match state.voice.provider.delete_voice(v).await {
            Ok(()) => counts.provider_voices_deleted += 1,
            Err(e) => {
                tracing::warn!(error = %e, "provider voice deletion failed; queued for retry");
                sqlx::query("INSERT INTO pending_voice_deletions (voice_id, attempts, last_error, created_at) VALUES ($1, 1, $2, $3) ON CONFLICT (voice_id) DO NOTHING")
                    .bind(v)
                    .bind(e.to_string())
                    .bind(now_ms())
                    .execute(&state.db.pool)
                    .await?;
                counts.provider_voices_queued += 1;
            }
        }
    }

    let private: Vec<(String,)> = sqlx::query_as("SELECT cache_key FROM voice_clips WHERE owner_user_id = $1")
        .bind(&uid)
        .fetch_all(&state.db.pool)
        .await?;
    let subject = subject_key_for_user(&state.secrets.subject_pepper, &uid);
    let mut tx = state.db.begin().await?;
    counts.training_records = exec(&mut tx, "DELETE FROM ai_training_data WHERE subject_key = $1", &subject).await?;
    counts.cache_entries = exec(&mut tx, "DELETE FROM voice_cache_entries WHERE user_id = $1", &uid).await?;
    // other users' index rows can only point at a private clip if it was shared by key; drop them too
    exec(&mut tx, "DELETE FROM voice_cache_entries WHERE cache_key IN (SELECT cache_key FROM voice_clips WHERE owner_user_id = $1)", &uid).await?;
    counts.private_clips = exec(&mut tx, "DELETE FROM voice_clips WHERE owner_user_id = $1", &uid).await?;
    counts.voice_interactions = exec(&mut tx, "DELETE FROM voice_interactions WHERE user_id = $1", &uid).await?;
    counts.clone_jobs = exec(&mut tx, "DELETE FROM voice_clone_jobs WHERE user_id = $1", &uid).await?;
    counts.voice_preferences = exec(&mut tx, "DELETE FROM voice_preferences WHERE user_id = $1", &uid).await?;
    counts.workouts = exec(&mut tx, "DELETE FROM workout_entries WHERE user_id = $1", &uid).await?;
    exec(&mut tx, "DELETE FROM idempotency_keys WHERE user_id = $1", &uid).await?;
    exec(&mut tx, "DELETE FROM users WHERE id = $1", &uid).await?;
    tx.commit().await?;
    for (key,) in &private {
        state.voice.clips.forget(key);
        let _ = tokio::fs::remove_file(state.voice.clips.path(key)).await;
    }
    tracing::info!(training = counts.training_records, workouts = counts.workouts, "user deleted on request");
    Ok(axum::Json(DeletionResult { user_id: uid, deleted: counts, completed_at: chrono::Utc::now() }))
}

/// Retries queued provider voice deletions (called by the retention job); returns how many went.
pub async fn retry_pending_voice_deletions(state: &AppState) -> anyhow::Result<u64> {
    let pending: Vec<(String,)> =
        sqlx::query_as("SELECT voice_id FROM pending_voice_deletions ORDER BY created_at LIMIT 100")
            .fetch_all(&state.db.pool)
            .await?;
    let mut done = 0;
    for (v,) in pending {
        match state.voice.provider.delete_voice(&v).await {
            Ok(()) => {
                sqlx::query("DELETE FROM pending_voice_deletions WHERE voice_id = $1")
                    .bind(&v)
                    .execute(&state.db.pool)
                    .await?;
                done += 1;
            }
            Err(e) => {
                sqlx::query(
                    "UPDATE pending_voice_deletions SET attempts = attempts + 1, last_error = $2 WHERE voice_id = $1",
                )
                .bind(&v)
                .bind(e.to_string())
                .execute(&state.db.pool)
                .await?;
            }
        }
    }
    Ok(done)
}
