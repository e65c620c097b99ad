//! The streaming passes around training. Pass 1 counts the records, decides the held-out
//! [`Split`] and gathers aggregate statistics for the model card; pass 2 collects what training
//! and evaluation need: from the training side a bounded sample of responses for the tokenizer;
//! a bounded held-out evaluation sample (the records with the
//! smallest hashes, so the sample is the same for every model scored on this data); and a bounded
//! dev sample for early stopping. Pass 3 ([`baseline_for`]) builds the retrieval [`Baseline`] for
//! the evaluation contexts. Nothing here grows with the data set beyond fixed caps.

use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use coach_shared::tags::CONTEXT_TAGS;
use coach_shared::{RandomSource, SplitMix64, Tone};
use serde::Serialize;

use crate::baseline::Baseline;
use crate::data::{CoachContext, Example, ReadStats, ShardReader, Split, shard_files};
use crate::tokenizer::{is_token_worthy_exercise, normalize_exercise};

/// Distinct exercise types counted (beyond this, new ones are not tracked).
const MAX_EXERCISE_KINDS: usize = 4096;

/// Tunables of the passes.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Share of records held out (0–1).
    pub heldout_fraction: f64,
    /// Share of records in the dev slice for early stopping (0–1)…
    pub dev_fraction: f64,
    /// …when the data set has at least this many records.
    pub dev_min_records: u64,
    /// Most dev records kept.
    pub dev_cap: usize,
    /// Most held-out records kept for scoring.
    pub eval_cap: usize,
    /// Most responses sampled for tokenizer training.
    pub tokenizer_sample: usize,
    /// An exercise type gets its own prompt token when seen at least this often…
    pub exercise_min_count: u64,
    /// …and is among this many most frequent ones.
    pub max_exercise_tokens: usize,
    /// Seeds the reservoir sample.
    pub seed: u64,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            heldout_fraction: 0.1,
            dev_fraction: 0.02,
            dev_min_records: 1000,
            dev_cap: 300,
            eval_cap: 1000,
            tokenizer_sample: 20_000,
            exercise_min_count: 5,
            max_exercise_tokens: 48,
            seed: 0,
        }
    }
}

/// Aggregate description of a data set (no record, no free text: safe for the model card).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataSummary {
    /// Shard files read.
    pub shards: usize,
    /// Valid records.
    pub records: u64,
    /// Lines skipped as invalid (JSON or values), see `invalidJson`/`invalidValues`.
    pub invalid_lines: u64,
    /// Lines that were not a record.
    pub invalid_json: u64,
    /// Records outside the product limits.
    pub invalid_values: u64,
    /// Records on the training side of the split.
    pub train_records: u64,
    /// Records held out.
    pub heldout_records: u64,
    /// Records in the dev slice (early stopping; not trained on).
    pub dev_records: u64,
    /// Records of every context tag (closed vocabulary).
    pub tag_distribution: BTreeMap<String, u64>,
    /// Records per tone the rules ask for.
    pub tone_distribution: BTreeMap<String, u64>,
    /// Distinct exercise types (counted up to 4096).
    pub exercise_types: usize,
    /// Records of skipped sets.
    pub skipped_sets: u64,
    /// Records that carry sleep hours.
    pub with_sleep: u64,
    /// Mean response length in characters.
    pub mean_response_chars: f64,
    /// First and last day of the records, when the data carries timestamps.
    pub date_range: Option<(String, String)>,
}

/// Result of pass 1.
pub struct Scan {
    /// The shard files, in stream order.
    pub files: Vec<PathBuf>,
    /// The held-out split.
    pub split: Split,
    /// Aggregates.
    pub summary: DataSummary,
    /// Exercise types that qualify for their own token, most frequent first.
    pub exercise_tokens: Vec<String>,
}

