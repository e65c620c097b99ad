//! Records of the offline outbox (queued requests and dead letters), what a submission or a flush
//! reports, and the store operations on them (rexie transactions). A logged set may carry a
//! follow-up: the voice interaction to record once the server has created the set (the
//! interaction names the new workout's id, so it cannot be sent before).

use coach_shared::Tone;
use coach_shared::types::voice::VoiceInteractionRequest;
use rexie::TransactionMode;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

use crate::error::{CoachError, CoachResult, ErrorRecord};
use crate::idb::schema::{DEAD_LETTERS, OUTBOX};
use crate::idb::{Db, commit, rexie_error};

/// Which POST an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OutboxKind {
    /// `POST /v1/ai-training/data`.
    TrainingData,
    /// `POST /v1/voice/interactions`.
    VoiceInteraction,
    /// `POST /v1/workouts` (a logged set, with its follow-up interaction if any).
    Workout,
}

impl OutboxKind {
    /// The route it is sent to.
    pub fn path(self) -> &'static str {
        match self {
            OutboxKind::TrainingData => "/v1/ai-training/data",
            OutboxKind::VoiceInteraction => "/v1/voice/interactions",
            OutboxKind::Workout => "/v1/workouts",
        }
    }
}

/// A voice interaction about a set that does not exist on the server yet: everything of a
/// `VoiceInteractionRequest` but the `workoutEntryId`, which the server's answer supplies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InteractionTemplate {
    /// At most 280 characters.
    pub ai_response_text: String,
    /// Tone used.
    pub voice_tone: Tone,
    /// Whether audio actually played.
    pub was_voice_played: bool,
    /// Whether the audio came from a cache.
    #[serde(default)]
    pub was_cached: bool,
    /// Milliseconds, ≥ 0.
    #[serde(default)]
    pub generation_latency: Option<f64>,
    /// Milliseconds, ≥ 0.
    #[serde(default)]
    pub playback_latency: Option<f64>,
}

impl InteractionTemplate {
    /// The request for the created workout `workout_entry_id`.
    pub fn fill(&self, workout_entry_id: &str) -> VoiceInteractionRequest {
        VoiceInteractionRequest {
            workout_entry_id: workout_entry_id.to_string(),
            ai_response_text: self.ai_response_text.clone(),
            voice_tone: self.voice_tone,
            was_voice_played: self.was_voice_played,
            was_cached: self.was_cached,
            generation_latency: self.generation_latency,
            playback_latency: self.playback_latency,
        }
    }

    /// The shared rules of an interaction (checked at enqueue time, with a stand-in id).
    pub fn validate(&self) -> CoachResult<()> {
        coach_shared::Validate::validate(&self.fill("pending")).map_err(|e| CoachError::validation(&e))
    }
}

/// What a queued set does once the server created it: its interaction is queued in its place (same
/// position in the queue), with a key chosen when the set was queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FollowUp {
    /// UUID v4 the interaction is sent with (fixed at enqueue time, so a retry never duplicates it).
    pub idempotency_key: String,
    /// The interaction, without the workout id.
    pub interaction: InteractionTemplate,
}

impl FollowUp {
    /// The interaction item that replaces the delivered set `done` (answered with `workout_id`).
    pub fn next_item(&self, done: &OutboxItem, workout_id: &str, now: f64) -> CoachResult<OutboxItem> {
        let body = serde_json::to_string(&self.interaction.fill(workout_id))
            .map_err(|e| CoachError::invalid_argument(e.to_string()))?;
        Ok(OutboxItem {
            seq: done.seq,
            kind: OutboxKind::VoiceInteraction,
            idempotency_key: self.idempotency_key.clone(),
            body,
            created_at: done.created_at,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            follow_up: None,
            meta: None,
        })
    }
}

/// A request waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxItem {
    /// Position in the queue (assigned by IndexedDB; absent before the first write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<f64>,
    /// Which POST.
    pub kind: OutboxKind,
    /// UUID v4 sent as `Idempotency-Key` on every attempt, so a retry never duplicates a record.
    pub idempotency_key: String,
    /// The JSON body, exactly as first serialized (the server hashes it to detect key reuse).
    pub body: String,
    /// When it was queued (epoch ms).
    pub created_at: f64,
    /// Attempts that failed so far.
    pub attempts: u32,
    /// Not before this time (epoch ms; backoff).
    pub next_attempt_at: f64,
    /// Why the last attempt failed.
    #[serde(default)]
    pub last_error: Option<ErrorRecord>,
    /// A set's interaction, queued in its place once the set is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<FollowUp>,
    /// The app's own data about the item, handed back with its delivery (see [`Delivery`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<serde_json::Value>,
}

