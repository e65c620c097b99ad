//! The offline outbox: logged sets, training-data submissions and voice interactions are written
//! to IndexedDB first and sent from there, oldest first, each with its own `Idempotency-Key` (a
//! UUID v4 kept with the item), so a retry — after a lost response, a reload, or a second tab
//! flushing the same queue — never creates a second record.
//!
//! * A set (`POST /v1/workouts`) may carry a follow-up interaction: once the server answers with
//!   the new workout's id, the set's item is replaced, in place, by the interaction naming that id
//!   (its key was chosen when the set was queued), so it goes out next and the order holds.
//! * Deliveries no caller awaits (a set queued before a reload) reach the app's listener
//!   ([`notices`]).
//! * Offline (`navigator.onLine` false, or forced) → the item waits; the `online` event flushes.
//! * No response, 408, 429 or 5xx → the item stays at the head and is retried with exponential
//!   backoff (jittered; `Retry-After` honoured); later items wait behind it, so order is kept.
//! * 401 → flushing pauses (the token expired); `setToken` flushes again. Nothing is dropped.
//! * Any other 4xx → the item is "poison": it moves to the dead letters with the server's error
//!   and the next item goes out. Dead letters can be listed, re-queued or discarded.

pub mod item;
pub mod notices;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::error::CoachResult;
use crate::http::{Http, Method, Opts};
use crate::idb::Db;
use crate::js;
use crate::lock::AsyncLock;
use item::{Delivery, FlushReport, OutboxItem, OutboxKind, Outcome};
use notices::Notices;

/// Backoff settings.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// First retry delay (ms).
    pub base_ms: f64,
    /// Longest delay (ms).
    pub max_ms: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { base_ms: 1_000.0, max_ms: 5.0 * 60_000.0 }
    }
}

impl Backoff {
    /// Delay before attempt `attempts + 1`: base·2^(attempts−1), capped, jittered to 50–100 %,
    /// and never shorter than the server's `Retry-After`.
    pub fn delay(&self, attempts: u32, retry_after_s: Option<f64>) -> f64 {
        let exp = self.base_ms * 2f64.powi(attempts.saturating_sub(1).min(30) as i32);
        let jittered = exp.min(self.max_ms) * (0.5 + 0.5 * crate::rand::unit());
        jittered.max(retry_after_s.unwrap_or(0.0) * 1000.0)
    }
}

/// The outbox of one user.
pub struct Outbox {
    db: Rc<Db>,
    http: Rc<Http>,
    backoff: Backoff,
    me: Weak<Outbox>,
    /// One flush at a time per tab: later flushes wait for the one in progress.
    lock: AsyncLock,
    /// The scheduled retry (`setTimeout` id).
    timer: Cell<Option<i32>>,
    /// Outcomes of items whose `submit` call is waiting for them.
    waiting: RefCell<HashMap<String, Option<Outcome>>>,
    /// The `online` listener (removed on drop).
    online_listener: RefCell<Option<Closure<dyn FnMut()>>>,
    /// Where deliveries nobody awaits go.
    notices: Rc<Notices>,
}

impl Outbox {
    /// An outbox on the user's database; flushes whenever the browser comes back online.
    pub fn new(db: Rc<Db>, http: Rc<Http>, backoff: Backoff, notices: Rc<Notices>) -> Rc<Self> {
        let outbox = Rc::new_cyclic(|me| Outbox {
            db,
            http,
            backoff,
            me: me.clone(),
            lock: AsyncLock::default(),
            timer: Cell::new(None),
            waiting: RefCell::new(HashMap::new()),
            online_listener: RefCell::new(None),
            notices,
        });
        let weak = Rc::downgrade(&outbox);
        let listener = Closure::<dyn FnMut()>::new(move || {
            if let Some(o) = weak.upgrade() {
                o.flush_in_background();
            }
        });
        if let Some(w) = web_sys::window() {
            let _ = w.add_event_listener_with_callback("online", listener.as_ref().unchecked_ref());
        }
        *outbox.online_listener.borrow_mut() = Some(listener);
        outbox
    }

