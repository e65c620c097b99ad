//! The IndexedDB schema and its upgrades, run in the `versionchange` transaction of a raw
//! `indexedDB.open()` so that the upgrade can transform records (rexie's builder only declares
//! stores) and so that `blocked` is observed.
//!
//! | version | stores |
//! |---|---|
//! | 1 | `clips` (key → metadata **and** the audio Blob), `stats` (id → counters) |
//! | 2 | `clips` (key → metadata, now with `size` and `mimeType`), `audio` (key → Blob), `meta` (id → counters), `outbox` (auto-increment `seq` → queued request), `deadLetters` (idempotencyKey → failed request) |
//!
//! Upgrades run step by step (0→1→2), so a new database and a v1 database end in the same shape.
//! The 1→2 step moves every Blob out of its `clips` record into `audio` (listing and rotation no
//! longer touch audio), fills `size` and `mimeType` from the Blob, and moves the counters from
//! `stats` to `meta` before deleting `stats`. Nothing is dropped: a v1 clip is a v2 clip after it.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{IdbDatabase, IdbObjectStoreParameters, IdbOpenDbRequest, IdbTransaction, IdbVersionChangeEvent};

use crate::error::{CoachError, CoachResult};
use crate::js;

/// The version this library writes.
pub const SCHEMA_VERSION: u32 = 2;

/// Clip metadata (the shared cache key → `ClipRecord`).
pub const CLIPS: &str = "clips";
/// Audio Blobs, keyed like `clips`.
pub const AUDIO: &str = "audio";
/// Counters (`stats`) and other small records.
pub const META: &str = "meta";
/// Requests waiting to be sent, in order.
pub const OUTBOX: &str = "outbox";
/// Requests the server refused for good, with the error.
pub const DEAD_LETTERS: &str = "deadLetters";
/// Every store the current code needs.
pub const REQUIRED: [&str; 5] = [CLIPS, AUDIO, META, OUTBOX, DEAD_LETTERS];

/// What the raw open found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prepared {
    /// The database is at [`SCHEMA_VERSION`] (created or upgraded if needed).
    Current,
    /// Another tab runs a newer library that upgraded the database past ours: open it at its
    /// version and use it if our stores are still there (newer schemas only add).
    Newer,
}

fn key_path(name: &str, auto_increment: bool) -> IdbObjectStoreParameters {
    let p = IdbObjectStoreParameters::new();
    p.set_key_path(&JsValue::from_str(name));
    if auto_increment {
        p.set_auto_increment(true);
    }
    p
}

fn create(db: &IdbDatabase, store: &str, key: &str, auto_increment: bool) -> Result<(), JsValue> {
    if !db.object_store_names().contains(store) {
        db.create_object_store_with_optional_parameters(store, &key_path(key, auto_increment))?;
    }
    Ok(())
}

fn set(obj: &JsValue, key: &str, value: &JsValue) {
    let _ = js_sys::Reflect::set(obj, &JsValue::from_str(key), value);
}

/// 0 → 1: the first schema.
fn step_v1(db: &IdbDatabase) -> Result<(), JsValue> {
    create(db, CLIPS, "key", false)?;
    create(db, "stats", "id", false)
}

