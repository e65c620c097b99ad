//! Training data: the [`Example`] record the server exports, streamed line by line from JSONL
//! shards (memory stays flat however many records there are), with validation that skips and
//! counts bad lines instead of failing, the deterministic held-out [`Split`], and the
//! [`ShuffleBuffer`] that randomises a stream without loading it.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use coach_shared::limits::{
    CONTEXT_TAGS_MAX, EXERCISE_TYPE_MAX_CHARS, MAX_TEXT_CHARS, SET_NUMBER_MAX, SET_NUMBER_MIN, SLEEP_HOURS_MAX,
    SLEEP_HOURS_MIN, STRAIN_MAX, STRAIN_MIN,
};
use coach_shared::{RandomSource, SplitMix64, Tone, ToneContext, choose_tone};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Longest line read from a shard; longer lines are skipped (and counted) without being buffered.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// The workout context a coaching line is written for: the prompt of the model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CoachContext {
    /// Exercise identifier such as `bench_press`; frequent ones get their own prompt token.
    pub exercise_type: String,
    /// Set number within the workout (1–20), bucketed in the prompt.
    pub set_number: u32,
    /// Strain of the set, 0–100; decides the tone (≥ 80 → whisper) and is bucketed in the prompt.
    pub strain_percentage: f64,
    /// Why the set was skipped, if it was; the prompt only carries whether it was.
    #[serde(default)]
    pub skip_reason: Option<String>,
    /// Sleep the night before, bucketed in the prompt.
    #[serde(default)]
    pub sleep_hours: Option<f64>,
    /// Tags from `coach_shared::tags::CONTEXT_TAGS`; each known tag is one prompt token.
    #[serde(default)]
    pub context_tags: Vec<String>,
}

impl CoachContext {
    /// The tone the product rules ask for in this context (`coach_shared::choose_tone`).
    pub fn expected_tone(&self) -> Tone {
        choose_tone(&ToneContext { strain: Some(self.strain_percentage), tags: &self.context_tags, label: None })
    }

    /// Checks the context against the product limits.
    pub fn validate(&self) -> Result<(), &'static str> {
        let ex = self.exercise_type.trim();
        if ex.is_empty() || ex.chars().count() > EXERCISE_TYPE_MAX_CHARS {
            return Err("exerciseType");
        }
        if !(SET_NUMBER_MIN..=SET_NUMBER_MAX).contains(&self.set_number) {
            return Err("setNumber");
        }
        if !self.strain_percentage.is_finite() || !(STRAIN_MIN..=STRAIN_MAX).contains(&self.strain_percentage) {
            return Err("strainPercentage");
        }
        if let Some(s) = self.sleep_hours
            && (!s.is_finite() || !(SLEEP_HOURS_MIN..=SLEEP_HOURS_MAX).contains(&s))
        {
            return Err("sleepHours");
        }
        if self.context_tags.len() > CONTEXT_TAGS_MAX {
            return Err("contextTags");
        }
        Ok(())
    }
}

/// One training record: a context and the coaching line written for it (one JSONL line).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Example {
    /// The prompt fields.
    #[serde(flatten)]
    pub context: CoachContext,
    /// The coaching line (≤ 280 characters): the target the model learns to write.
    pub ai_response: String,
    /// When the workout happened (RFC 3339), if the exporter includes it: only the date range of
    /// the data set is reported, in the model card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

impl Example {
    /// Checks the record against the product limits.
    pub fn validate(&self) -> Result<(), &'static str> {
        self.context.validate()?;
        let n = self.ai_response.chars().count();
        if self.ai_response.trim().is_empty() || n > MAX_TEXT_CHARS {
            return Err("aiResponse");
        }
        Ok(())
    }

    /// A stable 64-bit hash of the record's content: decides the held-out split and orders the
    /// evaluation sample, so the same data always splits the same way, whichever model is scored.
    pub fn content_hash(&self) -> u64 {
        let mut h = Sha256::new();
        let c = &self.context;
        h.update(c.exercise_type.as_bytes());
        h.update([0]);
        h.update(c.set_number.to_le_bytes());
        h.update(c.strain_percentage.to_bits().to_le_bytes());
        h.update(c.skip_reason.as_deref().unwrap_or("\u{1}").as_bytes());
        h.update([0]);
        h.update(c.sleep_hours.map_or(u64::MAX, f64::to_bits).to_le_bytes());
        for t in &c.context_tags {
            h.update(t.as_bytes());
            h.update([0]);
        }
        h.update([1]);
        h.update(self.ai_response.as_bytes());
        let d = h.finalize();
        u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
    }
}