    /// Queues a request and tries to send the queue; reports what happened to this request.
    pub async fn submit(&self, kind: OutboxKind, body: String) -> CoachResult<Outcome> {
        self.submit_item(OutboxItem::new(kind, body, None, js::now_ms())).await
    }

    /// Queues `item` and tries to send the queue; reports what happened to it.
    pub async fn submit_item(&self, item: OutboxItem) -> CoachResult<Outcome> {
        item::append(&self.db, &item).await?;
        self.send_for(&item.idempotency_key).await
    }

    /// Like [`Self::submit_item`], but when an item with the same key is still queued, only its
    /// follow-up and meta are updated (those `item` gives). When none is (it was delivered
    /// meanwhile), `item` is queued again with the same key: the server replays its first answer,
    /// so nothing is created twice, and the follow-up still goes out. Under the flush lock, so a
    /// flush in progress cannot deliver the old version after the change.
    pub async fn upsert(&self, item: OutboxItem) -> CoachResult<Outcome> {
        {
            let _no_flush_meanwhile = self.lock.acquire().await;
            match item::find(&self.db, &item.idempotency_key).await? {
                Some(mut queued) => {
                    if item.follow_up.is_some() {
                        queued.follow_up = item.follow_up.clone();
                    }
                    if item.meta.is_some() {
                        queued.meta = item.meta.clone();
                    }
                    item::update(&self.db, &queued).await?;
                }
                None => item::append(&self.db, &item).await?,
            }
        }
        self.send_for(&item.idempotency_key).await
    }

    /// Flushes (when online) and reports what happened to the item with `key`.
    async fn send_for(&self, key: &str) -> CoachResult<Outcome> {
        let queued = || Outcome::Queued { idempotency_key: key.to_string(), error: None };
        if !self.http.online() {
            return Ok(queued());
        }
        self.waiting.borrow_mut().insert(key.to_string(), None);
        let flushed = self.flush().await;
        let outcome = self.waiting.borrow_mut().remove(key).flatten();
        flushed?;
        Ok(outcome.unwrap_or_else(queued))
    }

    /// Sends what is queued, oldest first (see the module docs for what each answer does).
    pub async fn flush(&self) -> CoachResult<FlushReport> {
        let _one_at_a_time = self.lock.acquire().await;
        self.flush_now().await
    }

