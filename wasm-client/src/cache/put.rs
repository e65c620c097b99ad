//! `VoiceCache.put` without a read before its writes: the clip index (key, expiry, usage of each
//! clip) is held in memory once a put has read it, the rotation policy picks the victim from
//! there, and every write goes out in **one** wave with a `count` of the index behind it.
//!
//! * **Warm put** (this instance holds the index, [`IndexMemo`]): audio put, clip put, the
//!   expired/evicted keys' index deletes and `clips.count()`, issued together, nothing read first.
//!   In the count's `success` event (every write before it done, the transaction still active)
//!   the count is checked against what the in-memory index predicts. Equal: commit at once.
//!   Different (another tab put or deleted clips since this instance last looked): **repair** in
//!   the same transaction — `getAll` of the index, then, if it holds more than the capacity, the
//!   policy evicts the excess among the clips other than the new one, and the memory is rebuilt
//!   from what was read. So no transaction commits with more clips than the capacity, whichever
//!   tab wrote them, and a clip another tab put is either kept or reported in `evicted`.
//! * **Cold put** (first put of this instance, or after a failure, a quota eviction or a repair
//!   could not run): the index is read with the writes (`getAll`, audio put, clip put), the policy
//!   runs in the last one's `success`, the victims' index deletes follow, commit. It fills the
//!   memory.
//! * **After the answer**, a sweep transaction ([`sweep`]) deletes the audio no index record
//!   names (the victims' Blobs, the costliest deletes), folds this instance's pending counters
//!   (`puts`, `evictions`, `expired`, [`Pending`]) into the stored counters read-modify-write (so
//!   tabs never lose each other's counts), and refreshes the in-memory index from the index it
//!   read. `stats()` adds the counters not yet folded, so this tab's stats are exact at once;
//!   another tab sees them after the sweep (milliseconds), and a tab closed in between loses them.
//!
//! A replace (a key the memory holds) takes the cold path, so the stored usage count carries over.
//!
//! What a stale memory can cost: the count catches every change of the number of clips; a change
//! that keeps it (another tab evicted one clip and put another) is noticed at the next mismatch or
//! corrected by this instance's next sweep. Until then a victim may be picked among the clips this
//! instance knew (the capacity stays right); a put of a key only another tab has put since may
//! evict one clip more than needed (reported in `evicted`) and restarts that clip's usage count;
//! two tabs that picked the same victim at once both report it (and count it).

use std::cell::RefCell;
use std::rc::Rc;

use chrono::DateTime;
use coach_shared::{Admission, RotationPolicy};
use wasm_bindgen::prelude::*;
use web_sys::{IdbObjectStore, IdbTransaction, IdbTransactionMode};

use super::record::{ClipInput, ClipRecord, PutOutcome, STATS_ID};
use super::store::{CacheCore, Known, bump, key_js, now, simulated, stats_object, store};
use crate::error::CoachResult;
use crate::idb::Db;
use crate::idb::raw::{self, Keep, Resolve};
use crate::idb::schema::{AUDIO, CLIPS, META, storage};
use crate::js;
use crate::rand::CryptoRandom;

/// What a put needs of each stored clip record, read without serde.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    /// The clip's key.
    pub key: String,
    /// Expiry, ms since the epoch.
    pub expires_ms: Option<f64>,
    /// Its stored usage count (carried over when the clip is replaced).
    pub usage_count: u32,
}

impl IndexEntry {
    /// `None` for a record without a string key (not ours to rotate).
    pub fn of(rec: &JsValue) -> Option<IndexEntry> {
        let key = js::get(rec, "key").as_string()?;
        let expires = js::get(rec, "expiresAt").as_string();
        // an unparsable date reads as never expiring, like serde's skip of an unreadable record
        let expires_ms = expires.map(|e| js_sys::Date::parse(&e)).filter(|ms| ms.is_finite());
        let usage_count = js::get(rec, "usageCount").as_f64().map_or(0, |n| n as u32);
        Some(IndexEntry { key, expires_ms, usage_count })
    }

    fn of_record(r: &ClipRecord) -> IndexEntry {
        IndexEntry {
            key: r.key.clone(),
            expires_ms: r.expires_at.map(|e| e.timestamp_millis() as f64),
            usage_count: r.usage_count,
        }
    }

    /// The same rule as [`ClipRecord::expired`].
    fn expired(&self, now_ms: f64) -> bool {
        self.expires_ms.is_some_and(|e| e <= now_ms)
    }
}

