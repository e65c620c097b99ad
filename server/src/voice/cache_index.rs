//! The per-user cache index (`/v1/voice/cache`): which clips a user has, at most
//! `VOICE_CACHE_MAX_ENTRIES` (10). A new clip when the index is full evicts a uniformly random
//! entry (`coach_shared::RotationPolicy`, the same rule as the browser's IndexedDB cache). The
//! decision and its writes happen in one transaction that holds the user's lock (the write lock on
//! SQLite, `SELECT … FOR UPDATE` on the user row on PostgreSQL), so concurrent requests cannot
//! push a user past 10. Evicting an entry only unlinks it: the clip stays in the shared store.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use coach_shared::limits::{CONTEXT_MAX_CHARS, VOICE_CACHE_MAX_ENTRIES};
use coach_shared::types::voice::{VoiceCacheClearRequest, VoiceCacheClearResponse, VoiceCacheEntry, VoiceCacheList};
use coach_shared::{Admission, RotationPolicy, Tone, Validate};
use serde::Deserialize;
use sqlx::FromRow;
use utoipa::IntoParams;

use super::clip_store::ClipMeta;
use super::{ServerRng, clips};
use crate::auth::AuthUser;
use crate::db::{Engine, new_id, now_ms, to_dt, to_dt_opt};
use crate::error::{ApiResult, AppError};
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;

const MB: f64 = 1024.0 * 1024.0;

/// A `voice_cache_entries` row.
#[derive(Debug, Clone, FromRow)]
pub struct EntryRow {
    /// Entry id.
    pub id: String,
    /// The clip.
    pub cache_key: String,
    /// Tone used.
    pub tone: String,
    /// Workout context of the first request.
    pub context: String,
    /// Epoch ms.
    pub generated_at: i64,
    /// Epoch ms.
    pub last_used_at: i64,
    /// Requests and plays.
    pub usage_count: i64,
    /// Seconds.
    pub duration: f64,
    /// Bytes of the clip.
    pub byte_size: i64,
    /// Epoch ms, when set.
    pub expires_at: Option<i64>,
}

impl EntryRow {
    /// The wire representation.
    pub fn to_api(&self) -> VoiceCacheEntry {
        VoiceCacheEntry {
            id: self.id.clone(),
            text_hash: self.cache_key.clone(),
            tone: Tone::parse(&self.tone).unwrap_or_default(),
            context: self.context.clone(),
            generated_at: to_dt(self.generated_at),
            last_used_at: to_dt(self.last_used_at),
            usage_count: self.usage_count.clamp(0, i64::from(u32::MAX)) as u32,
            duration: self.duration,
            expires_at: to_dt_opt(self.expires_at),
        }
    }
}

macro_rules! entry_columns {
    () => {
        "id, cache_key, tone, context, generated_at, last_used_at, usage_count, duration, byte_size, expires_at"
    };
}

/// Records that `user_id` got `clip`: a hit bumps the entry's usage, a new clip takes a slot
/// (evicting a random entry when full). Returns the entry id.
pub async fn admit(state: &AppState, user_id: &str, clip: &ClipMeta, tone: Tone, context: &str) -> ApiResult<String> {
    let now = now_ms();
    // The common case, a hit, in one statement: bumping an existing entry changes no entry count,
    // so it needs neither the user's lock nor a transaction of its own.
    let hit: Option<(String,)> = sqlx::query_as(
        "UPDATE voice_cache_entries SET usage_count = usage_count + 1, last_used_at = $3
         WHERE user_id = $1 AND cache_key = $2 RETURNING id",
    )
    .bind(user_id)
    .bind(&clip.cache_key)
    .bind(now)
    .fetch_optional(&state.db.pool)
    .await?;
    if let Some((id,)) = hit {
        return Ok(id);
    }
    let mut tx = state.db.begin().await?;
    if state.db.engine == Engine::Postgres {
        sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE").bind(user_id).execute(&mut *tx).await?;
    }
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT id, cache_key FROM voice_cache_entries WHERE user_id = $1 ORDER BY generated_at, id")
            .bind(user_id)
            .fetch_all(&mut *tx)
            .await?;
    let keys: Vec<&str> = rows.iter().map(|(_, k)| k.as_str()).collect();
    let policy = RotationPolicy { max_entries: VOICE_CACHE_MAX_ENTRIES };
    let id = match policy.admit(&keys, &clip.cache_key.as_str(), &mut ServerRng) {
        Admission::Hit(i) => {
            let id = rows[i].0.clone();
            sqlx::query(
                "UPDATE voice_cache_entries SET usage_count = usage_count + 1, last_used_at = $2 WHERE id = $1",
            )
            .bind(&id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            id
        }
        Admission::Insert { evict } => {
            for i in &evict {
                sqlx::query("DELETE FROM voice_cache_entries WHERE id = $1")
                    .bind(&rows[*i].0)
                    .execute(&mut *tx)
                    .await?;
            }
            state.voice.metrics.evictions.inc_by(evict.len() as u64);
            let id = new_id();
            sqlx::query(
                "INSERT INTO voice_cache_entries (id, user_id, cache_key, tone, context, generated_at, last_used_at,
                     usage_count, duration, byte_size, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6, 1, $7, $8, NULL)",
            )
            .bind(&id)
            .bind(user_id)
            .bind(&clip.cache_key)
            .bind(tone.as_str())
            .bind(context)
            .bind(now)
            .bind(clip.duration)
            .bind(clip.byte_size)
            .execute(&mut *tx)
            .await?;
            id
        }
    };
    tx.commit().await?;
    Ok(id)
}

