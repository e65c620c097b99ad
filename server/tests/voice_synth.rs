//! Synthesis with the local engine (no key, no network) on both database engines: real MP3, the
//! clip store and its URLs, the per-user cache index, single-flight, and bad input.

mod common;
mod voice_support;

use axum::http::Method;
use coach_shared::Tone;
use coach_shared::types::voice::VoiceProfile;
use common::TestApp;
use serde_json::json;
use voice_support::*;

both_engines!(premium_synthesis_is_real_mp3_then_cached, |app: TestApp| async move {
    let alice = app.user("alice", true, false).await;
    let text = "Great job! You're crushing this workout, keep that bar moving!";
    let r = synth(&app, &alice, phrase(text)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let first = r.json();
    assert_eq!(first["cached"], false);
    assert_eq!(first["tone"], "neutral");
    let key = first["cacheKey"].as_str().unwrap().to_string();
    assert_eq!(key.len(), 64);
    let url = first["audioUrl"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/v1/voice/clips/{key}.mp3", app.state.config.public_base())), "{url}");
    assert!(first["duration"].as_f64().unwrap() > 1.0);
    assert!(first["generationLatency"].as_f64().unwrap() > 0.0);
    assert!(first["cacheId"].is_string());
    assert_eq!(local_synth_calls(&app), 1.0);

    // The browser computes the same key from the profile.
    let profile = request(&app, Method::GET, "/v1/voice/profile", Some(&alice), &[], vec![]).await;
    assert_eq!(profile.status, 200, "{}", profile.text());
    let profile: VoiceProfile = serde_json::from_slice(&profile.body).unwrap();
    assert_eq!((profile.provider.as_str(), profile.voice.as_str()), ("local", "en-us+f3"));
    assert!(profile.model.starts_with("espeak-ng/"));
    assert_eq!(profile.clip_key(text, Tone::Neutral), key);

    // The clip is real MP3 that decodes to the reported duration.
    let clip = request(&app, Method::GET, &path_of(url), None, &[], vec![]).await;
    assert_eq!(clip.status, 200);
    assert_eq!(clip.headers["content-type"], "audio/mpeg");
    assert!(is_mpeg(&clip.body));
    let secs = decoded_secs(&clip.body);
    assert!((secs - first["duration"].as_f64().unwrap()).abs() < 0.01, "{secs}");

    // The same phrase again: from the store, no provider call, same index entry.
    let again = synth(&app, &alice, phrase(text)).await.json();
    assert_eq!(again["cached"], true);
    assert_eq!(again["cacheKey"], key.as_str());
    assert_eq!(again["cacheId"], first["cacheId"]);
    assert_eq!(local_synth_calls(&app), 1.0, "no second provider call");
    // Another premium user asking for the same phrase shares the clip.
    let bob = app.user("bob", true, false).await;
    let shared = synth(&app, &bob, phrase(text)).await.json();
    assert_eq!((shared["cached"].clone(), shared["cacheKey"].clone()), (json!(true), json!(key)));
    assert_ne!(shared["cacheId"], first["cacheId"]);
    assert_eq!(local_synth_calls(&app), 1.0);

    let list = request(&app, Method::GET, "/v1/voice/cache", Some(&alice), &[], vec![]).await.json();
    assert_eq!(list["totalEntries"], 1);
    assert_eq!(list["cacheEntries"][0]["usageCount"], 2);
    assert_eq!(list["cacheEntries"][0]["textHash"], key.as_str());
    assert!(list["totalSize"].as_f64().unwrap() > 0.0);
    assert_eq!(metric(&app, "coach_voice_cache_requests_total", &[("provider", "local"), ("result", "hit")]), 2.0);
    assert_eq!(metric(&app, "coach_voice_cache_requests_total", &[("provider", "local"), ("result", "miss")]), 1.0);
});

both_engines!(audio_accept_returns_the_bytes, |app: TestApp| async move {
    let alice = app.user("alice", true, false).await;
    let body = serde_json::to_vec(&phrase("Two more reps. Breathe out on the way up.")).unwrap();
    let headers = [("content-type", "application/json"), ("accept", "audio/mpeg")];
    let r = request(&app, Method::POST, "/v1/voice/synthesize", Some(&alice), &headers, body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.headers["content-type"], "audio/mpeg");
    assert_eq!(r.headers["x-voice-cached"], "false");
    assert!(is_mpeg(&r.body) && decoded_secs(&r.body) > 0.5);
    let again = request(&app, Method::POST, "/v1/voice/synthesize", Some(&alice), &headers, body.clone()).await;
    assert_eq!(again.headers["x-voice-cached"], "true");
    assert_eq!(again.body, r.body);
    // enableCaching: false still answers with the clip but leaves the cache index alone.
    let uncached = json!({ "text": "Not for the index.", "tone": "neutral", "context": "x", "enableCaching": false });
    let r = synth(&app, &alice, uncached).await.json();
    assert!(r["cacheId"].is_null() && r["audioUrl"].is_string());
    let list = request(&app, Method::GET, "/v1/voice/cache", Some(&alice), &[], vec![]).await.json();
    assert_eq!(list["totalEntries"], 1);
    let only_wav = [("content-type", "application/json"), ("accept", "audio/wav")];
    request(&app, Method::POST, "/v1/voice/synthesize", Some(&alice), &only_wav, body)
        .await
        .assert_error(406, Some("not_acceptable"));
});

both_engines!(eleven_phrases_leave_ten_entries, |app: TestApp| async move {
    let alice = app.user("alice", true, false).await;
    let mut keys = Vec::new();
    for i in 0..11 {
        let r = synth(&app, &alice, phrase(&format!("Set {i} done, rest ninety seconds."))).await;
        assert_eq!(r.status, 200, "{}", r.text());
        keys.push(r.json()["cacheKey"].as_str().unwrap().to_string());
    }
    let list = request(&app, Method::GET, "/v1/voice/cache", Some(&alice), &[], vec![]).await.json();
    assert_eq!((list["totalEntries"].clone(), list["maxEntries"].clone()), (json!(10), json!(10)));
    let held: Vec<&str> =
        list["cacheEntries"].as_array().unwrap().iter().map(|e| e["textHash"].as_str().unwrap()).collect();
    assert!(held.contains(&keys[10].as_str()), "the newest clip is kept");
    assert_eq!(keys[..10].iter().filter(|k| !held.contains(&k.as_str())).count(), 1, "exactly one evicted");
    assert_eq!(metric(&app, "coach_voice_cache_evictions_total", &[]), 1.0);
});

both_engines!(concurrent_requests_share_one_call_and_keep_ten, |app: TestApp| async move {
    let alice = app.user("alice", true, false).await;
    // 12 identical requests at once: one provider call.
    let same = (0..12).map(|_| synth(&app, &alice, phrase("Lock out at the top and hold it.")));
    let answers = futures_util::future::join_all(same).await;
    assert!(answers.iter().all(|r| r.status == 200));
    assert_eq!(local_synth_calls(&app), 1.0, "single-flight");
    let keys: std::collections::HashSet<_> = answers.iter().map(|r| r.json()["cacheKey"].clone()).collect();
    assert_eq!(keys.len(), 1);
    // 16 distinct phrases at once never push the index past 10.
    let distinct = (0..16).map(|i| synth(&app, &alice, phrase(&format!("Distinct line number {i}."))));
    for r in futures_util::future::join_all(distinct).await {
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let list = request(&app, Method::GET, "/v1/voice/cache", Some(&alice), &[], vec![]).await.json();
    assert_eq!(list["totalEntries"], 10);
});

engines!(new_clips_are_rate_limited_per_user, |engine: common::Engine| async move {
    let Some(app) = TestApp::with_config(engine, |c| {
        c.voice.synth_burst = 2;
        c.voice.synth_per_minute = 1;
    })
    .await
    else {
        return;
    };
    let alice = app.user("alice", true, false).await;
    for text in ["First new line.", "Second new line."] {
        assert_eq!(synth(&app, &alice, phrase(text)).await.status, 200);
    }
    let limited = synth(&app, &alice, phrase("Third new line.")).await;
    limited.assert_error(429, Some("rate_limited"));
    assert!(limited.headers["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(
        synth(&app, &alice, phrase("First new line.")).await.json()["cached"],
        true,
        "stored clips are not limited"
    );
    let bob = app.user("bob", true, false).await;
    assert_eq!(synth(&app, &bob, phrase("Third new line.")).await.status, 200, "limits are per user");
});

both_engines!(free_users_and_disabled_voice_are_refused, |app: TestApp| async move {
    let free = app.user("free", false, false).await;
    synth(&app, &free, phrase("Nice set.")).await.assert_error(403, Some("premium_required"));
    for path in ["/v1/voice/preferences", "/v1/voice/profile"] {
        request(&app, Method::GET, path, Some(&free), &[], vec![]).await.assert_error(403, Some("premium_required"));
    }
    synth(&app, "not-a-token", phrase("Nice set.")).await.assert_error(401, None);
    let alice = app.user("alice", true, false).await;
    let off = request(
        &app,
        Method::PUT,
        "/v1/voice/preferences",
        Some(&alice),
        &[("content-type", "application/json")],
        br#"{"voiceEnabled": false}"#.to_vec(),
    )
    .await;
    assert_eq!(off.status, 200, "{}", off.text());
    synth(&app, &alice, phrase("Nice set.")).await.assert_error(403, Some("voice_disabled"));
    assert_eq!(local_synth_calls(&app), 0.0);
});

both_engines!(bad_input_is_refused_and_changes_nothing, |app: TestApp| async move {
    let alice = app.user("alice", true, false).await;
    let json_ct = [("content-type", "application/json")];
    let post = |body: Vec<u8>| request(&app, Method::POST, "/v1/voice/synthesize", Some(&alice), &json_ct, body);
    post(b"{\"text\": \"hi\", ".to_vec()).await.assert_error(400, Some("invalid_json"));
    post(br#"{"tone": "neutral", "context": "x"}"#.to_vec()).await.assert_error(400, Some("validation_error"));
    post(br#"{"text": "hi", "tone": "loud", "context": "x"}"#.to_vec())
        .await
        .assert_error(400, Some("validation_error"));
    post(br#"{"text": "   ", "tone": "hype", "context": "x"}"#.to_vec())
        .await
        .assert_error(400, Some("validation_error"));
    let long = serde_json::to_vec(&phrase(&"a".repeat(281))).unwrap();
    let v = post(long).await.assert_error(400, Some("validation_error"));
    assert_eq!(v["details"]["field"], "text");
    let huge = serde_json::to_vec(&phrase(&"b".repeat(100_000))).unwrap();
    post(huge).await.assert_error(413, None);
    let plain = request(
        &app,
        Method::POST,
        "/v1/voice/synthesize",
        Some(&alice),
        &[("content-type", "text/plain")],
        b"hi".to_vec(),
    );
    plain.await.assert_error(415, None);
    assert_eq!(local_synth_calls(&app), 0.0);
    let list = request(&app, Method::GET, "/v1/voice/cache", Some(&alice), &[], vec![]).await.json();
    assert_eq!(list["totalEntries"], 0);
});

both_engines!(tone_follows_the_context_unless_forced_or_off, |app: TestApp| async move {
    let alice = app.user("alice", true, false).await;
    let ask = |ctx: &str, force: bool| json!({ "text": "Here we go.", "tone": "neutral", "context": ctx, "forceTone": force });
    assert_eq!(synth(&app, &alice, ask("high_strain_set", false)).await.json()["tone"], "whisper");
    assert_eq!(synth(&app, &alice, ask("new_pr", false)).await.json()["tone"], "hype");
    assert_eq!(synth(&app, &alice, ask("rest_period", false)).await.json()["tone"], "neutral");
    assert_eq!(synth(&app, &alice, ask("new_pr", true)).await.json()["tone"], "neutral");
    let hype_on_rest = json!({ "text": "Here we go.", "tone": "hype", "context": "rest_period" });
    assert_eq!(synth(&app, &alice, hype_on_rest).await.json()["tone"], "hype", "a neutral context keeps the request");
    let off = serde_json::to_vec(&json!({ "toneAdaptation": false })).unwrap();
    request(&app, Method::PUT, "/v1/voice/preferences", Some(&alice), &[("content-type", "application/json")], off)
        .await;
    assert_eq!(synth(&app, &alice, ask("high_strain_set", false)).await.json()["tone"], "neutral");
});

both_engines!(clip_urls_are_cdn_ready, |app: TestApp| async move {
    let alice = app.user("alice", true, false).await;
    let r = synth(&app, &alice, phrase("Chest up, drive through your heels.")).await.json();
    let key = r["cacheKey"].as_str().unwrap();
    let path = path_of(r["audioUrl"].as_str().unwrap());
    let full = request(&app, Method::GET, &path, None, &[], vec![]).await;
    assert_eq!(full.status, 200);
    let len = full.body.len();
    assert_eq!(full.headers["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(full.headers["etag"], format!("\"{key}\"").as_str());
    assert_eq!(full.headers["accept-ranges"], "bytes");
    assert_eq!(full.headers["content-length"], len.to_string().as_str());

    let part = request(&app, Method::GET, &path, None, &[("range", "bytes=0-99")], vec![]).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.headers["content-range"], format!("bytes 0-99/{len}").as_str());
    assert_eq!(part.body, full.body[..100]);
    let tail = request(&app, Method::GET, &path, None, &[("range", "bytes=-10")], vec![]).await;
    assert_eq!(tail.body, full.body[len - 10..]);
    let beyond = format!("bytes={len}-");
    let bad = request(&app, Method::GET, &path, None, &[("range", beyond.as_str())], vec![]).await;
    bad.assert_error(416, Some("range_not_satisfiable"));
    assert_eq!(bad.headers["content-range"], format!("bytes */{len}").as_str());

    let etag = format!("\"{key}\"");
    let not_modified = request(&app, Method::GET, &path, None, &[("if-none-match", etag.as_str())], vec![]).await;
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());
    let head = request(&app, Method::HEAD, &path, None, &[], vec![]).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.headers["content-length"], len.to_string().as_str());
    assert!(head.body.is_empty());

    let missing = format!("/v1/voice/clips/{}.mp3", "0".repeat(64));
    request(&app, Method::GET, &missing, None, &[], vec![]).await.assert_error(404, Some("not_found"));
    request(&app, Method::GET, "/v1/voice/clips/..%2Fsecrets.json", None, &[], vec![]).await.assert_error(404, None);
    request(&app, Method::GET, &format!("/v1/voice/clips/{key}.wav"), None, &[], vec![]).await.assert_error(404, None);
});

both_engines!(cache_entries_belong_to_their_user, |app: TestApp| async move {
    let alice = app.user("alice", true, false).await;
    let bob = app.user("bob", true, false).await;
    let r = synth(&app, &alice, phrase("Squeeze the glutes at the top.")).await.json();
    let id = r["cacheId"].as_str().unwrap();
    let path = format!("/v1/voice/cache/{id}");
    request(&app, Method::GET, &path, Some(&bob), &[], vec![]).await.assert_error(404, Some("not_found"));
    request(&app, Method::DELETE, &path, Some(&bob), &[], vec![]).await.assert_error(404, Some("not_found"));
    let own = request(&app, Method::GET, &path, Some(&alice), &[], vec![]).await;
    assert_eq!(own.status, 200);
    assert_eq!(own.headers["content-type"], "audio/mpeg");
    assert!(own.headers["cache-control"].to_str().unwrap().starts_with("private"));
    assert!(decoded_secs(&own.body) > 0.5);
    let ranged = request(&app, Method::GET, &path, Some(&alice), &[("range", "bytes=10-19")], vec![]).await;
    assert_eq!((ranged.status.as_u16(), ranged.body.len()), (206, 10));
    let list = request(&app, Method::GET, "/v1/voice/cache", Some(&alice), &[], vec![]).await.json();
    assert_eq!(list["cacheEntries"][0]["usageCount"], 2, "the full download counted as a play");
    assert_eq!(request(&app, Method::DELETE, &path, Some(&alice), &[], vec![]).await.status, 204);
    request(&app, Method::GET, &path, Some(&alice), &[], vec![]).await.assert_error(404, None);
    request(&app, Method::DELETE, &path, Some(&alice), &[], vec![]).await.assert_error(404, None);
    request(&app, Method::GET, &path, None, &[], vec![]).await.assert_error(401, None);
});

both_engines!(cache_list_filters_and_clearing, |app: TestApp| async move {
    let alice = app.user("alice", true, false).await;
    let ask =
        |text: &str, tone: &str, ctx: &str| json!({ "text": text, "tone": tone, "context": ctx, "forceTone": true });
    let mut ids = Vec::new();
    for (text, tone, ctx) in [
        ("One", "whisper", "warmup"),
        ("Two", "hype", "warmup"),
        ("Three", "neutral", "cooldown"),
        ("Four", "whisper", "cooldown"),
    ] {
        ids.push(synth(&app, &alice, ask(text, tone, ctx)).await.json()["cacheId"].as_str().unwrap().to_string());
    }
    let get = |q: &'static str| {
        let (app, alice) = (&app, alice.clone());
        async move { request(app, Method::GET, &format!("/v1/voice/cache{q}"), Some(&alice), &[], vec![]).await }
    };
    assert_eq!(get("?tone=whisper").await.json()["totalEntries"], 2);
    assert_eq!(get("?context=warmup").await.json()["totalEntries"], 2);
    assert_eq!(get("?context=warmup&tone=hype").await.json()["totalEntries"], 1);
    get("?tone=loud").await.assert_error(400, Some("validation_error"));

    let json_ct = [("content-type", "application/json")];
    let clear =
        |body: &str| request(&app, Method::DELETE, "/v1/voice/cache", Some(&alice), &json_ct, body.as_bytes().to_vec());
    let none = clear("").await.json();
    assert_eq!((none["clearedEntries"].clone(), none["remainingEntries"].clone()), (json!(0), json!(4)));
    assert_eq!(clear("{}").await.json()["clearedEntries"], 0);
    clear("{\"clearAll\": tru").await.assert_error(400, Some("invalid_json"));
    clear(r#"{"cacheIds": "x"}"#).await.assert_error(400, Some("validation_error"));
    let by_ctx = clear(r#"{"context": "warmup"}"#).await.json();
    assert_eq!((by_ctx["clearedEntries"].clone(), by_ctx["remainingEntries"].clone()), (json!(2), json!(2)));
    assert!(by_ctx["freedSpace"].as_f64().unwrap() > 0.0);
    let by_id = clear(&json!({ "cacheIds": [ids[2], "someone-elses-id"] }).to_string()).await.json();
    assert_eq!(by_id["clearedEntries"], 1);
    let past = clear(r#"{"olderThan": "2000-01-01T00:00:00Z"}"#).await.json();
    assert_eq!(past["clearedEntries"], 0);
    let all = clear(r#"{"clearAll": true}"#).await.json();
    assert_eq!((all["clearedEntries"].clone(), all["remainingEntries"].clone()), (json!(1), json!(0)));
    // The clips stay in the shared store: asking again is a store hit.
    assert_eq!(synth(&app, &alice, ask("One", "whisper", "warmup")).await.json()["cached"], true);
});

/// Benchmark (not a test of speed): `cargo test -p coach-server --test voice_synth -- --ignored
/// --nocapture bench_local_synthesis` prints cold and cached latency of a 60-character phrase
/// through the whole HTTP stack (SQLite), and the clip's size and duration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: prints figures"]
async fn bench_local_synthesis() {
    let app = TestApp::new(common::Engine::Sqlite).await.unwrap();
    let alice = app.user("alice", true, false).await;
    let line = |i: usize| format!("Great set number {i:02}! Keep your core tight and finish strong.");
    assert_eq!(line(0).chars().count(), 60);
    let ms = |t: std::time::Instant| t.elapsed().as_secs_f64() * 1000.0;
    let (mut cold, mut cached, mut sizes, mut secs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..20 {
        let t = std::time::Instant::now();
        let r = synth(&app, &alice, phrase(&line(i))).await;
        cold.push(ms(t));
        let v = r.json();
        assert_eq!(v["cached"], false);
        let clip = request(&app, Method::GET, &path_of(v["audioUrl"].as_str().unwrap()), None, &[], vec![]).await;
        sizes.push(clip.body.len() as f64);
        secs.push(v["duration"].as_f64().unwrap());
        for _ in 0..10 {
            let t = std::time::Instant::now();
            let r = synth(&app, &alice, phrase(&line(i))).await;
            cached.push(ms(t));
            assert_eq!(r.json()["cached"], true);
        }
    }
    let pct = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * p).round() as usize]
    };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!("local synthesis, 60-character phrase, HTTP stack in-process, SQLite:");
    println!(
        "  cold   (espeak-ng + MP3 + store): p50 {:.1} ms  p90 {:.1} ms  (n={})",
        pct(&mut cold, 0.5),
        pct(&mut cold, 0.9),
        cold.len()
    );
    println!(
        "  cached (clip store hit + index):  p50 {:.2} ms  p90 {:.2} ms  (n={})",
        pct(&mut cached, 0.5),
        pct(&mut cached, 0.9),
        cached.len()
    );
    println!(
        "  clip: {:.0} bytes, {:.2} s of audio ({:.1} kbit/s)",
        mean(&sizes),
        mean(&secs),
        mean(&sizes) * 8.0 / mean(&secs) / 1000.0
    );
}
