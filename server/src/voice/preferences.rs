//! Voice preferences (`GET`/`PUT /v1/voice/preferences`, premium only) and the caller's voice
//! profile (`GET /v1/voice/profile`): what, besides text and tone, decides their clips' audio.
//!
//! `GET` is 404 until the first `PUT`, which creates the preferences with defaults for the omitted
//! fields (Alice, voice on, tone adaptation on, accessibility off). Clone fields are read-only
//! here; cloning sets them.

use axum::extract::State;
use coach_shared::types::voice::{VoiceCloneState, VoicePreferences, VoicePreferencesUpdate, VoiceProfile};
use coach_shared::{Personality, Tone};
use sqlx::FromRow;

use super::{VoiceService, require_premium};
use crate::auth::AuthUser;
use crate::db::{Db, DbBool, is_unique_violation, new_id, now_ms, to_dt_opt};
use crate::error::{ApiResult, AppError};
use crate::extract::ApiJson;
use crate::state::AppState;

/// A `voice_preferences` row.
#[derive(Debug, Clone, FromRow)]
pub struct PrefsRow {
    /// Id.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// `Alice` or `Aiden`.
    pub personality: String,
    /// Global voice switch.
    pub voice_enabled: DbBool,
    /// Tone follows the workout context.
    pub tone_adaptation: DbBool,
    /// Visual/haptic feedback (the app's concern).
    pub accessibility_mode: DbBool,
    /// The cloned voice at the provider.
    pub eleven_labs_voice_id: Option<String>,
    /// `not_configured`, `cloning`, `ready`, `active`, `needs_update`.
    pub voice_clone_status: String,
    /// Epoch ms of the last configuration change.
    pub last_voice_setup: Option<i64>,
}

/// The wire spelling of a clone state.
pub fn clone_state_str(s: VoiceCloneState) -> &'static str {
    match s {
        VoiceCloneState::NotConfigured => "not_configured",
        VoiceCloneState::Cloning => "cloning",
        VoiceCloneState::Ready => "ready",
        VoiceCloneState::Active => "active",
        VoiceCloneState::NeedsUpdate => "needs_update",
    }
}

fn parse_clone_state(s: &str) -> VoiceCloneState {
    serde_json::from_value(serde_json::Value::String(s.to_string())).unwrap_or_default()
}

impl PrefsRow {
    /// The wire representation.
    pub fn to_api(&self) -> VoicePreferences {
        VoicePreferences {
            id: self.id.clone(),
            user_id: self.user_id.clone(),
            personality: Personality::parse(&self.personality).unwrap_or_default(),
            voice_enabled: self.voice_enabled.0,
            tone_adaptation: self.tone_adaptation.0,
            accessibility_mode: self.accessibility_mode.0,
            eleven_labs_voice_id: self.eleven_labs_voice_id.clone(),
            voice_clone_status: parse_clone_state(&self.voice_clone_status),
            last_voice_setup: to_dt_opt(self.last_voice_setup),
        }
    }
}

/// The preferences in force for a user (the defaults when none are stored).
#[derive(Debug, Clone, PartialEq)]
pub struct Effective {
    /// Coach personality.
    pub personality: Personality,
    /// Voice on.
    pub voice_enabled: bool,
    /// Tone from context.
    pub tone_adaptation: bool,
    /// The cloned voice, when it is ready.
    pub cloned_voice: Option<String>,
}

impl Default for Effective {
    fn default() -> Self {
        Self { personality: Personality::Alice, voice_enabled: true, tone_adaptation: true, cloned_voice: None }
    }
}

impl From<&PrefsRow> for Effective {
    fn from(r: &PrefsRow) -> Self {
        let ready =
            matches!(parse_clone_state(&r.voice_clone_status), VoiceCloneState::Ready | VoiceCloneState::Active);
        Effective {
            personality: Personality::parse(&r.personality).unwrap_or_default(),
            voice_enabled: r.voice_enabled.0,
            tone_adaptation: r.tone_adaptation.0,
            cloned_voice: r.eleven_labs_voice_id.clone().filter(|_| ready),
        }
    }
}

