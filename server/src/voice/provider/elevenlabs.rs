//! The ElevenLabs HTTP API (wire format from /tmp/research/elevenlabs.md, see docs/api-voice.md):
//!
//! * `POST {base}/v1/text-to-speech/{voice_id}?output_format=mp3_44100_64` with `xi-api-key` and
//!   JSON `{text, model_id, voice_settings{stability, similarity_boost, style, use_speaker_boost,
//!   speed}}`; the answer is the audio bytes.
//! * `POST {base}/v1/voices/add`: multipart `name`, `files` (repeated), `description`, `labels`
//!   (a JSON-encoded map), `remove_background_noise`; answers `{voice_id, requires_verification}`.
//! * `DELETE {base}/v1/voices/{voice_id}`: answers `{status: "ok"}`.
//!
//! Each attempt has a timeout. 429, 5xx, timeouts, cut-off bodies and bodies that do not decode as
//! audio are retried with jittered exponential backoff (`backon`), waiting at least the
//! `Retry-After` the provider sent; a `Retry-After` beyond the configured maximum ends the retries
//! at once and is handed to the client. Errors are read from `detail.code`, else `detail.status`.
//! A refusal of the account (401 `quota_exceeded` / `invalid_api_key`) is final at once, whatever
//! its status: see [`super::AccountFailure`].

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use coach_shared::types::voice::ToneSettings;
use coach_shared::{Personality, Tone};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use reqwest::{Method, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Audio, CloneRequest, ClonedVoice, ProviderError, SpeechProvider};
use crate::voice::audio;
use crate::voice::config::ElevenLabsConfig;

/// Settings string of each tone (part of the cache key; parsed back into `voice_settings`).
const WHISPER: &str = "stability=0.8;similarity_boost=0.75;style=0;use_speaker_boost=false;speed=0.9";
const NEUTRAL: &str = "stability=0.5;similarity_boost=0.75;style=0;use_speaker_boost=true;speed=1";
const HYPE: &str = "stability=0.3;similarity_boost=0.8;style=0.6;use_speaker_boost=true;speed=1.15";

/// `voice_settings` of the text-to-speech body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoiceSettings {
    /// 0–1: lower is more expressive.
    pub stability: f64,
    /// 0–1: adherence to the original voice.
    pub similarity_boost: f64,
    /// 0–1: style exaggeration.
    pub style: f64,
    /// Boosts similarity to the speaker.
    pub use_speaker_boost: bool,
    /// 0.7–1.2.
    pub speed: f64,
}

impl VoiceSettings {
    /// Parses a canonical settings string.
    pub fn parse(s: &str) -> Option<Self> {
        let mut v =
            VoiceSettings { stability: 0.5, similarity_boost: 0.75, style: 0.0, use_speaker_boost: true, speed: 1.0 };
        for part in s.split(';') {
            let (k, val) = part.split_once('=')?;
            let num = || val.parse::<f64>().ok().filter(|x| x.is_finite());
            match k {
                "stability" => v.stability = num()?,
                "similarity_boost" => v.similarity_boost = num()?,
                "style" => v.style = num()?,
                "speed" => v.speed = num()?,
                "use_speaker_boost" => v.use_speaker_boost = val.parse().ok()?,
                _ => return None,
            }
        }
        Some(v)
    }
}

/// What one attempt ended with.
#[derive(Debug)]
enum Attempt {
    /// Worth another attempt.
    Retry { reason: String, retry_after: Option<Duration> },
    /// Final.
    Fail(ProviderError),
}

impl Attempt {
    fn into_error(self) -> ProviderError {
        match self {
            Attempt::Retry { reason, retry_after } => ProviderError::Unavailable { reason, retry_after },
            Attempt::Fail(e) => e,
        }
    }
}

/// The real client.
pub struct ElevenLabsProvider {
    http: reqwest::Client,
    cfg: ElevenLabsConfig,
    key: String,
}