/// Filters of the listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CacheQuery {
    /// Only entries of this workout context.
    context: Option<String>,
    /// Only entries of this tone: `whisper`, `neutral` or `hype`.
    tone: Option<String>,
}

/// The caller's cached clips.
#[utoipa::path(get, path = "/v1/voice/cache", tag = "Voice Cache",
    params(CacheQuery),
    responses(
        (status = 200, description = "List of cached voice clips", body = VoiceCacheList),
        (status = 400, description = "Invalid filter", body = coach_shared::ErrorResponse),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse)),
    security(("BearerAuth" = [])))]
pub async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiQuery(q): ApiQuery<CacheQuery>,
) -> ApiResult<axum::Json<VoiceCacheList>> {
    let tone = match q.tone.as_deref() {
        None => None,
        Some(t) => Some(
            Tone::parse(t)
                .ok_or_else(|| AppError::field("tone", "unknown_value", "must be one of whisper, neutral, hype"))?,
        ),
    };
    if let Some(c) = &q.context
        && c.chars().count() > CONTEXT_MAX_CHARS
    {
        return Err(AppError::field("context", "too_long", format!("must be at most {CONTEXT_MAX_CHARS} characters")));
    }
    let rows = sqlx::query_as::<_, EntryRow>(concat!(
        "SELECT ",
        entry_columns!(),
        " FROM voice_cache_entries WHERE user_id = $1
           AND (CAST($2 AS TEXT) IS NULL OR context = $2) AND (CAST($3 AS TEXT) IS NULL OR tone = $3)
         ORDER BY last_used_at DESC, id DESC"
    ))
    .bind(auth.id())
    .bind(q.context.as_deref())
    .bind(tone.map(Tone::as_str))
    .fetch_all(&state.db.pool)
    .await?;
    let total_size = rows.iter().map(|r| r.byte_size as f64).sum::<f64>() / MB;
    Ok(axum::Json(VoiceCacheList {
        total_entries: rows.len() as u32,
        total_size,
        max_entries: VOICE_CACHE_MAX_ENTRIES as u32,
        cache_entries: rows.iter().map(EntryRow::to_api).collect(),
    }))
}

/// Parses the optional JSON body of the clear request (absent or empty: no criteria).
fn clear_request(body: &Bytes) -> ApiResult<VoiceCacheClearRequest> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(VoiceCacheClearRequest::default());
    }
    let req: VoiceCacheClearRequest = serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => AppError::BadRequest {
            code: "validation_error",
            message: format!("Invalid request body: {e}"),
            details: Some(serde_json::json!({ "reason": e.to_string() })),
        },
        _ => AppError::BadRequest { code: "invalid_json", message: format!("Malformed JSON: {e}"), details: None },
    })?;
    req.validate()?;
    Ok(req)
}

/// Clears the caller's cache entries matching any of the criteria (`clearAll`, `cacheIds`,
/// `context`, `olderThan` — combined with OR). A body with no criterion clears nothing.
#[utoipa::path(delete, path = "/v1/voice/cache", tag = "Voice Cache",
    request_body(content = Option<VoiceCacheClearRequest>, description = "Criteria, combined with OR; none clears nothing"),
    responses(
        (status = 200, description = "Voice cache cleared successfully", body = VoiceCacheClearResponse),
        (status = 400, description = "Invalid criteria", body = coach_shared::ErrorResponse),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse)),
    security(("BearerAuth" = [])))]
