//! A fake ElevenLabs API on 127.0.0.1:0 that speaks the wire format of /tmp/research/elevenlabs.md
//! and checks every request strictly (headers, query, JSON fields and ranges, multipart parts). A
//! violation is answered like the real API would (401, 422 with the FastAPI list body, 404) AND
//! recorded in `problems`, which tests assert empty. Faults are injected per request (a queue) or
//! for every request (sticky): 429 with `Retry-After`, 500, a slow answer, a body cut off
//! mid-stream, non-audio bytes, and the account refusals (401 `quota_exceeded` /
//! `invalid_api_key`). Voice deletions can be made to hang or fail, and voice creation to wait (a
//! clone that finishes after its user was deleted).

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use coach_server::voice::config::ElevenLabsConfig;
use serde_json::{Value, json};

/// The key the fake accepts.
pub const KEY: &str = "sk_test_0123456789abcdef";
/// Premade voices the fake knows (Sarah, George: the server's defaults).
pub const SARAH: &str = "EXAVITQu4vr4xnSDxMaL";
pub const GEORGE: &str = "JBFqnCBsd6RMkjVDRZzb";
const FORMATS: [&str; 8] = [
    "mp3_22050_32",
    "mp3_24000_48",
    "mp3_44100_32",
    "mp3_44100_64",
    "mp3_44100_96",
    "mp3_44100_128",
    "mp3_44100_192",
    "pcm_16000",
];

/// A fault to inject.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 429 `too_many_concurrent_requests`, with `Retry-After: n` when given.
    TooMany(Option<u64>),
    /// 500 `internal_error`.
    ServerError,
    /// Sleep this long before answering (successfully).
    Slow(Duration),
    /// Start the audio body, then break the connection.
    Truncated,
    /// 200 `audio/mpeg` whose bytes are not audio.
    Garbage,
    /// `voices/add` refuses with 400 `voice_limit_reached`.
    VoiceLimit,
    /// 401 `quota_exceeded`, exactly as the real API answers a request the account's remaining
    /// credits cannot pay for (`detail.status` and `detail.message` only).
    QuotaExceeded,
    /// 401 `invalid_api_key` as the real API answers a revoked key (same shape).
    InvalidKey,
}

/// What the fake saw of the last `voices/add`.
#[derive(Debug, Clone, Default)]
pub struct AddSeen {
    pub name: Option<String>,
    pub description: Option<String>,
    pub labels: Option<Value>,
    pub remove_background_noise: Option<String>,
    /// (file name, content type, size).
    pub files: Vec<(String, String, usize)>,
}

/// Shared state of the fake.
pub struct FakeState {
    /// Text-to-speech requests received (any outcome).
    pub tts_hits: AtomicUsize,
    /// `voices/add` requests received.
    pub add_hits: AtomicUsize,
    /// One fault per request, in order.
    pub faults: Mutex<VecDeque<Fault>>,
    /// A fault for every request while set.
    pub sticky: Mutex<Option<Fault>>,
    /// Latency added to successful text-to-speech answers.
    pub delay: Mutex<Duration>,
    /// Wire-format violations seen.
    pub problems: Mutex<Vec<String>>,
    /// (voice id, output_format, JSON body) of the last text-to-speech request.
    pub last_tts: Mutex<Option<(String, String, Value)>>,
    /// The last `voices/add`.
    pub last_add: Mutex<Option<AddSeen>>,
    /// Voices that exist.
    pub voices: Mutex<HashSet<String>>,
    /// Voices deleted.
    pub deleted: Mutex<Vec<String>>,
    /// `DELETE /v1/voices/{id}` requests received (any outcome).
    pub delete_hits: AtomicUsize,
    /// While true, voice deletions wait (a provider that hangs) until it is set false.
    pub hold_deletes: tokio::sync::watch::Sender<bool>,
    /// While true, voice deletions fail with 500.
    pub fail_deletes: std::sync::atomic::AtomicBool,
    /// While true, `voices/add` waits after reading its form, before making the voice (a clone
    /// that finishes late).
    pub hold_adds: tokio::sync::watch::Sender<bool>,
    /// A real MP3 (1 s, 44.1 kHz) answered for every successful synthesis.
    pub mp3: Bytes,
}

