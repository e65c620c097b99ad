//! Voice cloning: `POST /v1/voice/clone` (multipart: `audioSamples` repeated, `voiceName`,
//! optional `personality`) and `GET /v1/voice/clone/status`.
//!
//! Premium only. Before the body is read, the request takes one of the user's
//! `COACH_CLONE_PER_HOUR` hourly slots in the database (429 with `Retry-After` beyond; refused and
//! failed uploads count too) and a server-wide upload turn (503 `server_busy` with `Retry-After`
//! when none frees up in time): see [`super::clone_admission`]. The body is then read and every
//! sample checked on a decode budget ([`super::clone_upload`]): 3–10 distinct samples, each
//! decodable, ≤ 96 kHz, ≤ 2 channels, at least `COACH_CLONE_MIN_SAMPLE_SECS` and at most
//! `COACH_CLONE_MAX_SAMPLE_SECS` long; `voiceName` 1–50 characters. Problems are answered 400
//! naming the sample (`audioSamples[2]`), and nothing is stored. An accepted request gets 202 and
//! a background job: ElevenLabs instant voice cloning, or with the local provider a pitch-matched
//! engine voice (see [`super::provider::local`]). On success the preferences get the voice id and
//! `voiceCloneStatus: ready` (and `users.voice_id`); on failure the job is `failed` with
//! `errorMessage` and the preferences `needs_update`.

use axum::extract::State;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::http::StatusCode;
use coach_shared::Personality;
use coach_shared::types::voice::{CloneJobStatus, VoiceCloneResponse, VoiceCloneStatus};
use sqlx::FromRow;

use super::clone_admission::{release_slot, reserve_slot};
use super::clone_upload::{read_upload, validate};
use super::provider::{CloneRequest, ProviderError};
use super::{outbox, require_premium};
use crate::auth::AuthUser;
use crate::db::{new_id, now_ms, to_dt, to_dt_opt};
use crate::error::{ApiResult, AppError};
use crate::state::AppState;
use crate::users::{self, RowLock};

/// A processing job older than this was interrupted (a restart) and is reported as failed.
const STALE_MS: i64 = 10 * 60 * 1000;

/// The multipart form of `POST /v1/voice/clone` (`VoiceCloneRequest` in the contract; for the
/// OpenAPI document only: the handler streams the parts).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct VoiceCloneRequest {
    /// 3–10 audio files (repeat the part).
    #[schema(value_type = Vec<String>, format = Binary, min_items = 3, max_items = 10)]
    audio_samples: Vec<Vec<u8>>,
    /// Name of the cloned voice.
    #[schema(max_length = 50)]
    voice_name: String,
    /// Target personality.
    personality: Option<Personality>,
}

/// Initiate voice cloning.
#[utoipa::path(post, path = "/v1/voice/clone", tag = "Voice Clone",
    request_body(content = VoiceCloneRequest, content_type = "multipart/form-data", description = "`audioSamples` (3–10 audio files, repeated part), `voiceName` (≤ 50), `personality` (Alice|Aiden, optional)"),
    responses(
        (status = 202, description = "Voice cloning initiated", body = VoiceCloneResponse),
        (status = 400, description = "Invalid audio samples (details.fields names each)", body = coach_shared::ErrorResponse),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 403, description = "Premium subscription required", body = coach_shared::ErrorResponse),
        (status = 413, description = "A sample or the upload is too large", body = coach_shared::ErrorResponse),
        (status = 415, description = "Not a multipart/form-data body", body = coach_shared::ErrorResponse),
        (status = 429, description = "Voice cloning rate limit exceeded (every attempt counts)", body = coach_shared::ErrorResponse),
        (status = 503, description = "Too many uploads in progress (`Retry-After`)", body = coach_shared::ErrorResponse)),
    security(("BearerAuth" = [])))]
