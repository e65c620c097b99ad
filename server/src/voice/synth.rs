//! `POST /v1/voice/synthesize`: premium and voice enabled; the tone adapted from the context; the
//! clip found in the store by its key or made once by the provider (single-flight: concurrent
//! identical requests share one provider call); the user's cache index updated; answered as JSON
//! or, when the request accepts `audio/*`, as the audio bytes. A provider failure degrades to 503
//! `voice_unavailable` with the text in `details` (the app shows it) and a closed `details.reason`
//! (`quota_exceeded`, `invalid_api_key`, `unauthorized`, `provider_unavailable`,
//! `provider_refused`, `clip_store`, `timeout`), never a 500 and never the provider's own text.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coach_shared::Tone;
use coach_shared::types::voice::{VoiceSynthesisRequest, VoiceSynthesisResponse};
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use serde_json::json;

use super::clip_store::ClipMeta;
use super::preferences::{self, effective_tone};
use super::provider::{AccountFailure, ProviderError};
use super::{VoiceService, cache_index, clips, require_premium};
use crate::auth::AuthUser;
use crate::db::Db;
use crate::error::{ApiResult, AppError};
use crate::extract::ApiJson;
use crate::state::AppState;

/// Why a clip could not be produced.
#[derive(Debug, Clone)]
pub enum GenError {
    /// The provider failed (or the breaker is open).
    Provider(ProviderError),
    /// Storing or reading the clip failed.
    Store(String),
}

type SharedClip = Shared<BoxFuture<'static, Result<Arc<ClipMeta>, GenError>>>;

/// Generations in flight by clip key.
pub type InFlight = Mutex<HashMap<String, SharedClip>>;

/// Everything needed to make one clip.
#[derive(Debug, Clone)]
pub struct ClipJob {
    /// The clip key (from the caller's profile).
    pub key: String,
    /// Normalized text.
    pub text: String,
    /// Provider voice.
    pub voice: String,
    /// Tone.
    pub tone: Tone,
    /// The tone's settings string (the one in the key).
    pub settings: String,
    /// The user, when the voice is their cloned voice.
    pub owner: Option<String>,
}

/// Where a clip came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Already in the store: no provider call.
    Stored,
    /// This request made it.
    Generated,
    /// Another request was making it; this one waited for that call.
    Joined,
}

impl Origin {
    fn label(self) -> &'static str {
        match self {
            Origin::Stored => "hit",
            Origin::Generated => "miss",
            Origin::Joined => "coalesced",
        }
    }
}

impl VoiceService {
    /// The clip for `job`: from the store, from a generation in flight, or made now.
    pub async fn clip(self: &Arc<Self>, db: &Db, job: ClipJob) -> Result<(Arc<ClipMeta>, Origin), GenError> {
        if let Some(m) = self.clips.find(db, &job.key).await.map_err(|e| GenError::Store(e.to_string()))? {
            return Ok((m, Origin::Stored));
        }
        let (shared, origin) = {
            let mut inflight = self.inflight.lock().expect("in-flight map");
            if let Some(f) = inflight.get(&job.key) {
                (f.clone(), Origin::Joined)
            } else if let Some(m) = self.clips.cached(&job.key) {
                // Finished between the lookup above and taking the lock.
                return Ok((m, Origin::Stored));
            } else {
                let key = job.key.clone();
                let (svc, db) = (self.clone(), db.clone());
                // A task of its own: a client that hangs up does not cancel the others' clip.
                let task = tokio::spawn(async move {
                    let key = job.key.clone();
                    let result = svc.generate(&db, job).await;
                    svc.inflight.lock().expect("in-flight map").remove(&key);
                    result
                });
                let shared = async move { task.await.unwrap_or_else(|e| Err(GenError::Store(format!("task: {e}")))) }
                    .boxed()
                    .shared();
                inflight.insert(key, shared.clone());
                (shared, Origin::Generated)
            }
        };
        shared.await.map(|m| (m, origin))
    }

    async fn generate(&self, db: &Db, job: ClipJob) -> Result<Arc<ClipMeta>, GenError> {
        let started = Instant::now();
        let name = self.provider.name();
        let audio = self
            .call("synthesize", self.provider.synthesize(&job.text, &job.voice, job.tone, &job.settings))
            .await
            .map_err(GenError::Provider)?;
        let meta = ClipMeta {
            cache_key: job.key,
            content_type: audio.content_type.to_string(),
            byte_size: audio.bytes.len() as i64,
            duration: audio.duration,
            provider: name.to_string(),
            voice: job.voice,
            owner_user_id: job.owner,
            created_at: 0,
        };
        let stored = self.clips.put(db, meta, &audio.bytes).await.map_err(|e| GenError::Store(format!("{e:#}")))?;
        self.metrics.generation_seconds.with_label_values(&[name]).observe(started.elapsed().as_secs_f64());
        Ok(stored)
    }
}

