//! `VoiceCache`: the user's voice clips in IndexedDB, keyed by the shared cache key so the browser
//! and the server agree on what a hit is. At most 10 clips (random eviction by the shared
//! [`coach_shared::RotationPolicy`], random numbers from `crypto.getRandomValues`), expiry honoured,
//! hit/miss counters persisted with the data, quota errors and blocked upgrades handled (see
//! [`store`] and [`crate::idb`]).
//!
//! # How it stays as fast as a bare key-value store
//!
//! Stores: `clips` (key → metadata, the index listing and rotation read), `audio` (key → the Blob
//! and a random `stamp` written with it by every put), `meta` (the counters). `get` and `put` run
//! on plain `web-sys` requests ([`crate::idb::raw`]): the requests of a wave are issued together,
//! the next wave goes out from the `success` event of the last one, the transaction is committed
//! with `IDBTransaction.commit()` as soon as its last request is issued, and what the caller does
//! not need for its answer is done after it (issue 11 measured each extra request at ~0.1 ms of
//! main thread on the test machine, as much as idb-keyval's whole `get`).
//!
//! * `get` ([`lookup`]) of a clip this instance already wrote or read answers after **one**
//!   request, the audio record: the record this instance holds is current as long as the stamp
//!   matches (another tab's put changes it; its delete removes the audio), so no metadata read is
//!   needed. The usage update and the hit/miss counters are read-modify-written in the same
//!   transaction right after the answer, so concurrent tabs never lose a count; only the answer's
//!   `usageCount` can lag uses made meanwhile by another tab. A first lookup after a reload reads
//!   record, audio and counters together.
//! * `put` ([`put`]) of an instance that holds the index in memory issues its writes in **one**
//!   wave without reading anything first: audio, record, the victims' index deletes (victims picked
//!   from memory by the policy) and a `count` of the index. The count's `success` checks the
//!   memory's prediction; a mismatch (another tab changed the index) is repaired in the same
//!   transaction (read the index, evict the excess), so no commit ever holds more than the
//!   capacity. A first put reads the index with its writes. A clip is out of the cache when its
//!   index record is gone; the victims' audio Blobs (the costliest deletes) and the put counters
//!   go in a sweep transaction right after the answer, which deletes every audio record the index
//!   does not name (so a page closed before its sweep leaves nothing for long either), folds the
//!   counters read-modify-write and refreshes the memory.
//! * Everything else (list, stats, delete, clear, quota eviction) is rare and stays on rexie.
pub mod lookup;
pub mod put;
pub mod record;
pub mod store;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use coach_shared::RotationPolicy;
use coach_shared::limits::VOICE_CACHE_MAX_ENTRIES;
use wasm_bindgen::prelude::*;

use crate::error::{CoachError, CoachResult};
use crate::idb::{Db, OpenOptions, db_name_for};
use crate::js;
use record::{ClipInput, ClipRecord};
pub use store::{CacheCore, CachedClip};

/// Default lifetime of a cached clip: 30 days.
pub const DEFAULT_TTL_SECONDS: f64 = 30.0 * 24.0 * 3600.0;

#[wasm_bindgen(typescript_custom_section)]
const TS_CACHE: &str = r#"
export type Tone = 'whisper' | 'neutral' | 'hype';
export type Personality = 'Alice' | 'Aiden';

/** Options of {@link VoiceCache.open}. */
export interface VoiceCacheOptions {
  /** At most this many clips, 1–10 (default 10). */
  maxEntries?: number;
  /** Lifetime of a clip stored without `expiresAt`, in seconds; `null` = forever (default 30 days). */
  ttlSeconds?: number | null;
  /** Give up with `database_blocked` after this long blocked by another tab (default 10000). */
  blockedTimeoutMs?: number;
  /** Called when an old connection in another tab blocks the schema upgrade. */
  onBlocked?: (dbName: string) => void;
  /** Database name (default: derived from the user id's hash). */
  dbName?: string;
}

/** Metadata of a cached clip (the contract's VoiceCache fields, plus size and mimeType). */
export interface ClipInfo {
  /** The shared cache key (`textHash`). */
  key: string;
  text: string | null;
  tone: Tone;
  context: string;
  generatedAt: string;
  lastUsedAt: string;
  usageCount: number;
  expiresAt: string | null;
  /** Seconds. */
  duration: number;
  /** Bytes. */
  size: number;
  mimeType: string;
  /** The server's cache-index id, when the clip came from the server. */
  cacheId: string | null;
}