/// Pass 1.
pub fn scan(dir: &Path, opts: &ScanOptions) -> Result<Scan> {
    let files = shard_files(dir)?;
    let mut reader = ShardReader::new(files.clone());
    let threshold = Split::threshold_for(opts.heldout_fraction);
    let dev_end = threshold.saturating_add(Split::threshold_for(opts.dev_fraction));
    let (mut held, mut dev, mut min_hash) = (0u64, 0u64, None::<u64>);
    let mut s = DataSummary { shards: files.len(), ..Default::default() };
    let mut tags = vec![0u64; CONTEXT_TAGS.len()];
    let mut tones = [0u64; 3];
    let mut exercises: HashMap<String, u64> = HashMap::new();
    let mut chars = 0u64;
    let mut dates: Option<(String, String)> = None;
    while let Some(ex) = reader.next_example()? {
        let h = ex.content_hash();
        held += u64::from(h < threshold);
        dev += u64::from(h >= threshold && h < dev_end);
        min_hash = Some(min_hash.map_or(h, |m: u64| m.min(h)));
        let c = &ex.context;
        for i in crate::tokenizer::canonical_tags(&c.context_tags) {
            tags[i] += 1;
        }
        tones[Tone::ALL.iter().position(|t| *t == c.expected_tone()).expect("tone")] += 1;
        let name = normalize_exercise(&c.exercise_type);
        if let Some(n) = exercises.get_mut(&name) {
            *n += 1;
        } else if exercises.len() < MAX_EXERCISE_KINDS {
            exercises.insert(name, 1);
        }
        s.skipped_sets += u64::from(c.skip_reason.as_deref().is_some_and(|r| !r.trim().is_empty()));
        s.with_sleep += u64::from(c.sleep_hours.is_some());
        chars += ex.ai_response.chars().count() as u64;
        if let Some(day) = ex.timestamp.as_deref().and_then(day_of) {
            dates = Some(match dates {
                None => (day.clone(), day),
                Some((a, b)) => (a.min(day.clone()), b.max(day)),
            });
        }
    }
    let stats: ReadStats = reader.stats;
    if stats.valid == 0 {
        bail!("no valid training records in {} ({} invalid lines)", dir.display(), stats.invalid());
    }
    let split =
        Split::decide(opts.heldout_fraction, (opts.dev_fraction, opts.dev_min_records), stats.valid, held, min_hash);
    let heldout = if split.forced.is_some() { 1 } else { held };
    let dev = if split.dev_end > split.threshold { dev } else { 0 };
    s.records = stats.valid;
    s.invalid_json = stats.invalid_json;
    s.invalid_values = stats.invalid_values;
    s.invalid_lines = stats.invalid();
    s.heldout_records = heldout;
    s.dev_records = dev;
    s.train_records = stats.valid - heldout - dev;
    s.tag_distribution = CONTEXT_TAGS.iter().zip(&tags).map(|(t, n)| (t.to_string(), *n)).collect();
    s.tone_distribution = Tone::ALL.iter().zip(&tones).map(|(t, n)| (t.as_str().to_string(), *n)).collect();
    s.exercise_types = exercises.len();
    s.mean_response_chars = chars as f64 / stats.valid as f64;
    s.date_range = dates;
    let mut ex: Vec<(String, u64)> =
        exercises.into_iter().filter(|(e, n)| *n >= opts.exercise_min_count && is_token_worthy_exercise(e)).collect();
    ex.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let exercise_tokens = ex.into_iter().take(opts.max_exercise_tokens).map(|(e, _)| e).collect();
    Ok(Scan { files, split, summary: s, exercise_tokens })
}

fn day_of(ts: &str) -> Option<String> {
    chrono::DateTime::parse_from_rfc3339(ts).ok().map(|d| d.naive_utc().date().to_string())
}

struct ByHash(u64, Example);

impl PartialEq for ByHash {
    fn eq(&self, o: &Self) -> bool {
        self.0 == o.0
    }
}
impl Eq for ByHash {}
impl PartialOrd for ByHash {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for ByHash {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.cmp(&o.0)
    }
}

/// Result of pass 2.
pub struct Collected {
    /// Held-out records to score, by ascending hash (at most `eval_cap`).
    pub heldout: Vec<Example>,
    /// Dev records for early stopping, by ascending hash (at most `dev_cap`).
    pub dev: Vec<Example>,
    /// Responses sampled for tokenizer training.
    pub tokenizer_sample: Vec<String>,
}

/// Pass 2, over the split decided by pass 1.
pub fn collect(files: &[PathBuf], split: &Split, opts: &ScanOptions) -> Result<Collected> {
    let mut reader = ShardReader::new(files.to_vec());
    let mut heap: BinaryHeap<ByHash> = BinaryHeap::new();
    let mut dev_heap: BinaryHeap<ByHash> = BinaryHeap::new();
    let mut sample: Vec<String> = Vec::new();
    let mut seen_train = 0u64;
    let mut rng = SplitMix64::new(opts.seed ^ 0x70C3_11E5);
    while let Some(ex) = reader.next_example()? {
        let h = ex.content_hash();
        if split.is_held_out(h) {
            keep_smallest(&mut heap, opts.eval_cap, ByHash(h, ex));
            continue;
        }
        if split.is_dev(h) {
            keep_smallest(&mut dev_heap, opts.dev_cap, ByHash(h, ex));
            continue;
        }
        seen_train += 1;
        if sample.len() < opts.tokenizer_sample {
            sample.push(ex.ai_response);
        } else {
            let j = rng.below(seen_train as usize);
            if j < opts.tokenizer_sample {
                sample[j] = ex.ai_response;
            }
        }
    }
    let sorted = |heap: BinaryHeap<ByHash>| heap.into_sorted_vec().into_iter().map(|b| b.1).collect();
    Ok(Collected { heldout: sorted(heap), dev: sorted(dev_heap), tokenizer_sample: sample })
}

/// Pass 3, at evaluation time: the retrieval baseline for `contexts`, from the training side.
pub fn baseline_for<'a>(
    files: &[PathBuf],
    split: &Split,
    contexts: impl IntoIterator<Item = &'a CoachContext>,
) -> Result<Baseline> {
    let mut baseline = Baseline::for_contexts(contexts);
    let mut reader = ShardReader::new(files.to_vec());
    while let Some(ex) = reader.next_example()? {
        if split.is_training(ex.content_hash()) {
            baseline.add(&ex.context, &ex.ai_response);
        }
    }
    Ok(baseline)
}

/// Keeps the `cap` items with the smallest hashes.
fn keep_smallest(heap: &mut BinaryHeap<ByHash>, cap: usize, item: ByHash) {
    if heap.len() < cap {
        heap.push(item);
    } else if heap.peek().is_some_and(|top| item.0 < top.0) {
        heap.pop();
        heap.push(item);
    }
}