/// Reads a user's preferences.
pub async fn load(db: &Db, user_id: &str) -> Result<Option<PrefsRow>, sqlx::Error> {
    sqlx::query_as::<_, PrefsRow>(
        "SELECT id, user_id, personality, voice_enabled, tone_adaptation, accessibility_mode, eleven_labs_voice_id,
                voice_clone_status, last_voice_setup
         FROM voice_preferences WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await
}

/// The preferences in force for a user.
pub async fn effective(db: &Db, user_id: &str) -> Result<Effective, sqlx::Error> {
    Ok(load(db, user_id).await?.as_ref().map(Effective::from).unwrap_or_default())
}

/// Creates the user's preferences with defaults when they have none (for cloning); no-op otherwise.
pub async fn ensure(db: &Db, user_id: &str) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let r = sqlx::query(
        "INSERT INTO voice_preferences (id, user_id, personality, voice_enabled, tone_adaptation, accessibility_mode,
             eleven_labs_voice_id, voice_clone_status, last_voice_setup, created_at, updated_at)
         VALUES ($1, $2, 'Alice', TRUE, TRUE, FALSE, NULL, 'not_configured', NULL, $3, $3)
         ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(new_id())
    .bind(user_id)
    .bind(now)
    .execute(&db.pool)
    .await;
    match r {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

impl VoiceService {
    /// The caller's profile; `personality` overrides the stored one for this request (a different
    /// personality than the stored one also sets the cloned voice aside: the override asks for
    /// the other coach).
    pub fn profile(&self, prefs: &Effective, personality: Option<Personality>) -> VoiceProfile {
        let p = &self.provider;
        let chosen = personality.unwrap_or(prefs.personality);
        let voice = match &prefs.cloned_voice {
            Some(v) if chosen == prefs.personality && p.owns_voice(v) => v.clone(),
            _ => p.personality_voice(chosen),
        };
        VoiceProfile {
            provider: p.name().to_string(),
            model: p.model(),
            format: p.format(),
            personality: chosen,
            settings: p.tone_settings(&voice),
            voice,
            voice_enabled: prefs.voice_enabled,
            tone_adaptation: prefs.tone_adaptation,
        }
    }

    /// Whether `voice` is a user's own cloned voice (its clips are private).
    pub fn is_personal(&self, prefs: &Effective, voice: &str) -> bool {
        prefs.cloned_voice.as_deref() == Some(voice)
    }
}

/// The tone used for a request: with tone adaptation on (and `forceTone` off) a context that calls
/// for whisper or hype wins over the requested tone; otherwise the requested tone is used.
pub fn effective_tone(prefs: &Effective, requested: Tone, context: &str, force: bool) -> Tone {
    if !prefs.tone_adaptation || force {
        return requested;
    }
    let ctx = coach_shared::ToneContext { strain: None, tags: &[], label: Some(context) };
    match coach_shared::choose_tone(&ctx) {
        Tone::Neutral => requested,
        adapted => adapted,
    }
}

/// The caller's voice preferences.
#[utoipa::path(get, path = "/v1/voice/preferences", tag = "Voice Preferences",
    responses(
        (status = 200, description = "User voice preferences", body = VoicePreferences),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 403, description = "Premium subscription required", body = coach_shared::ErrorResponse),
        (status = 404, description = "Voice preferences not configured", body = coach_shared::ErrorResponse)),
    security(("BearerAuth" = [])))]
pub async fn get_preferences(State(state): State<AppState>, auth: AuthUser) -> ApiResult<axum::Json<VoicePreferences>> {
    require_premium(&auth)?;
    let row = load(&state.db, auth.id()).await?.ok_or_else(|| AppError::not_found("Voice preferences"))?;
    Ok(axum::Json(row.to_api()))
}

