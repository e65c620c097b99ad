//! What the voice cache asks of IndexedDB, counted by a spy on the IndexedDB prototypes: a `get`
//! of a clip this instance knows answers after one request, in one transaction whose bookkeeping
//! follows the answer and commits at once; a cold `get` reads its three records together; a `put`
//! into a full cache is one transaction of one wave of writes (no read first), then a sweep of the
//! victim's audio and the counters; a put whose in-memory index another tab outdated repairs in
//! its own transaction. Also the invariants this design must keep: a clip replaced or deleted by
//! another tab is never served from what this tab knew, counters exact under concurrent lookups
//! from two tabs, two tabs putting at once never past the capacity nor losing a clip unreported,
//! expired clips dropped by a put, and counters a newer version added kept when this one writes
//! the record.
//!
//! A "wave" is the number of the transaction's requests that had succeeded when a request was
//! issued: requests issued together share it, and each distinct value is one round trip.

#![cfg(target_arch = "wasm32")]

mod common;

use std::collections::BTreeSet;

use coach_wasm::cache::VoiceCache;
use common::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Installs (once per page) counters on `IDBDatabase.transaction`, `IDBTransaction.commit` and the
/// `IDBObjectStore` request methods; `__idbSpy.on` turns counting on.
const SPY: &str = r#"
if (!globalThis.__idbSpy) {
  const spy = { on: false, tx: 0, commits: 0, requests: [] };
  globalThis.__idbSpy = spy;
  const transaction = IDBDatabase.prototype.transaction;
  IDBDatabase.prototype.transaction = function (...args) {
    const tx = transaction.apply(this, args);
    if (spy.on) { spy.tx += 1; tx.__spyId = spy.tx; tx.__spyDone = 0; }
    return tx;
  };
  const commit = IDBTransaction.prototype.commit;
  IDBTransaction.prototype.commit = function () { if (spy.on) spy.commits += 1; return commit.call(this); };
  for (const op of ['get', 'getAll', 'getAllKeys', 'getKey', 'put', 'add', 'delete', 'count', 'clear', 'openCursor', 'openKeyCursor']) {
    const f = IDBObjectStore.prototype[op];
    IDBObjectStore.prototype[op] = function (...args) {
      const req = f.apply(this, args);
      const tx = this.transaction;
      if (spy.on && tx.__spyId) {
        spy.requests.push({ tx: tx.__spyId, op, store: this.name, wave: tx.__spyDone });
        req.addEventListener('success', () => { tx.__spyDone += 1; });
      }
      return req;
    };
  }
}
globalThis.__idbSpy.tx = 0;
globalThis.__idbSpy.commits = 0;
globalThis.__idbSpy.requests = [];
globalThis.__idbSpy.on = true;
"#;

/// What the spy saw between [`spy_on`] and this call.
struct Seen {
    transactions: u32,
    commits: u32,
    /// (op, store, wave, transaction), in the order issued
    requests: Vec<(String, String, u32, u32)>,
}

impl Seen {
    fn waves(&self) -> BTreeSet<u32> {
        self.requests.iter().map(|r| r.2).collect()
    }
    fn ops_in_wave(&self, wave: u32) -> Vec<String> {
        self.requests.iter().filter(|r| r.2 == wave).map(|r| format!("{} {}", r.0, r.1)).collect()
    }
}

fn spy_on() {
    js_sys::Function::new_no_args(SPY).call0(&JsValue::NULL).unwrap();
}

fn spy_off() -> Seen {
    let spy = prop(&js_sys::global().into(), "__idbSpy");
    js_sys::Reflect::set(&spy, &"on".into(), &false.into()).unwrap();
    let requests = js_sys::Array::from(&prop(&spy, "requests"))
        .iter()
        .map(|r| (s(&r, "op"), s(&r, "store"), n(&r, "wave") as u32, n(&r, "tx") as u32))
        .collect();
    Seen { transactions: n(&spy, "tx") as u32, commits: n(&spy, "commits") as u32, requests }
}

