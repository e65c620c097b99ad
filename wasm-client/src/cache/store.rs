//! The voice cache's storage logic on IndexedDB: lookups that count hits and misses and honour
//! expiry, puts that apply the shared rotation policy atomically, and recovery from a full disk
//! (evict one random clip, retry once, then report `quota_exceeded`).
//!
//! Every operation is one transaction over the stores it touches, so two tabs putting clips at the
//! same time cannot push the cache past its capacity; the lookup counters move with the data, a
//! put's counters follow in the sweep after it. The hot path (`get`, `peek`, `put`) runs on plain
//! `web-sys` requests driven by one event handler ([`crate::idb::raw`]): `get` is one wave of
//! reads, `put` one wave of writes (in [`super::put`]); the rest (delete, clear, list, stats, quota
//! eviction) uses rexie. The design and its figures are in [`super`]'s docs.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use chrono::{DateTime, Utc};
use coach_shared::{RandomSource, RotationPolicy};
use futures_util::future::join;
use rexie::{Store, TransactionMode};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{IdbObjectStore, IdbTransaction, IdbTransactionMode};

use super::put::{IndexMemo, Pending};
use super::record::{CacheStats, ClipInput, ClipRecord, PutOutcome, STATS_ID, StoredStats};
use crate::error::{CoachError, CoachResult};
use crate::idb::raw::{self, Resolve};
use crate::idb::schema::{AUDIO, CLIPS, META, storage};
use crate::idb::{Db, commit, rexie_error};
use crate::js;
use crate::rand::CryptoRandom;

/// A clip found in the cache.
pub struct CachedClip {
    /// Its metadata (after this lookup's usage update).
    pub record: ClipRecord,
    /// Its audio.
    pub audio: web_sys::Blob,
    /// `record` as the JS object that was stored (what `VoiceCache.get` returns, with `audio`).
    pub object: JsValue,
}

/// The cache of one user.
pub struct CacheCore {
    /// The user's database.
    pub db: std::rc::Rc<Db>,
    /// Capacity and eviction rule (shared with the server).
    pub policy: RotationPolicy,
    /// Lifetime of a new clip when `put` names no `expiresAt` (`None`: forever).
    pub ttl_ms: Option<f64>,
    /// Storage failures to simulate on the next puts (DOMException names), for tests of the
    /// quota path: the transaction is really aborted, then reported under that name.
    pub faults: RefCell<VecDeque<String>>,
    /// What this instance last wrote or read of each clip (see [`super::lookup`]).
    pub known: KnownClips,
    /// The clip index as this instance last saw it (see [`super::put`]).
    pub index: IndexMemo,
    /// Counters of this instance's puts not yet in the stored counters (see [`super::put`]).
    pub pending: Rc<RefCell<Pending>>,
}

/// What this instance last saw of a clip: its record as stored then, and the stamp of the audio
/// record written with it (a put anywhere writes a new stamp, so a stamp that still matches
/// proves the record's immutable fields are current).
#[derive(Debug, Clone)]
pub struct Known {
    /// The clip's record.
    pub record: ClipRecord,
    /// The same, as the JS object that was stored (copied for answers: no serde on a hit).
    pub object: JsValue,
    /// Its audio record's `stamp` (`None`: written before stamps existed).
    pub stamp: Option<String>,
}

/// [`Known`] clips by key, shared with the transactions' event handlers.
pub type KnownClips = Rc<RefCell<HashMap<String, Known>>>;

/// A new audio stamp: 64 random bits.
pub(super) fn new_stamp() -> String {
    format!("{:016x}", getrandom::u64().unwrap_or_else(|_| js::now_ms().to_bits()))
}

/// The Blob and the stamp of an audio record (`undefined` when absent).
pub(super) fn audio_of(entry: &JsValue) -> (Option<web_sys::Blob>, Option<String>) {
    if !entry.is_object() {
        return (None, None);
    }
    (js::get(entry, "blob").dyn_into::<web_sys::Blob>().ok(), js::get(entry, "stamp").as_string())
}

pub(super) fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(js::now_ms() as i64).unwrap_or_else(Utc::now)
}

pub(super) fn key_js(key: &str) -> JsValue {
    JsValue::from_str(key)
}

async fn read_stats(meta: &Store) -> CoachResult<StoredStats> {
    let v = meta.get(key_js(STATS_ID)).await.map_err(|e| rexie_error("get stats", &e))?;
    Ok(match v {
        Some(v) if v.is_object() => js::decode(&v).unwrap_or_default(),
        _ => StoredStats { id: STATS_ID.into(), ..Default::default() },
    })
}

async fn write_stats(meta: &Store, stats: &StoredStats) -> CoachResult<()> {
    let mut s = stats.clone();
    s.id = STATS_ID.into();
    meta.put(&js::to_js(&s)?, None).await.map_err(|e| rexie_error("put stats", &e))?;
    Ok(())
}