pub async fn start(
    State(state): State<AppState>,
    auth: AuthUser,
    form: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, axum::Json<VoiceCloneResponse>)> {
    require_premium(&auth)?;
    let user = auth.id().to_string();
    let slot = reserve_slot(&state.db, &user, state.config.voice.clones_per_hour).await?;
    let turn = match state.voice.clone_gate.upload().await {
        Ok(turn) => turn,
        Err(busy) => {
            // the server's refusal, not the user's attempt: the slot is given back
            release_slot(&state.db, &slot).await?;
            return Err(busy);
        }
    };
    let form = form.map_err(|r| AppError::Status {
        status: if r.status() == StatusCode::BAD_REQUEST { StatusCode::UNSUPPORTED_MEDIA_TYPE } else { r.status() },
        code: "unsupported_media_type",
        message: format!("Expected multipart/form-data: {}", r.body_text()),
    })?;
    let req = validate(&state, read_upload(&state, form).await?).await?;

    let now = now_ms();
    let id = new_id();
    let estimate = now + if state.voice.provider.name() == "local" { 5_000 } else { 60_000 };
    sqlx::query(
        "INSERT INTO voice_clone_jobs (id, user_id, voice_name, personality, status, progress, provider_voice_id,
             provider_job_id, error_message, sample_count, created_at, estimated_completion_at, completed_at)
         VALUES ($1, $2, $3, $4, 'processing', 10, NULL, NULL, NULL, $5, $6, $7, NULL)",
    )
    .bind(&id)
    .bind(&user)
    .bind(&req.name)
    .bind(req.personality.map(Personality::as_str))
    .bind(req.samples.len() as i64)
    .bind(now)
    .bind(estimate)
    .execute(&state.db.pool)
    .await?;
    super::preferences::ensure(&state.db, &user).await?;
    sqlx::query("UPDATE voice_preferences SET voice_clone_status = 'cloning', updated_at = $2 WHERE user_id = $1")
        .bind(&user)
        .bind(now)
        .execute(&state.db.pool)
        .await?;
    let (bg_state, bg_id) = (state.clone(), id.clone());
    tokio::spawn(async move {
        // the upload's turn is held while the job holds its samples
        let _turn = turn;
        if let Err(e) = run_job(&bg_state, &bg_id, &user, req).await {
            tracing::error!(job = %bg_id, error = %e, "clone job bookkeeping failed");
        }
    });
    let body = VoiceCloneResponse {
        clone_id: id.clone(),
        status: CloneJobStatus::Processing,
        estimated_completion_time: to_dt(estimate),
        eleven_labs_job_id: Some(id),
    };
    Ok((StatusCode::ACCEPTED, axum::Json(body)))
}

/// The background half of a clone: the provider call and the bookkeeping of its outcome.
///
/// The user may delete their account while this runs. Before the provider call the job checks
/// that its user still exists (a deleted user gets no voice made); after it, the bookkeeping
/// transaction holds the user's row ([`users::lock_in`]), so an account deletion either committed
/// first — the user is gone and the voice just made is queued for deletion at the provider
/// ([`super::outbox`]) — or runs after this commit and finds the voice recorded. Every voice the
/// provider made and nothing uses (unverified, replaced, orphaned) goes to the same outbox in the
/// same transaction, so none is left behind at the provider.
async fn run_job(state: &AppState, id: &str, user: &str, req: CloneRequest) -> Result<(), sqlx::Error> {
    let db = &state.db;
    if users::find(db, user).await?.is_none() {
        tracing::info!(job = %id, "clone job dropped before the provider call: its user was deleted");
        return Ok(());
    }
    sqlx::query("UPDATE voice_clone_jobs SET progress = 50 WHERE id = $1").bind(id).execute(&db.pool).await?;
    let voice = &state.voice;
    let outcome = voice.call("clone", voice.provider.clone_voice(&req)).await;
    let now = now_ms();
    let mut tx = db.begin().await?;
    let alive = users::lock_in(&mut tx, db.engine, user, RowLock::Exclusive).await?.is_some();
    let made = outcome.as_ref().ok().map(|v| v.voice_id.clone());
    let cloned = match outcome {
        Ok(v) if alive && !v.requires_verification => v,
        other => {
            let mut queued = 0;
            if let Some(v) = &made {
                let why = if alive { "the provider requires verification" } else { "its user was deleted" };
                queued = outbox::enqueue(&mut tx, std::slice::from_ref(v), why).await?;
            }
            let message = match other {
                Ok(_) if !alive => "The account was deleted while the voice was being cloned".to_string(),
                Ok(_) => "The provider requires this voice to be verified before it can be used".to_string(),
                // the service's account, not the samples: no provider text reaches the user
                Err(ref e) if e.account_failure().is_some() => {
                    format!("Voice cloning is unavailable: {}", e.account_failure().map_or("", |a| a.describe()))
                }
                Err(ProviderError::Rejected { message, code, .. }) => {
                    format!("The provider refused the samples ({code}): {message}")
                }
                Err(ProviderError::Unavailable { .. }) => {
                    "The speech provider is unavailable; try again later".to_string()
                }
            };
            sqlx::query(
                "UPDATE voice_clone_jobs SET status = 'failed', progress = 100, error_message = $2, completed_at = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(&message)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE voice_preferences SET voice_clone_status = 'needs_update', updated_at = $2 WHERE user_id = $1",
            )
            .bind(user)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            if queued > 0 {
                tracing::info!(job = %id, alive, "the voice the provider made is queued for deletion");
                outbox::kick(state);
            }
            return Ok(());
        }
    };
    let previous: Option<(Option<String>,)> =
        sqlx::query_as("SELECT eleven_labs_voice_id FROM voice_preferences WHERE user_id = $1")
            .bind(user)
            .fetch_optional(&mut *tx)
            .await?;
    sqlx::query(
        "UPDATE voice_clone_jobs SET status = 'completed', progress = 100, provider_voice_id = $2, provider_job_id = $2,
             completed_at = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(&cloned.voice_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE voice_preferences SET eleven_labs_voice_id = $2, voice_clone_status = 'ready', last_voice_setup = $3,
             personality = COALESCE($4, personality), updated_at = $3 WHERE user_id = $1",
    )
    .bind(user)
    .bind(&cloned.voice_id)
    .bind(now)
    .bind(req.personality.map(Personality::as_str))
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE users SET voice_id = $2, updated_at = $3 WHERE id = $1")
        .bind(user)
        .bind(&cloned.voice_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    // The replaced voice is removed at the provider, through the outbox (retried until it goes).
    let mut queued = 0;
    if let Some((Some(old),)) = previous
        && old != cloned.voice_id
        && voice.provider.owns_voice(&old)
    {
        queued = outbox::enqueue(&mut tx, &[old], "replaced by a new clone").await?;
    }
    tx.commit().await?;
    if queued > 0 {
        outbox::kick(state);
    }
    Ok(())
}

#[derive(FromRow)]
struct JobRow {
    id: String,
    status: String,
    progress: i64,
    provider_voice_id: Option<String>,
    error_message: Option<String>,
    created_at: i64,
    completed_at: Option<i64>,
}

/// The status of the caller's latest cloning job.
#[utoipa::path(get, path = "/v1/voice/clone/status", tag = "Voice Clone",
    responses(
        (status = 200, description = "Voice cloning status", body = VoiceCloneStatus),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 404, description = "No voice cloning in progress", body = coach_shared::ErrorResponse)),
    security(("BearerAuth" = [])))]