/// A running fake.
pub struct FakeEleven {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    pub state: Arc<FakeState>,
}

impl FakeEleven {
    /// A client configuration for this fake: short timeout, three retries, fast backoff (tests
    /// change what they need with `..fake.client_config()`).
    pub fn client_config(&self) -> ElevenLabsConfig {
        ElevenLabsConfig {
            api_key: Some(KEY.into()),
            base_url: self.url.clone(),
            model: "eleven_multilingual_v2".into(),
            output_format: "mp3_44100_64".into(),
            voice_alice: SARAH.into(),
            voice_aiden: GEORGE.into(),
            timeout: Duration::from_millis(600),
            max_retries: 3,
            backoff_min: Duration::from_millis(20),
            retry_after_max: Duration::from_secs(2),
        }
    }

    /// Starts the fake on a free port.
    pub async fn start() -> FakeEleven {
        let state = Arc::new(FakeState {
            tts_hits: AtomicUsize::new(0),
            add_hits: AtomicUsize::new(0),
            faults: Mutex::new(VecDeque::new()),
            sticky: Mutex::new(None),
            delay: Mutex::new(Duration::ZERO),
            problems: Mutex::new(Vec::new()),
            last_tts: Mutex::new(None),
            last_add: Mutex::new(None),
            voices: Mutex::new([SARAH, GEORGE].iter().map(|s| s.to_string()).collect()),
            deleted: Mutex::new(Vec::new()),
            delete_hits: AtomicUsize::new(0),
            hold_deletes: tokio::sync::watch::channel(false).0,
            fail_deletes: Default::default(),
            hold_adds: tokio::sync::watch::channel(false).0,
            mp3: Bytes::from(super::tone_mp3(220.0, 1.0, 44100)),
        });
        let app = Router::new()
            .route("/v1/text-to-speech/{voice_id}", post(tts))
            .route("/v1/voices/add", post(add_voice))
            .route("/v1/voices/{voice_id}", delete(delete_voice))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeEleven { url: format!("http://{addr}"), state }
    }

    /// Queues faults for the next requests.
    pub fn push(&self, faults: &[Fault]) {
        self.state.faults.lock().unwrap().extend(faults.iter().cloned());
    }

    /// Sets (or clears) the fault of every request.
    pub fn sticky(&self, fault: Option<Fault>) {
        *self.state.sticky.lock().unwrap() = fault;
    }

    /// Text-to-speech requests so far.
    pub fn tts_hits(&self) -> usize {
        self.state.tts_hits.load(Ordering::SeqCst)
    }

    /// Wire-format violations seen (tests assert none).
    pub fn problems(&self) -> Vec<String> {
        self.state.problems.lock().unwrap().clone()
    }

    /// Makes voice deletions hang (`true`) or lets them, and those waiting, proceed (`false`).
    pub fn hold_deletes(&self, on: bool) {
        self.state.hold_deletes.send_replace(on);
    }

    /// Makes voice deletions fail with 500 (`true`) or succeed again.
    pub fn fail_deletes(&self, on: bool) {
        self.state.fail_deletes.store(on, Ordering::SeqCst);
    }

    /// Makes `voices/add` wait before creating the voice (`true`), or lets it proceed.
    pub fn hold_adds(&self, on: bool) {
        self.state.hold_adds.send_replace(on);
    }

    /// `voices/add` requests so far.
    pub fn add_hits(&self) -> usize {
        self.state.add_hits.load(Ordering::SeqCst)
    }

    /// Voice deletion requests so far.
    pub fn delete_hits(&self) -> usize {
        self.state.delete_hits.load(Ordering::SeqCst)
    }

    /// Voices deleted so far.
    pub fn deleted(&self) -> Vec<String> {
        self.state.deleted.lock().unwrap().clone()
    }
}

fn detail(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "detail": { "status": code, "code": code, "message": message, "request_id": "fake" } });
    (status, [("x-trace-id", "fake-trace")], axum::Json(body)).into_response()
}

/// The real API's 401 body: `{"detail":{"status":…,"message":…}}` (no `code`), as quoted in
/// ElevenLabs' help centre ("API Error Code 400 or 401") and in users' reports of
/// `quota_exceeded` answers.
fn account_refusal(status: &str, message: &str) -> Response {
    let body = json!({ "detail": { "status": status, "message": message } });
    (StatusCode::UNAUTHORIZED, [("content-type", "application/json")], body.to_string()).into_response()
}

