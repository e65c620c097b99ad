//! A one-at-a-time section for async code on the single JS thread (opening the database once,
//! one outbox flush at a time): each holder waits for the previous holder's promise.

use std::cell::RefCell;

use wasm_bindgen::JsValue;

/// The lock.
#[derive(Default)]
pub struct AsyncLock {
    /// Resolved when the latest holder releases.
    tail: RefCell<Option<js_sys::Promise>>,
}

/// Held until dropped.
pub struct Guard {
    release: Option<js_sys::Function>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(r) = self.release.take() {
            let _ = r.call0(&JsValue::NULL);
        }
    }
}

impl AsyncLock {
    /// Waits for every earlier holder, then holds the lock.
    pub async fn acquire(&self) -> Guard {
        let mut release = None;
        let mine = js_sys::Promise::new(&mut |resolve, _| release = Some(resolve));
        let previous = self.tail.borrow_mut().replace(mine);
        if let Some(p) = previous {
            let _ = wasm_bindgen_futures::JsFuture::from(p).await;
        }
        Guard { release }
    }
}
