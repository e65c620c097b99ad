//! The voice cache's storage logic on IndexedDB (rexie transactions): lookups that count hits and
//! misses and honour expiry, puts that apply the shared rotation policy atomically, and recovery
//! from a full disk (evict one random clip, retry once, then report `quota_exceeded`).
//!
//! Every operation is one transaction over the stores it touches, so two tabs putting clips at the
//! same time cannot push the cache past its capacity, and the counters move with the data.

use std::cell::RefCell;
use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use coach_shared::{Admission, RandomSource, RotationPolicy};
use futures_util::future::{join, join3};
use rexie::{Store, TransactionMode};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use super::record::{CacheStats, ClipInput, ClipRecord, PutOutcome, STATS_ID, StoredStats};
use crate::error::{CoachError, CoachResult};
use crate::idb::schema::{AUDIO, CLIPS, META};
use crate::idb::{Db, commit, rexie_error};
use crate::js;
use crate::rand::CryptoRandom;

/// A clip found in the cache.
pub struct CachedClip {
    /// Its metadata (after this lookup's usage update).
    pub record: ClipRecord,
    /// Its audio.
    pub audio: web_sys::Blob,
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
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(js::now_ms() as i64).unwrap_or_else(Utc::now)
}

fn key_js(key: &str) -> JsValue {
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

fn records(values: Vec<JsValue>) -> Vec<ClipRecord> {
    // A record this version cannot read (written by a newer library) is skipped, not fatal.
    values.into_iter().filter_map(|v| js::decode::<ClipRecord>(&v)).collect()
}

impl CacheCore {
    /// Looks `key` up, counting a hit or a miss and updating the clip's usage. Expired clips are
    /// deleted and count as misses.
    pub async fn get(&self, key: &str) -> CoachResult<Option<CachedClip>> {
        let tx = self.db.transaction(&[CLIPS, AUDIO, META], TransactionMode::ReadWrite).await?;
        let store = |n| tx.store(n).map_err(|e| rexie_error("store", &e));
        let (clips, audio, meta) = (store(CLIPS)?, store(AUDIO)?, store(META)?);
        let now = now();
        // the three reads go out together
        let (found, blob, stats) = join3(clips.get(key_js(key)), audio.get(key_js(key)), read_stats(&meta)).await;
        let found = found.map_err(|e| rexie_error("get clip", &e))?;
        let blob = blob.map_err(|e| rexie_error("get audio", &e))?;
        let mut stats = stats?;
        let rec: Option<ClipRecord> = found.as_ref().and_then(js::decode);
        let blob = blob.map(|a| js::get(&a, "blob")).and_then(|b| b.dyn_into::<web_sys::Blob>().ok());
        let (result, record) = match (rec, blob) {
            (Some(mut rec), Some(blob)) if !rec.expired(now) => {
                rec.last_used_at = now;
                rec.usage_count = rec.usage_count.saturating_add(1);
                stats.hits += 1;
                let record = js::to_js(&rec)?;
                (Some(CachedClip { record: rec, audio: blob }), Some(record))
            }
            (rec, _) => {
                stats.misses += 1;
                if rec.as_ref().is_some_and(|r| r.expired(now)) {
                    stats.expired += 1;
                }
                (None, None)
            }
        };
        // The bookkeeping writes go into the same transaction (so the counters move with the data
        // and later transactions see them: IndexedDB orders them after this one), but the lookup
        // does not wait for them: they are issued from a microtask of this same task, while the
        // transaction is still active, and a failure is only logged.
        let stale = found.is_some() && record.is_none(); // expired, or metadata without audio
        let key = key.to_string();
        wasm_bindgen_futures::spawn_local(async move {
            let done = async {
                match record {
                    Some(r) => {
                        let (a, b) = join(clips.put(&r, None), write_stats(&meta, &stats)).await;
                        a.map_err(|e| rexie_error("put clip", &e))?;
                        b
                    }
                    None if stale => {
                        let (a, b) = join(delete_clip(&clips, &audio, &key), write_stats(&meta, &stats)).await;
                        a?;
                        b
                    }
                    None => write_stats(&meta, &stats).await,
                }
            };
            if let Err(e) = done.await {
                js::web_sys_log(&format!("coach-wasm: cache bookkeeping failed: {e}"));
            }
            drop(tx);
        });
        Ok(result)
    }

    /// Reads `key` without touching counters or usage (expired clips are not returned).
    pub async fn peek(&self, key: &str) -> CoachResult<Option<CachedClip>> {
        let tx = self.db.transaction(&[CLIPS, AUDIO], TransactionMode::ReadOnly).await?;
        let clips = tx.store(CLIPS).map_err(|e| rexie_error("store", &e))?;
        let audio = tx.store(AUDIO).map_err(|e| rexie_error("store", &e))?;
        let (found, blob) = join(clips.get(key_js(key)), audio.get(key_js(key))).await;
        let Some(record) = found.map_err(|e| rexie_error("get clip", &e))?.and_then(|v| js::decode::<ClipRecord>(&v))
        else {
            return Ok(None);
        };
        if record.expired(now()) {
            return Ok(None);
        }
        Ok(blob
            .map_err(|e| rexie_error("get audio", &e))?
            .map(|a| js::get(&a, "blob"))
            .and_then(|b| b.dyn_into::<web_sys::Blob>().ok())
            .map(|audio| CachedClip { record, audio }))
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

    async fn put_once(&self, key: &str, blob: &web_sys::Blob, input: &ClipInput) -> CoachResult<PutOutcome> {
        let tx = self.db.transaction(&[CLIPS, AUDIO, META], TransactionMode::ReadWrite).await?;
        let store = |n| tx.store(n).map_err(|e| rexie_error("store", &e));
        let (clips, audio, meta) = (store(CLIPS)?, store(AUDIO)?, store(META)?);
        let now = now();
        let (stats, all) = join(read_stats(&meta), clips.get_all(None, None)).await;
        let mut stats = stats?;
        let all = records(all.map_err(|e| rexie_error("list clips", &e))?);

        let mut live = Vec::with_capacity(all.len());
        let mut expired = Vec::new();
        for rec in all {
            if rec.expired(now) && rec.key != key {
                delete_clip(&clips, &audio, &rec.key).await?;
                expired.push(rec.key);
            } else {
                live.push(rec);
            }
        }
        stats.expired += expired.len() as u64;

        let keys: Vec<&str> = live.iter().map(|r| r.key.as_str()).collect();
        let mut evicted = Vec::new();
        let mut previous = None;
        match self.policy.admit(&keys, &key, &mut CryptoRandom) {
            Admission::Hit(i) => previous = Some(live[i].clone()),
            Admission::Insert { evict } => {
                for i in evict {
                    delete_clip(&clips, &audio, &live[i].key).await?;
                    evicted.push(live[i].key.clone());
                }
            }
        }
        stats.evictions += evicted.len() as u64;
        stats.puts += 1;

        let generated_at = input.generated_at.unwrap_or(now);
        let expires_at = input.expires_at.or_else(|| {
            self.ttl_ms.and_then(|ttl| DateTime::from_timestamp_millis(now.timestamp_millis() + ttl as i64))
        });
        let mime = if blob.type_().is_empty() { "audio/mpeg".to_string() } else { blob.type_() };
        let record = ClipRecord {
            key: key.to_string(),
            text: input.text.clone(),
            tone: input.tone,
            context: input.context.clone(),
            generated_at,
            last_used_at: now,
            usage_count: previous.as_ref().map(|p| p.usage_count).unwrap_or(0),
            expires_at,
            duration: input.duration,
            size: blob.size(),
            mime_type: mime,
            cache_id: input.cache_id.clone(),
        };
        let entry = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&entry, &"key".into(), &key_js(key));
        let _ = js_sys::Reflect::set(&entry, &"blob".into(), blob);
        let record = js::to_js(&record)?;
        let (a, b, c) = join3(clips.put(&record, None), audio.put(&entry, None), write_stats(&meta, &stats)).await;
        a.map_err(|e| rexie_error("put clip", &e))?;
        b.map_err(|e| rexie_error("put audio", &e))?;
        c?;

        let fault = self.faults.borrow_mut().pop_front();
        if let Some(name) = fault {
            let _ = tx.abort().await;
            return Err(simulated(&name));
        }
        commit(tx, "cache put").await?;
        let entries = (live.len() - evicted.len() + usize::from(previous.is_none())) as u32;
        Ok(PutOutcome {
            key: key.to_string(),
            evicted,
            expired,
            replaced: previous.is_some(),
            entries,
            quota_recovered: false,
        })
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
        let mut stats = read_stats(&meta).await?;
        stats.quota_evictions += 1;
        write_stats(&meta, &stats).await?;
        commit(tx, "quota eviction").await?;
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
        let stored = read_stats(&meta).await?;
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
        commit(tx, "reset stats").await
    }
}

/// A full disk, or a commit that failed without a reason (which IndexedDB reports only as abort).
fn is_quota_like(e: &CoachError) -> bool {
    e.code == "quota_exceeded"
        || (e.code == "storage_error"
            && e.details.as_ref().and_then(|d| d.get("name")).and_then(|n| n.as_str()) == Some("AbortError"))
}

fn simulated(name: &str) -> CoachError {
    let code = if name == "QuotaExceededError" { "quota_exceeded" } else { "storage_error" };
    CoachError::new(code, format!("IndexedDB cache put failed: {name} (simulated)"))
        .with_details(serde_json::json!({ "name": name, "operation": "cache put", "simulated": true }))
}
