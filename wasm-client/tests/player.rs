//! Playback in Chromium with real audio (a PCM WAV tone): latency to the `playing` event, live
//! levels from the AnalyserNode (on demand and per animation frame), object URLs revoked after
//! use, a typed error for undecodable audio, haptics and audio-output detection degrading
//! gracefully.

#![cfg(target_arch = "wasm32")]

mod common;

use std::cell::Cell;
use std::rc::Rc;

use coach_wasm::player::{AudioPlayer, audio_output_available, audio_outputs, haptic};
use common::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn a_clip_plays_with_measured_latency_and_its_url_is_revoked() {
    let player = AudioPlayer::new().unwrap();
    let audio = wav(22_050 / 2, 440.0); // half a second
    let result = player.play(blob(&audio, "audio/wav")).await.unwrap();
    let latency = n(&result, "playbackLatency");
    assert!(latency > 0.0 && latency < 5_000.0, "latency {latency}");
    assert!((n(&result, "duration") - 0.5).abs() < 0.05, "{result:?}");
    assert!(!b(&result, "haptic"), "accessibility mode is off");
    assert!(player.is_playing());
    assert!(player.holds_object_url());
    player.wait_ended().await.unwrap();
    assert!(!player.is_playing());
    sleep(20).await;
    assert!(!player.holds_object_url(), "object URL revoked after the clip ended");
}

#[wasm_bindgen_test]
async fn live_levels_follow_the_audio() {
    let player = AudioPlayer::new().unwrap();
    assert_eq!(player.levels().length(), 128);
    let frames = Rc::new(Cell::new(0u32));
    let loudest = Rc::new(Cell::new(0f64));
    let (f, l) = (frames.clone(), loudest.clone());
    let cb = Closure::<dyn FnMut(js_sys::Uint8Array, f64)>::new(move |levels: js_sys::Uint8Array, level: f64| {
        assert_eq!(levels.length(), 128);
        f.set(f.get() + 1);
        l.set(l.get().max(level));
    });
    player.on_levels(cb.as_ref().clone()).unwrap();
    player.play(blob(&wav(22_050, 440.0), "audio/wav")).await.unwrap();
    let mut peak = 0u8;
    for _ in 0..40 {
        sleep(25).await;
        peak = peak.max(player.levels().to_vec().into_iter().max().unwrap_or(0));
    }
    assert!(peak > 0, "the analyser hears the tone");
    assert!(player.level() >= 0.0);
    assert!(frames.get() > 0, "the per-frame callback ran");
    assert!(loudest.get() > 0.0, "loudness rose above silence");
    player.on_levels(JsValue::NULL).unwrap();
    player.stop();
    assert!(!player.is_playing());
    assert!(!player.holds_object_url(), "stop revokes the URL");
}

#[wasm_bindgen_test]
async fn undecodable_audio_is_a_typed_error() {
    let player = AudioPlayer::new().unwrap();
    let err = player.play(blob(b"this is not audio at all", "audio/mpeg")).await.unwrap_err();
    assert_eq!(code(&err), "playback_failed");
    assert!(!player.holds_object_url(), "URL revoked on failure");
}

#[wasm_bindgen_test]
async fn haptics_and_outputs_degrade_gracefully() {
    let has_vibrate = js_sys::Reflect::has(&web_sys::window().unwrap().navigator(), &"vibrate".into()).unwrap();
    // Chrome has navigator.vibrate but refuses a pulse before the user touched the page: the
    // answer is whether the browser accepted it, and never an exception
    let accepted = haptic(Some(vec![10]));
    assert!(has_vibrate || !accepted);
    let player = AudioPlayer::new().unwrap();
    player.set_accessibility_mode(true);
    assert!(player.accessibility_mode());
    let result = player.play(blob(&wav(2_205, 440.0), "audio/wav")).await.unwrap();
    assert_eq!(b(&result, "haptic"), accepted);
    player.stop();

    // without a media permission: a clear yes, no or "unknown" (null), never an exception
    let info = audio_outputs().await.unwrap();
    let available = prop(&info, "available");
    assert!(available.is_null() || available.as_bool().is_some());
    assert!(n(&info, "outputs") >= 0.0);
    assert!(!b(&info, "labelsVisible") || prop(&info, "headphones").as_bool().is_some());
    let simple = audio_output_available().await.unwrap();
    assert_eq!(simple.as_bool(), available.as_bool());
    player.set_volume(2.0);
    assert_eq!(player.volume(), 1.0);
}

#[wasm_bindgen_test]
async fn a_new_clip_replaces_the_one_starting_without_hanging() {
    let player = AudioPlayer::new().unwrap();
    let start = |freq: f64| {
        let p = player.clone();
        wasm_bindgen_futures::future_to_promise(async move { p.play(blob(&wav(22_050, freq), "audio/wav")).await })
    };
    let first = start(440.0);
    let second = start(660.0); // starts right after the first, before it is audible
    let second = wait(second).await.unwrap();
    assert!(n(&second, "playbackLatency") > 0.0);
    // the first either started before being replaced or was aborted: it settles either way
    match wait(first).await {
        Ok(r) => assert!(n(&r, "playbackLatency") > 0.0),
        Err(e) => assert_eq!(code(&e), "playback_failed"),
    }
    assert!(player.is_playing(), "the second clip plays");
    assert!(player.holds_object_url());
    player.stop();
    assert!(!player.holds_object_url());
}
