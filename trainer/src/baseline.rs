//! The retrieval baseline the model has to beat: answer a context with the response seen most
//! often for that exact context (the prompt's fields: exercise, set/strain/sleep buckets, skip
//! flag, tags), else for the coarser (strain bucket, tags), else the most frequent response of all.
//!
//! Memory stays bounded: each key keeps a few Misra–Gries counters (an approximate top-k that
//! finds any response holding more than 1/(k+1) of a key's records), and the number of keys is
//! capped; contexts first seen after the cap fall back to the coarser keys.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use serde::Serialize;

use crate::data::CoachContext;
use crate::tokenizer::{canonical_tags, normalize_exercise, set_bucket, sleep_bucket, strain_bucket};

/// Counters per key.
const SLOTS: usize = 3;
/// Most exact-context keys kept.
pub const MAX_EXACT_KEYS: usize = 16_384;
/// Most coarse keys kept.
pub const MAX_COARSE_KEYS: usize = 4_096;

#[derive(Default)]
struct Slots(Vec<(u64, u32, Box<str>)>);

impl Slots {
    fn add(&mut self, hash: u64, text: &str) {
        if let Some(s) = self.0.iter_mut().find(|s| s.0 == hash) {
            s.1 += 1;
        } else if self.0.len() < SLOTS {
            self.0.push((hash, 1, text.into()));
        } else {
            for s in &mut self.0 {
                s.1 -= 1;
            }
            self.0.retain(|s| s.1 > 0);
        }
    }

    fn best(&self) -> Option<&str> {
        // ties: the earliest counter wins (deterministic for a given stream order)
        let mut best: Option<&(u64, u32, Box<str>)> = None;
        for s in &self.0 {
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

/// The lookup table.
#[derive(Default)]
pub struct Baseline {
    exact: HashMap<u64, Slots>,
    coarse: HashMap<u64, Slots>,
    global: Slots,
    global_counts: HashMap<u64, (u32, Box<str>)>,
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
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one training record.
    pub fn add(&mut self, ctx: &CoachContext, response: &str) {
        let rh = key_hash(|h| response.hash(h));
        let n = self.exact.len();
        if let Some(s) = self.exact.get_mut(&exact_key(ctx)) {
            s.add(rh, response);
        } else if n < MAX_EXACT_KEYS {
            self.exact.entry(exact_key(ctx)).or_default().add(rh, response);
        }
        let n = self.coarse.len();
        if let Some(s) = self.coarse.get_mut(&coarse_key(ctx)) {
            s.add(rh, response);
        } else if n < MAX_COARSE_KEYS {
            self.coarse.entry(coarse_key(ctx)).or_default().add(rh, response);
        }
        // exact global counts while they fit, then Misra–Gries
        if let Some(e) = self.global_counts.get_mut(&rh) {
            e.0 += 1;
        } else if self.global_counts.len() < MAX_COARSE_KEYS {
            self.global_counts.insert(rh, (1, response.into()));
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
        let top = self.global_counts.iter().max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.0.cmp(a.0)));
        top.map(|(_, (_, t))| &**t).or_else(|| self.global.best()).map(|t| (t, Level::Global))
    }

    /// Exact-context keys held.
    pub fn exact_keys(&self) -> usize {
        self.exact.len()
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
        let mut b = Baseline::new();
        b.add(&ctx("squat", 50.0, &["warmup"]), "A");
        b.add(&ctx("squat", 52.0, &["warmup"]), "B");
        b.add(&ctx("squat", 55.0, &["warmup"]), "B");
        b.add(&ctx("bench_press", 85.0, &["high_strain"]), "C");
        b.add(&ctx("deadlift", 86.0, &["high_strain"]), "D");
        b.add(&ctx("deadlift", 87.0, &["high_strain"]), "D");
        assert_eq!(b.lookup(&ctx("squat", 45.0, &["warmup"])), Some(("B", Level::Exact)));
        // same strain bucket and tags, unseen exercise → coarse
        assert_eq!(b.lookup(&ctx("row", 88.0, &["high_strain"])), Some(("D", Level::Coarse)));
        // nothing like it → the global favourite (B and D tie at 2: the lower hash wins, deterministic)
        let (t, l) = b.lookup(&ctx("row", 10.0, &["cooldown"])).unwrap();
        assert_eq!(l, Level::Global);
        assert!(t == "B" || t == "D");
        assert_eq!(Baseline::new().lookup(&ctx("row", 10.0, &[])), None);
    }

    #[test]
    fn misra_gries_keeps_the_majority() {
        let mut s = Slots::default();
        for (i, t) in ["x", "a", "x", "b", "x", "c", "x", "d", "x"].iter().enumerate() {
            s.add(if *t == "x" { 0 } else { i as u64 + 1 }, t);
        }
        assert_eq!(s.best(), Some("x"));
    }
}
