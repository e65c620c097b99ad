//! The user's IndexedDB database: opening (upgrade, `blocked`), reopening after another tab's
//! upgrade or deletion closed our connection, and turning IndexedDB failures into `CoachError`s.
//!
//! One database per user (`coach-wasm:` + the first 32 hex digits of the user's `hashedUserId`,
//! so the raw id never appears in storage names) holds the voice cache and the outbox; deleting the
//! user's local data is one `deleteDatabase`.
//!
//! Data access goes through `rexie` transactions, except the voice cache's `get` and `put`, which
//! use a plain `web-sys` connection opened beside rexie's ([`raw`]: no future per request). Our connection is rexie's, whose `versionchange`
//! handler closes it as soon as another connection asks for a newer version (or deletion), so we
//! never block another tab. The next operation finds the connection closed (`InvalidStateError`)
//! and reopens it: entries are never lost, and a database upgraded by a newer tab is used as long
//! as our stores are still there.

pub mod raw;
pub mod schema;

use std::cell::RefCell;

use rexie::{ObjectStore, Rexie, Transaction, TransactionMode};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{IdbDatabase, IdbTransaction, IdbTransactionMode};

use crate::error::{CoachError, CoachResult};
use schema::{AUDIO, CLIPS, DEAD_LETTERS, META, OUTBOX, Prepared, REQUIRED, SCHEMA_VERSION};

/// How to open the database.
#[derive(Clone, Default)]
pub struct OpenOptions {
    /// Called when an old connection elsewhere blocks our upgrade.
    pub on_blocked: Option<js_sys::Function>,
    /// How long to wait while blocked before failing with `database_blocked` (ms).
    pub blocked_timeout_ms: Option<f64>,
}

/// The database name of a user.
pub fn db_name_for(user_id: &str) -> String {
    format!("coach-wasm:{}", &coach_shared::hash_user_id(user_id)[..32])
}

/// A plain connection (the voice cache's hot path, [`raw`]) with the `versionchange` handler that
/// closes it, so it never blocks another tab's upgrade or deletion either.
struct RawConn {
    db: IdbDatabase,
    _on_versionchange: Closure<dyn FnMut()>,
}

impl RawConn {
    fn new(db: IdbDatabase) -> Self {
        let d = db.clone();
        let handler = Closure::<dyn FnMut()>::new(move || d.close());
        db.set_onversionchange(Some(handler.as_ref().unchecked_ref()));
        Self { db, _on_versionchange: handler }
    }
}

impl Drop for RawConn {
    fn drop(&mut self) {
        self.db.set_onversionchange(None);
        self.db.close();
    }
}

/// A reopening connection to one database.
pub struct Db {
    /// Database name.
    name: String,
    /// The live connection (`None` after [`Db::close`] or before the first open).
    conn: RefCell<Option<Rexie>>,
    /// The plain connection beside it, opened and closed with it.
    raw: RefCell<Option<RawConn>>,
    /// Open options, reused when reopening.
    opts: OpenOptions,
}

const DEFAULT_BLOCKED_TIMEOUT_MS: f64 = 10_000.0;

