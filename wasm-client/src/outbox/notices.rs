//! Deliveries nobody awaited: when a flush sends (or refuses for good) an item whose `submit` call
//! is not waiting for it — a set queued before a reload, sent on the `online` event — the app hears
//! of it through the one listener it registers (`CoachClient.setOutboxListener`). Until a listener
//! is registered, the latest deliveries wait here (at most [`MAX_UNHEARD`]), so one delivered
//! while the app was still starting is not lost.

use std::cell::RefCell;
use std::collections::VecDeque;

use super::item::Delivery;
use crate::js;

/// Deliveries kept while no listener is registered.
pub const MAX_UNHEARD: usize = 50;

/// The listener and the deliveries it has not heard yet.
#[derive(Default)]
pub struct Notices {
    listener: RefCell<Option<js_sys::Function>>,
    unheard: RefCell<VecDeque<Delivery>>,
}

impl Notices {
    /// Registers (or, with `None`, removes) the listener; it hears what waited first.
    pub fn set_listener(&self, f: Option<js_sys::Function>) {
        *self.listener.borrow_mut() = f;
        let waiting: Vec<Delivery> = self.unheard.borrow_mut().drain(..).collect();
        for d in waiting {
            self.tell(d);
        }
    }

    /// Tells the listener, or keeps the delivery for the next one.
    pub fn tell(&self, d: Delivery) {
        let listener = self.listener.borrow().clone();
        match (listener, js::to_js(&d)) {
            (Some(f), Ok(v)) => js::call1(&f, &v),
            (Some(_), Err(e)) => js::web_sys_log(&format!("coach-wasm: outbox delivery not converted: {e}")),
            (None, _) => {
                let mut q = self.unheard.borrow_mut();
                if q.len() == MAX_UNHEARD {
                    q.pop_front();
                }
                q.push_back(d);
            }
        }
    }
}
