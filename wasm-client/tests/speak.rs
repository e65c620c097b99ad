//! `speak()`: cache-first speech. Against the real server: a miss synthesizes, stores and plays; the
//! next call is a hit that asks the server nothing; interactions are recorded; free users get the
//! text. Against the fake outage: 503 → the text comes back for the text-only fallback, a cached
//! clip still plays, and offline (even after a "reload") the cached clip plays from IndexedDB.

#![cfg(target_arch = "wasm32")]

mod common;

use coach_wasm::cache::VoiceCache;
use common::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// The fake's profile (see xtask/src/servers.rs).
const FAKE_PROFILE: &str = r#"{"provider":"local","model":"espeak-ng/1","format":"mp3_22050_48","personality":"Alice","voice":"en-us+f3","settings":{"whisper":"w","neutral":"n","hype":"h"},"voiceEnabled":true,"toneAdaptation":false}"#;

fn fake() -> Option<&'static str> {
    if FAKE_URL.is_none() {
        console_log!("SKIPPED: COACH_TEST_FAKE_URL was not set at build time");
    }
    FAKE_URL
}

fn opts(tone: &str, context: &str) -> JsValue {
    json(&format!(r#"{{"tone":"{tone}","context":"{context}"}}"#))
}

#[wasm_bindgen_test]
async fn a_503_returns_the_text_for_the_text_only_fallback() {
    let Some(fake) = fake() else { return };
    let c = client(fake, &unique("speak-503"), "t", &[("cache", obj(&[("dbName", unique("speak-db").into())]))]);
    let before = fake_count(fake, "POST /v1/voice/synthesize").await;
    let r = c.speak("Push through, one more!".into(), opts("hype", "new_pr")).await.unwrap();
    assert!(!b(&r, "spoken"));
    assert_eq!(s(&r, "reason"), "voice_unavailable");
    assert_eq!(s(&r, "text"), "Push through, one more!");
    assert!(!b(&r, "cached"));
    assert!(prop(&r, "playbackLatency").is_null());
    let key = coach_wasm::clip_key_for_profile(json(FAKE_PROFILE), "Push through, one more!", "hype").unwrap();
    assert_eq!(s(&r, "cacheKey"), key);
    assert_eq!(fake_count(fake, "POST /v1/voice/synthesize").await, before + 1);
}

#[wasm_bindgen_test]
async fn a_cached_clip_plays_without_asking_the_server_even_offline_after_a_reload() {
    let Some(fake) = fake() else { return };
    let user = unique("speak-hit");
    let db = unique("speak-db");
    let cache_opts = obj(&[("dbName", db.clone().into())]);
    let c = client(fake, &user, "t", &[("cache", cache_opts.clone())]);
    let text = "Breathe. Slow and steady.";
    let key = coach_wasm::clip_key_for_profile(json(FAKE_PROFILE), text, "whisper").unwrap();
    let cache = VoiceCache::open(user.clone(), cache_opts.clone()).await.unwrap();
    cache.put(key.clone(), blob(&wav(11_025, 330.0), "audio/wav"), json(r#"{"tone":"whisper"}"#)).await.unwrap();

    let before = fake_count(fake, "POST /v1/voice/synthesize").await;
    let r = c.speak(text.into(), opts("whisper", "grinding")).await.unwrap();
    assert!(b(&r, "spoken"), "{r:?}");
    assert!(b(&r, "cached"));
    assert_eq!(s(&r, "cacheKey"), key);
    assert!(n(&r, "playbackLatency") > 0.0);
    assert!(prop(&r, "generationLatency").is_null());
    assert_eq!(fake_count(fake, "POST /v1/voice/synthesize").await, before, "no server call on a hit");
    assert_eq!(n(&cache.stats().await.unwrap(), "hits"), 1.0);

    // offline: a miss falls back to text, the cached line still plays
    c.set_offline(true);
    let r = c.speak("Something new".into(), opts("neutral", "set")).await.unwrap();
    assert_eq!(s(&r, "reason"), "offline");
    assert!(!b(&r, "spoken"));
    c.close();

    // a "reload" while offline: the profile comes from IndexedDB, the clip too
    let c2 = client(fake, &user, "t", &[("cache", cache_opts)]);
    c2.set_offline(true);
    let r = c2.speak(text.into(), opts("whisper", "grinding")).await.unwrap();
    assert!(b(&r, "spoken") && b(&r, "cached"), "{r:?}");
    c2.player().stop();
}

#[wasm_bindgen_test]
async fn bad_input_rejects_with_typed_errors() {
    let Some(fake) = fake() else { return };
    let c = client(fake, &unique("speak-bad"), "t", &[("cache", obj(&[("dbName", unique("speak-db").into())]))]);
    let err = c.speak("x".repeat(281), opts("neutral", "")).await.unwrap_err();
    assert_eq!(code(&err), "validation_error");
    let err = c.speak("hi".into(), json(r#"{"tone":"shout"}"#)).await.unwrap_err();
    assert_eq!(code(&err), "invalid_argument");
}

#[wasm_bindgen_test]
async fn a_miss_synthesizes_stores_and_plays_then_hits() {
    let Some(base) = server() else { return };
    let user = unique("speak-real");
    let token = dev_token(base, &user, true, false, "user", None).await;
    if !voice_routes(base, &token).await {
        return;
    }
    let c = client(base, &user, &token, &[("cache", obj(&[("dbName", unique("speak-db").into())]))]);
    let workout = c
        .create_workout(json(r#"{"exerciseType":"squat","setNumber":2,"weight":100,"reps":5,"perceivedExertion":8}"#))
        .await
        .unwrap();
    let workout_id = s(&workout, "id");
    let mut o = opts("neutral", "set_complete");
    js_sys::Reflect::set(&o, &"workoutEntryId".into(), &workout_id.clone().into()).unwrap();
    o = o.clone();

    let first = c.speak("Nice lift, keep the bar close.".into(), o.clone()).await.unwrap();
    assert!(b(&first, "spoken"), "{first:?}");
    assert!(!b(&first, "cached"));
    assert!(n(&first, "generationLatency") >= 0.0);
    assert!(n(&first, "playbackLatency") > 0.0);
    let key = s(&first, "cacheKey");
    let expected = c.cache_key("Nice lift, keep the bar close.".into(), "neutral".into()).await.unwrap();
    assert_eq!(key, expected, "the browser's key is the server's key");
    let cache = c.voice_cache().await.unwrap();
    let stored = cache.peek(key.clone()).await.unwrap();
    assert!(!stored.is_null(), "stored in IndexedDB");
    assert!(n(&stored, "size") > 0.0);
    c.player().stop();

    let second = c.speak("Nice lift, keep the bar close.".into(), o).await.unwrap();
    assert!(b(&second, "spoken") && b(&second, "cached"), "{second:?}");
    assert!(prop(&second, "generationLatency").is_null());
    assert_eq!(s(&second, "cacheKey"), key);
    c.player().stop();

    // both recorded as interactions (through the outbox)
    let list = c.list_interactions(workout_id).await.unwrap();
    assert_eq!(n(&list, "totalInteractions"), 2.0, "{list:?}");
    let items = js_sys::Array::from(&prop(&list, "interactions"));
    assert!(!b(&items.get(0), "wasCached"));
    assert!(b(&items.get(1), "wasCached"));
}

#[wasm_bindgen_test]
async fn tone_adaptation_and_free_users() {
    let Some(base) = server() else { return };
    let user = unique("speak-tone");
    let token = dev_token(base, &user, true, false, "user", None).await;
    if !voice_routes(base, &token).await {
        return;
    }
    let c = client(base, &user, &token, &[("cache", obj(&[("dbName", unique("speak-db").into())]))]);
    c.update_preferences(json(r#"{"toneAdaptation":true}"#)).await.unwrap();
    let r = c
        .speak("New record, let's go!".into(), json(r#"{"tone":"neutral","context":"new_pr","play":false}"#))
        .await
        .unwrap();
    assert_eq!(s(&r, "tone"), "hype", "the context picked the tone");
    assert_eq!(s(&r, "reason"), "not_played");
    let key = c.cache_key("New record, let's go!".into(), "hype".into()).await.unwrap();
    assert_eq!(s(&r, "cacheKey"), key);

    let free = unique("speak-free");
    let free_token = dev_token(base, &free, false, false, "user", None).await;
    let f = client(base, &free, &free_token, &[("cache", obj(&[("dbName", unique("speak-db").into())]))]);
    let r = f.speak("Good set".into(), opts("neutral", "set")).await.unwrap();
    assert!(!b(&r, "spoken"));
    assert_eq!(s(&r, "reason"), "premium_required");
    assert_eq!(s(&r, "text"), "Good set");
}
