//! Settings of the voice area, read from the environment (see the README's configuration table).
//!
//! With nothing set, speech comes from the local `espeak-ng` engine. `ELEVENLABS_API_KEY` alone
//! switches to ElevenLabs; `COACH_TTS_PROVIDER` chooses explicitly.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};

use crate::config::{env, env_parse};

/// Which speech provider synthesizes and clones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtsProvider {
    /// `espeak-ng` on this machine: no key, no network.
    Local,
    /// The ElevenLabs HTTP API.
    ElevenLabs,
}

/// ElevenLabs connection settings.
#[derive(Debug, Clone)]
pub struct ElevenLabsConfig {
    /// `ELEVENLABS_API_KEY`: sent as `xi-api-key`.
    pub api_key: Option<String>,
    /// `ELEVENLABS_BASE_URL` (default `https://api.elevenlabs.io`); tests point it at a fake.
    pub base_url: String,
    /// `ELEVENLABS_MODEL` (default `eleven_multilingual_v2`).
    pub model: String,
    /// `ELEVENLABS_OUTPUT_FORMAT` (default `mp3_44100_64`; must be an `mp3_*` format).
    pub output_format: String,
    /// `ELEVENLABS_VOICE_ALICE`: Alice's premade voice (default Sarah, `EXAVITQu4vr4xnSDxMaL`).
    pub voice_alice: String,
    /// `ELEVENLABS_VOICE_AIDEN`: Aiden's premade voice (default George, `JBFqnCBsd6RMkjVDRZzb`).
    pub voice_aiden: String,
    /// `ELEVENLABS_TIMEOUT_SECS`: one HTTP attempt, connect to last byte (default 10 s).
    pub timeout: Duration,
    /// `ELEVENLABS_MAX_RETRIES`: extra attempts after a 429, 5xx, timeout or broken body (default 2).
    pub max_retries: usize,
    /// `ELEVENLABS_BACKOFF_MS`: first backoff delay; doubles with jitter (default 250 ms).
    pub backoff_min: Duration,
    /// `ELEVENLABS_RETRY_AFTER_MAX_SECS`: a `Retry-After` longer than this is not waited for: the
    /// request fails at once (503 with that `Retry-After`) instead of holding the client (default 5).
    pub retry_after_max: Duration,
}