/// Why a 503 was answered: a closed set for `details.reason`, each with a sentence for `message`.
/// The provider's own text (which may quote its error body) stays in the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    /// The provider refused the service's account (quota, key): needs an operator.
    Account(AccountFailure),
    /// Down, timing out, answering garbage, or the breaker is open.
    ProviderDown,
    /// The provider refused this request (e.g. an unknown voice).
    Refused,
    /// The clip could not be stored or read back.
    Storage,
    /// Generation ran past the request's deadline.
    TooSlow,
}

impl Why {
    fn of(e: &ProviderError) -> Why {
        match (e.account_failure(), e) {
            (Some(a), _) => Why::Account(a),
            (None, ProviderError::Unavailable { .. }) => Why::ProviderDown,
            (None, ProviderError::Rejected { .. }) => Why::Refused,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Why::Account(a) => a.as_str(),
            Why::ProviderDown => "provider_unavailable",
            Why::Refused => "provider_refused",
            Why::Storage => "clip_store",
            Why::TooSlow => "timeout",
        }
    }

    fn sentence(self) -> &'static str {
        match self {
            Why::Account(a) => a.describe(),
            Why::ProviderDown => "the speech provider is not answering",
            Why::Refused => "the speech provider refused this request",
            Why::Storage => "the clip could not be stored",
            Why::TooSlow => "synthesis took too long",
        }
    }
}

/// 503 `voice_unavailable` carrying what the app needs for its text-only mode, and why.
fn unavailable(provider: &str, text: &str, tone: Tone, why: Why, retry_after: Option<Duration>) -> AppError {
    AppError::Unavailable {
        code: "voice_unavailable",
        message: format!("Voice is unavailable ({}); show the text instead", why.sentence()),
        details: Some(json!({ "text": text, "tone": tone, "provider": provider, "reason": why.code() })),
        retry_after_secs: retry_after.map(|d| d.as_secs().max(1)),
    }
}

/// Whether the answer should be the audio itself: `Accept` prefers `audio/mpeg` (or `audio/*`) at
/// least as much as `application/json`. Only other audio types → 406.
pub fn wants_audio(headers: &HeaderMap) -> Result<bool, AppError> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else { return Ok(false) };
    let (mut audio, mut json, mut any, mut other_audio) = (0f32, 0f32, 0f32, false);
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0)
            .clamp(0.0, 1.0);
        match media.as_str() {
            "audio/mpeg" | "audio/mp3" | "audio/*" => audio = audio.max(q),
            "application/json" | "application/*" => json = json.max(q),
            "*/*" => any = any.max(q),
            m if m.starts_with("audio/") => other_audio = true,
            _ => {}
        }
    }
    if audio > 0.0 && audio >= json {
        Ok(true)
    } else if json > 0.0 || any > 0.0 || !other_audio {
        Ok(false)
    } else {
        Err(AppError::Status {
            status: StatusCode::NOT_ACCEPTABLE,
            code: "not_acceptable",
            message: "Clips are available as audio/mpeg or described as application/json".into(),
        })
    }
}

/// Synthesize voice audio for a text in a tone.
#[utoipa::path(post, path = "/v1/voice/synthesize", tag = "Voice Synthesis",
    request_body = VoiceSynthesisRequest,
    params(("Accept" = Option<String>, Header, description = "`audio/mpeg` (or `audio/*`) for the bytes; JSON otherwise")),
    responses(
        (status = 200, description = "Voice audio generated successfully",
         content((VoiceSynthesisResponse = "application/json"), (Vec<u8> = "audio/mpeg"))),
        (status = 400, description = "Invalid synthesis request", body = coach_shared::ErrorResponse),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 403, description = "Premium subscription required (`premium_required`), or voice turned off in the preferences (`voice_disabled`)", body = coach_shared::ErrorResponse),
        (status = 406, description = "Only an unsupported audio type is acceptable", body = coach_shared::ErrorResponse),
        (status = 413, description = "Body too large", body = coach_shared::ErrorResponse),
        (status = 429, description = "Voice synthesis rate limit exceeded", body = coach_shared::ErrorResponse),
        (status = 503, description = "The speech provider is unavailable: `details.text` carries the text to show, `details.reason` says why (`quota_exceeded`, `invalid_api_key`, `unauthorized`, `provider_unavailable`, `provider_refused`, `clip_store`, `timeout`)", body = coach_shared::ErrorResponse)),
    security(("BearerAuth" = [])))]