/// The clip index as this instance last knew it (`None`: not read yet, or given up).
pub type IndexMemo = Rc<RefCell<Option<Vec<IndexEntry>>>>;

/// Counters of this instance's puts not yet folded into the stored counters by a sweep.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pending {
    /// Clips stored.
    pub puts: usize,
    /// Clips evicted by the rotation policy.
    pub evictions: usize,
    /// Clips dropped because they expired.
    pub expired: usize,
}

impl Pending {
    fn add(&mut self, o: Pending) {
        self.puts += o.puts;
        self.evictions += o.evictions;
        self.expired += o.expired;
    }
}

/// What a put decided, completed by a repair when there is one.
struct Plan {
    outcome: PutOutcome,
    record: ClipRecord,
    object: JsValue,
    /// The index after the put, for the memory.
    index: Vec<IndexEntry>,
}

/// Splits `entries` into the expired ones (other than `key`) and the live ones, then lets the
/// policy admit `key`: (live after the put, expired keys, evicted keys, previous usage if a replace).
fn decide(
    policy: RotationPolicy,
    entries: Vec<IndexEntry>,
    key: &str,
    now_ms: f64,
) -> (Vec<IndexEntry>, Vec<String>, Vec<String>, Option<u32>) {
    let (mut live, mut expired) = (Vec::with_capacity(entries.len()), Vec::new());
    for e in entries {
        if e.expired(now_ms) && e.key != key {
            expired.push(e.key);
        } else {
            live.push(e);
        }
    }
    let keys: Vec<&str> = live.iter().map(|e| e.key.as_str()).collect();
    let (mut evicted, mut previous) = (Vec::new(), None);
    match policy.admit(&keys, &key, &mut CryptoRandom) {
        Admission::Hit(i) => previous = Some(live[i].usage_count),
        Admission::Insert { evict } => {
            evicted = evict.iter().map(|&i| live[i].key.clone()).collect();
            let mut i = 0;
            live.retain(|_| {
                i += 1;
                !evict.contains(&(i - 1))
            });
        }
    }
    live.retain(|e| e.key != key);
    (live, expired, evicted, previous)
}

fn finish_tx(tx: &IdbTransaction, abort: bool) {
    if abort {
        let _ = tx.abort();
    } else {
        raw::commit(tx);
    }
}

