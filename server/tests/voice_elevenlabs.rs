//! The real ElevenLabs client against a fake ElevenLabs that checks the wire format and injects
//! faults: first the client alone, then the whole server on both database engines (503
//! `voice_unavailable` with the text, never 500; the breaker opens and recovers; single-flight;
//! cloning and private clips).

mod common;
mod voice_support;

use std::time::{Duration, Instant};

use axum::http::Method;
use coach_server::config::Config;
use coach_server::voice::config::{ElevenLabsConfig, TtsProvider};
use coach_server::voice::provider::elevenlabs::ElevenLabsProvider;
use coach_server::voice::provider::{CloneRequest, CloneSample, ProviderError, SpeechProvider};
use coach_shared::{Personality, Tone};
use common::{Engine, TestApp};
use serde_json::json;
use voice_support::fake_elevenlabs::{FakeEleven, Fault, GEORGE, KEY, SARAH};
use voice_support::*;

fn client_config(fake: &FakeEleven) -> ElevenLabsConfig {
    fake.client_config()
}

fn client(fake: &FakeEleven) -> ElevenLabsProvider {
    ElevenLabsProvider::new(&client_config(fake)).unwrap()
}

async fn speak(p: &ElevenLabsProvider, tone: Tone) -> Result<coach_server::voice::provider::Audio, ProviderError> {
    let settings = p.tone_settings(SARAH);
    p.synthesize("Let's go, one more!", SARAH, tone, settings.for_tone(tone)).await
}

#[tokio::test]
async fn text_to_speech_wire_format() {
    let fake = FakeEleven::start().await;
    let p = client(&fake);
    assert_eq!(
        (p.name(), p.model().as_str(), p.format().as_str()),
        ("elevenlabs", "elevenlabs/eleven_multilingual_v2", "mp3_44100_64")
    );
    assert_eq!(
        (p.personality_voice(Personality::Alice), p.personality_voice(Personality::Aiden)),
        (SARAH.into(), GEORGE.into())
    );
    let audio = speak(&p, Tone::Hype).await.unwrap();
    assert_eq!(audio.content_type, "audio/mpeg");
    assert!((audio.duration - 1.0).abs() < 0.1, "{}", audio.duration);
    let (voice, format, body) = fake.state.last_tts.lock().unwrap().clone().unwrap();
    assert_eq!((voice.as_str(), format.as_str()), (SARAH, "mp3_44100_64"));
    assert_eq!(body["text"], "Let's go, one more!");
    assert_eq!(body["model_id"], "eleven_multilingual_v2");
    assert_eq!(
        body["voice_settings"],
        json!({ "stability": 0.3, "similarity_boost": 0.8, "style": 0.6, "use_speaker_boost": true, "speed": 1.15 })
    );
    speak(&p, Tone::Whisper).await.unwrap();
    let whisper = fake.state.last_tts.lock().unwrap().clone().unwrap().2;
    assert_eq!(whisper["voice_settings"]["use_speaker_boost"], false);
    assert!(whisper["voice_settings"]["speed"].as_f64().unwrap() < 1.0);
    assert_eq!(fake.problems(), Vec::<String>::new());
}

#[tokio::test]
async fn retries_honour_retry_after() {
    let fake = FakeEleven::start().await;
    let p = client(&fake);
    fake.push(&[Fault::TooMany(Some(1))]);
    let t = Instant::now();
    speak(&p, Tone::Neutral).await.unwrap();
    assert!(t.elapsed() >= Duration::from_secs(1), "waited for Retry-After: {:?}", t.elapsed());
    assert_eq!(fake.tts_hits(), 2);
    // A Retry-After beyond the configured maximum ends the call at once and is passed on.
    fake.push(&[Fault::TooMany(Some(30))]);
    let t = Instant::now();
    match speak(&p, Tone::Neutral).await {
        Err(ProviderError::Unavailable { retry_after, .. }) => assert_eq!(retry_after, Some(Duration::from_secs(30))),
        other => panic!("{other:?}"),
    }
    assert!(t.elapsed() < Duration::from_millis(500));
    assert_eq!(fake.tts_hits(), 3);
}