/// Counts of what a pass over the shards read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadStats {
    /// Valid records.
    pub valid: u64,
    /// Lines that were not JSON of the record's shape (or not UTF-8, or too long).
    pub invalid_json: u64,
    /// Records whose values break the product limits (empty response, strain 140, …).
    pub invalid_values: u64,
}

impl ReadStats {
    /// Skipped lines in all.
    pub fn invalid(&self) -> u64 {
        self.invalid_json + self.invalid_values
    }
}

/// The `*.jsonl` files of a shard directory, in name order (a stable stream order).
pub fn shard_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).with_context(|| format!("cannot read the data directory {}", dir.display()))?;
    let mut files = Vec::new();
    for entry in rd {
        let path = entry?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "jsonl") {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        bail!("no *.jsonl shards in {}", dir.display());
    }
    Ok(files)
}

/// Streams the valid records of a set of shards, one line at a time.
pub struct ShardReader {
    files: Vec<PathBuf>,
    next_file: usize,
    current: Option<BufReader<File>>,
    line: Vec<u8>,
    /// What was read so far.
    pub stats: ReadStats,
}

impl ShardReader {
    /// A reader over `files` (see [`shard_files`]).
    pub fn new(files: Vec<PathBuf>) -> Self {
        Self { files, next_file: 0, current: None, line: Vec::new(), stats: ReadStats::default() }
    }

    /// A reader over every shard of `dir`.
    pub fn open_dir(dir: &Path) -> Result<Self> {
        Ok(Self::new(shard_files(dir)?))
    }

    /// The next valid record, or `None` at the end of the last shard.
    pub fn next_example(&mut self) -> Result<Option<Example>> {
        loop {
            if self.current.is_none() {
                let Some(path) = self.files.get(self.next_file) else { return Ok(None) };
                self.next_file += 1;
                let f = File::open(path).with_context(|| format!("cannot open shard {}", path.display()))?;
                self.current = Some(BufReader::with_capacity(64 * 1024, f));
            }
            let reader = self.current.as_mut().expect("open shard");
            match read_line_capped(reader, &mut self.line, MAX_LINE_BYTES)? {
                None => self.current = None,
                Some(false) => self.stats.invalid_json += 1,
                Some(true) => {
                    if self.line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    match parse_line(&self.line) {
                        Ok(ex) => {
                            self.stats.valid += 1;
                            return Ok(Some(ex));
                        }
                        Err(LineError::Json) => self.stats.invalid_json += 1,
                        Err(LineError::Values) => self.stats.invalid_values += 1,
                    }
                }
            }
        }
    }
}

impl Iterator for ShardReader {
    type Item = Result<Example>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_example().transpose()
    }
}

enum LineError {
    Json,
    Values,
}

fn parse_line(line: &[u8]) -> Result<Example, LineError> {
    let ex: Example = serde_json::from_slice(line).map_err(|_| LineError::Json)?;
    ex.validate().map_err(|_| LineError::Values)?;
    Ok(ex)
}

/// Reads one line (without its `\n`) into `buf`. `Ok(None)` at end of input, `Ok(Some(false))`
/// when the line was longer than `cap` (it is consumed but not kept), `Ok(Some(true))` otherwise.
fn read_line_capped(reader: &mut impl BufRead, buf: &mut Vec<u8>, cap: usize) -> std::io::Result<Option<bool>> {
    buf.clear();
    let mut overflow = false;
    let mut read_any = false;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(read_any.then_some(!overflow));
        }
        read_any = true;
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let content = if done { &chunk[..take - 1] } else { &chunk[..take] };
        if !overflow {
            if buf.len() + content.len() > cap {
                overflow = true;
                buf.clear();
            } else {
                buf.extend_from_slice(content);
            }
        }
        reader.consume(take);
        if done {
            return Ok(Some(!overflow));
        }
    }
}

/// The deterministic split by content hash. A record is **held out** (scored, never trained on)
/// when its hash falls in the lowest `fraction` of the hash space; when that selects nothing in a
/// set of ten or more records, the record with the smallest hash is held out so there is always
/// something to score. Larger sets (see [`Split::decide`]) also set aside a small **dev** slice
/// just above the held-out range for early stopping, so the held-out scores stay untouched by
/// model selection. Everything else is training data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Split {
    /// Hashes below this are held out.
    pub threshold: u64,
    /// Hashes in `threshold..dev_end` form the dev slice (empty when equal).
    pub dev_end: u64,
    /// A single record held out by the minimum rule (tiny data sets).
    pub forced: Option<u64>,
}

impl Split {
    /// The hash threshold for a share of `fraction` (0–1).
    pub fn threshold_for(fraction: f64) -> u64 {
        (fraction.clamp(0.0, 1.0) * u64::MAX as f64) as u64
    }