/// 1 → 2: split audio from metadata, move counters, add the outbox stores.
fn step_v2(db: &IdbDatabase, tx: &IdbTransaction) -> Result<(), JsValue> {
    create(db, AUDIO, "key", false)?;
    create(db, META, "id", false)?;
    create(db, OUTBOX, "seq", true)?;
    create(db, DEAD_LETTERS, "idempotencyKey", false)?;

    let clips = tx.object_store(CLIPS)?;
    let audio = tx.object_store(AUDIO)?;
    let all = clips.get_all()?;
    let all_req = all.clone();
    let on_clips = Closure::once_into_js(move || {
        let Ok(records) = all_req.result() else { return };
        let records: js_sys::Array = records.unchecked_into();
        for rec in records.iter() {
            let blob = js_sys::Reflect::get(&rec, &JsValue::from_str("audio")).unwrap_or(JsValue::UNDEFINED);
            if let Some(blob) = blob.dyn_ref::<web_sys::Blob>() {
                let entry = js_sys::Object::new();
                set(&entry, "key", &js::get(&rec, "key"));
                set(&entry, "blob", blob);
                let _ = audio.put(&entry);
                set(&rec, "size", &JsValue::from(blob.size()));
                let mime = if blob.type_().is_empty() { "audio/mpeg".to_string() } else { blob.type_() };
                set(&rec, "mimeType", &JsValue::from_str(&mime));
            }
            let _ =
                js_sys::Reflect::delete_property(rec.unchecked_ref::<js_sys::Object>(), &JsValue::from_str("audio"));
            let _ = clips.put(&rec);
        }
    });
    all.set_onsuccess(Some(on_clips.unchecked_ref()));

    if db.object_store_names().contains("stats") {
        let stats = tx.object_store("stats")?;
        let meta = tx.object_store(META)?;
        let get = stats.get(&JsValue::from_str("stats"))?;
        let get_req = get.clone();
        let db = db.clone();
        let on_stats = Closure::once_into_js(move || {
            if let Ok(rec) = get_req.result()
                && rec.is_object()
            {
                let _ = meta.put(&rec);
            }
            let _ = db.delete_object_store("stats");
        });
        get.set_onsuccess(Some(on_stats.unchecked_ref()));
    }
    Ok(())
}

fn upgrade(event: &IdbVersionChangeEvent, req: &IdbOpenDbRequest) -> Result<(), JsValue> {
    let old = event.old_version() as u32;
    let db: IdbDatabase = req.result()?.unchecked_into();
    let tx = req.transaction().ok_or_else(|| JsValue::from_str("no versionchange transaction"))?;
    if old < 1 {
        step_v1(&db)?;
    }
    if old < 2 {
        step_v2(&db, &tx)?;
    }
    Ok(())
}