async fn delete_clip(clips: &Store, audio: &Store, key: &str) -> CoachResult<()> {
    let (a, b) = join(clips.delete(key_js(key)), audio.delete(key_js(key))).await;
    a.map_err(|e| rexie_error("delete clip", &e))?;
    b.map_err(|e| rexie_error("delete audio", &e))
}

pub(super) fn store(tx: &IdbTransaction, name: &str) -> CoachResult<IdbObjectStore> {
    tx.object_store(name).map_err(|e| storage("store", &e))
}

/// The stored counters record as read (`undefined` before the first count: a fresh one). Counters
/// are bumped on this object and written back whole, so fields a newer version added survive.
pub(super) fn stats_object(found: JsValue) -> JsValue {
    if found.is_object() {
        return found;
    }
    let fresh = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&fresh, &"id".into(), &key_js(STATS_ID));
    fresh.into()
}

/// Adds `n` to the counter `field` of a counters record (a missing or odd field counts as 0).
pub(super) fn bump(stats: &JsValue, field: &str, n: usize) {
    if n == 0 {
        return;
    }
    let old = js::get(stats, field).as_f64().filter(|v| v.is_finite() && *v >= 0.0).unwrap_or(0.0);
    let _ = js_sys::Reflect::set(stats, &JsValue::from_str(field), &JsValue::from_f64(old + n as f64));
}

fn records(values: Vec<JsValue>) -> Vec<ClipRecord> {
    // A record this version cannot read (written by a newer library) is skipped, not fatal.
    values.into_iter().filter_map(|v| js::decode::<ClipRecord>(&v)).collect()
}

impl CacheCore {
    /// Reads `key` without touching counters or usage (expired clips are not returned).
    pub async fn peek(&self, key: &str) -> CoachResult<Option<CachedClip>> {
        let tx = self.db.raw_transaction(&[CLIPS, AUDIO], IdbTransactionMode::Readonly).await?;
        let (clips, audio) = (store(&tx, CLIPS)?, store(&tx, AUDIO)?);
        let found = clips.get(&key_js(key)).map_err(|e| storage("get clip", &e))?;
        let blob = audio.get(&key_js(key)).map_err(|e| storage("get audio", &e))?;
        let last = blob.clone();
        raw::run(&tx, &last, Resolve::AfterStep, "cache peek", move |_, _| {
            let found = found.result().unwrap_or(JsValue::UNDEFINED);
            let Some(record) = js::decode::<ClipRecord>(&found).filter(|r| !r.expired(now())) else {
                return Ok(None);
            };
            let (Some(audio), _) = audio_of(&blob.result().unwrap_or(JsValue::UNDEFINED)) else { return Ok(None) };
            let object = js::to_js(&record)?;
            Ok(Some(CachedClip { record, audio, object }))
        })
        .await
    }

    /// Stores a clip under `key`; see [`PutOutcome`]. A quota failure evicts one random clip and
    /// retries once; a second failure is reported as `quota_exceeded`.
    pub async fn put(&self, key: &str, audio: &web_sys::Blob, input: &ClipInput) -> CoachResult<PutOutcome> {
        if key.is_empty() {
            return Err(CoachError::invalid_argument("the cache key must not be empty"));
        }
        match self.put_once(key, audio, input).await {
            Err(e) if is_quota_like(&e) => {
                let freed = self.evict_one_for_quota(key).await?;
                match self.put_once(key, audio, input).await {
                    Ok(mut outcome) => {
                        outcome.quota_recovered = true;
                        outcome.evicted.splice(0..0, freed);
                        Ok(outcome)
                    }
                    Err(e2) if is_quota_like(&e2) => Err(CoachError::new(
                        "quota_exceeded",
                        "storage is full: the clip could not be stored even after evicting a cached clip",
                    )
                    .with_details(serde_json::json!({
                        "name": e2.details.as_ref().and_then(|d| d.get("name")).cloned(),
                        "evicted": freed,
                        "key": key,
                    }))),
                    Err(e2) => Err(e2),
                }
            }
            other => other,
        }
    }

    /// Evicts one random clip other than `keep` to make room after a quota error.
    async fn evict_one_for_quota(&self, keep: &str) -> CoachResult<Vec<String>> {
        let tx = self.db.transaction(&[CLIPS, AUDIO, META], TransactionMode::ReadWrite).await?;
        let store = |n| tx.store(n).map_err(|e| rexie_error("store", &e));
        let (clips, audio, meta) = (store(CLIPS)?, store(AUDIO)?, store(META)?);
        let keys: Vec<String> = clips
            .get_all_keys(None, None)
            .await
            .map_err(|e| rexie_error("list keys", &e))?
            .into_iter()
            .filter_map(|k| k.as_string())
            .filter(|k| k != keep)
            .collect();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let victim = keys[CryptoRandom.below(keys.len())].clone();
        delete_clip(&clips, &audio, &victim).await?;
        let stats = meta.get(key_js(STATS_ID)).await.map_err(|e| rexie_error("get stats", &e))?;
        let stats = stats_object(stats.unwrap_or(JsValue::UNDEFINED));
        bump(&stats, "quotaEvictions", 1);
        meta.put(&stats, None).await.map_err(|e| rexie_error("put stats", &e))?;
        commit(tx, "quota eviction").await?;
        self.known.borrow_mut().remove(&victim);
        *self.index.borrow_mut() = None;
        Ok(vec![victim])
    }