    /// Whether the record with this content hash is held out.
    pub fn is_held_out(&self, hash: u64) -> bool {
        hash < self.threshold || self.forced == Some(hash)
    }

    /// Whether the record with this content hash is in the dev slice.
    pub fn is_dev(&self, hash: u64) -> bool {
        hash >= self.threshold && hash < self.dev_end && self.forced != Some(hash)
    }

    /// Whether the record with this content hash is trained on.
    pub fn is_training(&self, hash: u64) -> bool {
        !self.is_held_out(hash) && !self.is_dev(hash)
    }

    /// Decides the split from one pass of hashes: `held_by_rule` records fell under the held-out
    /// threshold, `total` were valid, `min_hash` is the smallest hash seen. The dev slice
    /// (`dev_fraction` of the hash space) exists only when `total ≥ dev_min_records`.
    pub fn decide(fraction: f64, dev: (f64, u64), total: u64, held_by_rule: u64, min_hash: Option<u64>) -> Split {
        let threshold = Self::threshold_for(fraction);
        let forced = if held_by_rule == 0 && total >= 10 { min_hash } else { None };
        let dev_end = if total >= dev.1 && forced.is_none() {
            threshold.saturating_add(Self::threshold_for(dev.0))
        } else {
            threshold
        };
        Split { threshold, dev_end, forced }
    }
}

/// A fixed-capacity buffer that turns an ordered stream into a shuffled one: once full, each
/// incoming item replaces a random resident, which is emitted. Memory is bounded by the capacity.
pub struct ShuffleBuffer<T> {
    items: Vec<T>,
    capacity: usize,
    rng: SplitMix64,
}

impl<T> ShuffleBuffer<T> {
    /// A buffer of `capacity` items (at least 1), seeded.
    pub fn new(capacity: usize, seed: u64) -> Self {
        let capacity = capacity.max(1);
        Self { items: Vec::with_capacity(capacity.min(1 << 16)), capacity, rng: SplitMix64::new(seed) }
    }

    /// Adds an item; returns one to emit once the buffer is full.
    pub fn push(&mut self, item: T) -> Option<T> {
        if self.items.len() < self.capacity {
            self.items.push(item);
            return None;
        }
        let i = self.rng.below(self.items.len());
        Some(std::mem::replace(&mut self.items[i], item))
    }

    /// Empties the buffer in random order (end of the stream).
    pub fn drain(&mut self) -> Vec<T> {
        let mut out = std::mem::take(&mut self.items);
        for i in (1..out.len()).rev() {
            let j = self.rng.below(i + 1);
            out.swap(i, j);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn capped_lines_are_consumed_and_flagged() {
        let mut r = Cursor::new(b"short\n0123456789abc\nlast".to_vec());
        let mut buf = Vec::new();
        assert_eq!(read_line_capped(&mut r, &mut buf, 10).unwrap(), Some(true));
        assert_eq!(buf, b"short");
        assert_eq!(read_line_capped(&mut r, &mut buf, 10).unwrap(), Some(false));
        assert_eq!(read_line_capped(&mut r, &mut buf, 10).unwrap(), Some(true));
        assert_eq!(buf, b"last");
        assert_eq!(read_line_capped(&mut r, &mut buf, 10).unwrap(), None);
    }

    #[test]
    fn shuffle_buffer_emits_every_item_once() {
        let mut sb = ShuffleBuffer::new(8, 7);
        let mut out: Vec<u32> = (0..100).filter_map(|i| sb.push(i)).collect();
        out.extend(sb.drain());
        let shuffled = out.clone();
        out.sort();
        assert_eq!(out, (0..100).collect::<Vec<_>>());
        assert_ne!(shuffled, out, "not shuffled");
    }

    #[test]
    fn split_rules() {
        let s = Split::decide(0.1, (0.02, 1000), 100, 9, Some(5));
        assert_eq!(s.forced, None);
        assert!(s.is_held_out(0) && !s.is_held_out(u64::MAX));
        assert!(!s.is_dev(s.threshold) && s.is_training(s.threshold), "no dev slice below 1000 records");
        let s = Split::decide(0.1, (0.02, 1000), 12, 0, Some(u64::MAX - 3));
        assert!(s.is_held_out(u64::MAX - 3) && !s.is_training(u64::MAX - 3));
        assert_eq!(Split::decide(0.1, (0.02, 1000), 9, 0, Some(1 << 63)).forced, None);
        let s = Split::decide(0.1, (0.02, 1000), 5000, 480, Some(3));
        let dev = s.threshold + 1;
        assert!(s.is_dev(dev) && !s.is_held_out(dev) && !s.is_training(dev));
        assert!(s.is_training(s.dev_end) && s.is_held_out(s.threshold - 1));
    }
}