/// Opens `name` at [`SCHEMA_VERSION`] with a raw request, upgrading it if needed, and hands the
/// connection back (the voice cache's hot path uses it; rexie then opens its own without an
/// upgrade). `on_blocked` is called when an open connection
/// elsewhere (another tab) holds the old version; after `blocked_timeout_ms` of being blocked the
/// call gives up with `database_blocked` (the stored entries are untouched: the upgrade never ran).
pub async fn prepare(
    name: &str,
    on_blocked: Option<js_sys::Function>,
    blocked_timeout_ms: f64,
) -> CoachResult<(Prepared, Option<IdbDatabase>)> {
    let factory = js::window()?
        .indexed_db()
        .map_err(|e| storage("indexedDB", &e))?
        .ok_or_else(|| CoachError::new("storage_error", "IndexedDB is not available (private mode?)"))?;
    let req = factory.open_with_u32(name, SCHEMA_VERSION).map_err(|e| storage("open", &e))?;
    let name = name.to_string();
    // set when the blocked open timed out: a connection that opens later is closed again
    let gave_up = std::rc::Rc::new(std::cell::Cell::new(false));
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        let r = req.clone();
        let reject_upgrade = reject.clone();
        let on_upgrade = Closure::once_into_js(move |event: IdbVersionChangeEvent| {
            if let Err(e) = upgrade(&event, &r) {
                js::web_sys_log(&format!("coach-wasm: schema upgrade failed: {e:?}"));
                if let Some(tx) = r.transaction() {
                    let _ = tx.abort();
                }
                let _ = reject_upgrade.call1(&JsValue::NULL, &e);
            }
        });
        req.set_onupgradeneeded(Some(on_upgrade.unchecked_ref()));

        let r = req.clone();
        let late = gave_up.clone();
        let on_success = Closure::once_into_js(move || {
            let db = r.result().unwrap_or(JsValue::NULL);
            if late.get() {
                if let Some(db) = db.dyn_ref::<IdbDatabase>() {
                    db.close();
                }
                return;
            }
            let _ = resolve.call1(&JsValue::NULL, &db);
        });
        req.set_onsuccess(Some(on_success.unchecked_ref()));

        let r = req.clone();
        let reject_error = reject.clone();
        let on_error = Closure::once_into_js(move |event: web_sys::Event| {
            event.prevent_default();
            let err = r.error().ok().flatten().map(JsValue::from).unwrap_or_else(|| JsValue::from_str("open failed"));
            let _ = reject_error.call1(&JsValue::NULL, &err);
        });
        req.set_onerror(Some(on_error.unchecked_ref()));

        let on_blocked = on_blocked.clone();
        let name = name.clone();
        let gave_up = gave_up.clone();
        let on_blocked_cb = Closure::once_into_js(move || {
            js::web_sys_log(&format!("coach-wasm: opening {name} is blocked by a connection in another tab"));
            if let Some(f) = &on_blocked {
                js::call1(f, &JsValue::from_str(&name));
            }
            let err = CoachError::new(
                "database_blocked",
                format!("the voice cache database is held open at an older version by another tab for over {blocked_timeout_ms} ms; close other tabs of the app"),
            )
            .into_js();
            let reject = reject.clone();
            let gave_up = gave_up.clone();
            let cb = Closure::once_into_js(move || {
                gave_up.set(true);
                let _ = reject.call1(&JsValue::NULL, &err);
            });
            if let Some(w) = web_sys::window() {
                let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(
                    cb.unchecked_ref(),
                    blocked_timeout_ms as i32,
                );
            }
        });
        req.set_onblocked(Some(on_blocked_cb.unchecked_ref()));
    });
    match wasm_bindgen_futures::JsFuture::from(promise).await {
        Ok(db) => Ok((Prepared::Current, db.dyn_into::<IdbDatabase>().ok())),
        Err(e) if js::error_name(&e) == "VersionError" => Ok((Prepared::Newer, None)),
        Err(e) if crate::error::is_coach_error(&e) => Err(CoachError {
            status: 0,
            code: js::string_field(&e, "error").unwrap_or_else(|| "storage_error".into()),
            message: js::error_message(&e),
            details: None,
            retry_after: None,
        }),
        Err(e) => Err(storage("open", &e)),
    }
}

/// Opens `name` at whatever version it has (a newer tab upgraded it past ours), without upgrading.
pub async fn open_current(name: &str) -> CoachResult<IdbDatabase> {
    let factory = js::window()?
        .indexed_db()
        .map_err(|e| storage("indexedDB", &e))?
        .ok_or_else(|| CoachError::new("storage_error", "IndexedDB is not available (private mode?)"))?;
    let req = factory.open(name).map_err(|e| storage("open", &e))?;
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        let r = req.clone();
        let on_success = Closure::once_into_js(move || {
            let _ = resolve.call1(&JsValue::NULL, &r.result().unwrap_or(JsValue::NULL));
        });
        req.set_onsuccess(Some(on_success.unchecked_ref()));
        let r = req.clone();
        let on_error = Closure::once_into_js(move |event: web_sys::Event| {
            event.prevent_default();
            let err = r.error().ok().flatten().map(JsValue::from).unwrap_or_else(|| JsValue::from_str("open failed"));
            let _ = reject.call1(&JsValue::NULL, &err);
        });
        req.set_onerror(Some(on_error.unchecked_ref()));
    });
    match wasm_bindgen_futures::JsFuture::from(promise).await {
        Ok(db) => db
            .dyn_into::<IdbDatabase>()
            .map_err(|_| CoachError::new("storage_error", "IndexedDB open gave no database")),
        Err(e) => Err(storage("open", &e)),
    }
}

/// A `storage_error` from a DOM exception.
pub fn storage(operation: &str, e: &JsValue) -> CoachError {
    let name = js::error_name(e);
    let code = if name == "QuotaExceededError" { "quota_exceeded" } else { "storage_error" };
    CoachError::new(code, format!("IndexedDB {operation} failed: {}", js::error_message(e)))
        .with_details(serde_json::json!({ "name": name, "operation": operation }))
}
