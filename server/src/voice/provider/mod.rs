//! Speech providers behind one trait: the local engine ([`local`], `espeak-ng`) and ElevenLabs
//! ([`elevenlabs`], the real HTTP API), plus the circuit breaker ([`breaker`]) the service puts in
//! front of whichever is configured.
//!
//! A provider describes what decides its audio (model, format, the voice of each personality, the
//! canonical settings string of each tone): those pieces make the clip's cache key, and
//! [`SpeechProvider::synthesize`] receives the very settings string that went into the key, so
//! equal keys always mean equal audio.

pub mod breaker;
pub mod elevenlabs;
pub mod local;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use coach_shared::types::voice::ToneSettings;
use coach_shared::{Personality, Tone};
use futures_util::future::BoxFuture;

use super::config::{TtsProvider, VoiceConfig};

/// Synthesized audio, already checked to decode.
#[derive(Debug, Clone)]
pub struct Audio {
    /// The encoded clip.
    pub bytes: Bytes,
    /// Its media type (`audio/mpeg`).
    pub content_type: &'static str,
    /// Seconds, measured by decoding.
    pub duration: f64,
}

/// One cloning sample, validated before it reaches a provider.
#[derive(Debug, Clone)]
pub struct CloneSample {
    /// The uploaded bytes.
    pub bytes: Bytes,
    /// The client's file name (sanitized), forwarded to the provider.
    pub file_name: String,
    /// The part's media type.
    pub content_type: String,
    /// Seconds of audio.
    pub duration: f64,
    /// Median fundamental frequency of the voiced parts (Hz), when any were found.
    pub median_f0: Option<f64>,
}

/// What a cloning call needs.
#[derive(Debug, Clone)]
pub struct CloneRequest {
    /// The user's name for the voice.
    pub name: String,
    /// Free text stored with the voice at the provider.
    pub description: String,
    /// The personality the voice replaces, when given.
    pub personality: Option<Personality>,
    /// 3–10 validated samples.
    pub samples: Vec<CloneSample>,
}

/// A voice created at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClonedVoice {
    /// The provider's voice id.
    pub voice_id: String,
    /// ElevenLabs may ask for a verification step before the voice is usable.
    pub requires_verification: bool,
}

/// Why a provider call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// Transient: network, timeout, 429/5xx after the retries, a broken or non-audio body, or the
    /// breaker is open. The caller degrades to text.
    #[error("{reason}")]
    Unavailable {
        /// What happened, for logs and `details.reason`.
        reason: String,
        /// When to try again, if the provider said so (or the breaker knows).
        retry_after: Option<Duration>,
    },
    /// The provider refused this request (4xx): bad key, no quota, unknown voice, invalid audio.
    #[error("provider refused the request ({status} {code}): {message}")]
    Rejected {
        /// The provider's HTTP status.
        status: u16,
        /// The provider's error code (`detail.code` or `detail.status`).
        code: String,
        /// The provider's message.
        message: String,
    },
}

/// A refusal of the service's provider account rather than of one request: every call fails the
/// same way until an operator acts (tops up the quota, replaces the key). A closed set: it is the
/// `reason` label of `coach_voice_provider_failures_total` and the 503's `details.reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountFailure {
    /// The account's character or credit quota is used up (ElevenLabs 401 `quota_exceeded`).
    QuotaExceeded,
    /// The API key is wrong or revoked (ElevenLabs 401 `invalid_api_key`).
    InvalidApiKey,
    /// Any other 401/403: the key lacks a permission, the account is restricted.
    Unauthorized,
}

impl AccountFailure {
    /// Every value (the metric's series are created at start, at 0).
    pub const ALL: [AccountFailure; 3] =
        [AccountFailure::QuotaExceeded, AccountFailure::InvalidApiKey, AccountFailure::Unauthorized];

