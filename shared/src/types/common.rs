//! Types used by both contracts: tone, personality and the error body.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Voice tone of a coaching line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Tone {
    /// Quiet and calm: a grinding, high-strain set.
    Whisper,
    /// The everyday voice.
    #[default]
    Neutral,
    /// Loud and fast: a PR or an achievement.
    Hype,
}

impl Tone {
    /// All tones, in a fixed order.
    pub const ALL: [Tone; 3] = [Tone::Whisper, Tone::Neutral, Tone::Hype];

    /// The wire spelling (`whisper`, `neutral`, `hype`).
    pub fn as_str(self) -> &'static str {
        match self {
            Tone::Whisper => "whisper",
            Tone::Neutral => "neutral",
            Tone::Hype => "hype",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<Tone> {
        Tone::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl std::fmt::Display for Tone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The coach's personality, which picks the default voice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Personality {
    /// Alice: the female coach voice.
    #[default]
    Alice,
    /// Aiden: the male coach voice.
    Aiden,
}

impl Personality {
    /// The wire spelling (`Alice`, `Aiden`).
    pub fn as_str(self) -> &'static str {
        match self {
            Personality::Alice => "Alice",
            Personality::Aiden => "Aiden",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<Personality> {
        match s {
            "Alice" => Some(Personality::Alice),
            "Aiden" => Some(Personality::Aiden),
            _ => None,
        }
    }
}

impl std::fmt::Display for Personality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every error response (`ErrorResponse` in both contracts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ErrorResponse {
    /// Machine-readable error code, e.g. `validation_error`, `premium_required`.
    pub error: String,
    /// Human-readable explanation.
    pub message: String,
    /// Additional structured details (field errors, the text for a text-only fallback, ...).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub details: Option<serde_json::Value>,
    /// When the error happened.
    pub timestamp: DateTime<Utc>,
}
