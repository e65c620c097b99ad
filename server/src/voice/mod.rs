//! Voice: preferences, synthesis through a speech provider (local `espeak-ng` or ElevenLabs) into a
//! content-addressed clip store, the per-user cache index, cloning and voice interactions — the 11
//! operations of the Voice Synthesis API plus `GET /v1/voice/profile` and the clip URLs.
//!
//! | module | role |
//! |---|---|
//! | [`preferences`] | `GET`/`PUT /v1/voice/preferences`, `GET /v1/voice/profile` |
//! | [`synth`] | `POST /v1/voice/synthesize`, single-flight generation |
//! | [`clips`], [`clip_store`] | clip URLs (ETag, Range, signed URLs); files + `voice_clips` |
//! | [`cache_index`] | `/v1/voice/cache`: ≤ 10 entries per user, random rotation |
//! | [`clone`], [`pitch`] | `POST /v1/voice/clone`, `GET /v1/voice/clone/status` |
//! | [`clone_admission`], [`clone_upload`] | clone limits (per-user slots, upload/check turns), the upload's checks |
//! | [`interactions`] | `/v1/voice/interactions` |
//! | [`outbox`] | cloned voices to delete at the provider, delivered after the commit with backoff |
//! | [`provider`] | the `SpeechProvider` trait, the local engine, ElevenLabs, the circuit breaker |
//! | [`audio`] | WAV fix-up, MP3 encoding, decoding checks |
//! | [`config`] | settings |
//!
//! docs/api-voice.md describes the behaviour; docs/architecture.md the data flow.

pub mod audio;
pub mod cache_index;
pub mod clip_store;
pub mod clips;
pub mod clone;
pub mod clone_admission;
pub mod clone_upload;
pub mod config;
pub mod interactions;
pub mod outbox;
pub mod pitch;
pub mod preferences;
pub mod provider;
pub mod synth;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use config::{TtsProvider, VoiceConfig};

use crate::auth::AuthUser;
use crate::config::Config;
use crate::error::AppError;
use crate::ratelimit::UserRateLimiter;
use crate::state::AppState;
use clip_store::ClipStore;
use provider::breaker::Breaker;
use provider::{ProviderError, SpeechProvider};

/// The routes of the voice area.
pub fn router() -> OpenApiRouter<AppState> {
    // Samples are streamed and bounded by the clone handler itself (per file and in total).
    let uploads = OpenApiRouter::new().routes(routes!(clone::start)).layer(DefaultBodyLimit::disable());
    OpenApiRouter::new()
        .routes(routes!(preferences::get_preferences, preferences::put_preferences))
        .routes(routes!(preferences::get_profile))
        .routes(routes!(synth::synthesize))
        .routes(routes!(cache_index::list, cache_index::clear))
        .routes(routes!(cache_index::get_entry, cache_index::delete_entry))
        .routes(routes!(clone::status))
        .routes(routes!(interactions::record))
        .routes(routes!(interactions::for_workout))
        .merge(uploads)
}

/// The clip byte route (`GET`/`HEAD /v1/voice/clips/{file}`): immutable public bytes, served with
/// a lighter layer stack than the API (see `app::build_router`).
pub fn clip_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(clips::get_clip))
}

/// 403 `premium_required` unless the caller is premium.
pub fn require_premium(auth: &AuthUser) -> Result<(), AppError> {
    if auth.user.is_premium() { Ok(()) } else { Err(AppError::premium_required()) }
}

/// Prometheus collectors of the voice area. The cache hit rate per provider is
/// `hit / (hit + miss + coalesced)` of `coach_voice_cache_requests_total`.
pub struct VoiceMetrics {
    /// `coach_voice_cache_requests_total{provider,result}`: `hit` (clip already stored, no provider
    /// call), `miss` (this request made the clip), `coalesced` (joined another request's call).
    pub cache_requests: IntCounterVec,
    /// `coach_voice_provider_requests_total{provider,operation,outcome}`: provider calls by outcome
    /// (`ok`, `unavailable`, `rejected`, `breaker_open`).
    pub provider_requests: IntCounterVec,
    /// `coach_voice_generation_seconds{provider}`: time to make a new clip.
    pub generation_seconds: HistogramVec,
    /// `coach_voice_cache_evictions_total`: index entries removed by the random rotation.
    pub evictions: IntCounter,
    /// `coach_voice_provider_failures_total{provider,reason}`: provider calls refused for the
    /// account (`quota_exceeded`, `invalid_api_key`, `unauthorized`): they need an operator, and
    /// they do not open the breaker, so this is where they show.
    pub provider_failures: IntCounterVec,
}