#[tokio::test]
async fn transient_faults_are_retried_with_backoff() {
    let fake = FakeEleven::start().await;
    let p = client(&fake);
    fake.push(&[Fault::ServerError, Fault::Slow(Duration::from_secs(2)), Fault::Truncated]);
    speak(&p, Tone::Neutral).await.expect("the fourth attempt succeeds");
    assert_eq!(fake.tts_hits(), 4);
    fake.push(&[Fault::Garbage]);
    speak(&p, Tone::Neutral).await.expect("garbage is retried");
    assert_eq!(fake.tts_hits(), 6);
    fake.sticky(Some(Fault::ServerError));
    let err = speak(&p, Tone::Neutral).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");
    assert_eq!(fake.tts_hits(), 10, "1 + 3 retries");
    fake.sticky(Some(Fault::Garbage));
    assert!(speak(&p, Tone::Neutral).await.unwrap_err().to_string().contains("not"));
}

#[tokio::test]
async fn refusals_are_not_retried() {
    let fake = FakeEleven::start().await;
    let mut cfg = client_config(&fake);
    cfg.api_key = Some("sk_wrong".into());
    let wrong = ElevenLabsProvider::new(&cfg).unwrap();
    match speak(&wrong, Tone::Neutral).await {
        Err(ProviderError::Rejected { status: 401, code, .. }) => assert_eq!(code, "invalid_api_key"),
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.tts_hits(), 1);
    let p = client(&fake);
    let s = p.tone_settings("x");
    match p.synthesize("Hi", "UnknownVoice00000000", Tone::Neutral, &s.neutral).await {
        Err(ProviderError::Rejected { status: 404, code, .. }) => assert_eq!(code, "voice_not_found"),
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.tts_hits(), 2);
}

#[tokio::test]
async fn account_refusals_are_final_at_once() {
    let fake = FakeEleven::start().await;
    let p = client(&fake);
    for (fault, code) in [(Fault::QuotaExceeded, "quota_exceeded"), (Fault::InvalidKey, "invalid_api_key")] {
        let before = fake.tts_hits();
        fake.push(&[fault.clone(), fault]);
        let err = speak(&p, Tone::Neutral).await.unwrap_err();
        match &err {
            ProviderError::Rejected { status: 401, code: c, .. } => assert_eq!(c, code),
            other => panic!("{other:?}"),
        }
        assert!(err.account_failure().is_some() && !err.counts_against_health(), "{err:?}");
        assert_eq!(fake.tts_hits(), before + 1, "not retried (max_retries is 3)");
        fake.state.faults.lock().unwrap().clear();
    }
}

fn mp3_samples() -> Vec<CloneSample> {
    (0..3)
        .map(|i| {
            let bytes = bytes::Bytes::from(tone_mp3(110.0 + 10.0 * f64::from(i), 1.5, 44100));
            CloneSample {
                bytes,
                file_name: format!("sample-{i}.mp3"),
                content_type: "audio/mpeg".into(),
                duration: 1.5,
                median_f0: None,
            }
        })
        .collect()
}

#[tokio::test]
async fn cloning_and_deleting_wire_format() {
    let fake = FakeEleven::start().await;
    let p = client(&fake);
    let req = CloneRequest {
        name: "Coach me".into(),
        description: "Coach voice clone (3 samples)".into(),
        personality: Some(Personality::Aiden),
        samples: mp3_samples(),
    };
    let cloned = p.clone_voice(&req).await.unwrap();
    assert!(!cloned.requires_verification);
    let seen = fake.state.last_add.lock().unwrap().clone().unwrap();
    assert_eq!(seen.name.as_deref(), Some("Coach me"));
    assert_eq!(seen.description.as_deref(), Some("Coach voice clone (3 samples)"));
    assert_eq!(seen.labels, Some(json!({ "source": "coach", "personality": "Aiden" })));
    assert_eq!(seen.remove_background_noise.as_deref(), Some("false"));
    assert_eq!(seen.files.len(), 3);
    for (i, (name, ct, len)) in seen.files.iter().enumerate() {
        assert_eq!(
            (name.as_str(), ct.as_str(), *len),
            (format!("sample-{i}.mp3").as_str(), "audio/mpeg", req.samples[i].bytes.len())
        );
    }
    // The new voice speaks, then is deleted; deleting it again is fine (already gone).
    let s = p.tone_settings(&cloned.voice_id);
    p.synthesize("Mine", &cloned.voice_id, Tone::Neutral, &s.neutral).await.unwrap();
    p.delete_voice(&cloned.voice_id).await.unwrap();
    assert_eq!(fake.state.deleted.lock().unwrap().as_slice(), std::slice::from_ref(&cloned.voice_id));
    p.delete_voice(&cloned.voice_id).await.unwrap();
    fake.push(&[Fault::VoiceLimit]);
    match p.clone_voice(&req).await {
        Err(ProviderError::Rejected { status: 400, code, .. }) => assert_eq!(code, "voice_limit_reached"),
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.problems(), Vec::<String>::new());
}

