//! Bodies of the voice-synthesis contract: preferences, cloning, synthesis, the cache index and
//! voice interactions.

use serde::{Deserialize, Serialize};

use super::common::{Personality, Tone};
use chrono::{DateTime, Utc};

/// State of the user's cloned voice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum VoiceCloneState {
    /// No clone was ever requested.
    #[default]
    NotConfigured,
    /// A clone job is running.
    Cloning,
    /// The clone exists at the provider and is used for synthesis.
    Ready,
    /// The clone is in use (reserved by the contract; treated like `ready`).
    Active,
    /// The last clone attempt failed or the clone was removed; a new one is needed.
    NeedsUpdate,
}

/// `VoicePreferences`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct VoicePreferences {
    /// Identifier.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// Coach personality.
    pub personality: Personality,
    /// Global voice on/off.
    pub voice_enabled: bool,
    /// Pick the tone from the workout context.
    pub tone_adaptation: bool,
    /// Enhanced visual/haptic feedback.
    pub accessibility_mode: bool,
    /// The cloned voice at the provider, when ready.
    pub eleven_labs_voice_id: Option<String>,
    /// Clone setup status.
    pub voice_clone_status: VoiceCloneState,
    /// Last voice configuration change.
    pub last_voice_setup: Option<DateTime<Utc>>,
}

/// `VoicePreferencesUpdate`: only the fields present change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct VoicePreferencesUpdate {
    /// Coach personality.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub personality: Option<Personality>,
    /// Global voice on/off.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub voice_enabled: Option<bool>,
    /// Pick the tone from the workout context.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub tone_adaptation: Option<bool>,
    /// Enhanced visual/haptic feedback.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub accessibility_mode: Option<bool>,
}

/// Status of a cloning job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum CloneJobStatus {
    /// Running.
    Processing,
    /// The voice exists at the provider.
    Completed,
    /// See `errorMessage`.
    Failed,
}

/// `VoiceCloneResponse` (202).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct VoiceCloneResponse {
    /// Job identifier.
    pub clone_id: String,
    /// Job status.
    pub status: CloneJobStatus,
    /// When the job is expected to finish.
    pub estimated_completion_time: DateTime<Utc>,
    /// Provider-side job identifier (the job id when the provider has none).
    pub eleven_labs_job_id: Option<String>,
}

/// `VoiceCloneStatus`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct VoiceCloneStatus {
    /// Job identifier.
    pub clone_id: String,
    /// Job status.
    pub status: CloneJobStatus,
    /// 0–100.
    pub progress: u8,
    /// The provider's voice id once completed.
    pub eleven_labs_voice_id: Option<String>,
    /// Why the job failed.
    pub error_message: Option<String>,
    /// When the job finished.
    pub completed_at: Option<DateTime<Utc>>,
}

/// `VoiceSynthesisRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct VoiceSynthesisRequest {
    /// At most 280 characters.
    pub text: String,
    /// Requested tone (may be adapted from `context` when tone adaptation is on).
    pub tone: Tone,
    /// Workout context, e.g. `high_strain_set`.
    pub context: String,
    /// Keep the clip in the user's cache index (default true).
    #[serde(default = "default_true")]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub enable_caching: bool,
    /// Personality override.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub personality: Option<Personality>,
    /// Use `tone` as given even when tone adaptation is on (extension; default false).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub force_tone: bool,
}

fn default_true() -> bool {
    true
}

/// `VoiceSynthesisResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct VoiceSynthesisResponse {
    /// Immutable URL of the clip.
    pub audio_url: String,
    /// Seconds, read from the audio.
    pub duration: f64,
    /// Whether the clip was already in the clip store (no provider call).
    pub cached: bool,
    /// The user's cache index entry, when caching was enabled.
    pub cache_id: Option<String>,
    /// Milliseconds spent producing the audio for this request.
    pub generation_latency: f64,
    /// The tone actually used (extension).
    pub tone: Tone,
    /// The shared cache key of the clip (extension): the browser's IndexedDB uses the same key.
    pub cache_key: String,
}

/// `VoiceCache`: one entry of the user's cache index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct VoiceCacheEntry {
    /// Entry identifier.
    pub id: String,
    /// The shared cache key of the clip (hash of everything that changes the audio).
    pub text_hash: String,
    /// Tone used.
    pub tone: Tone,
    /// Workout context.
    pub context: String,
    /// When the clip was generated.
    pub generated_at: DateTime<Utc>,
    /// Last time it was played or requested.
    pub last_used_at: DateTime<Utc>,
    /// Times played or requested.
    pub usage_count: u32,
    /// Seconds.
    pub duration: f64,
    /// When the entry expires, if ever.
    pub expires_at: Option<DateTime<Utc>>,
}

/// `VoiceCacheList`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct VoiceCacheList {
    /// Entries (filtered).
    pub cache_entries: Vec<VoiceCacheEntry>,
    /// Number of entries returned.
    pub total_entries: u32,
    /// Size of the returned entries' audio in MB.
    pub total_size: f64,
    /// At most this many entries are kept.
    pub max_entries: u32,
}

