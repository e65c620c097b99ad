//! Voice interactions: what the coach said during a workout, whether it was heard, from a cache,
//! and how long it took (`POST /v1/voice/interactions`, `GET /v1/voice/interactions/workout/{id}`).
//! Only the caller's own workouts: another user's workout id is 404. The POST honours
//! `Idempotency-Key` (the browser's offline outbox retries it): the same key and body replay the
//! first 201 with `Idempotent-Replayed: true`; the same key with another body is 422
//! `idempotency_key_reused`. The POST is rate-limited per user (`COACH_INTERACTIONS_*`); the GET
//! is paged like every list (`limit`, `cursor`: [`crate::paging`]).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use coach_shared::Tone;
use coach_shared::types::voice::{VoiceInteraction, VoiceInteractionRequest, VoiceInteractionsList};
use serde::Deserialize;
use sqlx::FromRow;
use utoipa::IntoParams;

use crate::auth::AuthUser;
use crate::db::{DbBool, OptF64, new_id, now_ms, to_dt};
use crate::error::{ApiResult, AppError};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::idempotency::{Idempotency, request_hash};
use crate::paging::{self, Order};
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
        (status = 422, description = "Idempotency-Key reused with another body", body = coach_shared::ErrorResponse),
        (status = 429, description = "Interaction rate limit exceeded (`COACH_INTERACTIONS_PER_MINUTE` / `_BURST`)", body = coach_shared::ErrorResponse)),
    security(("BearerAuth" = [])))]
pub async fn record(
    State(state): State<AppState>,
    auth: AuthUser,
    idem: Idempotency,
    ApiJson(req): ApiJson<VoiceInteractionRequest>,
) -> ApiResult<Response> {
    let user = auth.id();
    // Before the replay too: a retry storm is refused like new records (the outbox waits Retry-After).
    state.limits.interactions.check(user)?;
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

/// Paging of a workout's interactions (the rules of every list: [`crate::paging`]).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ForWorkoutQuery {
    /// 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The previous page's `nextCursor`.
    cursor: Option<String>,
}

/// Count, cache hits and mean latencies of a whole workout (every page), computed by the database
/// so a long workout costs one row of memory, not one per interaction.
#[derive(FromRow)]
struct Totals {
    total: i64,
    cached: i64,
    generation_avg: Option<f64>,
    playback_avg: Option<f64>,
}

/// The voice interactions of one of the caller's workouts, oldest first, a page at a time, with
/// the count and averages of the whole workout.
#[utoipa::path(get, path = "/v1/voice/interactions/workout/{workoutId}", tag = "Voice Interactions",
    params(("workoutId" = String, Path, description = "Workout entry identifier"), ForWorkoutQuery),
    responses(
        (status = 200, description = "Voice interactions for workout", body = VoiceInteractionsList),
        (status = 400, description = "Invalid `limit` or `cursor`", body = coach_shared::ErrorResponse),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 404, description = "No such workout entry of the caller's", body = coach_shared::ErrorResponse)),
    security(("BearerAuth" = [])))]
pub async fn for_workout(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(workout_id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ForWorkoutQuery>,
) -> ApiResult<axum::Json<VoiceInteractionsList>> {
    let page = paging::page(q.limit, q.cursor.as_deref(), Order::OldestFirst)?;
    if workouts::find_own(&state.db, auth.id(), &workout_id).await?.is_none() {
        return Err(AppError::not_found("Workout entry"));
    }
    let rows = sqlx::query_as::<_, Row>(
        "SELECT id, workout_entry_id, ai_response_text, voice_tone, was_voice_played, was_cached,
                generation_latency, playback_latency, created_at
         FROM voice_interactions
         WHERE workout_entry_id = $1 AND user_id = $2 AND (created_at > $3 OR (created_at = $3 AND id > $4))
         ORDER BY created_at, id LIMIT $5",
    )
    .bind(&workout_id)
    .bind(auth.id())
    .bind(page.cursor.at)
    .bind(&page.cursor.id)
    .bind(page.sql_limit())
    .fetch_all(&state.db.pool)
    .await?;
    let t = sqlx::query_as::<_, Totals>(
        "SELECT CAST(COUNT(*) AS BIGINT) AS total,
                CAST(COALESCE(SUM(CASE WHEN was_cached THEN 1 ELSE 0 END), 0) AS BIGINT) AS cached,
                CAST(AVG(generation_latency) AS DOUBLE PRECISION) AS generation_avg,
                CAST(AVG(playback_latency) AS DOUBLE PRECISION) AS playback_avg
         FROM voice_interactions WHERE workout_entry_id = $1 AND user_id = $2",
    )
    .bind(&workout_id)
    .bind(auth.id())
    .fetch_one(&state.db.pool)
    .await?;
    Ok(axum::Json(VoiceInteractionsList {
        average_generation_latency: t.generation_avg,
        average_playback_latency: t.playback_avg,
        cache_hit_rate: (t.total > 0).then(|| 100.0 * t.cached as f64 / t.total as f64),
        total_interactions: u32::try_from(t.total).unwrap_or(u32::MAX),
        next_cursor: paging::next_cursor(&rows, &page, |r| (r.created_at, &r.id)),
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
