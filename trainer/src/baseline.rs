//! The retrieval baseline the model has to beat: answer a context with the response seen most
//! often in training for that exact context (the prompt's fields: exercise, set/strain/sleep
//! buckets, skip flag, tags), else for the coarser (strain bucket, tags), else the most frequent
//! response of all.
//!
//! It is only ever asked about the evaluation contexts, so the table is built for those: one
//! streaming pass over the training records counts responses only under the keys of the contexts
//! to be answered (plus the global counter). Each key keeps Misra–Gries counters (an approximate
//! top-k that finds any response holding more than 1/(k+1) of a key's records; exact when a key
//! has at most k distinct responses). Memory depends on the number of evaluation contexts, not on
//! the size of the data.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use serde::Serialize;

use crate::data::CoachContext;
use crate::tokenizer::{canonical_tags, normalize_exercise, set_bucket, sleep_bucket, strain_bucket};

/// Counters per key.
const SLOTS: usize = 16;
/// Counters of the global fallback.
const GLOBAL_SLOTS: usize = 64;

struct Slots {
    cap: usize,
    items: Vec<(u64, u32, Box<str>)>,
}

impl Slots {
    fn new(cap: usize) -> Self {
        Self { cap, items: Vec::new() }
    }

    fn add(&mut self, hash: u64, text: &str) {
        if let Some(s) = self.items.iter_mut().find(|s| s.0 == hash) {
            s.1 += 1;
        } else if self.items.len() < self.cap {
            self.items.push((hash, 1, text.into()));
        } else {
            for s in &mut self.items {
                s.1 -= 1;
            }
            self.items.retain(|s| s.1 > 0);
        }
    }

    fn best(&self) -> Option<&str> {
        // ties: the earliest counter wins (deterministic for a given stream order)
        let mut best: Option<&(u64, u32, Box<str>)> = None;
        for s in &self.items {
            if best.is_none_or(|b| s.1 > b.1) {
                best = Some(s);
            }
        }
        best.map(|s| &*s.2)
    }
}

/// Which key answered a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The exact context was seen in training.
    Exact,
    /// Only the (strain bucket, tags) key was.
    Coarse,
    /// Neither: the globally most frequent response.
    Global,
}

/// How often each level answered, over an evaluation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Coverage {
    /// Share answered by the exact context.
    pub exact: f64,
    /// Share answered by the coarse key.
    pub coarse: f64,
    /// Share answered by the global fallback.
    pub global: f64,
}

/// The lookup table for a set of contexts.
pub struct Baseline {
    exact: HashMap<u64, Slots>,
    coarse: HashMap<u64, Slots>,
    global: Slots,
}

fn key_hash(f: impl FnOnce(&mut std::collections::hash_map::DefaultHasher)) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    f(&mut h);
    h.finish()
}

fn exact_key(ctx: &CoachContext) -> u64 {
    key_hash(|h| {
        normalize_exercise(&ctx.exercise_type).hash(h);
        set_bucket(ctx.set_number).hash(h);
        strain_bucket(ctx.strain_percentage).hash(h);
        sleep_bucket(ctx.sleep_hours).hash(h);
        ctx.skip_reason.as_deref().is_some_and(|s| !s.trim().is_empty()).hash(h);
        canonical_tags(&ctx.context_tags).hash(h);
    })
}

fn coarse_key(ctx: &CoachContext) -> u64 {
    key_hash(|h| {
        strain_bucket(ctx.strain_percentage).hash(h);
        canonical_tags(&ctx.context_tags).hash(h);
    })
}

impl Baseline {
    /// An empty table that will answer `contexts`.
    pub fn for_contexts<'a>(contexts: impl IntoIterator<Item = &'a CoachContext>) -> Self {
        let mut exact = HashMap::new();
        let mut coarse = HashMap::new();
        for c in contexts {
            exact.entry(exact_key(c)).or_insert_with(|| Slots::new(SLOTS));
            coarse.entry(coarse_key(c)).or_insert_with(|| Slots::new(SLOTS));
        }
        Self { exact, coarse, global: Slots::new(GLOBAL_SLOTS) }
    }

    /// Counts one training record.
    pub fn add(&mut self, ctx: &CoachContext, response: &str) {
        let rh = key_hash(|h| response.hash(h));
        if let Some(s) = self.exact.get_mut(&exact_key(ctx)) {
            s.add(rh, response);
        }
        if let Some(s) = self.coarse.get_mut(&coarse_key(ctx)) {
            s.add(rh, response);
        }
        self.global.add(rh, response);
    }

    /// The baseline's answer for a context, and which key gave it (`None` with no training data).
    pub fn lookup(&self, ctx: &CoachContext) -> Option<(&str, Level)> {
        if let Some(t) = self.exact.get(&exact_key(ctx)).and_then(Slots::best) {
            return Some((t, Level::Exact));
        }
        if let Some(t) = self.coarse.get(&coarse_key(ctx)).and_then(Slots::best) {
            return Some((t, Level::Coarse));
        }
        self.global.best().map(|t| (t, Level::Global))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(ex: &str, strain: f64, tags: &[&str]) -> CoachContext {
        CoachContext {
            exercise_type: ex.into(),
            set_number: 2,
            strain_percentage: strain,
            context_tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn most_frequent_per_key_with_fallbacks() {
        let asked =
            [ctx("squat", 45.0, &["warmup"]), ctx("row", 88.0, &["high_strain"]), ctx("row", 10.0, &["cooldown"])];
        let mut b = Baseline::for_contexts(&asked);
        b.add(&ctx("squat", 50.0, &["warmup"]), "A");
        b.add(&ctx("squat", 52.0, &["warmup"]), "B");
        b.add(&ctx("squat", 55.0, &["warmup"]), "B");
        b.add(&ctx("bench_press", 85.0, &["high_strain"]), "C");
        b.add(&ctx("deadlift", 86.0, &["high_strain"]), "D");
        b.add(&ctx("deadlift", 87.0, &["high_strain"]), "D");
        assert_eq!(b.lookup(&ctx("squat", 45.0, &["warmup"])), Some(("B", Level::Exact)));
        // same strain bucket and tags, unseen exercise → coarse
        assert_eq!(b.lookup(&ctx("row", 88.0, &["high_strain"])), Some(("D", Level::Coarse)));
        // nothing like it → the global favourite (B and D tie at 2: the earlier counter wins)
        assert_eq!(b.lookup(&ctx("row", 10.0, &["cooldown"])), Some(("B", Level::Global)));
        assert_eq!(Baseline::for_contexts(&asked).lookup(&ctx("row", 10.0, &[])), None);
    }

    #[test]
    fn misra_gries_keeps_the_majority() {
        let mut s = Slots::new(3);
        for (i, t) in ["x", "a", "x", "b", "x", "c", "x", "d", "x"].iter().enumerate() {
            s.add(if *t == "x" { 0 } else { i as u64 + 1 }, t);
        }
        assert_eq!(s.best(), Some("x"));
    }
}