impl ElevenLabsProvider {
    /// A client for `cfg` (which must carry an API key).
    pub fn new(cfg: &ElevenLabsConfig) -> anyhow::Result<Self> {
        // rustls with the ring provider (aws-lc-rs would need cmake to build).
        crate::install_tls_provider();
        let key = cfg.api_key.clone().ok_or_else(|| anyhow::anyhow!("ELEVENLABS_API_KEY is not set"))?;
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("coach-server/", env!("CARGO_PKG_VERSION")))
            .build()?;
        url::Url::parse(&cfg.base_url).map_err(|e| anyhow::anyhow!("ELEVENLABS_BASE_URL: {e}"))?;
        Ok(Self { http, cfg: cfg.clone(), key })
    }

    fn url(&self, segments: &[&str]) -> url::Url {
        let mut u = url::Url::parse(&self.cfg.base_url).expect("checked at start");
        u.path_segments_mut().expect("http base").pop_if_empty().extend(segments);
        u
    }

    /// Runs `attempt` with the retry policy (see the module docs).
    async fn with_retries<T, F, Fut>(&self, op: &'static str, attempt: F) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Attempt>>,
    {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.cfg.backoff_min)
            .with_max_delay(self.cfg.backoff_min * 8)
            .with_max_times(self.cfg.max_retries)
            .with_jitter();
        let cap = self.cfg.retry_after_max;
        attempt
            .retry(backoff)
            .when(|e| matches!(e, Attempt::Retry { .. }))
            .adjust(move |e, next| match (e, next) {
                (_, None) => None,
                (Attempt::Retry { retry_after: Some(ra), .. }, Some(_)) if *ra > cap => None,
                (Attempt::Retry { retry_after: Some(ra), .. }, Some(d)) => Some(d.max(*ra)),
                (_, d) => d,
            })
            .notify(|e, wait| tracing::warn!(op, error = ?e, ?wait, "elevenlabs: retrying"))
            .await
            .map_err(Attempt::into_error)
    }

    fn request(&self, method: Method, url: url::Url) -> reqwest::RequestBuilder {
        self.http.request(method, url).header("xi-api-key", &self.key)
    }

    async fn tts_once(&self, url: &url::Url, body: &Value) -> Result<Audio, Attempt> {
        let resp = self
            .request(Method::POST, url.clone())
            .header("accept", "audio/mpeg")
            .json(body)
            .send()
            .await
            .map_err(transport)?;
        let resp = check_status(resp, true).await?;
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| Attempt::Retry { reason: format!("audio body cut off: {e}"), retry_after: None })?;
        let probe = bytes.clone();
        let info = tokio::task::spawn_blocking(move || audio::inspect(probe, Some("mp3"), 600.0, false))
            .await
            .map_err(|e| Attempt::Fail(ProviderError::unavailable(format!("decoder task: {e}"))))?;
        match info {
            Ok(info) if audio::looks_like_mp3(&bytes) && info.duration > 0.0 => {
                Ok(Audio { bytes, content_type: "audio/mpeg", duration: info.duration })
            }
            Ok(_) => Err(Attempt::Retry { reason: "answer is not MP3 audio".into(), retry_after: None }),
            Err(e) => Err(Attempt::Retry { reason: format!("answer is not audio: {e}"), retry_after: None }),
        }
    }

    async fn clone_once(&self, req: &CloneRequest) -> Result<ClonedVoice, Attempt> {
        let mut labels = serde_json::Map::new();
        labels.insert("source".into(), json!("coach"));
        if let Some(p) = req.personality {
            labels.insert("personality".into(), json!(p.as_str()));
        }
        let mut form = reqwest::multipart::Form::new()
            .text("name", req.name.clone())
            .text("description", req.description.clone())
            .text("labels", Value::Object(labels).to_string())
            .text("remove_background_noise", "false");
        for s in &req.samples {
            let part = reqwest::multipart::Part::stream_with_length(s.bytes.clone(), s.bytes.len() as u64)
                .file_name(s.file_name.clone())
                .mime_str(&s.content_type)
                .map_err(|e| Attempt::Fail(ProviderError::unavailable(format!("multipart: {e}"))))?;
            form = form.part("files", part);
        }
        let resp = self
            .request(Method::POST, self.url(&["v1", "voices", "add"]))
            .multipart(form)
            .send()
            .await
            .map_err(transport)?;
        let resp = check_status(resp, false).await?;
        #[derive(Deserialize)]
        struct Added {
            voice_id: String,
            #[serde(default)]
            requires_verification: bool,
        }
        let added: Added = resp
            .json()
            .await
            .map_err(|e| Attempt::Retry { reason: format!("unreadable voices/add answer: {e}"), retry_after: None })?;
        if added.voice_id.is_empty()
            || added.voice_id.len() > 64
            || !added.voice_id.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(Attempt::Fail(ProviderError::unavailable("voices/add answered an invalid voice_id")));
        }
        Ok(ClonedVoice { voice_id: added.voice_id, requires_verification: added.requires_verification })
    }

    async fn delete_once(&self, voice_id: &str) -> Result<(), Attempt> {
        let resp =
            self.request(Method::DELETE, self.url(&["v1", "voices", voice_id])).send().await.map_err(transport)?;
        match check_status(resp, true).await {
            Ok(_) => Ok(()),
            // Already gone (404 today, 400 `voice_not_found` in older answers).
            Err(Attempt::Fail(ProviderError::Rejected { status: 404, .. })) => Ok(()),
            Err(Attempt::Fail(ProviderError::Rejected { code, .. }))
                if code.contains("not_found") || code == "voice_does_not_exist" =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

fn transport(e: reqwest::Error) -> Attempt {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    Attempt::Retry { reason: format!("elevenlabs {what}: {e}"), retry_after: None }
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(resp: &Response) -> Option<Duration> {
    let v = resp.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let ms = at.timestamp_millis() - chrono::Utc::now().timestamp_millis();
    Some(Duration::from_millis(ms.max(0) as u64))
}

/// Error codes that refuse the account rather than the request (ElevenLabs answers them with 401
/// `{"detail":{"status":"quota_exceeded","message":"This request exceeds your quota of 10000. …"}}`
/// and `{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}`): never retried.
const ACCOUNT_CODES: [&str; 2] = ["quota_exceeded", "invalid_api_key"];

/// Passes 2xx through; classifies everything else. `retry_5xx` is false for a call that is not
/// idempotent (voices/add), where a 500 may have done the work already: only 429, 408 and the
/// gateway errors are retried then.
async fn check_status(resp: Response, retry_5xx: bool) -> Result<Response, Attempt> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let after = retry_after(&resp);
    let text = resp.text().await.unwrap_or_default();
    let (code, message) = error_detail(&text);
    if ACCOUNT_CODES.contains(&code.as_str()) {
        // The account, not this request: final whatever the status (retrying spends nothing but time).
        return Err(Attempt::Fail(ProviderError::Rejected { status: status.as_u16(), code, message }));
    }
    let retry = status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || matches!(status.as_u16(), 502..=504)
        || (retry_5xx && status.is_server_error());
    if retry {
        Err(Attempt::Retry { reason: format!("elevenlabs answered {status} {code}: {message}"), retry_after: after })
    } else if status.is_server_error() {
        Err(Attempt::Fail(ProviderError::Unavailable {
            reason: format!("elevenlabs answered {status} {code}: {message}"),
            retry_after: after,
        }))
    } else {
        Err(Attempt::Fail(ProviderError::Rejected { status: status.as_u16(), code, message }))
    }
}

/// `(code, message)` of an error body: `detail.code`, else `detail.status`; FastAPI's list form;
/// raw text otherwise.
pub fn error_detail(body: &str) -> (String, String) {
    let short = |s: &str| s.chars().take(300).collect::<String>();
    match serde_json::from_str::<Value>(body).ok().and_then(|v| v.get("detail").cloned()) {
        Some(Value::Object(d)) => {
            let code = d.get("code").or_else(|| d.get("status")).and_then(Value::as_str).unwrap_or("error");
            let msg = d.get("message").and_then(Value::as_str).unwrap_or("");
            (code.to_string(), short(msg))
        }
        Some(Value::Array(items)) => {
            let msg = items.iter().filter_map(|i| i.get("msg").and_then(Value::as_str)).collect::<Vec<_>>().join("; ");
            ("validation_error".into(), short(&msg))
        }
        _ => ("error".into(), short(body.trim())),
    }
}

impl SpeechProvider for ElevenLabsProvider {
    fn name(&self) -> &'static str {
        "elevenlabs"
    }

    fn model(&self) -> String {
        format!("elevenlabs/{}", self.cfg.model)
    }

    fn format(&self) -> String {
        self.cfg.output_format.clone()
    }

    fn personality_voice(&self, personality: Personality) -> String {
        match personality {
            Personality::Alice => self.cfg.voice_alice.clone(),
            Personality::Aiden => self.cfg.voice_aiden.clone(),
        }
    }

    fn owns_voice(&self, voice: &str) -> bool {
        !voice.is_empty() && voice.len() <= 64 && voice.bytes().all(|b| b.is_ascii_alphanumeric())
    }

    fn tone_settings(&self, _voice: &str) -> ToneSettings {
        ToneSettings { whisper: WHISPER.into(), neutral: NEUTRAL.into(), hype: HYPE.into() }
    }

    fn synthesize<'a>(
        &'a self,
        text: &'a str,
        voice: &'a str,
        _tone: Tone,
        settings: &'a str,
    ) -> BoxFuture<'a, Result<Audio, ProviderError>> {
        async move {
            let vs = VoiceSettings::parse(settings)
                .ok_or_else(|| ProviderError::unavailable(format!("invalid voice settings {settings:?}")))?;
            let mut url = self.url(&["v1", "text-to-speech", voice]);
            url.query_pairs_mut().append_pair("output_format", &self.cfg.output_format);
            let body = json!({ "text": text, "model_id": self.cfg.model, "voice_settings": vs });
            self.with_retries("text-to-speech", || self.tts_once(&url, &body)).await
        }
        .boxed()
    }

    fn clone_voice<'a>(&'a self, req: &'a CloneRequest) -> BoxFuture<'a, Result<ClonedVoice, ProviderError>> {
        async move { self.with_retries("voices/add", || self.clone_once(req)).await }.boxed()
    }

    fn delete_voice<'a>(&'a self, voice_id: &'a str) -> BoxFuture<'a, Result<(), ProviderError>> {
        async move { self.with_retries("voices/delete", || self.delete_once(voice_id)).await }.boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tone_settings_parse_into_voice_settings() {
        for s in [WHISPER, NEUTRAL, HYPE] {
            let v = VoiceSettings::parse(s).unwrap();
            assert!((0.7..=1.2).contains(&v.speed), "{s}");
            assert!((0.0..=1.0).contains(&v.stability) && (0.0..=1.0).contains(&v.style));
        }
        assert!(VoiceSettings::parse("stability=x").is_none());
        assert!(VoiceSettings::parse("loudness=1").is_none());
    }

    #[test]
    fn error_bodies_in_every_shape() {
        assert_eq!(
            error_detail(r#"{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}"#),
            ("invalid_api_key".into(), "Invalid API key".into())
        );
        assert_eq!(
            error_detail(
                r#"{"detail":{"type":"rate_limit_error","code":"rate_limit_exceeded","status":"x","message":"slow"}}"#
            )
            .0,
            "rate_limit_exceeded"
        );
        assert_eq!(
            error_detail(r#"{"detail":[{"loc":["body","text"],"msg":"Field required","type":"missing"}]}"#).1,
            "Field required"
        );
        assert_eq!(error_detail("Bad Gateway").1, "Bad Gateway");
        // The real quota answer (status only, no code).
        let quota = r#"{"detail":{"status":"quota_exceeded","message":"This request exceeds your quota of 10000. You have 0 credits remaining, while 91 credits are required for this request."}}"#;
        let (code, message) = error_detail(quota);
        let e = ProviderError::Rejected { status: 401, code, message };
        assert_eq!(e.account_failure(), Some(super::super::AccountFailure::QuotaExceeded));
        assert!(!e.counts_against_health());
    }
}