/// The server configured for the fake: short timeouts, a breaker that opens after 2 failures.
fn server_config(c: &mut Config, fake: &FakeEleven) {
    c.voice.provider = TtsProvider::ElevenLabs;
    c.voice.elevenlabs = client_config(fake);
    c.voice.elevenlabs.max_retries = 1;
    c.voice.breaker_failures = 2;
    c.voice.breaker_cooldown = Duration::from_millis(400);
}

engines!(provider_faults_degrade_then_recover, |engine: Engine| async move {
    let fake = FakeEleven::start().await;
    let Some(app) = TestApp::with_config(engine, |c| server_config(c, &fake)).await else { return };
    let alice = app.user("alice", true, false).await;
    let text = "Keep the core tight through the whole rep.";
    let ok = synth(&app, &alice, phrase(text)).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert!(ok.json()["audioUrl"].as_str().unwrap().contains("/v1/voice/clips/"));

    for fault in [Fault::ServerError, Fault::Garbage, Fault::Truncated, Fault::Slow(Duration::from_secs(2))] {
        fake.sticky(Some(fault.clone()));
        for attempt in 0..2 {
            let line = format!("Fresh line {attempt} under {fault:?}");
            let v = synth(&app, &alice, phrase(&line)).await.assert_error(503, Some("voice_unavailable"));
            assert_eq!(v["details"]["text"], line.as_str());
            assert_eq!(v["details"]["tone"], "neutral");
            assert_eq!(v["details"]["provider"], "elevenlabs");
        }
        // The breaker is open now (two failed calls): requests stop reaching the provider.
        let hits = fake.tts_hits();
        let fast = synth(&app, &alice, phrase("Another line")).await;
        fast.assert_error(503, Some("voice_unavailable"));
        assert!(fast.headers.contains_key("retry-after"));
        assert_eq!(fake.tts_hits(), hits, "open breaker: no upstream call");
        // A stored clip is still served while the provider is down.
        assert_eq!(synth(&app, &alice, phrase(text)).await.json()["cached"], true);
        // Faults stop; after the cooldown a probe goes through and closes the breaker.
        fake.sticky(None);
        tokio::time::sleep(Duration::from_millis(450)).await;
        let back = synth(&app, &alice, phrase(&format!("Recovered after {fault:?}"))).await;
        assert_eq!(back.status, 200, "{}", back.text());
        assert_eq!(metric(&app, "coach_voice_breaker_state", &[]), 0.0);
    }
    assert!(metric(&app, "coach_voice_provider_requests_total", &[("outcome", "breaker_open")]) >= 4.0);
    assert_eq!(fake.problems(), Vec::<String>::new());
});

engines!(rate_limits_and_bad_keys_give_503_not_500, |engine: Engine| async move {
    let fake = FakeEleven::start().await;
    let Some(app) = TestApp::with_config(engine, |c| {
        server_config(c, &fake);
        c.voice.elevenlabs.api_key = Some("sk_revoked".into());
    })
    .await
    else {
        return;
    };
    let alice = app.user("alice", true, false).await;
    let v = synth(&app, &alice, phrase("Nice")).await.assert_error(503, Some("voice_unavailable"));
    assert_eq!(v["details"]["reason"], "invalid_api_key", "{v}");
    drop(app);
    let Some(app) = TestApp::with_config(engine, |c| server_config(c, &fake)).await else { return };
    let alice = app.user("alice", true, false).await;
    fake.push(&[Fault::TooMany(Some(60))]);
    let r = synth(&app, &alice, phrase("Slow down"));
    let r = r.await;
    r.assert_error(503, Some("voice_unavailable"));
    assert_eq!(r.headers["retry-after"], "60");
});

