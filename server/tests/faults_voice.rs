//! Fault injection on the voice side, beyond what `voice_elevenlabs.rs` covers (each fault kind
//! degrading to 503 and recovering): a half-open probe that fails reopens the breaker, a 429 with a
//! short `Retry-After` is waited out and answered 200, identical requests during an outage share
//! one failing call, and cloning under 500 / 429. Throughout, the server never answers 500 (checked
//! on its own HTTP metrics). Both database engines.

mod common;
mod voice_support;

use std::time::{Duration, Instant};

use axum::http::Method;
use coach_server::config::Config;
use coach_server::voice::config::TtsProvider;
use common::{Engine, TestApp};
use voice_support::fake_elevenlabs::{FakeEleven, Fault, GEORGE, KEY, SARAH};
use voice_support::*;

fn server_config(c: &mut Config, fake: &FakeEleven) {
    c.voice.provider = TtsProvider::ElevenLabs;
    let e = &mut c.voice.elevenlabs;
    e.api_key = Some(KEY.into());
    e.base_url = fake.url.clone();
    e.voice_alice = SARAH.into();
    e.voice_aiden = GEORGE.into();
    e.timeout = Duration::from_millis(600);
    e.max_retries = 1;
    e.backoff_min = Duration::from_millis(20);
    e.retry_after_max = Duration::from_secs(2);
    c.voice.breaker_failures = 2;
    c.voice.breaker_cooldown = Duration::from_millis(400);
}

/// Requests the app answered with a 5xx other than 503 (the designed degraded answer).
pub fn server_errors(app: &TestApp) -> f64 {
    let text = app.state.metrics.render();
    text.lines()
        .filter(|l| l.starts_with("coach_http_requests_total{"))
        .filter(|l| l.contains("status=\"5") && !l.contains("status=\"503\""))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}

engines!(a_failed_half_open_probe_reopens_the_breaker, |engine: Engine| async move {
    let fake = FakeEleven::start().await;
    let Some(app) = TestApp::with_config(engine, |c| server_config(c, &fake)).await else { return };
    let alice = app.user("alice", true, false).await;
    fake.sticky(Some(Fault::ServerError));
    for i in 0..2 {
        synth(&app, &alice, phrase(&format!("Opening line {i}"))).await.assert_error(503, Some("voice_unavailable"));
    }
    assert_eq!(metric(&app, "coach_voice_breaker_state", &[]), 2.0, "open");
    tokio::time::sleep(Duration::from_millis(450)).await;
    // half-open: one probe reaches the provider, fails, and the breaker opens again
    let before = fake.tts_hits();
    let v = synth(&app, &alice, phrase("The probe")).await.assert_error(503, Some("voice_unavailable"));
    assert_eq!(v["details"]["text"], "The probe");
    assert!(fake.tts_hits() > before, "the probe went upstream");
    assert_eq!(metric(&app, "coach_voice_breaker_state", &[]), 2.0, "reopened");
    let hits = fake.tts_hits();
    let r = synth(&app, &alice, phrase("Right after the probe")).await;
    r.assert_error(503, Some("voice_unavailable"));
    assert!(r.headers.contains_key("retry-after"));
    assert_eq!(fake.tts_hits(), hits, "no upstream call while reopened");
    // the fault stops: the next probe closes it
    fake.sticky(None);
    tokio::time::sleep(Duration::from_millis(450)).await;
    let ok = synth(&app, &alice, phrase("Back again")).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(metric(&app, "coach_voice_breaker_state", &[]), 0.0, "closed");
    assert_eq!(server_errors(&app), 0.0);
    assert_eq!(fake.problems(), Vec::<String>::new());
});