pub async fn clear(
    State(state): State<AppState>,
    auth: AuthUser,
    body: Bytes,
) -> ApiResult<axum::Json<VoiceCacheClearResponse>> {
    let req = clear_request(&body)?;
    let mut tx = state.db.begin().await?;
    let rows = sqlx::query_as::<_, EntryRow>(concat!(
        "SELECT ",
        entry_columns!(),
        " FROM voice_cache_entries WHERE user_id = $1"
    ))
    .bind(auth.id())
    .fetch_all(&mut *tx)
    .await?;
    let older = req.older_than.map(|t| t.timestamp_millis());
    let ids = req.cache_ids.unwrap_or_default();
    let doomed: Vec<&EntryRow> = rows
        .iter()
        .filter(|r| {
            req.clear_all
                || ids.contains(&r.id)
                || req.context.as_deref() == Some(r.context.as_str())
                || older.is_some_and(|t| r.generated_at < t)
        })
        .collect();
    for r in &doomed {
        sqlx::query("DELETE FROM voice_cache_entries WHERE id = $1").bind(&r.id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(axum::Json(VoiceCacheClearResponse {
        cleared_entries: doomed.len() as u32,
        remaining_entries: (rows.len() - doomed.len()) as u32,
        freed_space: doomed.iter().map(|r| r.byte_size as f64).sum::<f64>() / MB,
    }))
}

async fn own_entry(state: &AppState, user_id: &str, id: &str) -> ApiResult<EntryRow> {
    sqlx::query_as::<_, EntryRow>(concat!(
        "SELECT ",
        entry_columns!(),
        " FROM voice_cache_entries WHERE id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(user_id)
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or_else(|| AppError::not_found("Voice clip"))
}

/// The audio of one of the caller's cache entries (a full download counts as a play).
#[utoipa::path(get, path = "/v1/voice/cache/{cacheId}", tag = "Voice Cache",
    params(("cacheId" = String, Path, description = "Voice cache entry identifier"),
           ("Range" = Option<String>, Header, description = "A single byte range")),
    responses(
        (status = 200, description = "Cached voice clip audio", content_type = "audio/mpeg", body = Vec<u8>),
        (status = 206, description = "The requested range", content_type = "audio/mpeg", body = Vec<u8>),
        (status = 304, description = "Not modified"),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 404, description = "Voice clip not found in cache", body = coach_shared::ErrorResponse),
        (status = 416, description = "Range not satisfiable", body = coach_shared::ErrorResponse)),
    security(("BearerAuth" = [])))]
pub async fn get_entry(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let entry = own_entry(&state, auth.id(), &id).await?;
    let gone = || AppError::not_found("Voice clip");
    let meta = state.voice.clips.find(&state.db, &entry.cache_key).await?.ok_or_else(gone)?;
    let bytes = state.voice.clips.read(&entry.cache_key).await.map_err(|_| gone())?;
    let resp = clips::serve_bytes(&headers, bytes, &meta.content_type, &entry.cache_key, clips::PRIVATE_CACHE);
    if resp.status() == StatusCode::OK {
        sqlx::query("UPDATE voice_cache_entries SET usage_count = usage_count + 1, last_used_at = $2 WHERE id = $1")
            .bind(&entry.id)
            .bind(now_ms())
            .execute(&state.db.pool)
            .await?;
    }
    Ok(resp)
}

/// Removes one of the caller's cache entries.
#[utoipa::path(delete, path = "/v1/voice/cache/{cacheId}", tag = "Voice Cache",
    params(("cacheId" = String, Path, description = "Voice cache entry identifier")),
    responses(
        (status = 204, description = "Voice clip deleted successfully"),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 404, description = "Voice clip not found in cache", body = coach_shared::ErrorResponse)),
    security(("BearerAuth" = [])))]
pub async fn delete_entry(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    let r = sqlx::query("DELETE FROM voice_cache_entries WHERE id = $1 AND user_id = $2")
        .bind(&id)
        .bind(auth.id())
        .execute(&state.db.pool)
        .await?;
    if r.rows_affected() == 0 {
        return Err(AppError::not_found("Voice clip"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The cache index's part of an account deletion, inside `tx`: removes the user's entries and
/// returns how many there were and the clip keys they referenced (the clip store decides which of
/// those clips go: [`super::clip_store::ClipStore::delete_for_user`]).
pub async fn delete_for_user(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user_id: &str,
) -> Result<(u64, Vec<String>), sqlx::Error> {
    let keys: Vec<(String,)> = sqlx::query_as("SELECT DISTINCT cache_key FROM voice_cache_entries WHERE user_id = $1")
        .bind(user_id)
        .fetch_all(&mut **tx)
        .await?;
    let n = sqlx::query("DELETE FROM voice_cache_entries WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
    Ok((n.rows_affected(), keys.into_iter().map(|(k,)| k).collect()))
}