/** A clip found in the cache. */
export interface CachedClip extends ClipInfo {
  audio: Blob;
}

/** What {@link VoiceCache.put} is told about a clip. */
export interface ClipInput {
  text?: string | null;
  tone?: Tone;
  context?: string;
  /** Seconds. */
  duration?: number;
  generatedAt?: string;
  expiresAt?: string | null;
  cacheId?: string | null;
}

/** What {@link VoiceCache.put} did. */
export interface PutOutcome {
  key: string;
  /** Keys evicted (randomly) to make room. */
  evicted: string[];
  /** Keys dropped because they had expired. */
  expired: string[];
  /** The key was already cached; its audio was replaced. */
  replaced: boolean;
  /** Clips held after the put. */
  entries: number;
  /** A quota error was resolved by evicting a clip first. */
  quotaRecovered: boolean;
}

/** Counters (persisted across reloads) and current contents. */
export interface CacheStats {
  hits: number;
  misses: number;
  /** hits / (hits + misses), 0–1; `null` before the first lookup. */
  hitRate: number | null;
  entries: number;
  /** Bytes of audio held. */
  bytes: number;
  maxEntries: number;
  puts: number;
  evictions: number;
  expired: number;
  quotaEvictions: number;
}
"#;

/// The user's voice clips in IndexedDB.
#[wasm_bindgen]
pub struct VoiceCache {
    core: Rc<CacheCore>,
}

/// Reads the options object of `VoiceCache.open`.
pub fn parse_options(options: &JsValue) -> CoachResult<(Option<String>, usize, Option<f64>, OpenOptions)> {
    let max = js::opt_f64(options, "maxEntries")?.unwrap_or(VOICE_CACHE_MAX_ENTRIES as f64);
    if !(1.0..=VOICE_CACHE_MAX_ENTRIES as f64).contains(&max) || max.fract() != 0.0 {
        return Err(CoachError::invalid_argument(format!(
            "`maxEntries` must be an integer 1–{VOICE_CACHE_MAX_ENTRIES}"
        )));
    }
    let ttl = match js::get(options, "ttlSeconds") {
        v if v.is_null() => None,
        v if v.is_undefined() => Some(DEFAULT_TTL_SECONDS * 1000.0),
        v => match v.as_f64() {
            Some(s) if s.is_finite() && s >= 0.0 => Some(s * 1000.0),
            _ => return Err(CoachError::invalid_argument("`ttlSeconds` must be a number ≥ 0 or null")),
        },
    };
    let open = OpenOptions {
        on_blocked: js::opt_function(options, "onBlocked")?,
        blocked_timeout_ms: js::opt_f64(options, "blockedTimeoutMs")?,
    };
    Ok((js::opt_string(options, "dbName")?, max as usize, ttl, open))
}

impl VoiceCache {
    /// A cache over an already open database.
    pub fn with_db(db: Rc<Db>, max_entries: usize, ttl_ms: Option<f64>) -> Self {
        let core = CacheCore {
            db,
            policy: RotationPolicy { max_entries },
            ttl_ms,
            faults: RefCell::new(VecDeque::new()),
            known: Default::default(),
            index: Default::default(),
            pending: Default::default(),
        };
        Self { core: Rc::new(core) }
    }

    /// The shared core (used by `speak`).
    pub fn core(&self) -> Rc<CacheCore> {
        self.core.clone()
    }
}

fn clip_to_js(clip: CachedClip) -> CoachResult<JsValue> {
    let _ = js_sys::Reflect::set(&clip.object, &"audio".into(), &clip.audio);
    Ok(clip.object)
}

#[wasm_bindgen]
impl VoiceCache {
    /// Opens (creating or upgrading) the cache of `userId`.
    pub async fn open(
        #[wasm_bindgen(js_name = userId)] user_id: String,
        #[wasm_bindgen(unchecked_optional_param_type = "VoiceCacheOptions")] options: JsValue,
    ) -> Result<VoiceCache, JsValue> {
        let (name, max, ttl, open) = parse_options(&options)?;
        let name = name.unwrap_or_else(|| db_name_for(&user_id));
        let db = Db::open(&name, open).await?;
        Ok(VoiceCache::with_db(Rc::new(db), max, ttl))
    }