/// Everything the voice area reads from the environment.
#[derive(Debug, Clone)]
pub struct VoiceConfig {
    /// `COACH_TTS_PROVIDER`: `local` or `elevenlabs` (default: `elevenlabs` when
    /// `ELEVENLABS_API_KEY` is set, else `local`).
    pub provider: TtsProvider,
    /// `COACH_ESPEAK_BIN`: the local engine's program (default `espeak-ng` on the `PATH`).
    pub espeak_bin: PathBuf,
    /// `COACH_TTS_TIMEOUT_SECS`: longest a local synthesis process may run before it is killed
    /// (default 10 s).
    pub local_timeout: Duration,
    /// `COACH_TTS_LOCAL_CONCURRENCY`: local synthesis processes at once (default 2 × CPUs).
    pub local_concurrency: usize,
    /// ElevenLabs settings.
    pub elevenlabs: ElevenLabsConfig,
    /// `COACH_TTS_BREAKER_FAILURES`: consecutive provider failures that open the breaker (default 5).
    pub breaker_failures: u32,
    /// `COACH_TTS_BREAKER_COOLDOWN_MS`: how long an open breaker refuses calls before it lets one
    /// probe through (default 30 000 ms).
    pub breaker_cooldown: Duration,
    /// `COACH_SYNTH_PER_MINUTE`: new clips (store misses) a user may cause per minute, sustained
    /// (default 60; 429 beyond). Clips already stored are never limited.
    pub synth_per_minute: u32,
    /// `COACH_SYNTH_BURST`: new clips a user may cause at once (default 30).
    pub synth_burst: u32,
    /// `COACH_CLIP_URL_TTL_SECS`: lifetime of signed URLs of private (cloned-voice) clips (default 1 h).
    pub clip_url_ttl: Duration,
    /// `COACH_CLONE_MAX_SAMPLE_BYTES`: largest single cloning sample (default 10 MiB). The whole
    /// upload is bounded by `COACH_MAX_UPLOAD_BYTES`.
    pub clone_max_sample_bytes: usize,
    /// `COACH_CLONE_MIN_SAMPLE_SECS`: shortest usable sample (default 1 s).
    pub clone_min_sample_secs: f64,
    /// `COACH_CLONE_MAX_SAMPLE_SECS`: longest sample accepted (default 300 s): decoding stops
    /// after `max × min(rate, 48 kHz)` frames and the sample is refused as too long.
    pub clone_max_sample_secs: f64,
    /// `COACH_CLONE_PER_HOUR`: cloning attempts a user may make per hour (default 3; 429 beyond).
    /// Every attempt that passes the premium check counts, accepted or refused: the slot is taken
    /// in the database before the body is read.
    pub clones_per_hour: u32,
    /// `COACH_CLONE_CONCURRENT_UPLOADS`: clone uploads received and checked at once, server-wide
    /// (default 4). Each holds its samples in memory (at most `COACH_MAX_UPLOAD_BYTES`).
    pub clone_concurrent_uploads: usize,
    /// `COACH_CLONE_CONCURRENT_CHECKS`: cloning samples decoded at once, server-wide (default: the
    /// number of CPUs, at most 4). Each check holds at most 30 s of mono samples (≤ 11 MiB at
    /// 96 kHz) and the decoder's tables (≤ 32 MiB for Vorbis codebooks, far less otherwise).
    pub clone_concurrent_checks: usize,
    /// `COACH_CLONE_QUEUE_SECS`: how long an upload or a sample check waits for its turn before
    /// the request is answered 503 with `Retry-After` (default 10 s).
    pub clone_queue_wait: Duration,
}

impl Default for VoiceConfig {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Self {
            provider: TtsProvider::Local,
            espeak_bin: PathBuf::from("espeak-ng"),
            local_timeout: Duration::from_secs(10),
            local_concurrency: cpus * 2,
            elevenlabs: ElevenLabsConfig {
                api_key: None,
                base_url: "https://api.elevenlabs.io".into(),
                model: "eleven_multilingual_v2".into(),
                output_format: "mp3_44100_64".into(),
                voice_alice: "EXAVITQu4vr4xnSDxMaL".into(),
                voice_aiden: "JBFqnCBsd6RMkjVDRZzb".into(),
                timeout: Duration::from_secs(10),
                max_retries: 2,
                backoff_min: Duration::from_millis(250),
                retry_after_max: Duration::from_secs(5),
            },
            breaker_failures: 5,
            breaker_cooldown: Duration::from_secs(30),
            synth_per_minute: 60,
            synth_burst: 30,
            clip_url_ttl: Duration::from_secs(3600),
            clone_max_sample_bytes: 10 * 1024 * 1024,
            clone_min_sample_secs: 1.0,
            clone_max_sample_secs: 300.0,
            clones_per_hour: 3,
            clone_concurrent_uploads: 4,
            clone_concurrent_checks: cpus.min(4),
            clone_queue_wait: Duration::from_secs(10),
        }
    }
}

