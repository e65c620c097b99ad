//! `VoiceCache.get`: a lookup that answers after one IndexedDB read when this instance already
//! knows the clip, and does its bookkeeping (usage, hit/miss counters, cleanup of expired or
//! half-gone clips) afterwards, in the same transaction.
//!
//! * **Known clip** (this instance put it or looked it up before: [`Known`]): one request, the
//!   audio record. Its `stamp` must equal the known one — every put writes a new stamp with the
//!   audio, so a clip replaced by another tab is noticed and looked up cold instead. The answer is
//!   the known record with this use applied; its `usageCount` can lag uses made by other tabs
//!   meanwhile, the stored count never does.
//! * **Cold** (first lookup of the key in this instance, or a stale stamp): the record, the audio
//!   and the counters are read together, and the answer follows from them.
//!
//! Either way the answer is settled first; two microtasks later (still inside the same IndexedDB
//! event, so the transaction is active) the bookkeeping reads what it needs and writes the record
//! and the counters, read-modify-write inside the transaction, so concurrent lookups from several
//! tabs never lose a count; the transaction is committed at once. A bookkeeping failure is logged
//! (the answer was right).

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{IdbObjectStore, IdbTransaction, IdbTransactionMode};

use super::put::IndexMemo;
use super::record::{ClipRecord, STATS_ID};
use super::store::{CacheCore, CachedClip, Known, KnownClips, audio_of, bump, key_js, now, stats_object, store};
use crate::error::CoachResult;
use crate::idb::raw::{self, Keep, Resolve};
use crate::idb::schema::{AUDIO, CLIPS, META, storage};
use crate::js;

/// The three stores of one lookup's transaction.
#[derive(Clone)]
struct Stores {
    tx: IdbTransaction,
    clips: IdbObjectStore,
    audio: IdbObjectStore,
    meta: IdbObjectStore,
}

/// What the known-clip path found.
enum Fast {
    Answer(Option<CachedClip>),
    /// The audio was replaced since this instance saw it: look it up cold.
    Stale,
}

/// The bookkeeping a lookup owes, done after the answer.
enum Owed {
    /// A hit: usage + 1 on the stored record, `hits` + 1; `stamp` is the audio's.
    Hit { stamp: Option<String> },
    /// A miss; `drop_clip`: delete what is left of the clip; `expired`: it was there, expired.
    Miss { drop_clip: bool, expired: bool },
}

impl CacheCore {
    /// Looks `key` up, counting a hit or a miss and updating the clip's usage. Expired clips are
    /// deleted and count as misses. See the module docs for the request pattern.
    pub async fn get(&self, key: &str) -> CoachResult<Option<CachedClip>> {
        let known = self.known.borrow().get(key).cloned();
        if let Some(known) = known {
            match self.get_known(key, known).await? {
                Fast::Answer(answer) => return Ok(answer),
                Fast::Stale => {
                    self.known.borrow_mut().remove(key);
                }
            }
        }
        self.get_cold(key).await
    }

    async fn stores(&self) -> CoachResult<Stores> {
        let tx = self.db.raw_transaction(&[CLIPS, AUDIO, META], IdbTransactionMode::Readwrite).await?;
        Ok(Stores { clips: store(&tx, CLIPS)?, audio: store(&tx, AUDIO)?, meta: store(&tx, META)?, tx })
    }

    async fn get_known(&self, key: &str, known: Known) -> CoachResult<Fast> {
        let tx = self.db.raw_transaction(&[CLIPS, AUDIO, META], IdbTransactionMode::Readwrite).await?;
        // the one request first; the other stores are looked up after the answer
        let audio = store(&tx, AUDIO)?;
        let entry = audio.get(&key_js(key)).map_err(|e| storage("get audio", &e))?;
        let (last, map, key) = (entry.clone(), self.known.clone(), key.to_string());
        let index = self.index.clone();
        raw::run(&tx, &last, Resolve::AfterStep, "cache get", move |tx, keep| {
            let now = now();
            let st = Stores { clips: store(tx, CLIPS)?, audio, meta: store(tx, META)?, tx: tx.clone() };
            let (blob, stamp) = audio_of(&entry.result().unwrap_or(JsValue::UNDEFINED));
            let Some(blob) = blob else {
                // evicted or deleted elsewhere: a miss; drop the metadata left, if any
                forget(&index, &key);
                map.borrow_mut().remove(&key);
                owe(&st, keep, map, key, Owed::Miss { drop_clip: true, expired: false });
                return Ok(Fast::Answer(None));
            };
            if stamp != known.stamp {
                raw::commit(tx);
                return Ok(Fast::Stale);
            }
            if known.record.expired(now) {
                forget(&index, &key);
                map.borrow_mut().remove(&key);
                owe(&st, keep, map, key, Owed::Miss { drop_clip: true, expired: true });
                return Ok(Fast::Answer(None));
            }
            let mut record = known.record;
            record.last_used_at = now;
            record.usage_count = record.usage_count.saturating_add(1);
            // a copy of the stored object with this use applied (the same JSON shape as serde's)
            let object: JsValue = js_sys::Object::assign(&js_sys::Object::new(), known.object.unchecked_ref()).into();
            let _ = js_sys::Reflect::set(&object, &"lastUsedAt".into(), &js::to_js(&now)?);
            let _ = js_sys::Reflect::set(&object, &"usageCount".into(), &JsValue::from(record.usage_count));
            owe(&st, keep, map, key, Owed::Hit { stamp });
            Ok(Fast::Answer(Some(CachedClip { record, audio: blob, object })))
        })
        .await
    }

