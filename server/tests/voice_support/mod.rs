//! Helpers of the voice tests: requests with arbitrary headers, metric readings, real audio
//! samples (the `espeak-ng` engine and synthetic tones, encoded with the server's own encoder),
//! multipart bodies, a fake ElevenLabs server ([`fake_elevenlabs`]) and the crafted hostile-audio
//! corpus ([`corpus`]).
#![allow(dead_code)]

pub mod corpus;
pub mod fake_elevenlabs;

use axum::body::Body;
use axum::http::{Method, Request};
use coach_server::voice::audio;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::common::{TestApp, TestResponse};

/// Runs `body(engine)` on SQLite and on PostgreSQL, for tests that build their app with a
/// configuration of their own (`TestApp::with_config`, which yields `None` when PostgreSQL is
/// unreachable: the test then returns early, as `both_engines!` does).
#[macro_export]
macro_rules! engines {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)($crate::common::Engine::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                ($body)($crate::common::Engine::Postgres).await;
            }
        }
    };
}

/// Sends a request with a bearer token (when given) and any headers.
pub async fn request(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> TestResponse {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app.router.clone().oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
    TestResponse { status, headers, body }
}

/// `POST /v1/voice/synthesize` with a JSON body.
pub async fn synth(app: &TestApp, token: &str, body: Value) -> TestResponse {
    let bytes = serde_json::to_vec(&body).unwrap();
    request(app, Method::POST, "/v1/voice/synthesize", Some(token), &[("content-type", "application/json")], bytes)
        .await
}

/// A synthesize body for `text` (neutral, neutral context).
pub fn phrase(text: &str) -> Value {
    serde_json::json!({ "text": text, "tone": "neutral", "context": "rest_period" })
}

/// The path part of an absolute URL.
pub fn path_of(url: &str) -> String {
    let u = url::Url::parse(url).expect("absolute URL");
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    }
}

/// The value of one sample of the app's `/metrics` (0 when absent), e.g.
/// `metric(&app, "coach_voice_cache_requests_total", &[("provider", "local"), ("result", "hit")])`.
pub fn metric(app: &TestApp, name: &str, labels: &[(&str, &str)]) -> f64 {
    let text = app.state.metrics.render();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(series, _)| {
            series.split('{').next() == Some(name)
                && labels.iter().all(|(k, v)| series.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|(_, v)| v.parse::<f64>().unwrap())
        .sum()
}

/// Successful local provider calls so far.
pub fn local_synth_calls(app: &TestApp) -> f64 {
    metric(
        app,
        "coach_voice_provider_requests_total",
        &[("provider", "local"), ("operation", "synthesize"), ("outcome", "ok")],
    )
}

/// Seconds of audio in `bytes`, decoded.
pub fn decoded_secs(bytes: &[u8]) -> f64 {
    audio::inspect(bytes::Bytes::copy_from_slice(bytes), None, 600.0, false).expect("decodes as audio").duration
}

/// Whether `bytes` begin with an ID3 tag or an MPEG audio frame sync.
pub fn is_mpeg(bytes: &[u8]) -> bool {
    audio::looks_like_mp3(bytes)
}

/// A WAV of `text` spoken by `espeak-ng` with `variant` (header sizes fixed).
pub fn espeak_wav(text: &str, variant: &str) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new("espeak-ng")
        .args(["--stdout", "-v", variant])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("espeak-ng is installed (apt-get install espeak-ng)");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let mut wav = out.stdout;
    audio::patch_wav_sizes(&mut wav).unwrap();
    wav
}

/// A 16-bit mono WAV of a harmonic tone at `f0` Hz lasting `secs`.
pub fn tone_wav(f0: f64, secs: f64, rate: u32) -> Vec<u8> {
    let n = (secs * f64::from(rate)) as usize;
    let mut v = Vec::with_capacity(44 + 2 * n);
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&((36 + 2 * n) as u32).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    for x in [16u32.to_le_bytes().as_slice(), &1u16.to_le_bytes(), &1u16.to_le_bytes(), &rate.to_le_bytes()] {
        v.extend_from_slice(x);
    }
    v.extend_from_slice(&(rate * 2).to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&16u16.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&((2 * n) as u32).to_le_bytes());
    for i in 0..n {
        let t = i as f64 / f64::from(rate);
        let s: f64 = (1..5).map(|h| (std::f64::consts::TAU * f0 * h as f64 * t).sin() / h as f64).sum();
        v.extend_from_slice(&((s * 6000.0) as i16).to_le_bytes());
    }
    v
}

/// An MP3 of a tone (the server's encoder), `rate` Hz mono.
pub fn tone_mp3(f0: f64, secs: f64, rate: u32) -> Vec<u8> {
    let wav = tone_wav(f0, secs, rate);
    audio::encode_mp3(&wav[44..], 1, rate, 64).unwrap()
}

/// One part of a multipart body.
pub enum Part<'a> {
    /// A text field.
    Text(&'a str, &'a str),
    /// A file: field name, file name, content type, bytes.
    File(&'a str, &'a str, &'a str, Vec<u8>),
}

/// A `multipart/form-data` body and its content type.
pub fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let boundary = "coach-test-boundary-7d1f";
    let mut body = Vec::new();
    for p in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match p {
            Part::Text(name, value) => {
                body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes());
                body.extend_from_slice(value.as_bytes());
            }
            Part::File(name, file, ct, bytes) => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: {ct}\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(bytes);
            }
        }
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// `POST /v1/voice/clone` with `parts`.
pub async fn clone_upload(app: &TestApp, token: &str, parts: &[Part<'_>]) -> TestResponse {
    let (ct, body) = multipart(parts);
    request(app, Method::POST, "/v1/voice/clone", Some(token), &[("content-type", ct.as_str())], body).await
}

/// Polls `GET /v1/voice/clone/status` until the job leaves `processing` (10 s at most).
pub async fn wait_for_clone(app: &TestApp, token: &str) -> Value {
    for _ in 0..200 {
        let r = request(app, Method::GET, "/v1/voice/clone/status", Some(token), &[], vec![]).await;
        assert_eq!(r.status.as_u16(), 200, "{}", r.text());
        let v = r.json();
        if v["status"] != "processing" {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the clone job did not finish");
}
