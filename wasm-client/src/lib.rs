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
pub fn anonymize_user_id(user_id: &str) -> String {
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
#[wasm_bindgen(js_name = findPii)]
pub fn find_pii(text: &str, names: Option<Vec<String>>) -> Result<JsValue, JsError> {
    let names = names.unwrap_or_default();
    let scanner = coach_shared::pii::PiiScanner::with_names(names.iter().map(String::as_str));
    match scanner.find(text) {
        None => Ok(JsValue::NULL),
        Some(m) => {
            let f = PiiFinding { kind: m.kind, description: m.kind.describe(), start: m.start, end: m.end };
            serde_wasm_bindgen::to_value(&f).map_err(|e| JsError::new(&e.to_string()))
        }
    }
}

/// The tone (`whisper`, `neutral` or `hype`) for a strain (0–100, optional), context tags and an
/// optional context label.
#[wasm_bindgen(js_name = chooseTone)]
pub fn choose_tone(strain: Option<f64>, tags: Vec<String>, label: Option<String>) -> String {
    let ctx = coach_shared::ToneContext { strain, tags: &tags, label: label.as_deref() };
    coach_shared::choose_tone(&ctx).as_str().to_string()
}

/// The cache key of a clip: `parts` is `{text, voice, tone, settings, model, format}`.
#[wasm_bindgen(js_name = clipCacheKey)]
pub fn clip_cache_key(parts: JsValue) -> Result<String, JsError> {
    let parts: coach_shared::ClipKeyParts =
        serde_wasm_bindgen::from_value(parts).map_err(|e| JsError::new(&format!("invalid clip key parts: {e}")))?;
    Ok(coach_shared::clip_cache_key(&parts))
}

/// Parses a tone name, for callers that want to validate user input.
#[wasm_bindgen(js_name = isTone)]
pub fn is_tone(s: &str) -> bool {
    Tone::parse(s).is_some()
}
