//! Preferences, interactions (with `Idempotency-Key`) and cloning with the local provider
//! (pitch-matched voices, sample validation, private clips behind signed URLs), on both engines.

mod common;
mod voice_support;

use axum::http::Method;
use coach_shared::Tone;
use coach_shared::types::voice::VoiceProfile;
use common::TestApp;
use serde_json::{Value, json};
use voice_support::*;

async fn put_prefs(app: &TestApp, token: &str, body: Value) -> common::TestResponse {
    let bytes = serde_json::to_vec(&body).unwrap();
    request(app, Method::PUT, "/v1/voice/preferences", Some(token), &[("content-type", "application/json")], bytes)
        .await
}

both_engines!(preferences_lifecycle, |app: TestApp| async move {
    let alice = app.user("alice", true, false).await;
    let get = || request(&app, Method::GET, "/v1/voice/preferences", Some(&alice), &[], vec![]);
    get().await.assert_error(404, Some("not_found"));
    let created = put_prefs(&app, &alice, json!({})).await;
    assert_eq!(created.status, 200, "{}", created.text());
    let p = created.json();
    assert_eq!(p["userId"], "alice");
    assert_eq!(p["personality"], "Alice");
    assert_eq!(
        (p["voiceEnabled"].clone(), p["toneAdaptation"].clone(), p["accessibilityMode"].clone()),
        (json!(true), json!(true), json!(false))
    );
    assert_eq!(p["voiceCloneStatus"], "not_configured");
    assert!(p["elevenLabsVoiceId"].is_null());
    assert!(p["lastVoiceSetup"].is_string());
    let changed = put_prefs(&app, &alice, json!({ "personality": "Aiden", "accessibilityMode": true })).await.json();
    assert_eq!((changed["personality"].clone(), changed["accessibilityMode"].clone()), (json!("Aiden"), json!(true)));
    assert_eq!(changed["voiceEnabled"], true, "omitted fields keep their value");
    assert_eq!(changed["id"], p["id"]);
    assert_eq!(get().await.json(), changed);
    put_prefs(&app, &alice, json!({ "personality": "Bob" })).await.assert_error(400, Some("validation_error"));
    put_prefs(&app, &alice, json!({ "voiceEnabled": "yes" })).await.assert_error(400, Some("validation_error"));
    let profile = request(&app, Method::GET, "/v1/voice/profile", Some(&alice), &[], vec![]).await.json();
    assert_eq!((profile["personality"].clone(), profile["voice"].clone()), (json!("Aiden"), json!("en-us+m3")));
    assert!(profile["settings"]["whisper"].as_str().unwrap().contains("en-us+whisper"));
    let free = app.user("free", false, false).await;
    put_prefs(&app, &free, json!({})).await.assert_error(403, Some("premium_required"));
    // A personality override in a request uses that coach's voice.
    let aiden: VoiceProfile = serde_json::from_value(profile).unwrap();
    let r =
        synth(&app, &alice, json!({ "text": "Hi", "tone": "neutral", "context": "x", "personality": "Alice" })).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let key = r.json()["cacheKey"].as_str().unwrap().to_string();
    assert_ne!(aiden.clip_key("Hi", Tone::Neutral), key);
    put_prefs(&app, &alice, json!({ "personality": "Alice" })).await;
    let alice_profile = request(&app, Method::GET, "/v1/voice/profile", Some(&alice), &[], vec![]).await;
    let alice_profile: VoiceProfile = serde_json::from_slice(&alice_profile.body).unwrap();
    assert_eq!(alice_profile.clip_key("Hi", Tone::Neutral), key);
});