impl OutboxItem {
    /// A fresh item (new idempotency key unless `key` is given), due now.
    pub fn new(kind: OutboxKind, body: String, key: Option<String>, now: f64) -> Self {
        OutboxItem {
            seq: None,
            kind,
            idempotency_key: key.unwrap_or_else(crate::rand::uuid_v4),
            body,
            created_at: now,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            follow_up: None,
            meta: None,
        }
    }
}

/// A request the server refused for good (a 4xx other than 401, 408 and 429), kept with its error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// The item's idempotency key.
    pub idempotency_key: String,
    /// Which POST.
    pub kind: OutboxKind,
    /// The JSON body.
    pub body: String,
    /// When it was queued (epoch ms).
    pub created_at: f64,
    /// When it was set aside (epoch ms).
    pub failed_at: f64,
    /// Attempts made.
    pub attempts: u32,
    /// The server's refusal.
    pub error: ErrorRecord,
    /// The item's follow-up (kept, so a re-queued set still records its interaction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<FollowUp>,
    /// The item's app data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<serde_json::Value>,
}

/// What happened to one submission.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum Outcome {
    /// Delivered; `response` is the server's body.
    #[serde(rename_all = "camelCase")]
    Sent {
        /// The key it was sent with.
        idempotency_key: String,
        /// The server answered with the original response of an earlier attempt.
        replayed: bool,
        /// The created record.
        response: serde_json::Value,
    },
    /// Kept in the outbox; sent when the browser is back online (or after the backoff).
    #[serde(rename_all = "camelCase")]
    Queued {
        /// The key it will be sent with.
        idempotency_key: String,
        /// Why it is not sent yet (`null` when simply offline).
        error: Option<ErrorRecord>,
    },
    /// Refused for good and moved to the dead letters.
    #[serde(rename_all = "camelCase")]
    Rejected {
        /// The key it was sent with.
        idempotency_key: String,
        /// The server's refusal.
        error: ErrorRecord,
    },
}

/// An item delivered (or refused) by a flush that no `submit` call was waiting for — e.g. a set
/// queued offline and sent after a reconnect or a reload — as the client's outbox listener gets it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// Which POST.
    pub kind: OutboxKind,
    /// The app data it was queued with.
    pub meta: Option<serde_json::Value>,
    /// `sent` (with the server's record) or `rejected`.
    pub outcome: Outcome,
}

/// What one flush did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlushReport {
    /// Items delivered.
    pub sent: u32,
    /// Of those, answered as replays of an earlier attempt.
    pub replayed: u32,
    /// Items moved to the dead letters.
    pub dead_lettered: u32,
    /// Items still queued.
    pub remaining: u32,
    /// The next automatic attempt, in ms from now, when one is scheduled.
    pub retry_in_ms: Option<f64>,
    /// Why flushing stopped early: `offline`, `backoff`, `unauthorized`, or `null`.
    pub stopped: Option<String>,
}

/// The queue, oldest first.
pub async fn items(db: &Db) -> CoachResult<Vec<OutboxItem>> {
    let tx = db.transaction(&[OUTBOX], TransactionMode::ReadOnly).await?;
    let store = tx.store(OUTBOX).map_err(|e| rexie_error("store", &e))?;
    let all = store.get_all(None, None).await.map_err(|e| rexie_error("list outbox", &e))?;
    Ok(all.into_iter().filter_map(|v| crate::js::decode(&v)).collect())
}

/// The oldest queued item.
pub async fn head(db: &Db) -> CoachResult<Option<OutboxItem>> {
    let tx = db.transaction(&[OUTBOX], TransactionMode::ReadOnly).await?;
    let store = tx.store(OUTBOX).map_err(|e| rexie_error("store", &e))?;
    let first = store.get_all(None, Some(1)).await.map_err(|e| rexie_error("read outbox", &e))?;
    Ok(first.into_iter().next().and_then(|v| crate::js::decode(&v)))
}

/// How many items are queued.
pub async fn count(db: &Db) -> CoachResult<u32> {
    let tx = db.transaction(&[OUTBOX], TransactionMode::ReadOnly).await?;
    let store = tx.store(OUTBOX).map_err(|e| rexie_error("store", &e))?;
    store.count(None).await.map_err(|e| rexie_error("count outbox", &e))
}

/// Appends an item (IndexedDB assigns `seq`).
pub async fn append(db: &Db, item: &OutboxItem) -> CoachResult<()> {
    let tx = db.transaction(&[OUTBOX], TransactionMode::ReadWrite).await?;
    let store = tx.store(OUTBOX).map_err(|e| rexie_error("store", &e))?;
    store.add(&crate::js::to_js(item)?, None).await.map_err(|e| rexie_error("queue", &e))?;
    commit(tx, "queue").await
}