fn unprocessable(st: &FakeState, loc: &[&str], msg: &str) -> Response {
    st.problems.lock().unwrap().push(format!("{}: {msg}", loc.join(".")));
    let body = json!({ "detail": [{ "loc": loc, "msg": msg, "type": "value_error" }] });
    (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
}

/// `None` when the key is right; the 401 answer otherwise.
fn unauthorized(st: &FakeState, headers: &HeaderMap) -> Option<Response> {
    match headers.get("xi-api-key").and_then(|v| v.to_str().ok()) {
        Some(KEY) => None,
        other => {
            if other.is_none() {
                st.problems.lock().unwrap().push("missing xi-api-key".into());
            }
            Some(account_refusal("invalid_api_key", "Invalid API key"))
        }
    }
}

fn next_fault(st: &FakeState) -> Option<Fault> {
    st.faults.lock().unwrap().pop_front().or_else(|| st.sticky.lock().unwrap().clone())
}

/// The body for a fault, or `None` to answer normally (after any delay).
async fn apply(st: &FakeState, fault: Option<Fault>) -> Option<Response> {
    match fault? {
        Fault::TooMany(after) => {
            let mut r = detail(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_concurrent_requests",
                "Too many concurrent requests. Your current subscription is associated with a maximum of 2 concurrent requests.",
            );
            if let Some(s) = after {
                r.headers_mut().insert("retry-after", s.into());
            }
            Some(r)
        }
        Fault::ServerError => Some(detail(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "Internal error")),
        Fault::Slow(d) => {
            tokio::time::sleep(d).await;
            None
        }
        Fault::Truncated => {
            let head = st.mp3.slice(..st.mp3.len() / 3);
            let chunks: Vec<Result<Bytes, std::io::Error>> =
                vec![Ok(head), Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "cut"))];
            let body = Body::from_stream(futures_util::stream::iter(chunks));
            Some((StatusCode::OK, [("content-type", "audio/mpeg")], body).into_response())
        }
        Fault::Garbage => Some(
            (StatusCode::OK, [("content-type", "audio/mpeg")], "<html>upstream proxy error page, not audio</html>")
                .into_response(),
        ),
        Fault::VoiceLimit => None,
        Fault::QuotaExceeded => Some(account_refusal(
            "quota_exceeded",
            "This request exceeds your quota of 10000. You have 0 credits remaining, while 42 credits are required for this request.",
        )),
        Fault::InvalidKey => Some(account_refusal("invalid_api_key", "Invalid API key")),
    }
}

async fn tts(
    State(st): State<Arc<FakeState>>,
    Path(voice): Path<String>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    st.tts_hits.fetch_add(1, Ordering::SeqCst);
    if let Some(r) = unauthorized(&st, &headers) {
        return r;
    }
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/json") {
        st.problems.lock().unwrap().push("text-to-speech body is not application/json".into());
    }
    let format = q.get("output_format").cloned().unwrap_or_default();
    if !FORMATS.contains(&format.as_str()) {
        return unprocessable(&st, &["query", "output_format"], "missing or unknown output_format");
    }
    let Ok(json) = serde_json::from_slice::<Value>(&body) else {
        return unprocessable(&st, &["body"], "body is not JSON");
    };
    if json["text"].as_str().is_none_or(|t| t.trim().is_empty()) {
        return unprocessable(&st, &["body", "text"], "Field required");
    }
    if !json["model_id"].is_string() {
        return unprocessable(&st, &["body", "model_id"], "model_id must be a string");
    }
    let vs = &json["voice_settings"];
    for (field, lo, hi) in
        [("stability", 0.0, 1.0), ("similarity_boost", 0.0, 1.0), ("style", 0.0, 1.0), ("speed", 0.7, 1.2)]
    {
        if !vs[field].as_f64().is_some_and(|x| (lo..=hi).contains(&x)) {
            return unprocessable(&st, &["body", "voice_settings", field], "missing or out of range");
        }
    }
    if !vs["use_speaker_boost"].is_boolean() {
        return unprocessable(&st, &["body", "voice_settings", "use_speaker_boost"], "must be a boolean");
    }
    if !st.voices.lock().unwrap().contains(&voice) {
        return detail(
            StatusCode::NOT_FOUND,
            "voice_not_found",
            &format!("A voice with the voice_id {voice} was not found."),
        );
    }
    *st.last_tts.lock().unwrap() = Some((voice, format, json.clone()));
    if let Some(r) = apply(&st, next_fault(&st)).await {
        return r;
    }
    let delay = *st.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    let cost = json["text"].as_str().unwrap().chars().count().to_string();
    (
        StatusCode::OK,
        [
            ("content-type", "audio/mpeg".to_string()),
            ("request-id", "req0123456789abcdefgh".to_string()),
            ("history-item-id", "hist0123456789abcdef".to_string()),
            ("character-cost", cost),
        ],
        st.mp3.clone(),
    )
        .into_response()
}

