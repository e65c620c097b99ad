//! Tone choice from the workout context: the same function in the browser and on the server.
//!
//! Rules, in order:
//! 1. an achievement (a tag in [`HYPE_TAGS`], or a context label naming a PR) → **hype**;
//! 2. high strain (strain ≥ [`HIGH_STRAIN_THRESHOLD`], or a tag in [`WHISPER_TAGS`]) → **whisper**;
//! 3. otherwise → **neutral**.
//!
//! A PR attempt is usually also a high-strain set; the moment is the record, so hype wins.

use crate::limits::HIGH_STRAIN_THRESHOLD;
use crate::tags::{HYPE_TAGS, WHISPER_TAGS};
use crate::types::common::Tone;

/// What the tone is chosen from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToneContext<'a> {
    /// Strain of the set, 0–100, when known.
    pub strain: Option<f64>,
    /// Context tags of the moment.
    pub tags: &'a [String],
    /// A free-form context label such as `high_strain_set` (the synthesize request's `context`).
    pub label: Option<&'a str>,
}

/// Picks the tone for a context (see the module docs for the rules).
pub fn choose_tone(ctx: &ToneContext<'_>) -> Tone {
    let label = ctx.label.map(str::to_ascii_lowercase).unwrap_or_default();
    let label_words: Vec<&str> = label.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let tagged = |set: &[&str]| ctx.tags.iter().any(|t| set.contains(&t.as_str()));
    let labelled = |set: &[&str]| set.iter().any(|t| label.contains(t));

    let hype = tagged(HYPE_TAGS)
        || labelled(HYPE_TAGS)
        || label_words.iter().any(|w| matches!(*w, "pr" | "record" | "achievement"));
    if hype {
        return Tone::Hype;
    }
    let whisper =
        ctx.strain.is_some_and(|s| s >= HIGH_STRAIN_THRESHOLD) || tagged(WHISPER_TAGS) || labelled(WHISPER_TAGS);
    if whisper {
        return Tone::Whisper;
    }
    Tone::Neutral
}

/// Whether `tone` fits `ctx`: used to score generations (`responsiveness`).
pub fn tone_fits(tone: Tone, ctx: &ToneContext<'_>) -> bool {
    choose_tone(ctx) == tone
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Vector {
        strain: Option<f64>,
        #[serde(default)]
        tags: Vec<String>,
        label: Option<String>,
        tone: Tone,
    }

    #[test]
    fn matches_the_shared_vectors() {
        let vectors: Vec<Vector> = serde_json::from_str(crate::vectors::TONES).unwrap();
        assert!(vectors.len() >= 10);
        for v in &vectors {
            let ctx = ToneContext { strain: v.strain, tags: &v.tags, label: v.label.as_deref() };
            assert_eq!(choose_tone(&ctx), v.tone, "{:?} {:?} {:?}", v.strain, v.tags, v.label);
        }
    }

    #[test]
    fn threshold_is_inclusive() {
        let at = ToneContext { strain: Some(HIGH_STRAIN_THRESHOLD), ..Default::default() };
        let below = ToneContext { strain: Some(HIGH_STRAIN_THRESHOLD - 0.01), ..Default::default() };
        assert_eq!(choose_tone(&at), Tone::Whisper);
        assert_eq!(choose_tone(&below), Tone::Neutral);
    }
}