/// Rewrites an item (attempts, backoff, last error) if it is still queued.
pub async fn update(db: &Db, item: &OutboxItem) -> CoachResult<()> {
    let Some(seq) = item.seq else { return Ok(()) };
    let tx = db.transaction(&[OUTBOX], TransactionMode::ReadWrite).await?;
    let store = tx.store(OUTBOX).map_err(|e| rexie_error("store", &e))?;
    // another tab may have delivered it meanwhile
    if store.key_exists(JsValue::from(seq)).await.map_err(|e| rexie_error("read outbox", &e))? {
        store.put(&crate::js::to_js(item)?, None).await.map_err(|e| rexie_error("update outbox", &e))?;
    }
    commit(tx, "update outbox").await
}

/// The queued item with idempotency key `key`, if any.
pub async fn find(db: &Db, key: &str) -> CoachResult<Option<OutboxItem>> {
    Ok(items(db).await?.into_iter().find(|i| i.idempotency_key == key))
}

/// Removes a delivered item.
pub async fn remove(db: &Db, seq: f64) -> CoachResult<()> {
    let tx = db.transaction(&[OUTBOX], TransactionMode::ReadWrite).await?;
    let store = tx.store(OUTBOX).map_err(|e| rexie_error("store", &e))?;
    store.delete(JsValue::from(seq)).await.map_err(|e| rexie_error("dequeue", &e))?;
    commit(tx, "dequeue").await
}

/// Moves an item to the dead letters (one transaction).
pub async fn bury(db: &Db, item: &OutboxItem, error: ErrorRecord, now: f64) -> CoachResult<()> {
    let tx = db.transaction(&[OUTBOX, DEAD_LETTERS], TransactionMode::ReadWrite).await?;
    let outbox = tx.store(OUTBOX).map_err(|e| rexie_error("store", &e))?;
    let dead = tx.store(DEAD_LETTERS).map_err(|e| rexie_error("store", &e))?;
    if let Some(seq) = item.seq {
        outbox.delete(JsValue::from(seq)).await.map_err(|e| rexie_error("dequeue", &e))?;
    }
    let letter = DeadLetter {
        idempotency_key: item.idempotency_key.clone(),
        kind: item.kind,
        body: item.body.clone(),
        created_at: item.created_at,
        failed_at: now,
        attempts: item.attempts + 1,
        error,
        follow_up: item.follow_up.clone(),
        meta: item.meta.clone(),
    };
    dead.put(&crate::js::to_js(&letter)?, None).await.map_err(|e| rexie_error("dead letter", &e))?;
    commit(tx, "dead letter").await
}

/// All dead letters.
pub async fn dead_letters(db: &Db) -> CoachResult<Vec<DeadLetter>> {
    let tx = db.transaction(&[DEAD_LETTERS], TransactionMode::ReadOnly).await?;
    let store = tx.store(DEAD_LETTERS).map_err(|e| rexie_error("store", &e))?;
    let all = store.get_all(None, None).await.map_err(|e| rexie_error("list dead letters", &e))?;
    let mut v: Vec<DeadLetter> = all.into_iter().filter_map(|v| crate::js::decode(&v)).collect();
    // oldest first, ties in key order: a stable insertion sort (the list is short, and `sort_by`
    // would add a ~6 KB sort routine to the package for it)
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && v[j - 1].failed_at.total_cmp(&v[j].failed_at).is_gt() {
            v.swap(j - 1, j);
            j -= 1;
        }
    }
    Ok(v)
}

/// Removes a dead letter and returns it.
pub async fn take_dead_letter(db: &Db, key: &str, requeue_at: Option<f64>) -> CoachResult<Option<DeadLetter>> {
    let tx = db.transaction(&[OUTBOX, DEAD_LETTERS], TransactionMode::ReadWrite).await?;
    let outbox = tx.store(OUTBOX).map_err(|e| rexie_error("store", &e))?;
    let dead = tx.store(DEAD_LETTERS).map_err(|e| rexie_error("store", &e))?;
    let Some(v) = dead.get(JsValue::from_str(key)).await.map_err(|e| rexie_error("read dead letter", &e))? else {
        return Ok(None);
    };
    let letter: Option<DeadLetter> = crate::js::decode(&v);
    dead.delete(JsValue::from_str(key)).await.map_err(|e| rexie_error("delete dead letter", &e))?;
    if let (Some(now), Some(l)) = (requeue_at, &letter) {
        let item = OutboxItem {
            seq: None,
            kind: l.kind,
            idempotency_key: l.idempotency_key.clone(),
            body: l.body.clone(),
            created_at: l.created_at,
            attempts: 0,
            next_attempt_at: now,
            last_error: Some(l.error.clone()),
            follow_up: l.follow_up.clone(),
            meta: l.meta.clone(),
        };
        outbox.add(&crate::js::to_js(&item)?, None).await.map_err(|e| rexie_error("requeue", &e))?;
    }
    commit(tx, "dead letter").await?;
    Ok(letter)
}