    /// Removes one clip; whether it was there.
    pub async fn delete(&self, key: &str) -> CoachResult<bool> {
        let tx = self.db.transaction(&[CLIPS, AUDIO], TransactionMode::ReadWrite).await?;
        let clips = tx.store(CLIPS).map_err(|e| rexie_error("store", &e))?;
        let audio = tx.store(AUDIO).map_err(|e| rexie_error("store", &e))?;
        let existed = clips.key_exists(key_js(key)).await.map_err(|e| rexie_error("get key", &e))?;
        delete_clip(&clips, &audio, key).await?;
        commit(tx, "cache delete").await?;
        self.known.borrow_mut().remove(key);
        if let Some(index) = self.index.borrow_mut().as_mut() {
            index.retain(|e| e.key != key);
        }
        Ok(existed)
    }

    /// Removes every clip (counters stay); how many were removed.
    pub async fn clear(&self) -> CoachResult<u32> {
        let tx = self.db.transaction(&[CLIPS, AUDIO], TransactionMode::ReadWrite).await?;
        let clips = tx.store(CLIPS).map_err(|e| rexie_error("store", &e))?;
        let audio = tx.store(AUDIO).map_err(|e| rexie_error("store", &e))?;
        let n = clips.count(None).await.map_err(|e| rexie_error("count", &e))?;
        clips.clear().await.map_err(|e| rexie_error("clear", &e))?;
        audio.clear().await.map_err(|e| rexie_error("clear", &e))?;
        commit(tx, "cache clear").await?;
        self.known.borrow_mut().clear();
        *self.index.borrow_mut() = Some(Vec::new());
        Ok(n)
    }

    /// Live (unexpired) clips, most recently used first.
    pub async fn list(&self) -> CoachResult<Vec<ClipRecord>> {
        let tx = self.db.transaction(&[CLIPS], TransactionMode::ReadOnly).await?;
        let clips = tx.store(CLIPS).map_err(|e| rexie_error("store", &e))?;
        let now = now();
        let mut all: Vec<ClipRecord> =
            records(clips.get_all(None, None).await.map_err(|e| rexie_error("list clips", &e))?)
                .into_iter()
                .filter(|r| !r.expired(now))
                .collect();
        all.sort_by_key(|r| std::cmp::Reverse(r.last_used_at));
        Ok(all)
    }

    /// Counters and current contents.
    pub async fn stats(&self) -> CoachResult<CacheStats> {
        let tx = self.db.transaction(&[CLIPS, META], TransactionMode::ReadOnly).await?;
        let clips = tx.store(CLIPS).map_err(|e| rexie_error("store", &e))?;
        let meta = tx.store(META).map_err(|e| rexie_error("store", &e))?;
        let mut stored = read_stats(&meta).await?;
        // this instance's puts the next sweep has not folded in yet
        let p = *self.pending.borrow();
        stored.puts += p.puts as u64;
        stored.evictions += p.evictions as u64;
        stored.expired += p.expired as u64;
        let now = now();
        let live: Vec<ClipRecord> =
            records(clips.get_all(None, None).await.map_err(|e| rexie_error("list clips", &e))?)
                .into_iter()
                .filter(|r| !r.expired(now))
                .collect();
        let bytes = live.iter().map(|r| r.size).sum();
        Ok(CacheStats::new(&stored, live.len() as u32, bytes, self.policy.max_entries as u32))
    }

    /// Sets every counter back to zero.
    pub async fn reset_stats(&self) -> CoachResult<()> {
        let tx = self.db.transaction(&[META], TransactionMode::ReadWrite).await?;
        let meta = tx.store(META).map_err(|e| rexie_error("store", &e))?;
        write_stats(&meta, &StoredStats::default()).await?;
        *self.pending.borrow_mut() = Pending::default();
        commit(tx, "reset stats").await
    }
}

/// A full disk, or a commit that failed without a reason (which IndexedDB reports only as abort).
fn is_quota_like(e: &CoachError) -> bool {
    e.code == "quota_exceeded"
        || (e.code == "storage_error"
            && e.details.as_ref().and_then(|d| d.get("name")).and_then(|n| n.as_str()) == Some("AbortError"))
}

pub(super) fn simulated(name: &str) -> CoachError {
    let code = if name == "QuotaExceededError" { "quota_exceeded" } else { "storage_error" };
    CoachError::new(code, format!("IndexedDB cache put failed: {name} (simulated)"))
        .with_details(serde_json::json!({ "name": name, "operation": "cache put", "simulated": true }))
}