async fn workout(app: &TestApp, token: &str) -> String {
    let body = json!({ "exerciseType": "bench_press", "setNumber": 3, "weight": 80.0, "reps": 5, "perceivedExertion": 8.5, "strainPercentage": 85.0 });
    let r = app.json(Method::POST, "/v1/workouts", common::Auth::Bearer(token.into()), body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

async fn post_interaction(app: &TestApp, token: &str, key: Option<&str>, body: &Value) -> common::TestResponse {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(k) = key {
        headers.push(("idempotency-key", k));
    }
    request(app, Method::POST, "/v1/voice/interactions", Some(token), &headers, serde_json::to_vec(body).unwrap()).await
}

both_engines!(interactions_are_recorded_once_and_summarized, |app: TestApp| async move {
    let alice = app.user("alice", false, false).await;
    let bob = app.user("bob", true, false).await;
    let w = workout(&app, &alice).await;
    let list_path = format!("/v1/voice/interactions/workout/{w}");
    let empty = request(&app, Method::GET, &list_path, Some(&alice), &[], vec![]).await.json();
    assert_eq!(empty["totalInteractions"], 0);
    assert!(empty["cacheHitRate"].is_null() && empty["averageGenerationLatency"].is_null());

    let body = json!({ "workoutEntryId": w, "aiResponseText": "Easy now, last rep.", "voiceTone": "whisper",
                       "wasVoicePlayed": true, "wasCached": true, "generationLatency": 100.0, "playbackLatency": null });
    let first = post_interaction(&app, &alice, Some("outbox-1"), &body).await;
    assert_eq!(first.status, 201, "{}", first.text());
    let rec = first.json();
    assert_eq!((rec["voiceTone"].clone(), rec["wasCached"].clone()), (json!("whisper"), json!(true)));
    assert!(rec["timestamp"].is_string() && rec["id"].is_string());
    let replay = post_interaction(&app, &alice, Some("outbox-1"), &body).await;
    assert_eq!(replay.status, 201);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(replay.json()["id"], rec["id"]);
    let mut other = body.clone();
    other["aiResponseText"] = json!("Something else");
    post_interaction(&app, &alice, Some("outbox-1"), &other).await.assert_error(422, Some("idempotency_key_reused"));

    let second = json!({ "workoutEntryId": w, "aiResponseText": "PR! Huge!", "voiceTone": "hype",
                         "wasVoicePlayed": true, "generationLatency": 300.0, "playbackLatency": 50.0 });
    assert_eq!(post_interaction(&app, &alice, None, &second).await.status, 201);
    let list = request(&app, Method::GET, &list_path, Some(&alice), &[], vec![]).await.json();
    assert_eq!(list["totalInteractions"], 2, "the replay added nothing");
    assert_eq!(list["averageGenerationLatency"], 200.0);
    // Null and non-null latencies alternate on the same pooled statements (a NULL float once
    // prepared the statement as float4 on PostgreSQL and broke the next value).
    let w2 = workout(&app, &alice).await;
    for i in 0..8 {
        let latency = if i % 2 == 0 { Value::Null } else { json!(10.0 * f64::from(i)) };
        let b = json!({ "workoutEntryId": w2, "aiResponseText": "Go", "voiceTone": "neutral", "wasVoicePlayed": true,
                        "generationLatency": latency, "playbackLatency": latency });
        let r = post_interaction(&app, &alice, None, &b).await;
        assert_eq!(r.status, 201, "{i}: {}", r.text());
    }
    let list2 = request(&app, Method::GET, &format!("/v1/voice/interactions/workout/{w2}"), Some(&alice), &[], vec![])
        .await
        .json();
    assert_eq!((list2["totalInteractions"].clone(), list2["averagePlaybackLatency"].clone()), (json!(8), json!(40.0)));
    assert_eq!(list["averageGenerationLatency"], 200.0);
    assert_eq!(list["averagePlaybackLatency"], 50.0);
    assert_eq!(list["cacheHitRate"], 50.0);
    assert_eq!(list["interactions"][0]["id"], rec["id"]);

    // Another user's workout is invisible.
    post_interaction(&app, &bob, None, &body).await.assert_error(404, Some("not_found"));
    request(&app, Method::GET, &list_path, Some(&bob), &[], vec![]).await.assert_error(404, Some("not_found"));
    let mut unknown = body.clone();
    unknown["workoutEntryId"] = json!("no-such-workout");
    post_interaction(&app, &alice, None, &unknown).await.assert_error(404, None);
    // Bad bodies.
    for (field, value) in
        [("aiResponseText", json!("x".repeat(281))), ("voiceTone", json!("shout")), ("playbackLatency", json!(-5.0))]
    {
        let mut bad = body.clone();
        bad[field] = value;
        post_interaction(&app, &alice, None, &bad).await.assert_error(400, Some("validation_error"));
    }
    let mut missing = body.clone();
    missing.as_object_mut().unwrap().remove("wasVoicePlayed");
    post_interaction(&app, &alice, None, &missing).await.assert_error(400, Some("validation_error"));
    let list = request(&app, Method::GET, &list_path, Some(&alice), &[], vec![]).await.json();
    assert_eq!(list["totalInteractions"], 2);
});

fn spoken_samples(variant: &str) -> Vec<Vec<u8>> {
    [
        "Hello, this is my voice for the coach. I like to lift in the morning.",
        "Today we trained legs and the last set of squats was really hard.",
        "Three, two, one, push! That is how I count my reps out loud.",
    ]
    .iter()
    .map(|t| espeak_wav(t, variant))
    .collect()
}

both_engines!(local_cloning_matches_the_speakers_pitch, |app: TestApp| async move {
    let alice = app.user("alice", true, false).await;
    request(&app, Method::GET, "/v1/voice/clone/status", Some(&alice), &[], vec![])
        .await
        .assert_error(404, Some("not_found"));
    let samples = spoken_samples("en-us+m3");
    let names = ["a.wav", "b.wav", "c.wav"];
    let mut parts: Vec<Part> =
        samples.iter().zip(names).map(|(s, n)| Part::File("audioSamples", n, "audio/wav", s.clone())).collect();
    parts.push(Part::Text("voiceName", "My voice"));
    parts.push(Part::Text("personality", "Aiden"));
    let r = clone_upload(&app, &alice, &parts).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let started = r.json();
    assert_eq!(started["status"], "processing");
    assert!(started["estimatedCompletionTime"].is_string());
    let done = wait_for_clone(&app, &alice).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["progress"], 100);
    assert_eq!(done["cloneId"], started["cloneId"]);
    let voice = done["elevenLabsVoiceId"].as_str().unwrap().to_string();
    assert!(voice.starts_with("en-us+m3"), "a male speaker gets the male variant: {voice}");
    let prefs = request(&app, Method::GET, "/v1/voice/preferences", Some(&alice), &[], vec![]).await.json();
    assert_eq!((prefs["voiceCloneStatus"].clone(), prefs["elevenLabsVoiceId"].clone()), (json!("ready"), json!(voice)));
    assert_eq!(prefs["personality"], "Aiden");
    let me = app.get("/v1/users/me", common::Auth::Bearer(alice.clone())).await.json();
    assert_eq!(me["voiceId"], voice.as_str());
    let profile = request(&app, Method::GET, "/v1/voice/profile", Some(&alice), &[], vec![]).await.json();
    assert_eq!(profile["voice"], voice.as_str());

    // Clips in a personal voice are private: signed URL or the owner's token.
    let r = synth(&app, &alice, phrase("This is my own voice coaching me.")).await.json();
    let url = r["audioUrl"].as_str().unwrap();
    assert!(url.contains("?exp=") && url.contains("&sig="), "{url}");
    let signed = request(&app, Method::GET, &path_of(url), None, &[], vec![]).await;
    assert_eq!(signed.status, 200);
    assert!(signed.headers["cache-control"].to_str().unwrap().starts_with("private"));
    let bare = format!("/v1/voice/clips/{}.mp3", r["cacheKey"].as_str().unwrap());
    request(&app, Method::GET, &bare, None, &[], vec![]).await.assert_error(404, None);
    assert_eq!(request(&app, Method::GET, &bare, Some(&alice), &[], vec![]).await.status, 200);
    let bob = app.user("bob", true, false).await;
    request(&app, Method::GET, &bare, Some(&bob), &[], vec![]).await.assert_error(404, None);
    let tampered = path_of(url).replace("&sig=", "&sig=00");
    request(&app, Method::GET, &tampered, None, &[], vec![]).await.assert_error(404, None);
    let expired = format!(
        "{bare}?exp=1000&sig={}",
        coach_server::voice::clips::signature(
            &app.state.secrets.url_signing_key,
            r["cacheKey"].as_str().unwrap(),
            1000
        )
    );
    request(&app, Method::GET, &expired, None, &[], vec![]).await.assert_error(404, None);
    // Bob asking for the same phrase gets the shared default voice, not Alice's.
    let b = synth(&app, &bob, phrase("This is my own voice coaching me.")).await.json();
    assert_ne!(b["cacheKey"], r["cacheKey"]);
    assert!(!b["audioUrl"].as_str().unwrap().contains("sig="));

    // A high-pitched speaker gets the female variant.
    let carol = app.user("carol", true, false).await;
    let high = spoken_samples("en-us+f3");
    let mut parts: Vec<Part> =
        high.iter().zip(names).map(|(s, n)| Part::File("audioSamples", n, "audio/wav", s.clone())).collect();
    parts.push(Part::Text("voiceName", "Carol"));
    assert_eq!(clone_upload(&app, &carol, &parts).await.status, 202);
    let done = wait_for_clone(&app, &carol).await;
    assert!(done["elevenLabsVoiceId"].as_str().unwrap().starts_with("en-us+f3"), "{done}");
});

// Every attempt counts towards the hourly clone limit: this test makes many, on a raised limit.
engines!(cloning_validates_every_sample, |engine: common::Engine| async move {
    let Some(app) = TestApp::with_config(engine, |c| c.voice.clones_per_hour = 100).await else { return };
    let alice = app.user("alice", true, false).await;
    let good = tone_wav(120.0, 1.5, 22050);
    let good2 = tone_wav(125.0, 1.5, 22050);
    let good3 = tone_wav(130.0, 1.5, 22050);
    let file = |b: &Vec<u8>| Part::File("audioSamples", "s.wav", "audio/wav", b.clone());
    let name = Part::Text("voiceName", "Mine");
    let field_of = |v: &Value| v["details"]["fields"][0]["field"].as_str().unwrap_or("").to_string();

    let text_file = b"These are my notes, not a recording.".to_vec();
    let v = clone_upload(
        &app,
        &alice,
        &[
            file(&good),
            file(&good2),
            Part::File("audioSamples", "notes.txt", "text/plain", text_file),
            Part::Text("voiceName", "Mine"),
        ],
    )
    .await
    .assert_error(400, Some("validation_error"));
    assert_eq!(field_of(&v), "audioSamples[2]");
    let noise: Vec<u8> = (0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    let v = clone_upload(
        &app,
        &alice,
        &[
            Part::File("audioSamples", "x.mp3", "audio/mpeg", noise),
            file(&good2),
            file(&good3),
            Part::Text("voiceName", "Mine"),
        ],
    )
    .await
    .assert_error(400, None);
    assert_eq!(field_of(&v), "audioSamples[0]");
    let header_only = tone_wav(120.0, 0.0, 22050);
    let v =
        clone_upload(&app, &alice, &[file(&good), file(&header_only), file(&good3), Part::Text("voiceName", "Mine")])
            .await
            .assert_error(400, None);
    assert_eq!(field_of(&v), "audioSamples[1]");
    let short = tone_wav(120.0, 0.4, 22050);
    let v = clone_upload(&app, &alice, &[file(&good), file(&good2), file(&short), Part::Text("voiceName", "Mine")])
        .await
        .assert_error(400, None);
    assert_eq!(v["details"]["fields"][0]["code"], "audio_too_short");
    let v = clone_upload(&app, &alice, &[file(&good), file(&good2), name]).await.assert_error(400, None);
    assert_eq!(field_of(&v), "audioSamples");
    let many: Vec<Part> = (0..11)
        .map(|i| Part::File("audioSamples", "s.wav", "audio/wav", tone_wav(100.0 + i as f64, 1.1, 22050)))
        .collect();
    clone_upload(&app, &alice, &many).await.assert_error(400, None);
    let v = clone_upload(&app, &alice, &[file(&good), file(&good), file(&good3), Part::Text("voiceName", "Mine")])
        .await
        .assert_error(400, None);
    assert_eq!(v["details"]["fields"][0]["code"], "duplicate");
    let long_name = "n".repeat(51);
    let v = clone_upload(&app, &alice, &[file(&good), file(&good2), file(&good3), Part::Text("voiceName", &long_name)])
        .await
        .assert_error(400, None);
    assert_eq!(field_of(&v), "voiceName");
    let v = clone_upload(&app, &alice, &[file(&good), file(&good2), file(&good3)]).await.assert_error(400, None);
    assert_eq!(field_of(&v), "voiceName");
    let v = clone_upload(
        &app,
        &alice,
        &[file(&good), file(&good2), file(&good3), Part::Text("voiceName", "x"), Part::Text("personality", "Bob")],
    )
    .await
    .assert_error(400, None);
    assert_eq!(field_of(&v), "personality");
    let not_multipart = request(
        &app,
        Method::POST,
        "/v1/voice/clone",
        Some(&alice),
        &[("content-type", "application/json")],
        b"{}".to_vec(),
    )
    .await;
    not_multipart.assert_error(415, None);
    let big = tone_wav(120.0, 400.0, 22050); // 17 MB > the 10 MiB per-sample limit
    clone_upload(
        &app,
        &alice,
        &[
            Part::File("audioSamples", "big.wav", "audio/wav", big),
            file(&good2),
            file(&good3),
            Part::Text("voiceName", "x"),
        ],
    )
    .await
    .assert_error(413, Some("payload_too_large"));
    // Nothing was started.
    request(&app, Method::GET, "/v1/voice/clone/status", Some(&alice), &[], vec![]).await.assert_error(404, None);
    let free = app.user("free", false, false).await;
    clone_upload(&app, &free, &[file(&good), file(&good2), file(&good3), Part::Text("voiceName", "x")])
        .await
        .assert_error(403, Some("premium_required"));
    // Harmonic tones have a clear fundamental: at 120–130 Hz the match is the male variant.
    assert_eq!(
        clone_upload(&app, &alice, &[file(&good), file(&good2), file(&good3), Part::Text("voiceName", "Tones")])
            .await
            .status,
        202
    );
    let done = wait_for_clone(&app, &alice).await;
    assert!(done["elevenLabsVoiceId"].as_str().unwrap().starts_with("en-us+m3"), "{done}");
});

both_engines!(cloning_is_rate_limited, |app: TestApp| async move {
    let alice = app.user("alice", true, false).await;
    let parts = |f: f64| -> Vec<Part<'static>> {
        vec![
            Part::File("audioSamples", "1.wav", "audio/wav", tone_wav(f, 1.2, 16000)),
            Part::File("audioSamples", "2.wav", "audio/wav", tone_wav(f + 3.0, 1.2, 16000)),
            Part::File("audioSamples", "3.wav", "audio/wav", tone_wav(f + 6.0, 1.2, 16000)),
            Part::Text("voiceName", "Me"),
        ]
    };
    for i in 0..3 {
        let r = clone_upload(&app, &alice, &parts(110.0 + f64::from(i))).await;
        assert_eq!(r.status, 202, "{}", r.text());
        wait_for_clone(&app, &alice).await;
    }
    let limited = clone_upload(&app, &alice, &parts(150.0)).await;
    limited.assert_error(429, Some("rate_limited"));
    let wait: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((3000..=3600).contains(&wait), "{wait}");
    // Other users have their own allowance.
    let bob = app.user("bob", true, false).await;
    assert_eq!(clone_upload(&app, &bob, &parts(150.0)).await.status, 202);
});