async fn add_voice(State(st): State<Arc<FakeState>>, headers: HeaderMap, mut form: Multipart) -> Response {
    st.add_hits.fetch_add(1, Ordering::SeqCst);
    if let Some(r) = unauthorized(&st, &headers) {
        return r;
    }
    let mut seen = AddSeen::default();
    while let Ok(Some(field)) = form.next_field().await {
        let name = field.name().unwrap_or("").to_string();
        let file = field.file_name().map(str::to_string);
        let ct = field.content_type().unwrap_or("").to_string();
        let data = field.bytes().await.unwrap_or_default();
        let text = String::from_utf8_lossy(&data).to_string();
        match name.as_str() {
            "name" => seen.name = Some(text),
            "description" => seen.description = Some(text),
            "remove_background_noise" => seen.remove_background_noise = Some(text),
            "labels" => match serde_json::from_str::<Value>(&text) {
                Ok(v) if v.as_object().is_some_and(|o| o.values().all(Value::is_string)) => seen.labels = Some(v),
                _ => return unprocessable(&st, &["body", "labels"], "labels must be a JSON object of strings"),
            },
            "files" => match file {
                Some(f) if !data.is_empty() => seen.files.push((f, ct, data.len())),
                _ => return unprocessable(&st, &["body", "files"], "files parts need a file name and bytes"),
            },
            other => return unprocessable(&st, &["body", other], "unexpected part"),
        }
    }
    if seen.name.as_deref().is_none_or(str::is_empty) {
        return unprocessable(&st, &["body", "name"], "Field required");
    }
    if seen.files.is_empty() {
        return unprocessable(&st, &["body", "files"], "Field required");
    }
    if seen.remove_background_noise.as_deref().is_some_and(|v| v != "true" && v != "false") {
        return unprocessable(&st, &["body", "remove_background_noise"], "must be true or false");
    }
    *st.last_add.lock().unwrap() = Some(seen);
    let _ = st.hold_adds.subscribe().wait_for(|hold| !*hold).await;
    let fault = next_fault(&st);
    if fault == Some(Fault::VoiceLimit) {
        return detail(
            StatusCode::BAD_REQUEST,
            "voice_limit_reached",
            "You have reached your maximum amount of custom voices (10 / 10).",
        );
    }
    if let Some(r) = apply(&st, fault).await {
        return r;
    }
    let n = st.add_hits.load(Ordering::SeqCst);
    let id = format!("cloned{n:014}");
    st.voices.lock().unwrap().insert(id.clone());
    axum::Json(json!({ "voice_id": id, "requires_verification": false })).into_response()
}

async fn delete_voice(State(st): State<Arc<FakeState>>, Path(voice): Path<String>, headers: HeaderMap) -> Response {
    st.delete_hits.fetch_add(1, Ordering::SeqCst);
    if let Some(r) = unauthorized(&st, &headers) {
        return r;
    }
    let _ = st.hold_deletes.subscribe().wait_for(|hold| !*hold).await;
    if st.fail_deletes.load(Ordering::SeqCst) {
        return detail(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "Internal error");
    }
    if !st.voices.lock().unwrap().remove(&voice) {
        return detail(
            StatusCode::NOT_FOUND,
            "voice_not_found",
            &format!("A voice with the voice_id {voice} was not found."),
        );
    }
    st.deleted.lock().unwrap().push(voice);
    axum::Json(json!({ "status": "ok" })).into_response()
}