    fn flush_in_background(&self) {
        if let Some(me) = self.me.upgrade() {
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(e) = me.flush().await {
                    js::web_sys_log(&format!("coach-wasm: outbox flush failed: {e}"));
                }
            });
        }
    }

    fn note(&self, key: &str, outcome: Outcome) {
        if let Some(slot) = self.waiting.borrow_mut().get_mut(key) {
            *slot = Some(outcome);
        }
    }

    /// An item left the queue for good: its caller hears of it, or else the app's listener.
    fn finish(&self, item: &OutboxItem, outcome: Outcome) {
        if self.waiting.borrow().contains_key(&item.idempotency_key) {
            self.note(&item.idempotency_key, outcome);
        } else {
            self.notices.tell(Delivery { kind: item.kind, meta: item.meta.clone(), outcome });
        }
    }

    async fn flush_now(&self) -> CoachResult<FlushReport> {
        let mut report = FlushReport::default();
        loop {
            let Some(mut head) = item::head(&self.db).await? else { break };
            let seq = head.seq.unwrap_or_default();
            let now = js::now_ms();
            if head.next_attempt_at > now {
                let wait = head.next_attempt_at - now;
                self.schedule(wait);
                report.retry_in_ms = Some(wait);
                report.stopped = Some("backoff".into());
                break;
            }
            if !self.http.online() {
                report.stopped = Some("offline".into());
                break;
            }
            let opts = Opts { idempotency_key: Some(&head.idempotency_key), ..Default::default() };
            let sent = self.http.send(Method::Post, head.kind.path(), Some(&head.body), opts).await;
            match sent {
                Ok(reply) => {
                    let replayed = reply.replayed;
                    let response: serde_json::Value =
                        crate::http::decode(reply).await.unwrap_or(serde_json::Value::Null);
                    let created = response.get("id").and_then(serde_json::Value::as_str);
                    match (&head.follow_up, created) {
                        // the set exists now: its interaction takes its place in the queue
                        (Some(f), Some(id)) if head.kind == OutboxKind::Workout => {
                            item::update(&self.db, &f.next_item(&head, id, js::now_ms())?).await?;
                        }
                        _ => item::remove(&self.db, seq).await?,
                    }
                    report.sent += 1;
                    report.replayed += u32::from(replayed);
                    let key = head.idempotency_key.clone();
                    self.finish(&head, Outcome::Sent { idempotency_key: key, replayed, response });
                }
                Err(e) if e.status == 401 => {
                    head.last_error = Some(e.to_record());
                    item::update(&self.db, &head).await?;
                    report.stopped = Some("unauthorized".into());
                    let key = head.idempotency_key.clone();
                    self.note(&key, Outcome::Queued { idempotency_key: key.clone(), error: Some(e.to_record()) });
                    break;
                }
                Err(e) if e.is_retryable() => {
                    head.attempts += 1;
                    let wait = self.backoff.delay(head.attempts, e.retry_after);
                    head.next_attempt_at = js::now_ms() + wait;
                    head.last_error = Some(e.to_record());
                    item::update(&self.db, &head).await?;
                    self.schedule(wait);
                    report.retry_in_ms = Some(wait);
                    report.stopped = Some(if e.is_network() { "offline" } else { "backoff" }.into());
                    let key = head.idempotency_key.clone();
                    self.note(&key, Outcome::Queued { idempotency_key: key.clone(), error: Some(e.to_record()) });
                    break;
                }
                Err(e) => {
                    item::bury(&self.db, &head, e.to_record(), js::now_ms()).await?;
                    report.dead_lettered += 1;
                    let key = head.idempotency_key.clone();
                    self.finish(&head, Outcome::Rejected { idempotency_key: key, error: e.to_record() });
                }
            }
        }
        report.remaining = item::count(&self.db).await?;
        Ok(report)
    }

    /// Flushes again in `ms` (replacing any earlier schedule).
    fn schedule(&self, ms: f64) {
        let Some(w) = web_sys::window() else { return };
        if let Some(id) = self.timer.take() {
            w.clear_timeout_with_handle(id);
        }
        let weak = self.me.clone();
        let cb = Closure::once_into_js(move || {
            if let Some(o) = weak.upgrade() {
                o.timer.set(None);
                o.flush_in_background();
            }
        });
        if let Ok(id) = w.set_timeout_with_callback_and_timeout_and_arguments_0(cb.unchecked_ref(), ms.ceil() as i32) {
            self.timer.set(Some(id));
        }
    }

    /// The user's database (dead-letter and listing operations).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Flushes in the background (after `setToken`, `setOffline(false)`).
    pub fn kick(&self) {
        self.flush_in_background();
    }

    /// Puts a dead letter back at the end of the queue (same idempotency key) and flushes.
    pub async fn requeue(&self, key: &str) -> CoachResult<bool> {
        let found = item::take_dead_letter(&self.db, key, Some(js::now_ms())).await?.is_some();
        if found {
            self.kick();
        }
        Ok(found)
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        if let Some(w) = web_sys::window() {
            if let Some(l) = self.online_listener.borrow_mut().take() {
                let _ = w.remove_event_listener_with_callback("online", l.as_ref().unchecked_ref());
            }
            if let Some(id) = self.timer.take() {
                w.clear_timeout_with_handle(id);
            }
        }
    }
}