    /// The label / `details.reason` value.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountFailure::QuotaExceeded => "quota_exceeded",
            AccountFailure::InvalidApiKey => "invalid_api_key",
            AccountFailure::Unauthorized => "unauthorized",
        }
    }

    /// A sentence for the client's message (no provider text, no key).
    pub fn describe(self) -> &'static str {
        match self {
            AccountFailure::QuotaExceeded => "the speech provider's quota is used up",
            AccountFailure::InvalidApiKey => "the speech provider does not accept the service's API key",
            AccountFailure::Unauthorized => "the speech provider refuses the service's account",
        }
    }
}

impl ProviderError {
    /// A transient failure without a retry hint.
    pub fn unavailable(reason: impl Into<String>) -> Self {
        ProviderError::Unavailable { reason: reason.into(), retry_after: None }
    }

    /// Whether this is a refusal of the account (quota, key) rather than of the request: by the
    /// error code whatever the status (ElevenLabs answers both with 401), else any other 401/403.
    pub fn account_failure(&self) -> Option<AccountFailure> {
        match self {
            ProviderError::Unavailable { .. } => None,
            ProviderError::Rejected { status, code, .. } => match code.as_str() {
                "quota_exceeded" => Some(AccountFailure::QuotaExceeded),
                "invalid_api_key" => Some(AccountFailure::InvalidApiKey),
                _ if matches!(status, 401 | 403) => Some(AccountFailure::Unauthorized),
                _ => None,
            },
        }
    }

    /// Whether the failure says something about the provider's health (and so counts towards
    /// opening the breaker). A refusal of one request's content (400/404/422) does not, and
    /// neither does a refusal of the account ([`ProviderError::account_failure`]): the provider is
    /// up and answering, and one user's requests (a text needing more credits than are left) must
    /// not shut the voice off for everybody; such failures are counted and logged instead.
    pub fn counts_against_health(&self) -> bool {
        match self {
            ProviderError::Unavailable { .. } => true,
            ProviderError::Rejected { status, .. } => {
                self.account_failure().is_none() && !matches!(status, 400 | 404 | 409 | 413 | 422)
            }
        }
    }

    /// A short label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderError::Unavailable { .. } => "unavailable",
            ProviderError::Rejected { .. } => "rejected",
        }
    }
}

/// A speech provider.
pub trait SpeechProvider: Send + Sync {
    /// `local` or `elevenlabs` (metrics label and `VoiceProfile.provider`).
    fn name(&self) -> &'static str;
    /// Provider and model, e.g. `espeak-ng/1.51` or `elevenlabs/eleven_multilingual_v2`.
    fn model(&self) -> String;
    /// Output format, e.g. `mp3_22050_48`.
    fn format(&self) -> String;
    /// The voice of a personality.
    fn personality_voice(&self, personality: Personality) -> String;
    /// Whether `voice` (a stored cloned-voice id) is one of this provider's voices; a voice cloned
    /// with another provider is not used.
    fn owns_voice(&self, voice: &str) -> bool;
    /// The canonical settings string of each tone for `voice`.
    fn tone_settings(&self, voice: &str) -> ToneSettings;
    /// Speaks `text` (already normalized) with `voice` and the tone's `settings` string.
    fn synthesize<'a>(
        &'a self,
        text: &'a str,
        voice: &'a str,
        tone: Tone,
        settings: &'a str,
    ) -> BoxFuture<'a, Result<Audio, ProviderError>>;
    /// Creates a voice from samples.
    fn clone_voice<'a>(&'a self, req: &'a CloneRequest) -> BoxFuture<'a, Result<ClonedVoice, ProviderError>>;
    /// Removes a voice this provider created (a no-op where nothing is kept remotely).
    fn delete_voice<'a>(&'a self, voice_id: &'a str) -> BoxFuture<'a, Result<(), ProviderError>>;
}

/// The provider `config` asks for.
pub async fn from_config(config: &VoiceConfig) -> anyhow::Result<Arc<dyn SpeechProvider>> {
    Ok(match config.provider {
        TtsProvider::Local => Arc::new(local::LocalProvider::new(config).await),
        TtsProvider::ElevenLabs => Arc::new(elevenlabs::ElevenLabsProvider::new(&config.elevenlabs)?),
    })
}