pub async fn synthesize(
    State(state): State<AppState>,
    auth: AuthUser,
    headers: HeaderMap,
    ApiJson(req): ApiJson<VoiceSynthesisRequest>,
) -> ApiResult<Response> {
    let started = Instant::now();
    require_premium(&auth)?;
    let audio_answer = wants_audio(&headers)?;
    let prefs = preferences::effective(&state.db, auth.id()).await?;
    if !prefs.voice_enabled {
        return Err(AppError::Forbidden {
            code: "voice_disabled",
            message: "Voice is turned off in your voice preferences (voiceEnabled is false)".into(),
        });
    }
    let voice = &state.voice;
    let tone = effective_tone(&prefs, req.tone, &req.context, req.force_tone);
    let profile = voice.profile(&prefs, req.personality);
    let text = coach_shared::normalize_text(&req.text);
    let key = profile.clip_key(&text, tone);
    let job = ClipJob {
        key: key.clone(),
        text,
        settings: profile.settings.for_tone(tone).to_string(),
        owner: voice.is_personal(&prefs, &profile.voice).then(|| auth.id().to_string()),
        voice: profile.voice,
        tone,
    };
    let provider = voice.provider.name();
    // Only requests that would make a new clip count against the user's synthesis rate.
    if voice.clips.find(&state.db, &key).await?.is_none() {
        voice.synth_limiter.check(auth.id())?;
    }
    let deadline = state.config.request_timeout.saturating_sub(Duration::from_secs(2)).max(Duration::from_secs(1));
    let (meta, origin) = match tokio::time::timeout(deadline, voice.clip(&state.db, job)).await {
        Ok(Ok(found)) => found,
        // Provider failures were logged (with the provider's text) by `VoiceService::call`.
        Ok(Err(GenError::Provider(e))) => {
            let retry_after = match &e {
                ProviderError::Unavailable { retry_after, .. } => *retry_after,
                ProviderError::Rejected { .. } => None,
            };
            return Err(unavailable(provider, &req.text, tone, Why::of(&e), retry_after));
        }
        Ok(Err(GenError::Store(e))) => {
            tracing::error!(error = %e, "clip store failure");
            return Err(unavailable(provider, &req.text, tone, Why::Storage, None));
        }
        Err(_) => {
            tracing::warn!(provider, ?deadline, "synthesis ran past the request's deadline");
            return Err(unavailable(provider, &req.text, tone, Why::TooSlow, Some(Duration::from_secs(5))));
        }
    };
    voice.metrics.cache_requests.with_label_values(&[provider, origin.label()]).inc();
    let cache_id = match req.enable_caching {
        true => Some(cache_index::admit(&state, auth.id(), &meta, tone, &req.context).await?),
        false => None,
    };
    let latency = started.elapsed().as_secs_f64() * 1000.0;
    let audio_url = clips::clip_url(&state, &meta);
    if !audio_answer {
        return Ok(axum::Json(VoiceSynthesisResponse {
            audio_url,
            duration: meta.duration,
            cached: origin == Origin::Stored,
            cache_id,
            generation_latency: latency,
            tone,
            cache_key: key,
        })
        .into_response());
    }
    let bytes = voice.clips.read(&key).await.map_err(|e| {
        tracing::error!(error = %e, "clip file unreadable");
        unavailable(provider, &req.text, tone, Why::Storage, None)
    })?;
    let mut h = HeaderMap::new();
    let hv = |s: String| HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static("-"));
    h.insert(header::CONTENT_TYPE, hv(meta.content_type.clone()));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::CONTENT_LOCATION, hv(audio_url));
    h.insert(header::ETAG, hv(format!("\"{key}\"")));
    h.insert("x-cache-key", hv(key));
    h.insert("x-voice-cached", HeaderValue::from_static(if origin == Origin::Stored { "true" } else { "false" }));
    h.insert("x-voice-tone", HeaderValue::from_static(tone.as_str()));
    h.insert("x-audio-duration", hv(format!("{:.3}", meta.duration)));
    h.insert("x-generation-latency", hv(format!("{latency:.3}")));
    if let Some(id) = cache_id {
        h.insert("x-cache-id", hv(id));
    }
    Ok((StatusCode::OK, h, Body::from(bytes)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> Result<bool, AppError> {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        wants_audio(&h)
    }

    #[test]
    fn accept_negotiation() {
        assert!(!wants_audio(&HeaderMap::new()).unwrap());
        assert!(accept("audio/mpeg").unwrap());
        assert!(accept("audio/*").unwrap());
        assert!(accept("audio/mpeg, application/json;q=0.5").unwrap());
        assert!(!accept("application/json, audio/mpeg;q=0.5").unwrap());
        assert!(!accept("*/*").unwrap());
        assert!(!accept("application/json").unwrap());
        assert!(!accept("text/html").unwrap());
        assert!(accept("audio/wav").is_err());
        assert!(!accept("audio/wav, */*;q=0.1").unwrap());
    }
}