impl VoiceConfig {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self> {
        let d = Self::default();
        let api_key = env("ELEVENLABS_API_KEY");
        let provider = match env("COACH_TTS_PROVIDER").map(|p| p.to_ascii_lowercase()).as_deref() {
            None if api_key.is_some() => TtsProvider::ElevenLabs,
            None | Some("local") => TtsProvider::Local,
            Some("elevenlabs") => TtsProvider::ElevenLabs,
            Some(other) => bail!("COACH_TTS_PROVIDER={other:?}: expected local or elevenlabs"),
        };
        let e = d.elevenlabs;
        let cfg = Self {
            provider,
            espeak_bin: env("COACH_ESPEAK_BIN").map(PathBuf::from).unwrap_or(d.espeak_bin),
            local_timeout: Duration::from_secs(env_parse("COACH_TTS_TIMEOUT_SECS", 10u64)?),
            local_concurrency: env_parse("COACH_TTS_LOCAL_CONCURRENCY", d.local_concurrency)?.max(1),
            elevenlabs: ElevenLabsConfig {
                api_key,
                base_url: env("ELEVENLABS_BASE_URL").unwrap_or(e.base_url).trim_end_matches('/').to_string(),
                model: env("ELEVENLABS_MODEL").unwrap_or(e.model),
                output_format: env("ELEVENLABS_OUTPUT_FORMAT").unwrap_or(e.output_format),
                voice_alice: env("ELEVENLABS_VOICE_ALICE").unwrap_or(e.voice_alice),
                voice_aiden: env("ELEVENLABS_VOICE_AIDEN").unwrap_or(e.voice_aiden),
                timeout: Duration::from_secs(env_parse("ELEVENLABS_TIMEOUT_SECS", 10u64)?),
                max_retries: env_parse("ELEVENLABS_MAX_RETRIES", e.max_retries)?,
                backoff_min: Duration::from_millis(env_parse("ELEVENLABS_BACKOFF_MS", 250u64)?),
                retry_after_max: Duration::from_secs(env_parse("ELEVENLABS_RETRY_AFTER_MAX_SECS", 5u64)?),
            },
            breaker_failures: env_parse("COACH_TTS_BREAKER_FAILURES", d.breaker_failures)?.max(1),
            breaker_cooldown: Duration::from_millis(env_parse("COACH_TTS_BREAKER_COOLDOWN_MS", 30_000u64)?),
            synth_per_minute: env_parse("COACH_SYNTH_PER_MINUTE", d.synth_per_minute)?,
            synth_burst: env_parse("COACH_SYNTH_BURST", d.synth_burst)?,
            clip_url_ttl: Duration::from_secs(env_parse("COACH_CLIP_URL_TTL_SECS", 3600u64)?.max(1)),
            clone_max_sample_bytes: env_parse("COACH_CLONE_MAX_SAMPLE_BYTES", d.clone_max_sample_bytes)?,
            clone_min_sample_secs: env_parse("COACH_CLONE_MIN_SAMPLE_SECS", d.clone_min_sample_secs)?,
            clone_max_sample_secs: env_parse("COACH_CLONE_MAX_SAMPLE_SECS", d.clone_max_sample_secs)?,
            clones_per_hour: env_parse("COACH_CLONE_PER_HOUR", d.clones_per_hour)?,
            clone_concurrent_uploads: env_parse("COACH_CLONE_CONCURRENT_UPLOADS", d.clone_concurrent_uploads)?.max(1),
            clone_concurrent_checks: env_parse("COACH_CLONE_CONCURRENT_CHECKS", d.clone_concurrent_checks)?.max(1),
            clone_queue_wait: Duration::from_secs(env_parse("COACH_CLONE_QUEUE_SECS", 10u64)?),
        };
        cfg.check()
    }

    fn check(self) -> Result<Self> {
        if self.provider == TtsProvider::ElevenLabs && self.elevenlabs.api_key.is_none() {
            bail!("COACH_TTS_PROVIDER=elevenlabs needs ELEVENLABS_API_KEY");
        }
        if !self.elevenlabs.output_format.starts_with("mp3_") {
            bail!("ELEVENLABS_OUTPUT_FORMAT must be an mp3_* format (clips are served as audio/mpeg)");
        }
        if !(self.clone_min_sample_secs >= 0.0 && self.clone_max_sample_secs > self.clone_min_sample_secs) {
            bail!("COACH_CLONE_MIN_SAMPLE_SECS must be below COACH_CLONE_MAX_SAMPLE_SECS");
        }
        Ok(self)
    }
}