engines!(concurrent_identical_requests_make_one_upstream_call, |engine: Engine| async move {
    let fake = FakeEleven::start().await;
    *fake.state.delay.lock().unwrap() = Duration::from_millis(300);
    let Some(app) = TestApp::with_config(engine, |c| server_config(c, &fake)).await else { return };
    let mut tokens = Vec::new();
    for u in ["u1", "u2", "u3", "u4"] {
        tokens.push(app.user(u, true, false).await);
    }
    let calls = (0..8).map(|i| synth(&app, &tokens[i % 4], phrase("Everyone hears this once.")));
    let answers = futures_util::future::join_all(calls).await;
    assert!(answers.iter().all(|r| r.status == 200), "{}", answers[0].text());
    assert_eq!(fake.tts_hits(), 1, "one upstream call for eight requests");
    let labels =
        |r: &str| metric(&app, "coach_voice_cache_requests_total", &[("provider", "elevenlabs"), ("result", r)]);
    assert_eq!((labels("miss"), labels("coalesced")), (1.0, 7.0));
    assert_eq!(synth(&app, &tokens[0], phrase("Everyone hears this once.")).await.json()["cached"], true);
    assert_eq!(fake.tts_hits(), 1);
});

engines!(cloning_through_elevenlabs, |engine: Engine| async move {
    let fake = FakeEleven::start().await;
    let Some(app) = TestApp::with_config(engine, |c| server_config(c, &fake)).await else { return };
    let alice = app.user("alice", true, false).await;
    let samples: Vec<Vec<u8>> = (0..3).map(|i| tone_mp3(100.0 + 15.0 * f64::from(i), 1.5, 44100)).collect();
    let upload = |name: &'static str| {
        let mut parts: Vec<Part> =
            samples.iter().map(|s| Part::File("audioSamples", "take.mp3", "audio/mpeg", s.clone())).collect();
        parts.push(Part::Text("voiceName", name));
        parts
    };
    let r = clone_upload(&app, &alice, &upload("First")).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let done = wait_for_clone(&app, &alice).await;
    assert_eq!(done["status"], "completed", "{done}");
    let first_voice = done["elevenLabsVoiceId"].as_str().unwrap().to_string();
    let seen = fake.state.last_add.lock().unwrap().clone().unwrap();
    assert_eq!((seen.name.as_deref(), seen.files.len()), (Some("First"), 3));
    assert!(seen.files.iter().all(|(n, ct, _)| n == "take.mp3" && ct == "audio/mpeg"));
    let prefs = request(&app, Method::GET, "/v1/voice/preferences", Some(&alice), &[], vec![]).await.json();
    assert_eq!(
        (prefs["voiceCloneStatus"].clone(), prefs["elevenLabsVoiceId"].clone()),
        (json!("ready"), json!(first_voice))
    );

    // Synthesis now uses the cloned voice, and its clips are private.
    let s = synth(&app, &alice, phrase("In my own voice")).await.json();
    assert_eq!(fake.state.last_tts.lock().unwrap().clone().unwrap().0, first_voice);
    let url = s["audioUrl"].as_str().unwrap();
    assert!(url.contains("sig="));
    assert_eq!(request(&app, Method::GET, &path_of(url), None, &[], vec![]).await.status, 200);
    let bare = format!("/v1/voice/clips/{}.mp3", s["cacheKey"].as_str().unwrap());
    request(&app, Method::GET, &bare, None, &[], vec![]).await.assert_error(404, None);

    // A second clone replaces the first, which is deleted at the provider.
    assert_eq!(clone_upload(&app, &alice, &upload("Second")).await.status, 202);
    let done = wait_for_clone(&app, &alice).await;
    assert_ne!(done["elevenLabsVoiceId"], first_voice.as_str());
    for _ in 0..50 {
        if !fake.state.deleted.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(fake.state.deleted.lock().unwrap().as_slice(), [first_voice]);

    // A refusal by the provider fails the job and flags the preferences.
    fake.push(&[Fault::VoiceLimit]);
    assert_eq!(clone_upload(&app, &alice, &upload("Third")).await.status, 202);
    let failed = wait_for_clone(&app, &alice).await;
    assert_eq!(failed["status"], "failed");
    assert!(failed["errorMessage"].as_str().unwrap().contains("voice_limit_reached"), "{failed}");
    let prefs = request(&app, Method::GET, "/v1/voice/preferences", Some(&alice), &[], vec![]).await.json();
    assert_eq!(prefs["voiceCloneStatus"], "needs_update");
    assert_eq!(fake.problems(), Vec::<String>::new());
});

