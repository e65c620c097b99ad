//! `CoachClient`'s typed calls against the real server (dev mode, started by `cargo xtask test`):
//! identity and consent, workouts, voice preferences and profile, synthesis as JSON and as audio,
//! the server's cache index, interactions, the multipart clone upload with progress, coaching,
//! deletion — and every failure as a typed `CoachError`.

#![cfg(target_arch = "wasm32")]

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use coach_wasm::client::CoachClient;
use common::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn premium(tag: &str) -> Option<(String, String, CoachClient)> {
    let base = server()?.to_string();
    let user = unique(tag);
    let token = dev_token(&base, &user, true, true, "user", None).await;
    let c = client(&base, &user, &token, &[("cache", obj(&[("dbName", unique("client-db").into())]))]);
    Some((base, token, c))
}

#[wasm_bindgen_test]
async fn construction_and_failures_are_typed() {
    let err = CoachClient::new(obj(&[("token", "t".into())])).err().unwrap();
    assert_eq!(code(&err), "invalid_argument");
    let err = CoachClient::new(obj(&[("baseUrl", "not a url".into()), ("userId", "u".into())])).err().unwrap();
    assert_eq!(code(&err), "invalid_argument");
    // the user comes from the token's `sub` when not given
    let payload = web_sys::window().unwrap().btoa(r#"{"sub":"usr_from_token","role":"user"}"#).unwrap();
    let c =
        CoachClient::new(obj(&[("baseUrl", "http://127.0.0.1:9".into()), ("token", format!("h.{payload}.s").into())]))
            .unwrap();
    assert_eq!(c.user_id(), "usr_from_token");
    assert_eq!(c.hashed_user_id(), coach_wasm::anonymize_user_id("usr_from_token"));
    let err = c.get_me().await.unwrap_err();
    assert_eq!(code(&err), "network_error");
    assert_eq!(n(&err, "status"), 0.0);
    c.set_offline(true);
    assert!(!c.online());
    assert_eq!(code(&c.get_me().await.unwrap_err()), "network_error");

    let Some(base) = server() else { return };
    let anon = client(base, "nobody", "forged.token.value", &[]);
    let err = anon.get_me().await.unwrap_err();
    assert!(coach_wasm::error::is_coach_error(&err));
    assert_eq!(n(&err, "status"), 401.0);
    assert!(["invalid_token", "unauthorized"].contains(&s(&err, "error").as_str()));
    assert!(!s(&err, "message").is_empty());
    assert_eq!(s(&err, "name"), "CoachError");
    assert!(err.is_instance_of::<js_sys::Error>());
}

#[wasm_bindgen_test]
async fn identity_consent_workouts_and_coaching() {
    let Some((_base, _token, c)) = premium("client-me").await else { return };
    let me = c.get_me().await.unwrap();
    assert_eq!(s(&me, "id"), c.user_id());
    assert!(b(&me, "isPremium"));
    let me = c.set_consent(false).await.unwrap();
    assert!(!b(&me, "dataCollectionConsent"));

    let w = c
        .create_workout(json(r#"{"exerciseType":"deadlift","setNumber":1,"weight":140,"reps":3,"perceivedExertion":9,"strainPercentage":92}"#))
        .await
        .unwrap();
    assert_eq!(s(&w, "exerciseType"), "deadlift");
    // checked before sending, same shape as the server's 400
    let err = c
        .create_workout(json(
            r#"{"exerciseType":"deadlift","setNumber":0,"weight":140,"reps":3,"perceivedExertion":9}"#,
        ))
        .await
        .unwrap_err();
    assert_eq!(code(&err), "validation_error");
    assert_eq!(n(&err, "status"), 400.0);
    let fields = js_sys::Array::from(&prop(&prop(&err, "details"), "fields"));
    assert_eq!(s(&fields.get(0), "field"), "setNumber");

    let answer = c
        .coach(json(r#"{"exerciseType":"deadlift","setNumber":1,"strainPercentage":92,"contextTags":["high_strain"]}"#))
        .await
        .unwrap();
    assert!(!s(&answer, "text").is_empty());
    assert!(["whisper", "neutral", "hype"].contains(&s(&answer, "tone").as_str()));
    assert!(!s(&answer, "modelVersion").is_empty());
    // a key set to `undefined` counts as absent, as it did through JSON (`contextTags` defaults)
    let req = json(r#"{"exerciseType":"deadlift","setNumber":2,"strainPercentage":40}"#);
    js_sys::Reflect::set(&req, &"contextTags".into(), &JsValue::UNDEFINED).unwrap();
    assert!(!s(&c.coach(req).await.unwrap(), "text").is_empty());
}

#[wasm_bindgen_test]
async fn preferences_profile_and_synthesis() {
    let Some((base, token, c)) = premium("client-voice").await else { return };
    if !voice_routes(&base, &token).await {
        return;
    }
    let prefs = c.update_preferences(json(r#"{"personality":"Aiden","accessibilityMode":true}"#)).await.unwrap();
    assert_eq!(s(&prefs, "personality"), "Aiden");
    let again = c.get_preferences().await.unwrap();
    assert!(b(&again, "accessibilityMode"));
    let err = c.update_preferences(json(r#"{"personality":"Bob"}"#)).await.unwrap_err();
    assert_eq!(code(&err), "invalid_argument");

    let profile = c.get_voice_profile().await.unwrap();
    assert_eq!(s(&profile, "personality"), "Aiden");
    let key = c.cache_key("Keep your core tight.".into(), "neutral".into()).await.unwrap();
    assert_eq!(key, coach_wasm::clip_key_for_profile(profile, "Keep your core tight.", "neutral").unwrap());

    let req = json(r#"{"text":"Keep your core tight.","tone":"neutral","context":"set","forceTone":true}"#);
    let synth = c.synthesize(req.clone()).await.unwrap();
    assert_eq!(s(&synth, "cacheKey"), key, "server and browser agree on the key");
    assert!(n(&synth, "duration") > 0.0);
    let via_url = bytes_of(&c.fetch_audio(s(&synth, "audioUrl")).await.unwrap()).await;
    let direct = bytes_of(&c.synthesize_audio(req).await.unwrap()).await;
    assert_eq!(via_url, direct, "JSON+URL and audio/mpeg give the same clip");
    assert!(via_url.starts_with(b"ID3") || via_url[0] == 0xFF, "MP3 bytes");

    // the server's cache index
    let list = c.list_cached_clips(JsValue::UNDEFINED).await.unwrap();
    let entries = js_sys::Array::from(&prop(&list, "cacheEntries"));
    let entry = entries.iter().find(|e| s(e, "textHash") == key).expect("indexed");
    let id = s(&entry, "id");
    let neutral = c.list_cached_clips(json(r#"{"tone":"neutral"}"#)).await.unwrap();
    assert!(n(&neutral, "totalEntries") >= 1.0);
    let clip = bytes_of(&c.get_cached_clip(id.clone()).await.unwrap()).await;
    assert_eq!(clip, direct);
    c.delete_cached_clip(id.clone()).await.unwrap();
    let err = c.get_cached_clip(id).await.unwrap_err();
    assert_eq!(n(&err, "status"), 404.0);
    c.synthesize(json(r#"{"text":"Again.","tone":"hype","context":"set"}"#)).await.unwrap();
    let cleared = c.clear_cached_clips(json(r#"{"clearAll":true}"#)).await.unwrap();
    assert!(n(&cleared, "clearedEntries") >= 1.0);
    assert_eq!(n(&cleared, "remainingEntries"), 0.0);
}

#[wasm_bindgen_test]
async fn interactions_are_recorded_once_and_listed() {
    let Some((base, token, c)) = premium("client-interactions").await else { return };
    if !voice_routes(&base, &token).await {
        return;
    }
    let w = c
        .create_workout(json(r#"{"exerciseType":"row","setNumber":4,"weight":60,"reps":10,"perceivedExertion":7}"#))
        .await
        .unwrap();
    let wid = s(&w, "id");
    let req = format!(
        r#"{{"workoutEntryId":"{wid}","aiResponseText":"Smooth reps.","voiceTone":"neutral","wasVoicePlayed":true,"wasCached":true,"playbackLatency":42}}"#
    );
    let out = c.record_interaction(json(&req)).await.unwrap();
    assert_eq!(s(&out, "state"), "sent", "{out:?}");
    assert_eq!(s(&prop(&out, "response"), "aiResponseText"), "Smooth reps.");
    let list = c.list_interactions(wid.clone()).await.unwrap();
    assert_eq!(n(&list, "totalInteractions"), 1.0);
    assert_eq!(n(&list, "cacheHitRate"), 100.0);
    // another user's workout: refused for good (poison), not retried
    let out = c.record_interaction(json(&req.replace(&wid, "no-such-workout"))).await.unwrap();
    assert_eq!(s(&out, "state"), "rejected");
    assert_eq!(n(&prop(&out, "error"), "status"), 404.0);
}

#[wasm_bindgen_test]
async fn the_clone_upload_reports_progress() {
    // samples must be distinct, decodable and at least a second long
    let samples: Vec<web_sys::Blob> =
        (0..3).map(|i| blob(&wav(26_000, 180.0 + 40.0 * i as f64), "audio/wav")).collect();
    let upload = |samples: &[web_sys::Blob], events: Rc<RefCell<Vec<f64>>>| {
        let arr: js_sys::Array = samples.iter().cloned().map(JsValue::from).collect();
        let cb = Closure::<dyn FnMut(JsValue)>::new(move |p: JsValue| {
            events.borrow_mut().push(n(&p, "loaded"));
        });
        let o = obj(&[
            ("samples", arr.into()),
            ("voiceName", "My coach voice".into()),
            ("onProgress", cb.as_ref().clone()),
        ]);
        cb.forget();
        o
    };

    if let Some(fake) = FAKE_URL {
        let c = client(fake, &unique("clone-fake"), "t", &[]);
        let events = Rc::new(RefCell::new(Vec::new()));
        let r = c.upload_voice_clone(upload(&samples, events.clone())).await.unwrap();
        assert_eq!(s(&r, "cloneId"), "fake-clone-3", "three multipart parts named audioSamples");
        let ev = events.borrow();
        assert!(!ev.is_empty(), "progress reported");
        assert!(ev.windows(2).all(|w| w[0] <= w[1]), "monotonic: {ev:?}");
        assert!(*ev.last().unwrap() > 3.0 * 52_000.0);
    }

    let Some((base, token, c)) = premium("client-clone").await else { return };
    // too few samples: refused locally
    let err = c.upload_voice_clone(upload(&samples[..2], Rc::default())).await.unwrap_err();
    assert_eq!(code(&err), "validation_error");
    if !voice_routes(&base, &token).await {
        return;
    }
    let events = Rc::new(RefCell::new(Vec::new()));
    let r = c.upload_voice_clone(upload(&samples, events.clone())).await.unwrap();
    assert_eq!(s(&r, "status"), "processing");
    assert!(!events.borrow().is_empty());
    let status = c.get_clone_status().await.unwrap();
    assert_eq!(s(&status, "cloneId"), s(&r, "cloneId"));
}

#[wasm_bindgen_test]
async fn deleting_my_data_removes_the_account_and_the_local_database() {
    let Some((_base, _token, c)) = premium("client-delete").await else { return };
    let cache = c.voice_cache().await.unwrap();
    cache.put("k".into(), blob(&wav(100, 300.0), "audio/wav"), JsValue::UNDEFINED).await.unwrap();
    let name = cache.db_name();
    cache.close();
    let result = c.delete_my_data().await.unwrap();
    assert!(result.is_object(), "{result:?}");
    let err = c.get_me().await.unwrap_err();
    assert!([401.0, 404.0].contains(&n(&err, "status")));
    let reopened = coach_wasm::cache::VoiceCache::open("x".into(), obj(&[("dbName", name.into())])).await.unwrap();
    assert!(!reopened.has("k".into()).await.unwrap(), "local clips are gone");
}
