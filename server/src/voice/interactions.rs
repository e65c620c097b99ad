//! Voice interactions: what the coach said during a workout, whether it was heard, from a cache,
//! and how long it took (`POST /v1/voice/interactions`, `GET /v1/voice/interactions/workout/{id}`).
//! Only the caller's own workouts: another user's workout id is 404. The POST honours
//! `Idempotency-Key` (the browser's offline outbox retries it): the same key and body replay the
//! first 201 with `Idempotent-Replayed: true`; the same key with another body is 422
//! `idempotency_key_reused`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use coach_shared::Tone;
use coach_shared::types::voice::{VoiceInteraction, VoiceInteractionRequest, VoiceInteractionsList};
use sqlx::FromRow;

use crate::auth::AuthUser;
use crate::db::{DbBool, OptF64, new_id, now_ms, to_dt};
use crate::error::{ApiResult, AppError};
use crate::extract::{ApiJson, ApiPath};
use crate::idempotency::{Idempotency, request_hash};
use crate::state::AppState;
use crate::workouts;

const ROUTE: &str = "POST /v1/voice/interactions";

#[derive(FromRow)]
struct Row {
    id: String,
    workout_entry_id: String,
    ai_response_text: String,
    voice_tone: String,
    was_voice_played: DbBool,
    was_cached: DbBool,
    generation_latency: Option<f64>,
    playback_latency: Option<f64>,
    created_at: i64,
}

impl Row {
    fn to_api(&self) -> VoiceInteraction {
        VoiceInteraction {
            id: self.id.clone(),
            workout_entry_id: self.workout_entry_id.clone(),
            ai_response_text: self.ai_response_text.clone(),
            voice_tone: Tone::parse(&self.voice_tone).unwrap_or_default(),
            was_voice_played: self.was_voice_played.0,
            was_cached: self.was_cached.0,
            generation_latency: self.generation_latency,
            playback_latency: self.playback_latency,
            timestamp: to_dt(self.created_at),
        }
    }
}

/// Record a voice interaction during one of the caller's workouts.
#[utoipa::path(post, path = "/v1/voice/interactions", tag = "Voice Interactions",
    request_body = VoiceInteractionRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for retries of the same body")),
    responses(
        (status = 201, description = "Voice interaction recorded successfully", body = VoiceInteraction),
        (status = 400, description = "Invalid interaction data", body = coach_shared::ErrorResponse),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 404, description = "No such workout entry of the caller's", body = coach_shared::ErrorResponse),
        (status = 422, description = "Idempotency-Key reused with another body", body = coach_shared::ErrorResponse)),
    security(("BearerAuth" = [])))]
pub async fn record(
    State(state): State<AppState>,
    auth: AuthUser,
    idem: Idempotency,
    ApiJson(req): ApiJson<VoiceInteractionRequest>,
) -> ApiResult<Response> {
    let user = auth.id();
    let hash = request_hash(&req);
    if let Some(replay) = idem.replay(&state.db, user, ROUTE, &hash).await? {
        return Ok(replay);
    }
    if workouts::find_own(&state.db, user, &req.workout_entry_id).await?.is_none() {
        return Err(AppError::not_found("Workout entry"));
    }
    let body = VoiceInteraction {
        id: new_id(),
        workout_entry_id: req.workout_entry_id.clone(),
        ai_response_text: req.ai_response_text.clone(),
        voice_tone: req.voice_tone,
        was_voice_played: req.was_voice_played,
        was_cached: req.was_cached,
        generation_latency: req.generation_latency,
        playback_latency: req.playback_latency,
        timestamp: to_dt(now_ms()),
    };
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO voice_interactions (id, user_id, workout_entry_id, ai_response_text, voice_tone, was_voice_played,
             was_cached, generation_latency, playback_latency, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&body.id)
    .bind(user)
    .bind(&body.workout_entry_id)
    .bind(&body.ai_response_text)
    .bind(body.voice_tone.as_str())
    .bind(body.was_voice_played)
    .bind(body.was_cached)
    .bind(OptF64(body.generation_latency))
    .bind(OptF64(body.playback_latency))
    .bind(body.timestamp.timestamp_millis())
    .execute(&mut *tx)
    .await?;
    let json = serde_json::to_string(&body).map_err(|e| AppError::Internal(e.into()))?;
    if !idem.record(&mut tx, user, ROUTE, &hash, StatusCode::CREATED, &json).await? {
        drop(tx);
        return idem
            .replay(&state.db, user, ROUTE, &hash)
            .await?
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("idempotency key vanished")));
    }
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// The voice interactions of one of the caller's workouts, oldest first, with averages.
#[utoipa::path(get, path = "/v1/voice/interactions/workout/{workoutId}", tag = "Voice Interactions",
    params(("workoutId" = String, Path, description = "Workout entry identifier")),
    responses(
        (status = 200, description = "Voice interactions for workout", body = VoiceInteractionsList),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 404, description = "No such workout entry of the caller's", body = coach_shared::ErrorResponse)),
    security(("BearerAuth" = [])))]
pub async fn for_workout(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(workout_id): ApiPath<String>,
) -> ApiResult<axum::Json<VoiceInteractionsList>> {
    if workouts::find_own(&state.db, auth.id(), &workout_id).await?.is_none() {
        return Err(AppError::not_found("Workout entry"));
    }
    let rows = sqlx::query_as::<_, Row>(
        "SELECT id, workout_entry_id, ai_response_text, voice_tone, was_voice_played, was_cached,
                generation_latency, playback_latency, created_at
         FROM voice_interactions WHERE workout_entry_id = $1 AND user_id = $2 ORDER BY created_at, id",
    )
    .bind(&workout_id)
    .bind(auth.id())
    .fetch_all(&state.db.pool)
    .await?;
    let mean = |xs: Vec<f64>| (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64);
    let total = rows.len();
    let hits = rows.iter().filter(|r| r.was_cached.0).count();
    Ok(axum::Json(VoiceInteractionsList {
        average_generation_latency: mean(rows.iter().filter_map(|r| r.generation_latency).collect()),
        average_playback_latency: mean(rows.iter().filter_map(|r| r.playback_latency).collect()),
        cache_hit_rate: (total > 0).then(|| 100.0 * hits as f64 / total as f64),
        total_interactions: total as u32,
        interactions: rows.iter().map(Row::to_api).collect(),
    }))
}

/// The voice interactions' part of an account deletion, inside `tx`; returns how many went.
pub async fn delete_for_user(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user_id: &str,
) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("DELETE FROM voice_interactions WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
    Ok(r.rows_affected())
}