impl CacheCore {
    /// One put in one transaction (see the module docs); `Err` when it aborted.
    pub(super) async fn put_once(&self, key: &str, blob: &web_sys::Blob, input: &ClipInput) -> CoachResult<PutOutcome> {
        let fault = self.faults.borrow_mut().pop_front();
        let tx = self.db.raw_transaction(&[CLIPS, AUDIO], IdbTransactionMode::Readwrite).await?;
        let (clips, audio) = (store(&tx, CLIPS)?, store(&tx, AUDIO)?);
        let now = now();
        let now_ms = now.timestamp_millis() as f64;
        // a replace of a clip this instance knows goes cold: the stored usage (which lookups, here
        // or in other tabs, moved since the memory was filled) is read and carried over
        let memo = self.index.borrow().clone().filter(|m| !m.iter().any(|e| e.key == key));
        // cold: the index is read first, in the same wave as the writes
        let all = match memo {
            None => Some(clips.get_all().map_err(|e| storage("list clips", &e))?),
            Some(_) => None,
        };
        let entry = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&entry, &"key".into(), &key_js(key));
        let _ = js_sys::Reflect::set(&entry, &"blob".into(), blob);
        let stamp = super::store::new_stamp();
        let _ = js_sys::Reflect::set(&entry, &"stamp".into(), &JsValue::from_str(&stamp));
        audio.put(&entry).map_err(|e| storage("put audio", &e))?;
        let expires_at = input.expires_at.or_else(|| {
            self.ttl_ms.and_then(|ttl| DateTime::from_timestamp_millis(now.timestamp_millis() + ttl as i64))
        });
        let mut record = ClipRecord {
            key: key.to_string(),
            text: input.text.clone(),
            tone: input.tone,
            context: input.context.clone(),
            generated_at: input.generated_at.unwrap_or(now),
            last_used_at: now,
            usage_count: 0,
            expires_at,
            duration: input.duration,
            size: blob.size(),
            mime_type: if blob.type_().is_empty() { "audio/mpeg".to_string() } else { blob.type_() },
            cache_id: input.cache_id.clone(),
        };
        let (policy, abort) = (self.policy, fault.is_some());
        let plan: Rc<RefCell<Option<Plan>>> = Rc::default();
        let result = match (memo, all) {
            (Some(entries), _) => {
                let (live, expired, evicted, previous) = decide(policy, entries, key, now_ms);
                record.usage_count = previous.unwrap_or(0);
                let object = record.to_object();
                clips.put(&object).map_err(|e| storage("put clip", &e))?;
                for k in expired.iter().chain(&evicted) {
                    clips.delete(&key_js(k)).map_err(|e| storage("delete clip", &e))?;
                }
                let count = clips.count().map_err(|e| storage("count clips", &e))?;
                let mut index = live;
                index.push(IndexEntry::of_record(&record));
                let expected = index.len();
                let outcome = PutOutcome {
                    key: key.to_string(),
                    evicted,
                    expired,
                    replaced: previous.is_some(),
                    entries: expected as u32,
                    quota_recovered: false,
                };
                *plan.borrow_mut() = Some(Plan { outcome, record, object, index });
                let (last, plan2) = (count.clone(), plan.clone());
                raw::run(&tx, &last, Resolve::AfterCommit, "cache put", move |tx, keep| {
                    let n = count.result().ok().and_then(|n| n.as_f64()).unwrap_or(f64::NAN);
                    if n == expected as f64 {
                        finish_tx(tx, abort);
                    } else {
                        repair(tx, keep, &clips, plan2, policy, now_ms, abort)?;
                    }
                    Ok(())
                })
                .await
            }
            (None, Some(all)) => {
                let object = record.to_object();
                let put = clips.put(&object).map_err(|e| storage("put clip", &e))?;
                *plan.borrow_mut() = Some(Plan {
                    outcome: PutOutcome {
                        key: key.to_string(),
                        evicted: vec![],
                        expired: vec![],
                        replaced: false,
                        entries: 0,
                        quota_recovered: false,
                    },
                    record,
                    object,
                    index: vec![],
                });
                let plan2 = plan.clone();
                raw::run(&tx, &put, Resolve::AfterCommit, "cache put", move |tx, _| {
                    let all = all.result().map(|a| js_sys::Array::from(&a).to_vec()).unwrap_or_default();
                    let entries = all.iter().filter_map(IndexEntry::of).collect();
                    let mut slot = plan2.borrow_mut();
                    let p = slot.as_mut().expect("plan set before the run");
                    let (live, expired, evicted, previous) = decide(policy, entries, &p.record.key, now_ms);
                    for k in expired.iter().chain(&evicted) {
                        clips.delete(&key_js(k)).map_err(|e| storage("delete clip", &e))?;
                    }
                    if let Some(usage) = previous.filter(|&u| u != p.record.usage_count) {
                        // a replace: the stored usage carries over
                        p.record.usage_count = usage;
                        p.object = p.record.to_object();
                        clips.put(&p.object).map_err(|e| storage("put clip", &e))?;
                    }
                    p.index = live;
                    p.index.push(IndexEntry::of_record(&p.record));
                    p.outcome.entries = p.index.len() as u32;
                    (p.outcome.evicted, p.outcome.expired, p.outcome.replaced) = (evicted, expired, previous.is_some());
                    finish_tx(tx, abort);
                    Ok(())
                })
                .await
            }
            (None, None) => unreachable!("a cold put reads the index"),
        };
        let plan = plan.borrow_mut().take();
        match (result, fault, plan) {
            (Err(_), Some(name), _) => {
                *self.index.borrow_mut() = None;
                Err(simulated(&name))
            }
            (Err(e), None, _) => {
                *self.index.borrow_mut() = None;
                Err(e)
            }
            (Ok(()), _, None) => unreachable!("a put that committed has its plan"),
            (Ok(()), _, Some(Plan { outcome, record, object, index })) => {
                *self.index.borrow_mut() = Some(index);
                let mut known = self.known.borrow_mut();
                for k in outcome.evicted.iter().chain(&outcome.expired) {
                    known.remove(k);
                }
                known.insert(record.key.clone(), Known { record, object, stamp: Some(stamp) });
                self.pending.borrow_mut().add(Pending {
                    puts: 1,
                    evictions: outcome.evicted.len(),
                    expired: outcome.expired.len(),
                });
                // after the caller has the outcome
                let (db, index, pending) = (self.db.clone(), self.index.clone(), self.pending.clone());
                raw::two_microtasks_later(move || sweep(&db, index, pending));
                Ok(outcome)
            }
        }
    }
}