    async fn get_cold(&self, key: &str) -> CoachResult<Option<CachedClip>> {
        let st = self.stores().await?;
        let k = key_js(key);
        let found = st.clips.get(&k).map_err(|e| storage("get clip", &e))?;
        let entry = st.audio.get(&k).map_err(|e| storage("get audio", &e))?;
        let stats = st.meta.get(&key_js(STATS_ID)).map_err(|e| storage("get stats", &e))?;
        let (last, map, key) = (stats.clone(), self.known.clone(), key.to_string());
        let index = self.index.clone();
        raw::run(&st.tx.clone(), &last, Resolve::AfterStep, "cache get", move |_, keep| {
            let now = now();
            let found = found.result().unwrap_or(JsValue::UNDEFINED);
            let stats = stats_object(stats.result().unwrap_or(JsValue::UNDEFINED));
            let rec: Option<ClipRecord> = if found.is_object() { js::decode(&found) } else { None };
            let (blob, stamp) = audio_of(&entry.result().unwrap_or(JsValue::UNDEFINED));
            let (answer, write) = match (rec, blob) {
                (Some(mut rec), Some(blob)) if !rec.expired(now) => {
                    rec.last_used_at = now;
                    rec.usage_count = rec.usage_count.saturating_add(1);
                    bump(&stats, "hits", 1);
                    let object = js::to_js(&rec)?;
                    map.borrow_mut().insert(key.clone(), Known { record: rec.clone(), object: object.clone(), stamp });
                    (Some(CachedClip { record: rec, audio: blob, object: object.clone() }), Some(object))
                }
                (rec, _) => {
                    bump(&stats, "misses", 1);
                    if rec.as_ref().is_some_and(|r| r.expired(now)) {
                        bump(&stats, "expired", 1);
                    }
                    (None, None)
                }
            };
            // expired, or metadata without audio (or unreadable): both halves go
            let drop_clip = found.is_object() && write.is_none();
            if drop_clip {
                forget(&index, &key);
            }
            let Stores { tx, clips, audio, meta } = st;
            keep.after_answer(move || {
                let done = (|| -> Result<(), JsValue> {
                    if let Some(object) = &write {
                        clips.put(object)?;
                    }
                    if drop_clip {
                        clips.delete(&key_js(&key))?;
                        audio.delete(&key_js(&key))?;
                    }
                    meta.put(&stats)?;
                    Ok(())
                })();
                finish(&tx, done);
            });
            Ok(answer)
        })
        .await
    }
}

/// Schedules the bookkeeping of a known-clip lookup: after the answer, read the stored record
/// and the counters, then write them back updated, and commit.
fn owe(st: &Stores, keep: &Keep, map: KnownClips, key: String, owed: Owed) {
    let (st, keep2) = (st.clone(), keep.clone());
    keep.after_answer(move || {
        let k = key_js(&key);
        let reads = (|| -> Result<_, JsValue> {
            let found = match owed {
                Owed::Hit { .. } => Some(st.clips.get(&k)?),
                Owed::Miss { .. } => None,
            };
            Ok((found, st.meta.get(&key_js(STATS_ID))?))
        })();
        let (found, stats) = match reads {
            Ok(r) => r,
            Err(e) => return finish(&st.tx, Err(e)),
        };
        let last = stats.clone();
        keep2.on_success(&last, move || {
            let stats = stats_object(stats.result().unwrap_or(JsValue::UNDEFINED));
            let done = (|| -> Result<(), JsValue> {
                match owed {
                    Owed::Hit { stamp } => {
                        bump(&stats, "hits", 1);
                        let found = found.and_then(|f| f.result().ok()).unwrap_or(JsValue::UNDEFINED);
                        match js::decode::<ClipRecord>(&found) {
                            Some(mut record) => {
                                record.last_used_at = now();
                                record.usage_count = record.usage_count.saturating_add(1);
                                let object = js::to_js(&record).map_err(|e| e.into_js())?;
                                st.clips.put(&object)?;
                                map.borrow_mut().insert(key, Known { record, object, stamp });
                            }
                            // audio without metadata: answered from what this instance knew;
                            // the next lookup goes cold (and finds a miss)
                            None => {
                                map.borrow_mut().remove(&key);
                            }
                        }
                    }
                    Owed::Miss { drop_clip, expired } => {
                        bump(&stats, "misses", 1);
                        if expired {
                            bump(&stats, "expired", 1);
                        }
                        if drop_clip {
                            st.clips.delete(&k)?;
                            st.audio.delete(&k)?;
                        }
                    }
                }
                st.meta.put(&stats)?;
                Ok(())
            })();
            finish(&st.tx, done);
        });
    });
}

/// A clip this lookup deletes leaves the in-memory index of the puts too.
fn forget(index: &IndexMemo, key: &str) {
    if let Some(entries) = index.borrow_mut().as_mut() {
        entries.retain(|e| e.key != key);
    }
}

/// Commits after the bookkeeping's last request, or aborts (and logs) when one could not be made.
fn finish(tx: &IdbTransaction, done: Result<(), JsValue>) {
    match done {
        Ok(()) => raw::commit(tx),
        Err(e) => {
            js::web_sys_log(&format!("coach-wasm: cache bookkeeping failed: {}", js::error_message(&e)));
            let _ = tx.abort();
        }
    }
}
