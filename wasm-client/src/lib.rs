//! # coach-wasm
//!
//! The browser side of Coach, compiled to WebAssembly and imported by the SvelteKit app. Every rule
//! it applies comes from `coach-shared`, so the browser and the server agree by construction.
//!
//! This module exposes the shared rules to JavaScript:
//! * [`anonymize_user_id`] — `hashedUserId` (lowercase hex SHA-256), computed before anything
//!   leaves the device;
//! * [`find_pii`] — the PII check the server applies, for validation before submission;
//! * [`choose_tone`] — the tone for a workout context;
//! * [`clip_cache_key`] — the key of a clip in the voice cache (same as the server's).
//!
//! and the browser parts, one module each:
//!
//! | module | export | role |
//! |---|---|---|
//! | [`cache`] | `VoiceCache` | the user's clips in IndexedDB (rexie), 10 at most, random rotation |
//! | [`idb`] | — | the database: schema versions and upgrades, `blocked`, reopening |
//! | [`client`] | `CoachClient` | typed calls of every `/v1` operation the app uses (gloo-net) |
//! | [`upload`] | — | the voice-clone upload with progress (XMLHttpRequest) |
//! | [`outbox`] | — | offline queue of training data and interactions, idempotent retries |
//! | [`speak`] | `CoachClient.speak` | cache-first speech with a text-only fallback |
//! | [`player`] | `AudioPlayer` | playback, latency, live levels, haptics, audio outputs |
//! | [`error`] | `CoachError` | the one error type JS sees |

pub mod cache;
pub mod client;
pub mod error;
pub mod http;
pub mod idb;
pub mod js;
pub mod lock;
pub mod outbox;
pub mod player;
pub mod rand;
pub mod speak;
pub mod ts;
pub mod upload;

use coach_shared::types::common::Tone;
use serde::Serialize;
use wasm_bindgen::prelude::*;

/// The package version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// `hashedUserId`: lowercase hex SHA-256 of the user id (64 characters).
#[wasm_bindgen(js_name = anonymizeUserId)]
pub fn anonymize_user_id(#[wasm_bindgen(js_name = userId)] user_id: &str) -> String {
    coach_shared::hash_user_id(user_id)
}

/// A PII finding, as JavaScript sees it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PiiFinding {
    kind: coach_shared::PiiKind,
    description: &'static str,
    start: usize,
    end: usize,
}

/// The first PII in `text` (`{kind, description, start, end}` in UTF-8 byte offsets), or `null`.
/// `names` are the user's own identifying strings (display name, email, id), if known.
#[wasm_bindgen(js_name = findPii, unchecked_return_type = "PiiFinding | null")]
pub fn find_pii(text: &str, names: Option<Vec<String>>) -> Result<JsValue, JsError> {
    let names = names.unwrap_or_default();
    let scanner = coach_shared::pii::PiiScanner::with_names(names.iter().map(String::as_str));
    match scanner.find(text) {
        None => Ok(JsValue::NULL),
        Some(m) => {
            let f = PiiFinding { kind: m.kind, description: m.kind.describe(), start: m.start, end: m.end };
            js::to_js(&f).map_err(|e| JsError::new(&e.message))
        }
    }
}

/// The tone (`whisper`, `neutral` or `hype`) for a strain (0–100, optional), context tags and an
/// optional context label.
#[wasm_bindgen(js_name = chooseTone, unchecked_return_type = "Tone")]
pub fn choose_tone(strain: Option<f64>, tags: Vec<String>, label: Option<String>) -> String {
    let ctx = coach_shared::ToneContext { strain, tags: &tags, label: label.as_deref() };
    coach_shared::choose_tone(&ctx).as_str().to_string()
}

/// The cache key of a clip: `parts` is `{text, voice, tone, settings, model, format}`.
#[wasm_bindgen(js_name = clipCacheKey)]
pub fn clip_cache_key(
    #[wasm_bindgen(unchecked_param_type = "ClipKeyParts")] parts: JsValue,
) -> Result<String, JsError> {
    let parts: coach_shared::ClipKeyParts =
        js::from_js(parts, "clip key parts").map_err(|e| JsError::new(&format!("invalid {}", e.message)))?;
    Ok(coach_shared::clip_cache_key(&parts))
}

/// The cache key of `text` spoken in `tone` with a voice profile (`GET /v1/voice/profile`): the
/// key under which the server stores the clip and `VoiceCache` finds it.
#[wasm_bindgen(js_name = clipKeyForProfile)]
pub fn clip_key_for_profile(
    #[wasm_bindgen(unchecked_param_type = "VoiceProfile")] profile: JsValue,
    text: &str,
    #[wasm_bindgen(unchecked_param_type = "Tone")] tone: &str,
) -> Result<String, JsValue> {
    let profile: coach_shared::types::voice::VoiceProfile = js::from_js(profile, "profile")?;
    let tone = Tone::parse(tone)
        .ok_or_else(|| error::CoachError::invalid_argument("tone must be whisper, neutral or hype"))?;
    Ok(profile.clip_key(text, tone))
}

#[wasm_bindgen(typescript_custom_section)]
const TS_RULES: &str = r#"
/** A PII finding of {@link findPii}; offsets are UTF-8 byte offsets. */
export interface PiiFinding {
  kind: PiiKind;
  description: string;
  start: number;
  end: number;
}
"#;

/// Parses a tone name, for callers that want to validate user input.
#[wasm_bindgen(js_name = isTone)]
pub fn is_tone(s: &str) -> bool {
    Tone::parse(s).is_some()
}
