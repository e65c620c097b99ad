//! The voice cache's hot path on plain `web-sys` IndexedDB, without a future per request: the
//! caller issues a transaction's first requests in one go, then [`run`] calls a step in the
//! `success` event of the last of them (every earlier request of the transaction has finished by
//! then, in order, and the transaction is still active there), so the step reads the results and
//! issues its writes into the same transaction without a further round trip, and commits it at
//! once (`IDBTransaction.commit()`) instead of waiting for auto-commit.
//!
//! Work the answer does not need (a lookup's bookkeeping) goes through [`Keep::after_answer`]: it
//! runs two microtasks after the answer is settled, still inside the same event, so the caller's
//! continuation comes first and the transaction is still active.
//!
//! One event handler per transaction serves `success`, `complete` and `abort`; it (and the
//! follow-up handlers a step adds) is released when the transaction ends, which it always does.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{IdbRequest, IdbTransaction};

use crate::error::{CoachError, CoachResult};

#[wasm_bindgen]
extern "C" {
    /// An `IDBTransaction`, seen through the one method bound here.
    type Committable;
    /// `IDBTransaction.commit()`: no more requests, commit as soon as the issued ones are done
    /// (saves the round trip auto-commit waits for).
    #[wasm_bindgen(method, catch, js_name = commit)]
    fn commit_now(this: &Committable) -> Result<(), JsValue>;
}

/// Commits `tx` now; a browser without `commit()` auto-commits instead (same outcome, one round
/// trip later).
pub fn commit(tx: &IdbTransaction) {
    let has_commit = js_sys::Reflect::has(tx, &JsValue::from_str("commit")).unwrap_or(false);
    if has_commit {
        let _ = tx.unchecked_ref::<Committable>().commit_now();
    }
}

/// When [`run`]'s future resolves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Resolve {
    /// Once the step has run: the step's writes commit later (a failure there is only logged).
    AfterStep,
    /// Once the transaction committed; an abort is the error.
    AfterCommit,
}

type Step<T> = Box<dyn FnOnce(&IdbTransaction, &Keep) -> CoachResult<T>>;

type Handler = Closure<dyn FnMut()>;
type Later = Box<dyn FnOnce()>;

/// What a step leaves running in its transaction: follow-up handlers, kept alive until the
/// transaction ends (then released with the run's own handler).
#[derive(Clone, Default)]
pub struct Keep {
    handlers: Rc<RefCell<Vec<Handler>>>,
    /// Work for after the answer, scheduled once the current handler has settled it.
    later: Rc<RefCell<Vec<Later>>>,
}

impl Keep {
    /// Runs `f` once when `req` succeeds (a failed request aborts the transaction instead).
    pub fn on_success(&self, req: &IdbRequest, f: impl FnOnce() + 'static) {
        let mut f = Some(f);
        let handler = Closure::<dyn FnMut()>::new(move || {
            if let Some(f) = f.take() {
                f();
            }
        });
        req.set_onsuccess(Some(handler.as_ref().unchecked_ref()));
        self.handlers.borrow_mut().push(handler);
    }

    /// Runs `f` after the answer: once the step has returned and its answer is settled, two
    /// microtasks later — still inside this event (the transaction is active, so `f` may issue
    /// requests), but after the continuation of whoever awaits the answer, so bookkeeping
    /// requests are not issued ahead of it.
    pub fn after_answer(&self, f: impl FnOnce() + 'static) {
        self.later.borrow_mut().push(Box::new(f));
    }

    /// Schedules what [`Keep::after_answer`] collected (called after the answer was settled).
    fn schedule_later(&self) {
        let work = std::mem::take(&mut *self.later.borrow_mut());
        if work.is_empty() {
            return;
        }
        two_microtasks_later(move || work.into_iter().for_each(|f| f()));
    }
}

/// Runs `f` two microtasks from now: after the continuation of whoever awaits a promise resolved
/// in the meantime (in the current microtask, or the next), still in the current task.
pub fn two_microtasks_later(f: impl FnOnce() + 'static) {
    let Some(window) = web_sys::window() else { return f() };
    let w = window.clone();
    let inner = Closure::once_into_js(f);
    let outer = Closure::once_into_js(move || w.queue_microtask(inner.unchecked_ref()));
    window.queue_microtask(outer.unchecked_ref());
}

struct State<T> {
    step: Option<Step<T>>,
    /// The step's value, held until the commit under [`Resolve::AfterCommit`].
    value: Option<T>,
    /// What the future resolves with, once known.
    outcome: Option<CoachResult<T>>,
    resolved: bool,
    /// The step ran and succeeded.
    step_ok: bool,
    waker: Option<Waker>,
    handler: Option<Closure<dyn FnMut(web_sys::Event)>>,
    keep: Keep,
}