/// What this test binary's server logs at WARN and above (a global subscriber, installed once;
/// tests running at the same time write into it too, so readers filter for their own lines).
fn captured_logs() -> &'static std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    static LOGS: std::sync::OnceLock<std::sync::Arc<std::sync::Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .with_writer(move || Capture(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this binary");
        buf
    })
}

struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

engines!(quota_and_key_refusals_leave_the_shared_breaker_closed, |engine: Engine| async move {
    let logs = captured_logs();
    let fake = FakeEleven::start().await;
    // The breaker opens after 2 failed calls (server_config); 5 refusals of each kind follow.
    let Some(app) = TestApp::with_config(engine, |c| server_config(c, &fake)).await else { return };
    let alice = app.user("alice", true, false).await;
    let bob = app.user("bob", true, false).await;
    let failures = |reason: &str| metric(&app, "coach_voice_provider_failures_total", &[("reason", reason)]);
    assert_eq!(failures("quota_exceeded"), 0.0);
    for (fault, reason, words) in [
        (Fault::QuotaExceeded, "quota_exceeded", "quota is used up"),
        (Fault::InvalidKey, "invalid_api_key", "API key"),
    ] {
        fake.sticky(Some(fault));
        for i in 0..5 {
            let hits = fake.tts_hits();
            let line = format!("Refused line {i} for {reason}");
            let r = synth(&app, if i % 2 == 0 { &alice } else { &bob }, phrase(&line)).await;
            let v = r.assert_error(503, Some("voice_unavailable"));
            assert_eq!(v["details"]["reason"], reason, "{v}");
            assert_eq!(v["details"]["text"], line.as_str());
            assert!(v["message"].as_str().unwrap().contains(words), "{v}");
            assert!(!r.text().contains("credits") && !r.text().contains(KEY), "no upstream text, no key: {v}");
            assert!(!r.headers.contains_key("retry-after"), "waiting does not help; an operator must act");
            assert_eq!(fake.tts_hits(), hits + 1, "{i}: the request reached the provider once (closed, no retry)");
        }
        assert_eq!(failures(reason), 5.0);
        assert_eq!(metric(&app, "coach_voice_breaker_state", &[]), 0.0, "still closed after 5 > 2 refusals");
        // Fixed upstream: the very next request is served by the provider.
        fake.sticky(None);
        let hits = fake.tts_hits();
        let ok = synth(&app, &bob, phrase(&format!("Healthy again after {reason}"))).await;
        assert_eq!(ok.status, 200, "{}", ok.text());
        assert_eq!(fake.tts_hits(), hits + 1);
    }
    assert_eq!(
        metric(&app, "coach_voice_provider_requests_total", &[("outcome", "breaker_open")]),
        0.0,
        "no call was refused by the breaker"
    );
    // Health failures still open it, as before.
    fake.sticky(Some(Fault::ServerError));
    for i in 0..2 {
        synth(&app, &alice, phrase(&format!("Down {i}"))).await.assert_error(503, Some("voice_unavailable"));
    }
    let v = synth(&app, &alice, phrase("Down again")).await.assert_error(503, Some("voice_unavailable"));
    assert_eq!(v["details"]["reason"], "provider_unavailable");
    assert_eq!(metric(&app, "coach_voice_breaker_state", &[]), 2.0, "5xx open the breaker");
    assert_eq!(fake.problems(), Vec::<String>::new());
    // Each refusal was logged at error level with its reason (the operator's cue), never the key.
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
    for reason in ["quota_exceeded", "invalid_api_key"] {
        let lines = text.lines().filter(|l| l.contains("ERROR") && l.contains(&format!("reason=\"{reason}\""))).count();
        assert!(lines >= 5, "{lines} error lines for {reason}:\n{text}");
    }
    assert!(!text.contains(KEY), "the API key is never logged");
});
