//! What the voice cache stores: one metadata record per clip (the contract's `VoiceCache` fields
//! plus `size` and `mimeType`), the audio Blob beside it, and the persisted counters.

use chrono::{DateTime, Utc};
use coach_shared::Tone;
use serde::{Deserialize, Serialize};

/// Metadata of a cached clip, as stored in the `clips` store and as JS reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClipRecord {
    /// The shared cache key (the contract's `textHash`): hash of everything that changes the audio.
    pub key: String,
    /// The text spoken, when known (shown by the app's cache view).
    #[serde(default)]
    pub text: Option<String>,
    /// Tone used.
    pub tone: Tone,
    /// Workout context, e.g. `high_strain_set`.
    #[serde(default)]
    pub context: String,
    /// When the clip was generated.
    pub generated_at: DateTime<Utc>,
    /// Last time it was played or requested.
    pub last_used_at: DateTime<Utc>,
    /// Times it was played or requested.
    #[serde(default)]
    pub usage_count: u32,
    /// When the entry stops being served (`null`: never).
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Seconds of audio.
    #[serde(default)]
    pub duration: f64,
    /// Bytes of audio (filled from the Blob; records written by schema v1 get it on upgrade).
    #[serde(default)]
    pub size: f64,
    /// MIME type of the audio.
    #[serde(default = "default_mime")]
    pub mime_type: String,
    /// The server's cache-index entry id (`cacheId`), when the clip came from the server.
    #[serde(default)]
    pub cache_id: Option<String>,
}

fn default_mime() -> String {
    "audio/mpeg".into()
}

impl ClipRecord {
    /// Whether the entry has expired at `now`.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }
}

/// What the caller tells `put` about a clip (everything optional but the tone).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClipInput {
    /// Text spoken.
    #[serde(default)]
    pub text: Option<String>,
    /// Tone used (default `neutral`).
    #[serde(default)]
    pub tone: Tone,
    /// Workout context.
    #[serde(default)]
    pub context: String,
    /// Seconds of audio (0 when unknown).
    #[serde(default)]
    pub duration: f64,
    /// When it was generated (default: now).
    #[serde(default)]
    pub generated_at: Option<DateTime<Utc>>,
    /// Explicit expiry; default: now + the cache's TTL.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// The server's cache-index id.
    #[serde(default)]
    pub cache_id: Option<String>,
}

/// Counters kept in the `meta` store under id `stats` (survive reloads and closed tabs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredStats {
    /// Always `stats`.
    #[serde(default = "stats_id")]
    pub id: String,
    /// Lookups that found a live clip.
    #[serde(default)]
    pub hits: u64,
    /// Lookups that found nothing (or an expired clip).
    #[serde(default)]
    pub misses: u64,
    /// Clips stored.
    #[serde(default)]
    pub puts: u64,
    /// Clips evicted by the rotation policy.
    #[serde(default)]
    pub evictions: u64,
    /// Clips dropped because they expired.
    #[serde(default)]
    pub expired: u64,
    /// Clips evicted to make room after a quota error.
    #[serde(default)]
    pub quota_evictions: u64,
}

fn stats_id() -> String {
    STATS_ID.into()
}

/// Key of the counters record.
pub const STATS_ID: &str = "stats";

/// The cache's statistics as JS reads them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheStats {
    /// Lookups that found a live clip.
    pub hits: u64,
    /// Lookups that found nothing.
    pub misses: u64,
    /// hits / (hits + misses), `null` before the first lookup.
    pub hit_rate: Option<f64>,
    /// Clips held now.
    pub entries: u32,
    /// Bytes of audio held now.
    pub bytes: f64,
    /// Most clips held at once.
    pub max_entries: u32,
    /// Clips stored.
    pub puts: u64,
    /// Clips evicted by the rotation policy.
    pub evictions: u64,
    /// Clips dropped because they expired.
    pub expired: u64,
    /// Clips evicted after a quota error.
    pub quota_evictions: u64,
}

impl CacheStats {
    /// Combines the counters with the current contents.
    pub fn new(s: &StoredStats, entries: u32, bytes: f64, max_entries: u32) -> Self {
        let lookups = s.hits + s.misses;
        Self {
            hits: s.hits,
            misses: s.misses,
            hit_rate: (lookups > 0).then(|| s.hits as f64 / lookups as f64),
            entries,
            bytes,
            max_entries,
            puts: s.puts,
            evictions: s.evictions,
            expired: s.expired,
            quota_evictions: s.quota_evictions,
        }
    }
}

/// What `put` did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PutOutcome {
    /// The key stored.
    pub key: String,
    /// Keys evicted to make room (random, by the shared rotation policy).
    pub evicted: Vec<String>,
    /// Keys dropped because they had expired.
    pub expired: Vec<String>,
    /// Whether the key was already cached (its audio and metadata were replaced).
    pub replaced: bool,
    /// Clips held after the put.
    pub entries: u32,
    /// Whether a quota error had to be resolved by evicting a clip first.
    pub quota_recovered: bool,
}

fn set(obj: &js_sys::Object, key: &str, value: &wasm_bindgen::JsValue) {
    let _ = js_sys::Reflect::set(obj, &key.into(), value);
}

fn opt_str(v: Option<&str>) -> wasm_bindgen::JsValue {
    v.map_or(wasm_bindgen::JsValue::NULL, wasm_bindgen::JsValue::from_str)
}

fn date(d: &DateTime<Utc>) -> wasm_bindgen::JsValue {
    // chrono's serde spelling
    wasm_bindgen::JsValue::from_str(&d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

fn strings(keys: &[String]) -> wasm_bindgen::JsValue {
    keys.iter().map(|k| wasm_bindgen::JsValue::from_str(k)).collect::<js_sys::Array>().into()
}

impl ClipRecord {
    /// The record as the plain JS object serde would give (same fields, order and spelling),
    /// built directly: a put writes one without a JSON round trip.
    pub fn to_object(&self) -> wasm_bindgen::JsValue {
        let o = js_sys::Object::new();
        set(&o, "key", &self.key.as_str().into());
        set(&o, "text", &opt_str(self.text.as_deref()));
        set(&o, "tone", &self.tone.as_str().into());
        set(&o, "context", &self.context.as_str().into());
        set(&o, "generatedAt", &date(&self.generated_at));
        set(&o, "lastUsedAt", &date(&self.last_used_at));
        set(&o, "usageCount", &self.usage_count.into());
        set(&o, "expiresAt", &self.expires_at.as_ref().map_or(wasm_bindgen::JsValue::NULL, date));
        set(&o, "duration", &self.duration.into());
        set(&o, "size", &self.size.into());
        set(&o, "mimeType", &self.mime_type.as_str().into());
        set(&o, "cacheId", &opt_str(self.cache_id.as_deref()));
        o.into()
    }
}

impl PutOutcome {
    /// The outcome as the plain JS object serde would give, built directly.
    pub fn to_object(&self) -> wasm_bindgen::JsValue {
        let o = js_sys::Object::new();
        set(&o, "key", &self.key.as_str().into());
        set(&o, "evicted", &strings(&self.evicted));
        set(&o, "expired", &strings(&self.expired));
        set(&o, "replaced", &self.replaced.into());
        set(&o, "entries", &self.entries.into());
        set(&o, "quotaRecovered", &self.quota_recovered.into());
        o.into()
    }
}