    /// Deletes the whole local database of `userId` (voice cache and outbox).
    #[wasm_bindgen(js_name = deleteDatabase)]
    pub async fn delete_database(#[wasm_bindgen(js_name = userId)] user_id: String) -> Result<(), JsValue> {
        Ok(Db::delete(&db_name_for(&user_id)).await?)
    }

    /// The IndexedDB database name.
    #[wasm_bindgen(getter, js_name = dbName)]
    pub fn db_name(&self) -> String {
        self.core.db.name().to_string()
    }

    /// Most clips held at once.
    #[wasm_bindgen(getter, js_name = maxEntries)]
    pub fn max_entries(&self) -> u32 {
        self.core.policy.max_entries as u32
    }

    /// The clip under `key` (counts a hit or a miss, updates its usage), or `null`.
    #[wasm_bindgen(unchecked_return_type = "CachedClip | null")]
    pub async fn get(&self, key: String) -> Result<JsValue, JsValue> {
        match self.core.get(&key).await? {
            Some(clip) => Ok(clip_to_js(clip)?),
            None => Ok(JsValue::NULL),
        }
    }

    /// The clip under `key` without counting or updating anything, or `null`.
    #[wasm_bindgen(unchecked_return_type = "CachedClip | null")]
    pub async fn peek(&self, key: String) -> Result<JsValue, JsValue> {
        match self.core.peek(&key).await? {
            Some(clip) => Ok(clip_to_js(clip)?),
            None => Ok(JsValue::NULL),
        }
    }

    /// Whether a live clip is cached under `key` (counts nothing).
    pub async fn has(&self, key: String) -> Result<bool, JsValue> {
        Ok(self.core.peek(&key).await?.is_some())
    }

    /// Stores `audio` under `key`, evicting a random clip when full.
    #[wasm_bindgen(unchecked_return_type = "PutOutcome")]
    pub async fn put(
        &self,
        key: String,
        audio: web_sys::Blob,
        #[wasm_bindgen(unchecked_optional_param_type = "ClipInput")] info: JsValue,
    ) -> Result<JsValue, JsValue> {
        let input: ClipInput =
            if info.is_undefined() || info.is_null() { ClipInput::default() } else { js::from_js(info, "info")? };
        let outcome = self.core.put(&key, &audio, &input).await?;
        Ok(outcome.to_object())
    }

    /// Removes the clip under `key`; whether it was there.
    pub async fn delete(&self, key: String) -> Result<bool, JsValue> {
        Ok(self.core.delete(&key).await?)
    }

    /// Removes every clip; how many there were.
    pub async fn clear(&self) -> Result<u32, JsValue> {
        Ok(self.core.clear().await?)
    }

    /// Live clips, most recently used first.
    #[wasm_bindgen(unchecked_return_type = "ClipInfo[]")]
    pub async fn list(&self) -> Result<JsValue, JsValue> {
        let list: Vec<ClipRecord> = self.core.list().await?;
        Ok(js::to_js(&list)?)
    }

    /// Counters and current contents.
    #[wasm_bindgen(unchecked_return_type = "CacheStats")]
    pub async fn stats(&self) -> Result<JsValue, JsValue> {
        Ok(js::to_js(&self.core.stats().await?)?)
    }

    /// Sets the counters back to zero.
    #[wasm_bindgen(js_name = resetStats)]
    pub async fn reset_stats(&self) -> Result<(), JsValue> {
        Ok(self.core.reset_stats().await?)
    }

    /// Closes the database connection (a later call reopens it).
    pub fn close(&self) {
        self.core.db.close();
    }

    /// Test hook: the next `count` puts fail at commit with a DOMException named `name`
    /// (`QuotaExceededError` by default); the transaction is really aborted.
    #[wasm_bindgen(js_name = __simulateStorageFailures, skip_typescript)]
    pub fn simulate_storage_failures(&self, count: u32, name: Option<String>) {
        let name = name.unwrap_or_else(|| "QuotaExceededError".into());
        let mut faults = self.core.faults.borrow_mut();
        for _ in 0..count {
            faults.push_back(name.clone());
        }
    }
}