/// `VoiceCacheClearRequest`: criteria combine with OR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct VoiceCacheClearRequest {
    /// Clear everything.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub clear_all: bool,
    /// Clear these entries.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub cache_ids: Option<Vec<String>>,
    /// Clear entries of this context.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub context: Option<String>,
    /// Clear entries generated before this time.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub older_than: Option<DateTime<Utc>>,
}

/// `VoiceCacheClearResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct VoiceCacheClearResponse {
    /// Entries removed.
    pub cleared_entries: u32,
    /// Entries left.
    pub remaining_entries: u32,
    /// MB of audio no longer referenced by this user.
    pub freed_space: f64,
}

/// `VoiceInteractionRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct VoiceInteractionRequest {
    /// One of the caller's workout entries.
    pub workout_entry_id: String,
    /// At most 280 characters.
    pub ai_response_text: String,
    /// Tone used.
    pub voice_tone: Tone,
    /// Whether audio actually played.
    pub was_voice_played: bool,
    /// Whether the audio came from a cache.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub was_cached: bool,
    /// Milliseconds, ≥ 0.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub generation_latency: Option<f64>,
    /// Milliseconds, ≥ 0.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub playback_latency: Option<f64>,
}

/// `VoiceInteraction`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct VoiceInteraction {
    /// Identifier.
    pub id: String,
    /// The workout entry.
    pub workout_entry_id: String,
    /// Text spoken or shown.
    pub ai_response_text: String,
    /// Tone used.
    pub voice_tone: Tone,
    /// Whether audio actually played.
    pub was_voice_played: bool,
    /// Whether the audio came from a cache.
    pub was_cached: bool,
    /// Milliseconds.
    pub generation_latency: Option<f64>,
    /// Milliseconds.
    pub playback_latency: Option<f64>,
    /// When it was recorded.
    pub timestamp: DateTime<Utc>,
}

/// `VoiceInteractionsList`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct VoiceInteractionsList {
    /// This page of the interactions, oldest first.
    pub interactions: Vec<VoiceInteraction>,
    /// How many the workout has (all pages).
    pub total_interactions: u32,
    /// Mean of the non-null generation latencies of the workout (ms).
    pub average_generation_latency: Option<f64>,
    /// Mean of the non-null playback latencies of the workout (ms).
    pub average_playback_latency: Option<f64>,
    /// Percentage (0–100) of interactions served from a cache.
    pub cache_hit_rate: Option<f64>,
    /// Extension (the contract's object allows more properties): pass as `cursor` for the next
    /// page. Present when the page came back full (the paging rule of every list), absent
    /// otherwise — so a workout with fewer interactions than `limit` answers exactly as before
    /// paging. `totalInteractions` and the averages always cover the whole workout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub next_cursor: Option<String>,
}

/// The canonical provider settings string of each tone (part of the clip's cache key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ToneSettings {
    /// Settings used for `whisper`.
    pub whisper: String,
    /// Settings used for `neutral`.
    pub neutral: String,
    /// Settings used for `hype`.
    pub hype: String,
}

impl ToneSettings {
    /// The settings string for `tone`.
    pub fn for_tone(&self, tone: Tone) -> &str {
        match tone {
            Tone::Whisper => &self.whisper,
            Tone::Neutral => &self.neutral,
            Tone::Hype => &self.hype,
        }
    }
}

/// `GET /v1/voice/profile` (extension): everything that, besides the text and the tone, decides a
/// clip's audio for the caller right now. The browser computes cache keys from it with
/// [`VoiceProfile::clip_key`] and so finds a clip in IndexedDB before asking the server, which
/// computes the very same key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct VoiceProfile {
    /// `local` or `elevenlabs`.
    pub provider: String,
    /// Provider and model, e.g. `espeak-ng/1` or `elevenlabs/eleven_multilingual_v2`.
    pub model: String,
    /// Output format, e.g. `mp3_22050_48`.
    pub format: String,
    /// Personality in effect.
    pub personality: Personality,
    /// Provider voice in effect: the user's cloned voice when ready, else the personality's.
    pub voice: String,
    /// Settings per tone.
    pub settings: ToneSettings,
    /// Whether voice is on.
    pub voice_enabled: bool,
    /// Whether the tone follows the context.
    pub tone_adaptation: bool,
}

impl VoiceProfile {
    /// The key parts of `text` spoken in `tone` with this profile.
    pub fn key_parts(&self, text: &str, tone: Tone) -> crate::cache_key::ClipKeyParts {
        crate::cache_key::ClipKeyParts {
            text: text.to_string(),
            voice: self.voice.clone(),
            tone,
            settings: self.settings.for_tone(tone).to_string(),
            model: self.model.clone(),
            format: self.format.clone(),
        }
    }

    /// The cache key of `text` spoken in `tone` with this profile.
    pub fn clip_key(&self, text: &str, tone: Tone) -> String {
        crate::cache_key::clip_cache_key(&self.key_parts(text, tone))
    }
}
