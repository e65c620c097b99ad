//! The IndexedDB voice cache in Chromium, through the API the app uses: byte-identical reads after a
//! "reload" (a fresh instance on the same database), the 10-clip random rotation, expiry, persisted
//! counters, quota recovery, and blocked or concurrent upgrades that never lose a clip.

#![cfg(target_arch = "wasm32")]

mod common;

use coach_wasm::cache::VoiceCache;
use common::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn open(db: &str) -> VoiceCache {
    VoiceCache::open("user-cache-test".into(), obj(&[("dbName", db.into())])).await.unwrap()
}

fn info(tone: &str, context: &str) -> JsValue {
    json(&format!(r#"{{"text":"Nice lift!","tone":"{tone}","context":"{context}","duration":0.68}}"#))
}

#[wasm_bindgen_test]
async fn a_clip_reads_back_byte_identical_after_a_reload() {
    let db = unique("cache-reload");
    let audio = clip(30 * 1024, 1);
    let cache = open(&db).await;
    let out = cache.put("k1".into(), blob(&audio, "audio/wav"), info("hype", "new_pr")).await.unwrap();
    assert_eq!(n(&out, "entries"), 1.0);
    cache.close();
    drop(cache);

    // a new instance on the same database: what a reload (or a reopened tab) sees
    let cache = open(&db).await;
    let got = cache.get("k1".into()).await.unwrap();
    assert!(!got.is_null(), "the clip survived");
    let blob: web_sys::Blob = prop(&got, "audio").into();
    assert_eq!(bytes_of(&blob).await, audio, "byte-identical");
    assert_eq!(s(&got, "tone"), "hype");
    assert_eq!(s(&got, "context"), "new_pr");
    assert_eq!(s(&got, "mimeType"), "audio/wav");
    assert_eq!(n(&got, "size"), audio.len() as f64);
    assert_eq!(n(&got, "usageCount"), 1.0);
    assert!(prop(&got, "expiresAt").as_string().is_some(), "default TTL applied");
    assert!(cache.get("nope".into()).await.unwrap().is_null());
}

#[wasm_bindgen_test]
async fn the_eleventh_distinct_clip_evicts_exactly_one() {
    let db = unique("cache-rotation");
    let cache = open(&db).await;
    for i in 0..10 {
        let out =
            cache.put(format!("key-{i}"), blob(&clip(2048, i), "audio/wav"), info("neutral", "set")).await.unwrap();
        assert_eq!(js_sys::Array::from(&prop(&out, "evicted")).length(), 0);
        assert_eq!(n(&out, "entries"), f64::from(i + 1));
    }
    let out = cache.put("key-10".into(), blob(&clip(2048, 10), "audio/wav"), info("neutral", "set")).await.unwrap();
    let evicted = js_sys::Array::from(&prop(&out, "evicted"));
    assert_eq!(evicted.length(), 1, "exactly one evicted");
    assert_eq!(n(&out, "entries"), 10.0);
    let victim = evicted.get(0).as_string().unwrap();
    assert!(victim.starts_with("key-") && victim != "key-10");
    assert!(!cache.has(victim.clone()).await.unwrap());
    assert!(cache.has("key-10".into()).await.unwrap());
    let list = js_sys::Array::from(&cache.list().await.unwrap());
    assert_eq!(list.length(), 10);
    let stats = cache.stats().await.unwrap();
    assert_eq!(n(&stats, "evictions"), 1.0);
    assert_eq!(n(&stats, "entries"), 10.0);

    // a key already cached is a replacement, not an eviction
    let out = cache.put("key-10".into(), blob(&clip(1024, 99), "audio/wav"), info("hype", "set")).await.unwrap();
    assert!(b(&out, "replaced"));
    assert_eq!(js_sys::Array::from(&prop(&out, "evicted")).length(), 0);
}

#[wasm_bindgen_test]
async fn rotation_picks_different_victims() {
    // random eviction, not LRU/FIFO: over a few rounds the victims are not always the same slot
    let mut victims = std::collections::HashSet::new();
    for round in 0..6 {
        let db = unique("cache-random");
        let cache =
            VoiceCache::open("u".into(), obj(&[("dbName", db.into()), ("maxEntries", 3.into())])).await.unwrap();
        for i in 0..4 {
            let out = cache
                .put(format!("k{i}"), blob(&clip(256, i + round), "audio/wav"), info("neutral", ""))
                .await
                .unwrap();
            if i == 3 {
                victims.insert(js_sys::Array::from(&prop(&out, "evicted")).get(0).as_string().unwrap());
            }
        }
        cache.close();
    }
    assert!(victims.len() > 1, "always evicted {victims:?}");
}

#[wasm_bindgen_test]
async fn expired_clips_are_not_served() {
    let db = unique("cache-expiry");
    let cache = open(&db).await;
    let past = json(r#"{"tone":"whisper","context":"grind","expiresAt":"2020-01-01T00:00:00Z"}"#);
    cache.put("old".into(), blob(&clip(512, 1), "audio/wav"), past).await.unwrap();
    assert!(!cache.has("old".into()).await.unwrap());
    assert!(cache.get("old".into()).await.unwrap().is_null());
    let stats = cache.stats().await.unwrap();
    assert_eq!(n(&stats, "expired"), 1.0);
    assert_eq!(n(&stats, "misses"), 1.0);
    assert_eq!(n(&stats, "entries"), 0.0);

    // no TTL at all: never expires
    let forever =
        VoiceCache::open("u".into(), obj(&[("dbName", unique("cache-ttl").into()), ("ttlSeconds", JsValue::NULL)]))
            .await
            .unwrap();
    forever.put("k".into(), blob(&clip(512, 2), "audio/wav"), JsValue::UNDEFINED).await.unwrap();
    let got = forever.get("k".into()).await.unwrap();
    assert!(prop(&got, "expiresAt").is_null());
}

#[wasm_bindgen_test]
async fn stats_persist_across_reloads() {
    let db = unique("cache-stats");
    let cache = open(&db).await;
    let audio = clip(4096, 3);
    cache.put("a".into(), blob(&audio, "audio/wav"), info("neutral", "x")).await.unwrap();
    for _ in 0..4 {
        assert!(!cache.get("a".into()).await.unwrap().is_null());
    }
    assert!(cache.get("b".into()).await.unwrap().is_null());
    cache.close();

    let cache = open(&db).await;
    let stats = cache.stats().await.unwrap();
    assert_eq!(n(&stats, "hits"), 4.0);
    assert_eq!(n(&stats, "misses"), 1.0);
    assert_eq!(n(&stats, "hitRate"), 0.8);
    assert_eq!(n(&stats, "bytes"), audio.len() as f64);
    assert_eq!(n(&stats, "puts"), 1.0);
    assert_eq!(n(&stats, "maxEntries"), 10.0);
    let got = cache.peek("a".into()).await.unwrap();
    assert_eq!(n(&got, "usageCount"), 4.0, "usage persisted, peek counts nothing");
    cache.reset_stats().await.unwrap();
    assert!(prop(&cache.stats().await.unwrap(), "hitRate").is_null());
}

#[wasm_bindgen_test]
async fn a_quota_error_evicts_one_clip_and_retries_once() {
    let db = unique("cache-quota");
    let cache = open(&db).await;
    for i in 0..3 {
        cache.put(format!("q{i}"), blob(&clip(1024, i), "audio/wav"), info("neutral", "")).await.unwrap();
    }
    cache.simulate_storage_failures(1, None);
    let out = cache.put("q3".into(), blob(&clip(1024, 3), "audio/wav"), info("neutral", "")).await.unwrap();
    assert!(b(&out, "quotaRecovered"));
    assert_eq!(js_sys::Array::from(&prop(&out, "evicted")).length(), 1);
    assert_eq!(n(&out, "entries"), 3.0);
    assert!(cache.has("q3".into()).await.unwrap());

    // twice in a row: reported, and the aborted put left nothing half-written
    cache.simulate_storage_failures(2, None);
    let err = cache.put("q4".into(), blob(&clip(1024, 4), "audio/wav"), info("neutral", "")).await.unwrap_err();
    assert_eq!(code(&err), "quota_exceeded");
    assert_eq!(s(&prop(&err, "details"), "name"), "QuotaExceededError");
    assert!(!cache.has("q4".into()).await.unwrap());
    let stats = cache.stats().await.unwrap();
    assert_eq!(n(&stats, "entries"), 2.0, "one evicted per quota error, nothing else lost");
    assert_eq!(n(&stats, "quotaEvictions"), 2.0);
}

#[wasm_bindgen_test]
async fn a_version_1_database_upgrades_without_losing_clips() {
    let db = unique("cache-v1");
    let audio = clip(8192, 5);
    // what version 1 of this library wrote: audio inside the clip record, counters in `stats`
    let raw = open_raw(&db, 1, |d| {
        let p = web_sys::IdbObjectStoreParameters::new();
        p.set_key_path(&"key".into());
        d.create_object_store_with_optional_parameters("clips", &p).unwrap();
        let p = web_sys::IdbObjectStoreParameters::new();
        p.set_key_path(&"id".into());
        d.create_object_store_with_optional_parameters("stats", &p).unwrap();
    })
    .await;
    let tx = raw
        .transaction_with_str_sequence_and_mode(
            &js_sys::Array::of2(&"clips".into(), &"stats".into()),
            web_sys::IdbTransactionMode::Readwrite,
        )
        .unwrap();
    let rec = json(
        r#"{"key":"v1-key","tone":"whisper","context":"grind","generatedAt":"2026-01-01T00:00:00Z",
            "lastUsedAt":"2026-01-02T00:00:00Z","usageCount":3,"expiresAt":null,"duration":0.2}"#,
    );
    js_sys::Reflect::set(&rec, &"audio".into(), &blob(&audio, "audio/wav")).unwrap();
    tx.object_store("clips").unwrap().put(&rec).unwrap();
    tx.object_store("stats").unwrap().put(&json(r#"{"id":"stats","hits":7,"misses":2}"#)).unwrap();
    sleep(50).await;
    raw.close();

    let cache = open(&db).await;
    let got = cache.peek("v1-key".into()).await.unwrap();
    assert!(!got.is_null(), "the v1 clip survived the upgrade");
    assert_eq!(bytes_of(&prop(&got, "audio").into()).await, audio);
    assert_eq!(n(&got, "size"), audio.len() as f64, "size filled by the upgrade");
    assert_eq!(s(&got, "mimeType"), "audio/wav");
    assert_eq!(n(&got, "usageCount"), 3.0);
    let stats = cache.stats().await.unwrap();
    assert_eq!(n(&stats, "hits"), 7.0, "counters moved to v2's meta store");
    assert_eq!(n(&stats, "misses"), 2.0);
}

#[wasm_bindgen_test]
async fn a_blocked_upgrade_proceeds_once_the_old_tab_closes() {
    let db = unique("cache-blocked");
    // an "old tab": a v1 connection without a versionchange handler, so it never closes by itself
    let old = open_raw(&db, 1, |d| {
        let p = web_sys::IdbObjectStoreParameters::new();
        p.set_key_path(&"key".into());
        d.create_object_store_with_optional_parameters("clips", &p).unwrap();
    })
    .await;
    let blocked = std::rc::Rc::new(std::cell::Cell::new(false));
    let flag = blocked.clone();
    let old2 = old.clone();
    let on_blocked = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || {
        flag.set(true);
        old2.close(); // the app asks the user to close the other tab; here we close it ourselves
    });
    let opts = obj(&[("dbName", db.clone().into()), ("onBlocked", on_blocked.as_ref().clone())]);
    let cache = VoiceCache::open("u".into(), opts).await.unwrap();
    assert!(blocked.get(), "onBlocked was called");
    cache.put("k".into(), blob(&clip(512, 1), "audio/wav"), JsValue::UNDEFINED).await.unwrap();
    assert!(cache.has("k".into()).await.unwrap());
}

#[wasm_bindgen_test]
async fn a_blocked_upgrade_times_out_and_loses_nothing() {
    let db = unique("cache-blocked-timeout");
    let audio = clip(1024, 9);
    // an old tab holds v1 open and ignores versionchange
    let old = open_raw(&db, 1, |d| {
        let p = web_sys::IdbObjectStoreParameters::new();
        p.set_key_path(&"key".into());
        d.create_object_store_with_optional_parameters("clips", &p).unwrap();
    })
    .await;
    let tx = old.transaction_with_str_and_mode("clips", web_sys::IdbTransactionMode::Readwrite).unwrap();
    let rec = json(
        r#"{"key":"keep","tone":"neutral","context":"","generatedAt":"2026-01-01T00:00:00Z","lastUsedAt":"2026-01-01T00:00:00Z","usageCount":0,"expiresAt":null,"duration":0}"#,
    );
    js_sys::Reflect::set(&rec, &"audio".into(), &blob(&audio, "audio/wav")).unwrap();
    tx.object_store("clips").unwrap().put(&rec).unwrap();
    sleep(50).await;

    let opts = obj(&[("dbName", db.clone().into()), ("blockedTimeoutMs", 300.into())]);
    let started = js_sys::Date::now();
    let err = VoiceCache::open("u".into(), opts).await.err().expect("blocked");
    assert_eq!(code(&err), "database_blocked");
    assert!(js_sys::Date::now() - started >= 250.0);

    // the other tab goes away: the next open upgrades, and the v1 clip is there
    old.close();
    let cache = open(&db).await;
    let got = cache.peek("keep".into()).await.unwrap();
    assert_eq!(bytes_of(&prop(&got, "audio").into()).await, audio, "the clip survived");
}

#[wasm_bindgen_test]
async fn a_newer_tab_upgrading_closes_our_connection_and_we_reopen() {
    let db = unique("cache-versionchange");
    let cache = open(&db).await;
    let audio = clip(2048, 4);
    cache.put("k".into(), blob(&audio, "audio/wav"), JsValue::UNDEFINED).await.unwrap();
    // a newer library in another tab upgrades to v3: our connection must not block it...
    let newer = open_raw(&db, 3, |d| {
        d.create_object_store("future").unwrap();
    })
    .await;
    assert_eq!(newer.version(), 3.0);
    newer.close();
    // ...and our next call reopens (at v3, whose stores are a superset) with everything intact
    let got = cache.get("k".into()).await.unwrap();
    assert_eq!(bytes_of(&prop(&got, "audio").into()).await, audio);
    cache.put("k2".into(), blob(&clip(256, 5), "audio/wav"), JsValue::UNDEFINED).await.unwrap();
    assert_eq!(n(&cache.stats().await.unwrap(), "entries"), 2.0);
}

#[wasm_bindgen_test]
async fn two_tabs_putting_at_once_never_exceed_ten() {
    let db = unique("cache-concurrent");
    let a = std::rc::Rc::new(open(&db).await);
    let b = std::rc::Rc::new(open(&db).await);
    let all = js_sys::Array::new();
    for i in 0..8u32 {
        for (tab, cache) in [("a", a.clone()), ("b", b.clone())] {
            let fut = async move {
                cache.put(format!("{tab}{i}"), blob(&clip(300, i), "audio/wav"), JsValue::UNDEFINED).await
            };
            all.push(&wasm_bindgen_futures::future_to_promise(fut));
        }
    }
    wasm_bindgen_futures::JsFuture::from(js_sys::Promise::all(&all)).await.unwrap();
    assert_eq!(n(&a.stats().await.unwrap(), "entries"), 10.0);
    assert_eq!(js_sys::Array::from(&b.list().await.unwrap()).length(), 10);
    assert_eq!(n(&b.stats().await.unwrap(), "evictions"), 6.0);
}

#[wasm_bindgen_test]
async fn bad_options_are_typed_errors() {
    let err = VoiceCache::open("u".into(), obj(&[("maxEntries", 11.into())])).await.err().unwrap();
    assert_eq!(code(&err), "invalid_argument");
    assert!(coach_wasm::error::is_coach_error(&err));
    let cache = open(&unique("cache-bad")).await;
    let err = cache.put("".into(), blob(&[1, 2, 3], "audio/wav"), JsValue::UNDEFINED).await.unwrap_err();
    assert_eq!(code(&err), "invalid_argument");
    let err = cache.put("k".into(), blob(&[1], "audio/wav"), json(r#"{"tone":"loud"}"#)).await.unwrap_err();
    assert_eq!(code(&err), "invalid_argument");
}