/// The requests issued so far (counting goes on).
fn spy_off_keep() -> Vec<String> {
    let spy = prop(&js_sys::global().into(), "__idbSpy");
    js_sys::Array::from(&prop(&spy, "requests")).iter().map(|r| format!("{} {}", s(&r, "op"), s(&r, "store"))).collect()
}

/// How many records the `audio` store holds (read beside the cache, like another tab).
async fn audio_records(db: &str) -> u32 {
    let raw = open_raw(db, 2, |_| {}).await;
    let tx = raw.transaction_with_str("audio").unwrap();
    let req = tx.object_store("audio").unwrap().count().unwrap();
    sleep(50).await;
    raw.close();
    req.result().unwrap().as_f64().unwrap() as u32
}

async fn open(db: &str) -> VoiceCache {
    VoiceCache::open("user-cache-requests".into(), obj(&[("dbName", db.into())])).await.unwrap()
}

fn wav_blob(seed: u32) -> web_sys::Blob {
    blob(&clip(2048, seed), "audio/wav")
}

#[wasm_bindgen_test]
async fn a_get_of_a_known_clip_answers_after_one_read_in_one_transaction() {
    let cache = open(&unique("req-get")).await;
    cache.put("k".into(), wav_blob(1), json(r#"{"text":"Nice lift!","tone":"hype","duration":0.7}"#)).await.unwrap();
    sleep(50).await; // the put's sweep (counters) runs after its answer

    spy_on();
    let got = cache.get("k".into()).await.unwrap();
    let before_bookkeeping = spy_off_keep();
    sleep(50).await; // the bookkeeping commits after the answer
    let seen = spy_off();
    assert!(!got.is_null());
    assert_eq!(n(&got, "usageCount"), 1.0);
    assert!(s(&got, "lastUsedAt") >= s(&got, "generatedAt"), "this use's time, as an ISO string");
    assert_eq!((s(&got, "text"), s(&got, "tone"), n(&got, "duration")), ("Nice lift!".into(), "hype".into(), 0.7));
    assert_eq!(s(&got, "mimeType"), "audio/wav");
    assert_eq!(before_bookkeeping, ["get audio"], "the answer needed one request");
    assert_eq!(seen.transactions, 1, "one transaction per get: {:?}", seen.requests);
    assert_eq!(seen.ops_in_wave(0), ["get audio"]);
    assert_eq!(seen.ops_in_wave(1), ["get clips", "get meta"], "bookkeeping reads, after the answer");
    assert_eq!(seen.ops_in_wave(3), ["put clips", "put meta"]);
    assert_eq!(seen.waves().len(), 3, "{:?}", seen.requests);
    assert_eq!(seen.commits, 1, "committed at once, not after another round trip");
    let stats = cache.stats().await.unwrap();
    assert_eq!(n(&stats, "hits"), 1.0);
    assert_eq!(n(&cache.peek("k".into()).await.unwrap(), "usageCount"), 1.0, "usage stored");
}

#[wasm_bindgen_test]
async fn a_cold_get_reads_record_audio_and_counters_together() {
    let db = unique("req-cold");
    let cache = open(&db).await;
    cache.put("k".into(), wav_blob(1), JsValue::UNDEFINED).await.unwrap();
    cache.close();
    let cache = open(&db).await; // a reload: this instance knows nothing yet

    spy_on();
    let got = cache.get("k".into()).await.unwrap();
    let before_bookkeeping = spy_off_keep();
    sleep(50).await;
    let seen = spy_off();
    assert!(!got.is_null());
    assert_eq!(before_bookkeeping, ["get clips", "get audio", "get meta"]);
    assert_eq!(seen.transactions, 1);
    assert_eq!(seen.ops_in_wave(3), ["put clips", "put meta"], "one wave of writes after the answer");
    assert_eq!(seen.commits, 1);

    spy_on();
    assert!(cache.get("absent".into()).await.unwrap().is_null());
    sleep(50).await;
    let seen = spy_off();
    assert_eq!(seen.transactions, 1);
    assert_eq!(seen.ops_in_wave(3), ["put meta"], "a miss writes only the counters");
    let stats = cache.stats().await.unwrap();
    assert_eq!((n(&stats, "hits"), n(&stats, "misses")), (1.0, 1.0));
}

#[wasm_bindgen_test]
async fn a_clip_replaced_by_another_tab_is_not_served_from_what_this_tab_knew() {
    let db = unique("req-stale");
    let a = open(&db).await;
    let b = open(&db).await;
    a.put("k".into(), wav_blob(1), json(r#"{"text":"one","tone":"whisper"}"#)).await.unwrap();
    assert_eq!(s(&a.get("k".into()).await.unwrap(), "text"), "one");
    let replacement = clip(4096, 2);
    b.put("k".into(), blob(&replacement, "audio/wav"), json(r#"{"text":"two","tone":"hype"}"#)).await.unwrap();
    let got = a.get("k".into()).await.unwrap();
    assert_eq!(s(&got, "text"), "two", "the new record, not the one this tab knew");
    assert_eq!(s(&got, "tone"), "hype");
    assert_eq!(bytes_of(&prop(&got, "audio").into()).await, replacement);
    assert_eq!(n(&got, "usageCount"), 2.0, "the usage carried over the replacement, plus this use");

    // deleted by the other tab: a miss here, counted once
    b.delete("k".into()).await.unwrap();
    assert!(a.get("k".into()).await.unwrap().is_null());
    sleep(50).await;
    let stats = a.stats().await.unwrap();
    assert_eq!((n(&stats, "hits"), n(&stats, "misses")), (2.0, 1.0));
}

#[wasm_bindgen_test]
async fn a_put_into_a_full_cache_is_one_wave_of_writes_then_a_sweep() {
    let db = unique("req-put");
    let cache = open(&db).await;
    spy_on();
    cache.put("fill-0".into(), wav_blob(0), JsValue::UNDEFINED).await.unwrap();
    sleep(50).await;
    let first = spy_off();
    let put: Vec<_> = first.requests.iter().filter(|r| r.3 == 1).cloned().collect();
    let put = Seen { transactions: 1, commits: 1, requests: put };
    assert_eq!(put.ops_in_wave(0), ["getAll clips", "put audio", "put clips"], "a first put reads the index");
    for i in 1..10 {
        cache.put(format!("fill-{i}"), wav_blob(i), JsValue::UNDEFINED).await.unwrap();
    }
    sleep(50).await; // the last fill's sweep

    spy_on();
    let out = cache.put("new".into(), wav_blob(99), JsValue::UNDEFINED).await.unwrap();
    sleep(50).await; // the sweep of the victim's audio runs after the answer
    let seen = spy_off();
    let evicted = js_sys::Array::from(&prop(&out, "evicted"));
    assert_eq!(evicted.length(), 1);
    assert_eq!(n(&out, "entries"), 10.0);
    let put: Vec<_> = seen.requests.iter().filter(|r| r.3 == 1).cloned().collect();
    let put = Seen { transactions: 1, commits: 1, requests: put };
    assert_eq!(
        put.ops_in_wave(0),
        ["put audio", "put clips", "delete clips", "count clips"],
        "no read before the writes: the victim is picked from memory, the count checks it"
    );
    assert_eq!(put.waves().len(), 1, "{:?}", seen.requests);
    let sweep: Vec<_> = seen.requests.iter().filter(|r| r.3 == 2).cloned().collect();
    let sweep = Seen { transactions: 1, commits: 1, requests: sweep };
    assert_eq!(sweep.ops_in_wave(0), ["getAll clips", "getAllKeys audio", "get meta"]);
    assert_eq!(sweep.ops_in_wave(3), ["delete audio", "put meta"], "then its audio goes, and the counters move");
    assert_eq!((seen.transactions, seen.commits), (2, 2));

    let victim = evicted.get(0).as_string().unwrap();
    assert!(!cache.has(victim).await.unwrap(), "the victim is gone");
    assert!(cache.has("new".into()).await.unwrap());
    assert_eq!(js_sys::Array::from(&cache.list().await.unwrap()).length(), 10);
    assert_eq!(audio_records(&db).await, 10, "no audio left without its clip");
    let stats = cache.stats().await.unwrap();
    assert_eq!((n(&stats, "puts"), n(&stats, "evictions")), (11.0, 1.0));
    cache.close();
    let again = open(&db).await;
    let stats = again.stats().await.unwrap();
    assert_eq!((n(&stats, "puts"), n(&stats, "evictions")), (11.0, 1.0), "the counters were stored by the sweeps");
}

#[wasm_bindgen_test]
async fn a_replace_keeps_the_usage_counted_since_the_clip_was_put() {
    let cache = open(&unique("req-replace")).await;
    for i in 0..10 {
        cache.put(format!("k-{i}"), wav_blob(i), JsValue::UNDEFINED).await.unwrap();
    }
    for _ in 0..3 {
        assert!(!cache.get("k-4".into()).await.unwrap().is_null());
    }
    let out = cache.put("k-4".into(), wav_blob(40), JsValue::UNDEFINED).await.unwrap();
    assert!(prop(&out, "replaced").as_bool().unwrap());
    assert!(gone(&out).is_empty(), "a replace evicts nothing");
    assert_eq!(n(&out, "entries"), 10.0);
    assert_eq!(n(&cache.peek("k-4".into()).await.unwrap(), "usageCount"), 3.0, "the uses carried over");
}

/// Keys listed now, sorted.
async fn listed(cache: &VoiceCache) -> Vec<String> {
    let mut keys: Vec<String> =
        js_sys::Array::from(&cache.list().await.unwrap()).iter().map(|c| s(&c, "key")).collect();
    keys.sort();
    keys
}

/// Keys a put's outcome says left the cache.
fn gone(out: &JsValue) -> Vec<String> {
    let mut keys: Vec<String> =
        js_sys::Array::from(&prop(out, "evicted")).iter().filter_map(|k| k.as_string()).collect();
    keys.extend(js_sys::Array::from(&prop(out, "expired")).iter().filter_map(|k| k.as_string()));
    keys
}

#[wasm_bindgen_test]
async fn a_put_whose_memory_another_tab_outdated_repairs_in_its_own_transaction() {
    let db = unique("req-repair");
    let a = open(&db).await;
    for i in 0..9 {
        a.put(format!("a-{i}"), wav_blob(i), JsValue::UNDEFINED).await.unwrap();
    }
    // another tab fills the last place: `a` still believes there is room
    let b = open(&db).await;
    let out = b.put("b-0".into(), wav_blob(50), JsValue::UNDEFINED).await.unwrap();
    assert!(gone(&out).is_empty());
    sleep(50).await; // its sweep

    spy_on();
    let out = a.put("a-new".into(), wav_blob(60), JsValue::UNDEFINED).await.unwrap();
    sleep(50).await;
    let seen = spy_off();
    let put: Vec<_> = seen.requests.iter().filter(|r| r.3 == 1).cloned().collect();
    let put = Seen { transactions: 1, commits: 1, requests: put };
    assert_eq!(put.ops_in_wave(0), ["put audio", "put clips", "count clips"], "no eviction planned from memory");
    assert_eq!(put.ops_in_wave(3), ["getAll clips"], "the count showed 11: the index is read");
    assert_eq!(put.ops_in_wave(4), ["delete clips"], "and the excess evicted before the commit");
    assert_eq!(put.waves().len(), 3, "{:?}", seen.requests);
    assert_eq!(n(&out, "entries"), 10.0);
    let evicted = gone(&out);
    assert_eq!(evicted.len(), 1);
    assert_ne!(evicted[0], "a-new");

    let mut expected: Vec<String> = (0..9).map(|i| format!("a-{i}")).chain(["b-0".into(), "a-new".into()]).collect();
    expected.retain(|k| *k != evicted[0]);
    expected.sort();
    assert_eq!(listed(&a).await, expected, "the other tab's clip is kept unless reported evicted");
    let stats = b.stats().await.unwrap();
    assert_eq!(n(&stats, "entries"), 10.0);

    // another tab deleted a clip: `a` plans an eviction it does not need, sees 9, keeps them
    let victim = expected.iter().find(|k| *k != "a-new").unwrap().clone();
    assert!(b.delete(victim.clone()).await.unwrap());
    let out = a.put("a-after-delete".into(), wav_blob(70), JsValue::UNDEFINED).await.unwrap();
    let after = listed(&a).await;
    assert_eq!(n(&out, "entries"), after.len() as f64, "the outcome counts what is stored");
    assert!(after.contains(&"a-after-delete".to_string()));
}

#[wasm_bindgen_test]
async fn two_tabs_putting_at_once_never_hold_more_than_ten_clips_nor_lose_one() {
    let db = unique("req-two-tabs");
    let a = std::rc::Rc::new(open(&db).await);
    let b = std::rc::Rc::new(open(&db).await);
    for i in 0..10 {
        a.put(format!("fill-{i}"), wav_blob(i), JsValue::UNDEFINED).await.unwrap();
    }
    let mut alive: BTreeSet<String> = (0..10).map(|i| format!("fill-{i}")).collect();
    for round in 0..4u32 {
        let all = js_sys::Array::new();
        for i in 0..6u32 {
            let cache = if i % 2 == 0 { a.clone() } else { b.clone() };
            let key = format!("r{round}-{i}");
            alive.insert(key.clone());
            all.push(&wasm_bindgen_futures::future_to_promise(async move {
                cache.put(key, wav_blob(100 + i), JsValue::UNDEFINED).await
            }));
        }
        let outs = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::all(&all)).await.unwrap();
        for out in js_sys::Array::from(&outs).iter() {
            assert!(n(&out, "entries") <= 10.0, "no commit past the capacity");
            for k in gone(&out) {
                // two tabs that picked the same victim at once both report it
                alive.remove(&k);
            }
        }
        let held = listed(&a).await;
        assert!(held.len() <= 10, "{held:?}");
        assert_eq!(held, alive.iter().cloned().collect::<Vec<_>>(), "every clip not reported gone is held");
    }
    assert_eq!(listed(&b).await.len(), 10);
    sleep(100).await;
    assert_eq!(audio_records(&db).await, 10, "no audio left without its clip");
    let stats = a.stats().await.unwrap();
    assert_eq!(n(&stats, "entries"), 10.0);
}

#[wasm_bindgen_test]
async fn concurrent_gets_from_two_tabs_count_every_hit_and_miss() {
    let db = unique("req-concurrent");
    let a = std::rc::Rc::new(open(&db).await);
    let b = std::rc::Rc::new(open(&db).await);
    a.put("hit".into(), wav_blob(3), JsValue::UNDEFINED).await.unwrap();
    let all = js_sys::Array::new();
    for i in 0..12u32 {
        let cache = if i % 2 == 0 { a.clone() } else { b.clone() };
        let key = if i % 3 == 0 { "miss" } else { "hit" };
        all.push(&wasm_bindgen_futures::future_to_promise(async move { cache.get(key.into()).await }));
    }
    let results = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::all(&all)).await.unwrap();
    let hits = js_sys::Array::from(&results).iter().filter(|r| !r.is_null()).count();
    assert_eq!(hits, 8);
    let stats = b.stats().await.unwrap();
    assert_eq!(n(&stats, "hits"), 8.0, "no lost update between the tabs");
    assert_eq!(n(&stats, "misses"), 4.0);
    assert_eq!(n(&a.peek("hit".into()).await.unwrap(), "usageCount"), 8.0);
}

#[wasm_bindgen_test]
async fn a_put_drops_expired_clips_instead_of_evicting_a_live_one() {
    let db = unique("req-expired");
    let cache = open(&db).await;
    for i in 0..9 {
        cache.put(format!("live-{i}"), wav_blob(i), JsValue::UNDEFINED).await.unwrap();
    }
    let past = json(r#"{"expiresAt":"2020-01-01T00:00:00Z"}"#);
    let out = cache.put("old".into(), wav_blob(10), past).await.unwrap();
    assert_eq!(n(&out, "entries"), 10.0, "full, one of them expired");
    let out = cache.put("new".into(), wav_blob(20), JsValue::UNDEFINED).await.unwrap();
    assert_eq!(js_sys::Array::from(&prop(&out, "expired")).to_vec(), [JsValue::from_str("old")]);
    assert_eq!(js_sys::Array::from(&prop(&out, "evicted")).length(), 0, "room was made by expiry");
    assert_eq!(n(&out, "entries"), 10.0);
    let stats = cache.stats().await.unwrap();
    assert_eq!((n(&stats, "entries"), n(&stats, "expired"), n(&stats, "evictions")), (10.0, 1.0, 0.0));
    sleep(50).await;
    assert_eq!(audio_records(&db).await, 10, "the expired clip's audio was swept");
}

#[wasm_bindgen_test]
async fn counters_a_newer_version_added_survive_our_writes() {
    let db = unique("req-future-stats");
    let cache = open(&db).await;
    cache.put("k".into(), wav_blob(1), JsValue::UNDEFINED).await.unwrap();
    cache.close();
    // a newer library stored a counter this one does not know
    let raw = open_raw(&db, 2, |_| {}).await;
    let tx = raw.transaction_with_str_and_mode("meta", web_sys::IdbTransactionMode::Readwrite).unwrap();
    tx.object_store("meta")
        .unwrap()
        .put(&json(r#"{"id":"stats","hits":2,"misses":0,"puts":1,"prefetches":7}"#))
        .unwrap();
    sleep(50).await;
    raw.close();

    let cache = open(&db).await;
    assert!(!cache.get("k".into()).await.unwrap().is_null());
    cache.put("k2".into(), wav_blob(2), JsValue::UNDEFINED).await.unwrap();
    let stats = cache.stats().await.unwrap();
    assert_eq!((n(&stats, "hits"), n(&stats, "puts")), (3.0, 2.0));
    cache.close();
    let raw = open_raw(&db, 2, |_| {}).await;
    let tx = raw.transaction_with_str("meta").unwrap();
    let req = tx.object_store("meta").unwrap().get(&"stats".into()).unwrap();
    sleep(50).await;
    assert_eq!(n(&req.result().unwrap(), "prefetches"), 7.0, "the unknown counter was kept");
    raw.close();
}

#[wasm_bindgen_test]
fn records_and_outcomes_built_directly_match_serdes_shape() {
    use coach_wasm::cache::record::{ClipRecord, PutOutcome};
    let text = |v: &JsValue| js_sys::JSON::stringify(v).unwrap().as_string().unwrap();
    let full: ClipRecord = serde_json::from_str(
        r#"{"key":"k","text":"Nice \"lift\"!","tone":"hype","context":"pr","generatedAt":"2026-01-02T03:04:05.678Z",
            "lastUsedAt":"2026-01-02T03:04:05Z","usageCount":3,"expiresAt":"2026-02-01T00:00:00.000123Z",
            "duration":0.7,"size":2048,"mimeType":"audio/wav","cacheId":"c-1"}"#,
    )
    .unwrap();
    let bare = ClipRecord { text: None, expires_at: None, cache_id: None, ..full.clone() };
    for r in [full, bare] {
        assert_eq!(text(&r.to_object()), text(&coach_wasm::js::to_js(&r).unwrap()));
    }
    let out = PutOutcome {
        key: "k".into(),
        evicted: vec!["a".into()],
        expired: vec![],
        replaced: false,
        entries: 10,
        quota_recovered: true,
    };
    assert_eq!(text(&out.to_object()), text(&coach_wasm::js::to_js(&out).unwrap()));
}