engines!(a_short_retry_after_is_waited_out, |engine: Engine| async move {
    let fake = FakeEleven::start().await;
    let Some(app) = TestApp::with_config(engine, |c| server_config(c, &fake)).await else { return };
    let alice = app.user("alice", true, false).await;
    fake.push(&[Fault::TooMany(Some(1))]);
    let t = Instant::now();
    let r = synth(&app, &alice, phrase("Patience pays")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(t.elapsed() >= Duration::from_secs(1), "honoured Retry-After: {:?}", t.elapsed());
    assert_eq!(fake.tts_hits(), 2);
    // a 429 without Retry-After is retried with the backoff
    fake.push(&[Fault::TooMany(None)]);
    assert_eq!(synth(&app, &alice, phrase("Again, sooner")).await.status, 200);
    assert_eq!(fake.tts_hits(), 4);
    assert_eq!(server_errors(&app), 0.0);
});

engines!(identical_requests_during_an_outage_share_one_failing_call, |engine: Engine| async move {
    let fake = FakeEleven::start().await;
    *fake.state.delay.lock().unwrap() = Duration::from_millis(200);
    let Some(app) = TestApp::with_config(engine, |c| {
        server_config(c, &fake);
        c.voice.breaker_failures = 100;
    })
    .await
    else {
        return;
    };
    let mut tokens = Vec::new();
    for u in 0..4 {
        tokens.push(app.user(&format!("u{u}"), true, false).await);
    }
    fake.sticky(Some(Fault::Slow(Duration::from_secs(2)))); // past the 600 ms timeout
    let calls = (0..12).map(|i| synth(&app, &tokens[i % 4], phrase("Everyone waits for this one.")));
    let answers = futures_util::future::join_all(calls).await;
    for r in &answers {
        let v = r.assert_error(503, Some("voice_unavailable"));
        assert_eq!(v["details"]["text"], "Everyone waits for this one.");
    }
    assert_eq!(fake.tts_hits(), 2, "one call and its retry for twelve requests");
    // garbage and truncated bodies under concurrency: 503s, never 500
    for fault in [Fault::Garbage, Fault::Truncated, Fault::ServerError] {
        fake.sticky(Some(fault.clone()));
        let calls = (0..6).map(|i| synth(&app, &tokens[i % 4], phrase(&format!("Line {i} under {fault:?}"))));
        for r in futures_util::future::join_all(calls).await {
            r.assert_error(503, Some("voice_unavailable"));
        }
    }
    fake.sticky(None);
    let calls = (0..8).map(|i| synth(&app, &tokens[i % 4], phrase("Everyone waits for this one.")));
    for r in futures_util::future::join_all(calls).await {
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(server_errors(&app), 0.0);
    assert_eq!(fake.problems(), Vec::<String>::new());
});

engines!(cloning_under_provider_faults, |engine: Engine| async move {
    let fake = FakeEleven::start().await;
    let Some(app) = TestApp::with_config(engine, |c| server_config(c, &fake)).await else { return };
    let alice = app.user("alice", true, false).await;
    let samples: Vec<Vec<u8>> = (0..3).map(|i| tone_mp3(100.0 + 15.0 * f64::from(i), 1.5, 44100)).collect();
    let upload = || {
        let mut parts: Vec<Part> =
            samples.iter().map(|s| Part::File("audioSamples", "take.mp3", "audio/mpeg", s.clone())).collect();
        parts.push(Part::Text("voiceName", "Mine"));
        parts
    };
    // a 500 from voices/add may have created the voice: not retried, the job fails cleanly
    fake.push(&[Fault::ServerError]);
    let r = clone_upload(&app, &alice, &upload()).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let failed = wait_for_clone(&app, &alice).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(fake.state.add_hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    let prefs = request(&app, Method::GET, "/v1/voice/preferences", Some(&alice), &[], vec![]).await.json();
    assert_eq!(prefs["voiceCloneStatus"], "needs_update");
    // synthesis falls back to the personality's voice meanwhile
    assert_eq!(synth(&app, &alice, phrase("Still my coach")).await.status, 200);
    assert_eq!(fake.state.last_tts.lock().unwrap().clone().unwrap().0, SARAH);
    // a 429 with Retry-After is waited out and the clone completes
    fake.push(&[Fault::TooMany(Some(1))]);
    assert_eq!(clone_upload(&app, &alice, &upload()).await.status, 202);
    let done = wait_for_clone(&app, &alice).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(server_errors(&app), 0.0);
    assert_eq!(fake.problems(), Vec::<String>::new());
});