pub async fn status(State(state): State<AppState>, auth: AuthUser) -> ApiResult<axum::Json<VoiceCloneStatus>> {
    let latest = || {
        sqlx::query_as::<_, JobRow>(
            "SELECT id, status, progress, provider_voice_id, error_message, created_at, completed_at
             FROM voice_clone_jobs WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(auth.id())
        .fetch_optional(&state.db.pool)
    };
    let mut job = latest().await?.ok_or_else(|| AppError::not_found("Voice cloning job"))?;
    let now = now_ms();
    if job.status == "processing" && job.created_at < now - STALE_MS {
        sqlx::query(
            "UPDATE voice_clone_jobs SET status = 'failed', progress = 100, completed_at = $2,
                 error_message = 'The job was interrupted (server restart); start it again' WHERE id = $1 AND status = 'processing'",
        )
        .bind(&job.id)
        .bind(now)
        .execute(&state.db.pool)
        .await?;
        job = latest().await?.ok_or_else(|| AppError::not_found("Voice cloning job"))?;
    }
    let status = match job.status.as_str() {
        "completed" => CloneJobStatus::Completed,
        "failed" => CloneJobStatus::Failed,
        _ => CloneJobStatus::Processing,
    };
    Ok(axum::Json(VoiceCloneStatus {
        clone_id: job.id,
        status,
        progress: job.progress.clamp(0, 100) as u8,
        eleven_labs_voice_id: job.provider_voice_id,
        error_message: job.error_message,
        completed_at: to_dt_opt(job.completed_at),
    }))
}

/// The clone jobs' part of an account deletion, inside `tx`: removes the user's jobs and returns
/// how many there were and the provider voices they made (for the deletion outbox).
pub async fn delete_for_user(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user_id: &str,
) -> Result<(u64, Vec<String>), sqlx::Error> {
    let voices: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT provider_voice_id FROM voice_clone_jobs WHERE user_id = $1 AND provider_voice_id IS NOT NULL",
    )
    .bind(user_id)
    .fetch_all(&mut **tx)
    .await?;
    let n = sqlx::query("DELETE FROM voice_clone_jobs WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
    Ok((n.rows_affected(), voices.into_iter().map(|(v,)| v).collect()))
}