/// Creates or updates the caller's voice preferences (only the fields sent change).
#[utoipa::path(put, path = "/v1/voice/preferences", tag = "Voice Preferences",
    request_body = VoicePreferencesUpdate,
    responses(
        (status = 200, description = "Voice preferences updated successfully", body = VoicePreferences),
        (status = 400, description = "Invalid preferences data", body = coach_shared::ErrorResponse),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 403, description = "Premium subscription required", body = coach_shared::ErrorResponse)),
    security(("BearerAuth" = [])))]
pub async fn put_preferences(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(req): ApiJson<VoicePreferencesUpdate>,
) -> ApiResult<axum::Json<VoicePreferences>> {
    require_premium(&auth)?;
    let db = &state.db;
    let personality = req.personality.map(Personality::as_str);
    for attempt in 0..3 {
        let now = now_ms();
        let updated = sqlx::query(
            "UPDATE voice_preferences SET personality = COALESCE($2, personality),
                 voice_enabled = COALESCE($3, voice_enabled), tone_adaptation = COALESCE($4, tone_adaptation),
                 accessibility_mode = COALESCE($5, accessibility_mode), last_voice_setup = $6, updated_at = $6
             WHERE user_id = $1",
        )
        .bind(auth.id())
        .bind(personality)
        .bind(req.voice_enabled)
        .bind(req.tone_adaptation)
        .bind(req.accessibility_mode)
        .bind(now)
        .execute(&db.pool)
        .await?;
        if updated.rows_affected() == 0 {
            let inserted = sqlx::query(
                "INSERT INTO voice_preferences (id, user_id, personality, voice_enabled, tone_adaptation,
                     accessibility_mode, eleven_labs_voice_id, voice_clone_status, last_voice_setup, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, NULL, 'not_configured', $7, $7, $7)",
            )
            .bind(new_id())
            .bind(auth.id())
            .bind(personality.unwrap_or("Alice"))
            .bind(req.voice_enabled.unwrap_or(true))
            .bind(req.tone_adaptation.unwrap_or(true))
            .bind(req.accessibility_mode.unwrap_or(false))
            .bind(now)
            .execute(&db.pool)
            .await;
            match inserted {
                Ok(_) => {}
                // A concurrent first PUT created the row: update it instead.
                Err(e) if is_unique_violation(&e) && attempt < 2 => continue,
                Err(e) => return Err(e.into()),
            }
        }
        let row = load(db, auth.id()).await?.ok_or_else(|| AppError::not_found("Voice preferences"))?;
        return Ok(axum::Json(row.to_api()));
    }
    Err(AppError::Conflict { code: "concurrent_update", message: "Preferences changed concurrently; retry".into() })
}

/// The caller's voice profile (extension): provider, model, format, the voice in effect and the
/// settings of each tone. `VoiceProfile::clip_key(text, tone)` on it gives the cache key the
/// server will use, so the browser can look a clip up before asking.
#[utoipa::path(get, path = "/v1/voice/profile", tag = "Voice Synthesis",
    responses(
        (status = 200, description = "What decides the caller's clips", body = VoiceProfile),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 403, description = "Premium subscription required", body = coach_shared::ErrorResponse)),
    security(("BearerAuth" = [])))]
pub async fn get_profile(State(state): State<AppState>, auth: AuthUser) -> ApiResult<axum::Json<VoiceProfile>> {
    require_premium(&auth)?;
    let prefs = effective(&state.db, auth.id()).await?;
    Ok(axum::Json(state.voice.profile(&prefs, None)))
}

/// The voice preferences' part of an account deletion, inside `tx`: removes the row (0 or 1) and
/// returns the count and the cloned voice it named (for the provider deletion outbox).
pub async fn delete_for_user(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user_id: &str,
) -> Result<(u64, Option<String>), sqlx::Error> {
    let voice: Option<Option<String>> =
        sqlx::query_scalar("SELECT eleven_labs_voice_id FROM voice_preferences WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&mut **tx)
            .await?;
    let r = sqlx::query("DELETE FROM voice_preferences WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
    Ok((r.rows_affected(), voice.flatten()))
}