struct Outcome<T>(Rc<RefCell<State<T>>>);

impl<T> Future for Outcome<T> {
    type Output = CoachResult<T>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut s = self.0.borrow_mut();
        match s.outcome.take() {
            Some(v) => Poll::Ready(v),
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

fn settle<T>(s: &mut State<T>, v: CoachResult<T>) {
    if !s.resolved {
        s.resolved = true;
        s.outcome = Some(v);
        if let Some(w) = s.waker.take() {
            w.wake();
        }
    }
}

/// The error an aborted transaction reports (its DOMException, else `AbortError`).
pub fn abort_error(tx: &IdbTransaction, operation: &str) -> CoachError {
    let (name, message) = match tx.error() {
        Some(e) => (e.name(), e.message()),
        None => ("AbortError".to_string(), "the transaction was aborted".to_string()),
    };
    let code = if name == "QuotaExceededError" { "quota_exceeded" } else { "storage_error" };
    CoachError::new(code, format!("IndexedDB {operation} failed: {name}: {message}"))
        .with_details(serde_json::json!({ "name": name, "operation": operation }))
}

/// Runs `step` in the `success` event of `last` (the last request the caller issued on `tx`) and
/// resolves as `resolve` says. The step may issue more requests on `tx` (now, or through its
/// [`Keep`]), and the last of them should be followed by [`commit`] (or `tx.abort()`). A failed
/// request aborts the transaction: the future then resolves with the abort's error (under
/// [`Resolve::AfterStep`], unless the step already answered; then the failure is logged).
pub async fn run<T: 'static>(
    tx: &IdbTransaction,
    last: &IdbRequest,
    resolve: Resolve,
    operation: &'static str,
    step: impl FnOnce(&IdbTransaction, &Keep) -> CoachResult<T> + 'static,
) -> CoachResult<T> {
    let state = Rc::new(RefCell::new(State {
        step: Some(Box::new(step)),
        value: None,
        outcome: None,
        resolved: false,
        step_ok: false,
        waker: None,
        handler: None,
        keep: Keep::default(),
    }));
    // The handler holds the state and the state the handler: a cycle `release` breaks when the
    // transaction ends, so the handler outlives this future under `Resolve::AfterStep`.
    let held = state.clone();
    let tx2 = tx.clone();
    let handler = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
        let state = &held;
        match event.type_().as_str() {
            "success" => {
                let (step, keep) = {
                    let mut s = state.borrow_mut();
                    (s.step.take(), s.keep.clone())
                };
                let Some(step) = step else { return };
                // the step runs without a borrow held: it only touches IndexedDB
                let result = step(&tx2, &keep);
                let mut s = state.borrow_mut();
                s.step_ok = result.is_ok();
                match (result, resolve) {
                    (Ok(v), Resolve::AfterCommit) => s.value = Some(v),
                    (r, _) => {
                        if r.is_err() {
                            let _ = tx2.abort();
                        }
                        settle(&mut s, r);
                    }
                }
                drop(s);
                keep.schedule_later();
            }
            "complete" => {
                let mut s = state.borrow_mut();
                let v = s.value.take();
                match v {
                    Some(v) => settle(&mut s, Ok(v)),
                    None => settle(
                        &mut s,
                        Err(CoachError::new(
                            "storage_error",
                            format!("IndexedDB {operation}: committed before the step ran"),
                        )),
                    ),
                }
                release(&mut s);
            }
            "abort" => {
                let err = abort_error(&tx2, operation);
                let mut s = state.borrow_mut();
                if s.resolved && s.step_ok {
                    // the step's writes (bookkeeping after an early answer) were lost
                    crate::js::web_sys_log(&format!("coach-wasm: {}", err.message));
                }
                settle(&mut s, Err(err));
                release(&mut s);
            }
            _ => {}
        }
    });
    let f: &js_sys::Function = handler.as_ref().unchecked_ref();
    last.set_onsuccess(Some(f));
    tx.set_oncomplete(Some(f));
    tx.set_onabort(Some(f));
    state.borrow_mut().handler = Some(handler);
    Outcome(state).await
}

/// Drops the handler once the transaction ended — after this event's dispatch, not during it.
fn release<T>(s: &mut State<T>) {
    let handler = s.handler.take();
    let kept = std::mem::take(&mut *s.keep.handlers.borrow_mut());
    wasm_bindgen_futures::spawn_local(async move { drop((handler, kept)) });
}