/// The count disagreed with the memory: read the index (after this put's writes) and evict the
/// excess over the capacity among the clips other than the new one, in the same transaction.
fn repair(
    tx: &IdbTransaction,
    keep: &Keep,
    clips: &IdbObjectStore,
    plan: Rc<RefCell<Option<Plan>>>,
    policy: RotationPolicy,
    now_ms: f64,
    abort: bool,
) -> CoachResult<()> {
    let all = clips.get_all().map_err(|e| storage("list clips", &e))?;
    let (tx, clips, read) = (tx.clone(), clips.clone(), all.clone());
    keep.on_success(&read, move || {
        let all = all.result().map(|a| js_sys::Array::from(&a).to_vec()).unwrap_or_default();
        let mut slot = plan.borrow_mut();
        let Some(p) = slot.as_mut() else { return };
        let key = p.record.key.clone();
        let (mine, others): (Vec<IndexEntry>, Vec<IndexEntry>) =
            all.iter().filter_map(IndexEntry::of).partition(|e| e.key == key);
        // the index holds the new clip: make room for it among the others only
        let (live, expired, evicted, _) = decide(policy, others, &key, now_ms);
        for k in expired.iter().chain(&evicted) {
            if clips.delete(&key_js(k)).is_err() {
                let _ = tx.abort();
                return;
            }
        }
        p.index = live;
        p.index.extend(mine);
        p.outcome.entries = p.index.len() as u32;
        p.outcome.expired.extend(expired);
        p.outcome.evicted.extend(evicted);
        finish_tx(&tx, abort);
    });
    Ok(())
}

/// After a put: deletes audio records no clip record names (the victims' Blobs, and any left by a
/// page closed before its sweep ran), folds the pending counters into the stored ones and
/// refreshes the in-memory index, in a transaction of its own that the put does not wait for.
/// Transactions are serialized, so a put running beside it is wholly before or after it: the audio
/// of a clip in the index is never swept.
fn sweep(db: &Rc<Db>, index: IndexMemo, pending: Rc<RefCell<Pending>>) {
    let Some(tx) = db.raw_transaction_now(&[CLIPS, AUDIO, META], IdbTransactionMode::Readwrite) else { return };
    let (Ok(clips), Ok(audio), Ok(meta)) = (store(&tx, CLIPS), store(&tx, AUDIO), store(&tx, META)) else { return };
    let (Ok(named), Ok(held), Ok(stats)) = (clips.get_all(), audio.get_all_keys(), meta.get(&key_js(STATS_ID))) else {
        return;
    };
    let last = stats.clone();
    let taken: Rc<RefCell<Option<Pending>>> = Rc::default();
    let (taken2, pending2) = (taken.clone(), pending.clone());
    let step = move |tx: &IdbTransaction, _: &Keep| {
        let named: Vec<JsValue> = named.result().map(|k| js_sys::Array::from(&k).to_vec()).unwrap_or_default();
        let entries: Vec<IndexEntry> = named.iter().filter_map(IndexEntry::of).collect();
        let held = held.result().map(|k| js_sys::Array::from(&k).to_vec()).unwrap_or_default();
        for k in held.iter().filter(|k| !entries.iter().any(|e| k.as_string().as_deref() == Some(e.key.as_str()))) {
            audio.delete(k).map_err(|e| storage("delete audio", &e))?;
        }
        let counts = std::mem::take(&mut *pending2.borrow_mut());
        *taken2.borrow_mut() = Some(counts);
        if counts != Pending::default() {
            let stats = stats_object(stats.result().unwrap_or(JsValue::UNDEFINED));
            bump(&stats, "puts", counts.puts);
            bump(&stats, "evictions", counts.evictions);
            bump(&stats, "expired", counts.expired);
            meta.put(&stats).map_err(|e| storage("put stats", &e))?;
        }
        raw::commit(tx);
        *index.borrow_mut() = Some(entries);
        Ok(())
    };
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(e) = raw::run(&tx, &last, Resolve::AfterCommit, "cache sweep", step).await {
            // the counts go back, for the next sweep
            if let Some(counts) = taken.borrow_mut().take() {
                pending.borrow_mut().add(counts);
            }
            js::web_sys_log(&format!("coach-wasm: {}", e.message));
        }
    });
}