impl Db {
    /// Opens (creating or upgrading) `name`.
    pub async fn open(name: &str, opts: OpenOptions) -> CoachResult<Db> {
        let db = Db { name: name.to_string(), conn: RefCell::new(None), raw: RefCell::new(None), opts };
        db.connect().await?;
        Ok(db)
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    async fn connect(&self) -> CoachResult<()> {
        let timeout = self.opts.blocked_timeout_ms.unwrap_or(DEFAULT_BLOCKED_TIMEOUT_MS);
        let (prepared, raw) = schema::prepare(&self.name, self.opts.on_blocked.clone(), timeout).await?;
        let raw = match raw {
            Some(db) => db,
            None => schema::open_current(&self.name).await?,
        };
        let raw = RawConn::new(raw);
        let mut builder = Rexie::builder(&self.name);
        if prepared == Prepared::Current {
            builder = builder.version(SCHEMA_VERSION);
        }
        // The same stores the raw upgrade creates; they only matter if the database vanished
        // between the two opens (rexie then creates it fresh).
        let rexie = builder
            .add_object_store(ObjectStore::new(CLIPS).key_path("key"))
            .add_object_store(ObjectStore::new(AUDIO).key_path("key"))
            .add_object_store(ObjectStore::new(META).key_path("id"))
            .add_object_store(ObjectStore::new(OUTBOX).key_path("seq").auto_increment(true))
            .add_object_store(ObjectStore::new(DEAD_LETTERS).key_path("idempotencyKey"))
            .build()
            .await
            .map_err(|e| rexie_error("open", &e))?;
        let names = rexie.store_names();
        if let Some(missing) = REQUIRED.iter().find(|s| !names.iter().any(|n| n == *s)) {
            rexie.close();
            return Err(CoachError::new(
                "storage_error",
                format!("the database {} lacks the store {missing:?} (an incompatible newer schema?)", self.name),
            ));
        }
        *self.conn.borrow_mut() = Some(rexie);
        *self.raw.borrow_mut() = Some(raw);
        Ok(())
    }

    /// A plain transaction over `stores` on the open connection, now (`None` when it is closed:
    /// no reopening, so the transaction is created in the caller's turn).
    pub fn raw_transaction_now(&self, stores: &[&str], mode: IdbTransactionMode) -> Option<IdbTransaction> {
        let names: js_sys::Array = stores.iter().map(|s| JsValue::from_str(s)).collect();
        self.raw.borrow().as_ref().and_then(|c| c.db.transaction_with_str_sequence_and_mode(&names, mode).ok())
    }

    /// A plain `web-sys` transaction over `stores` (see [`raw`]), reopening once like
    /// [`Db::transaction`].
    pub async fn raw_transaction(&self, stores: &[&str], mode: IdbTransactionMode) -> CoachResult<IdbTransaction> {
        let names: js_sys::Array = stores.iter().map(|s| JsValue::from_str(s)).collect();
        for attempt in 0..2 {
            let result = self.raw.borrow().as_ref().map(|c| c.db.transaction_with_str_sequence_and_mode(&names, mode));
            match result {
                Some(Ok(tx)) => return Ok(tx),
                Some(Err(e)) if attempt == 0 && crate::js::error_name(&e) == "InvalidStateError" => {
                    self.close();
                    self.connect().await?;
                }
                Some(Err(e)) => return Err(schema::storage("transaction", &e)),
                None => self.connect().await?,
            }
        }
        Err(CoachError::new("storage_error", "could not reopen the database"))
    }

    /// A transaction over `stores`, reopening the connection once when it was closed (another
    /// tab's upgrade or deletion, or [`Db::close`]).
    pub async fn transaction(&self, stores: &[&str], mode: TransactionMode) -> CoachResult<Transaction> {
        for attempt in 0..2 {
            // the borrow ends with this statement: reconnecting below borrows mutably
            let result = self.conn.borrow().as_ref().map(|conn| conn.transaction(stores, mode));
            match result {
                Some(Ok(tx)) => return Ok(tx),
                Some(Err(e)) if attempt == 0 && error_name(&e).as_deref() == Some("InvalidStateError") => {
                    self.close();
                    self.connect().await?;
                }
                Some(Err(e)) => return Err(rexie_error("transaction", &e)),
                None => self.connect().await?,
            }
        }
        Err(CoachError::new("storage_error", "could not reopen the database"))
    }

    /// Closes the connection (the next operation reopens it).
    pub fn close(&self) {
        if let Some(conn) = self.conn.borrow_mut().take() {
            conn.close();
        }
        self.raw.borrow_mut().take();
    }

    /// Deletes a whole database (waits while other tabs hold it open).
    pub async fn delete(name: &str) -> CoachResult<()> {
        Rexie::delete(name).await.map_err(|e| rexie_error("deleteDatabase", &e))
    }
}

/// DOMException names this library tells apart.
const KNOWN_NAMES: [&str; 9] = [
    "QuotaExceededError",
    "InvalidStateError",
    "TransactionInactiveError",
    "AbortError",
    "VersionError",
    "DataCloneError",
    "DataError",
    "NotFoundError",
    "UnknownError",
];

/// The DOMException name inside a rexie error, when there is one. (`rexie::Error` wraps `idb`'s
/// error, which keeps the exception only in its message, `"<what> failed: <Name>: <message>"`.)
pub fn error_name(e: &rexie::Error) -> Option<String> {
    let text = detail(e);
    KNOWN_NAMES.iter().find(|n| text.contains(*n)).map(|n| n.to_string())
}

fn detail(e: &rexie::Error) -> String {
    match e {
        rexie::Error::IdbError(inner) => inner.to_string(),
        other => other.to_string(),
    }
}

/// A `CoachError` (`storage_error`, or `quota_exceeded`) from a rexie error.
pub fn rexie_error(operation: &str, e: &rexie::Error) -> CoachError {
    let name = error_name(e).unwrap_or_else(|| "UnknownError".into());
    let code = if name == "QuotaExceededError" { "quota_exceeded" } else { "storage_error" };
    CoachError::new(code, format!("IndexedDB {operation} failed: {}", detail(e)))
        .with_details(serde_json::json!({ "name": name, "operation": operation }))
}

/// Waits for a write transaction to commit; an abort becomes an error named after `abort_name`
/// (IndexedDB reports a failed commit, such as an exceeded quota, only as an abort).
pub async fn commit(tx: Transaction, operation: &str) -> CoachResult<()> {
    match tx.done().await {
        Ok(rexie::TransactionResult::Committed) => Ok(()),
        Ok(rexie::TransactionResult::Aborted) => Err(CoachError::new(
            "storage_error",
            format!("IndexedDB {operation} was aborted (commit failed: storage full or the database closed)"),
        )
        .with_details(serde_json::json!({ "name": "AbortError", "operation": operation }))),
        Err(e) => Err(rexie_error(operation, &e)),
    }
}
