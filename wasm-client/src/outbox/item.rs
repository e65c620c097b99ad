//! Records of the offline outbox (queued requests and dead letters), what a submission or a flush
//! reports, and the store operations on them (rexie transactions).

use rexie::TransactionMode;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

use crate::error::{CoachResult, ErrorRecord};
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
}

impl OutboxKind {
    /// The route it is sent to.
    pub fn path(self) -> &'static str {
        match self {
            OutboxKind::TrainingData => "/v1/ai-training/data",
            OutboxKind::VoiceInteraction => "/v1/voice/interactions",
        }
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
    v.sort_by(|a, b| a.failed_at.total_cmp(&b.failed_at));
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
        };
        outbox.add(&crate::js::to_js(&item)?, None).await.map_err(|e| rexie_error("requeue", &e))?;
    }
    commit(tx, "dead letter").await?;
    Ok(letter)
}