impl VoiceMetrics {
    fn new(registry: &Registry) -> anyhow::Result<(Self, IntGauge)> {
        let cache_requests = IntCounterVec::new(
            Opts::new("coach_voice_cache_requests_total", "Synthesis requests by clip-store outcome"),
            &["provider", "result"],
        )?;
        let provider_requests = IntCounterVec::new(
            Opts::new("coach_voice_provider_requests_total", "Speech provider calls by outcome"),
            &["provider", "operation", "outcome"],
        )?;
        let generation_seconds = HistogramVec::new(
            HistogramOpts::new("coach_voice_generation_seconds", "Time to synthesize and store a new clip")
                .buckets(vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
            &["provider"],
        )?;
        let evictions = IntCounter::new("coach_voice_cache_evictions_total", "Cache index entries evicted")?;
        let provider_failures = IntCounterVec::new(
            Opts::new(
                "coach_voice_provider_failures_total",
                "Speech provider calls refused for the account (quota, key)",
            ),
            &["provider", "reason"],
        )?;
        let breaker =
            IntGauge::new("coach_voice_breaker_state", "Speech provider breaker: 0 closed, 1 half-open, 2 open")?;
        registry.register(Box::new(cache_requests.clone()))?;
        registry.register(Box::new(provider_requests.clone()))?;
        registry.register(Box::new(generation_seconds.clone()))?;
        registry.register(Box::new(evictions.clone()))?;
        registry.register(Box::new(breaker.clone()))?;
        registry.register(Box::new(provider_failures.clone()))?;
        Ok((Self { cache_requests, provider_requests, generation_seconds, evictions, provider_failures }, breaker))
    }
}

/// Long-lived pieces of the voice area.
pub struct VoiceService {
    /// The configured provider.
    pub provider: Arc<dyn SpeechProvider>,
    /// In front of every provider call.
    pub breaker: Breaker,
    /// Clip files and metadata.
    pub clips: ClipStore,
    /// Counters.
    pub metrics: VoiceMetrics,
    /// Per-user limit of new clips (store misses): provider calls cost money and time.
    pub synth_limiter: UserRateLimiter,
    /// Generations in flight, so identical concurrent requests share one provider call.
    pub(crate) inflight: synth::InFlight,
    /// Server-wide bounds on cloning uploads and sample checks.
    pub clone_gate: clone_admission::CloneGate,
}

impl VoiceService {
    /// Builds the provider `config` asks for, the breaker and the clip store.
    pub async fn new(config: &Config, registry: &Registry) -> anyhow::Result<Self> {
        let provider = provider::from_config(&config.voice).await?;
        Self::with_provider(config, registry, provider)
    }

    /// Like [`VoiceService::new`] with a given provider.
    pub fn with_provider(
        config: &Config,
        registry: &Registry,
        provider: Arc<dyn SpeechProvider>,
    ) -> anyhow::Result<Self> {
        let (metrics, gauge) = VoiceMetrics::new(registry)?;
        for reason in provider::AccountFailure::ALL {
            metrics.provider_failures.with_label_values(&[provider.name(), reason.as_str()]);
        }
        Ok(Self {
            provider,
            breaker: Breaker::new(config.voice.breaker_failures, config.voice.breaker_cooldown, gauge),
            clips: ClipStore::new(&config.data_dir)?,
            metrics,
            synth_limiter: UserRateLimiter::new(
                "new voice clip",
                config.voice.synth_per_minute,
                config.voice.synth_burst,
            ),
            inflight: Default::default(),
            clone_gate: clone_admission::CloneGate::new(&config.voice),
        })
    }

    /// Runs one provider call through the breaker, counting its outcome.
    pub async fn call<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, ProviderError>>,
    ) -> Result<T, ProviderError> {
        let name = self.provider.name();
        let count = |outcome: &str| self.metrics.provider_requests.with_label_values(&[name, operation, outcome]).inc();
        let permit = match self.breaker.try_acquire() {
            Ok(p) => p,
            Err(wait) => {
                count("breaker_open");
                return Err(ProviderError::Unavailable {
                    reason: "the speech provider is failing; calls are paused (circuit open)".into(),
                    retry_after: Some(wait),
                });
            }
        };
        let result = call.await;
        match &result {
            Ok(_) => {
                count("ok");
                permit.success();
            }
            Err(e) => {
                count(e.kind());
                if let Some(account) = e.account_failure() {
                    self.metrics.provider_failures.with_label_values(&[name, account.as_str()]).inc();
                    tracing::error!(provider = name, operation, reason = account.as_str(), error = %e,
                        "speech provider refused the service's account: {}; voice degrades to text until an operator acts",
                        account.describe());
                    permit.neutral();
                } else {
                    tracing::warn!(provider = name, operation, error = %e, "speech provider call failed");
                    if e.counts_against_health() { permit.failure() } else { permit.success() }
                }
            }
        }
        result
    }
}

/// The server's random source for the cache rotation: the thread-local CSPRNG of `rand`.
pub struct ServerRng;

impl coach_shared::RandomSource for ServerRng {
    fn below(&mut self, n: usize) -> usize {
        use rand::RngExt;
        rand::rng().random_range(0..n)
    }
}
