//! The content key of a synthesized clip.
//!
//! Two requests get the same audio exactly when they agree on everything that changes the audio:
//! the normalized text, the voice, the tone, the provider's voice settings for that tone, the model
//! and the output format. The key is the lowercase hex SHA-256 of those parts, each length-prefixed
//! so that no two different part lists can produce the same input:
//!
//! ```text
//! sha256("coach-clip-v1" + for each part in [text, voice, tone, settings, model, format]:
//!        "\n" + <byte length of part> + ":" + part)
//! ```
//!
//! The server names clip files by this key (so identical audio is stored and synthesized once) and
//! the browser keys its IndexedDB cache by it (so both sides agree on what a hit is).

use sha2::{Digest, Sha256};

use crate::types::common::Tone;

/// Version tag of the key derivation; bump it when the derivation or the normalization changes.
pub const CLIP_KEY_VERSION: &str = "coach-clip-v1";

/// Everything that changes the audio of a clip.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ClipKeyParts {
    /// The text as the user sent it (normalized by [`clip_cache_key`]).
    pub text: String,
    /// Provider voice: an ElevenLabs voice id, or a local engine voice such as `en-us+f3`.
    pub voice: String,
    /// Tone.
    pub tone: Tone,
    /// The provider's canonical settings string for the tone (e.g. stability/style/speed).
    pub settings: String,
    /// Provider and model, e.g. `elevenlabs/eleven_multilingual_v2` or `espeak-ng/1`.
    pub model: String,
    /// Output format, e.g. `mp3_22050_48`.
    pub format: String,
}

/// Text normalization applied before hashing: Unicode NFC, whitespace runs collapsed to one space,
/// leading and trailing whitespace removed. Case and punctuation are kept: they change prosody.
pub fn normalize_text(text: &str) -> String {
    let nfc = crate::unicode::nfc(text);
    nfc.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The clip's cache key (64 lowercase hex digits).
pub fn clip_cache_key(parts: &ClipKeyParts) -> String {
    let text = normalize_text(&parts.text);
    let fields = [
        text.as_str(),
        parts.voice.as_str(),
        parts.tone.as_str(),
        parts.settings.as_str(),
        parts.model.as_str(),
        parts.format.as_str(),
    ];
    let mut hasher = Sha256::new();
    hasher.update(CLIP_KEY_VERSION.as_bytes());
    for field in fields {
        hasher.update(format!("\n{}:", field.len()).as_bytes());
        hasher.update(field.as_bytes());
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Vector {
        parts: ClipKeyParts,
        normalized: String,
        key: String,
    }

    #[test]
    fn matches_the_shared_vectors() {
        let vectors: Vec<Vector> = serde_json::from_str(crate::vectors::CACHE_KEYS).unwrap();
        assert!(vectors.len() >= 6);
        for v in &vectors {
            assert_eq!(normalize_text(&v.parts.text), v.normalized);
            assert_eq!(clip_cache_key(&v.parts), v.key, "{:?}", v.parts);
        }
    }

    #[test]
    fn every_part_changes_the_key() {
        let base = ClipKeyParts {
            text: "Nice lift!".into(),
            voice: "en-us+f3".into(),
            tone: Tone::Neutral,
            settings: "pitch=50;rate=175".into(),
            model: "espeak-ng/1".into(),
            format: "mp3_22050_48".into(),
        };
        let k = clip_cache_key(&base);
        let variants = [
            ClipKeyParts { text: "Nice lift".into(), ..base.clone() },
            ClipKeyParts { voice: "en-us+m3".into(), ..base.clone() },
            ClipKeyParts { tone: Tone::Hype, ..base.clone() },
            ClipKeyParts { settings: "pitch=75;rate=200".into(), ..base.clone() },
            ClipKeyParts { model: "espeak-ng/2".into(), ..base.clone() },
            ClipKeyParts { format: "mp3_44100_128".into(), ..base.clone() },
        ];
        for v in variants {
            assert_ne!(clip_cache_key(&v), k, "{v:?}");
        }
        // whitespace differences do not
        let spaced = ClipKeyParts { text: "  Nice \t lift!\n".into(), ..base.clone() };
        assert_eq!(clip_cache_key(&spaced), k);
    }
}
