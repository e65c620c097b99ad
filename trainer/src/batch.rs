//! From records to padded batches: encoding (prompt + tone + response + `<eos>`), batching with
//! the loss restricted to target positions, and the producer thread that streams the training
//! side of the split epoch after epoch through a shuffle buffer. Batches are formed from a window
//! of similar-length sequences (less padding) and handed over through a bounded channel, so the
//! data side runs on its own core while the model trains, with memory bounded by the buffers.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use anyhow::Result;
use candle_core::{Device, Tensor};
use coach_shared::{RandomSource, SplitMix64};

use crate::data::{Example, ShardReader, ShuffleBuffer, Split};
use crate::tokenizer::CoachTokenizer;

/// One record as token ids.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// Prompt (ending in `<sep>`), tone, response tokens, `<eos>`; at most `context + 1` ids.
    pub ids: Vec<u32>,
    /// Length of the prompt including `<sep>`.
    pub prompt_len: usize,
    /// Bytes of response text covered by the kept tokens (for loss per byte).
    pub target_bytes: usize,
}

/// Encodes a record for a model of `context` positions; `None` if its text spells a special token.
pub fn encode(tok: &CoachTokenizer, ex: &Example, context: usize) -> Result<Option<Encoded>> {
    let Some((resp, ends)) = tok.encode_response(&ex.ai_response)? else { return Ok(None) };
    let mut ids = tok.prompt_ids(&ex.context);
    let prompt_len = ids.len();
    ids.push(tok.tone_id(ex.context.expected_tone()));
    let max = context + 1;
    let room = max.saturating_sub(prompt_len + 1);
    let (kept, target_bytes) = if resp.len() < room {
        (resp.len(), ex.ai_response.len())
    } else {
        (room, ends.get(room.wrapping_sub(1)).copied().unwrap_or(0))
    };
    ids.extend_from_slice(&resp[..kept]);
    if ids.len() < max {
        ids.push(tok.ids.eos);
    }
    Ok(Some(Encoded { ids, prompt_len, target_bytes }))
}

/// A padded batch: inputs `(b, t)` and the flattened positions whose next token is scored.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Sequences.
    pub b: usize,
    /// Padded length.
    pub t: usize,
    /// Input ids, row-major `(b, t)`.
    pub ids: Vec<u32>,
    /// Flattened positions (`i·t + p`) where a target token is predicted.
    pub rows: Vec<u32>,
    /// The token to predict at each of `rows`.
    pub targets: Vec<u32>,
    /// Real (unpadded) input tokens.
    pub tokens: usize,
    /// Response bytes covered by the targets.
    pub target_bytes: usize,
}

impl Batch {
    /// Builds a batch from encoded records.
    pub fn new(seqs: &[Encoded], pad: u32) -> Batch {
        let t = seqs.iter().map(|s| s.ids.len() - 1).max().unwrap_or(0).max(1);
        let mut batch = Batch { b: seqs.len(), t, ids: vec![pad; seqs.len() * t], ..Default::default() };
        for (i, s) in seqs.iter().enumerate() {
            let n = s.ids.len() - 1;
            batch.ids[i * t..i * t + n].copy_from_slice(&s.ids[..n]);
            for p in s.prompt_len - 1..n {
                batch.rows.push((i * t + p) as u32);
                batch.targets.push(s.ids[p + 1]);
            }
            batch.tokens += n;
            batch.target_bytes += s.target_bytes;
        }
        batch
    }

    /// The batch as tensors: ids `(b, t)`, rows `(n)`, targets `(n)`.
    pub fn tensors(&self) -> Result<(Tensor, Tensor, Tensor)> {
        let dev = Device::Cpu;
        Ok((
            Tensor::from_slice(&self.ids, (self.b, self.t), &dev)?,
            Tensor::from_slice(&self.rows, self.rows.len(), &dev)?,
            Tensor::from_slice(&self.targets, self.targets.len(), &dev)?,
        ))
    }
}

/// Batches of already loaded records (evaluation), in order.
pub fn batches_of(tok: &CoachTokenizer, examples: &[Example], context: usize, size: usize) -> Result<Vec<Batch>> {
    let mut enc = Vec::new();
    for ex in examples {
        if let Some(e) = encode(tok, ex, context)? {
            enc.push(e);
        }
    }
    Ok(enc.chunks(size.max(1)).map(|c| Batch::new(c, tok.ids.pad)).collect())
}

/// What the producer streams.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// Shards, in order.
    pub files: Vec<PathBuf>,
    /// Only the training side is streamed (held-out and dev records are skipped).
    pub split: Split,
    /// Records per batch.
    pub batch_size: usize,
    /// Most padded positions per batch (long sequences make smaller batches).
    pub max_batch_tokens: usize,
    /// Capacity of the shuffle buffer (records).
    pub shuffle_capacity: usize,
    /// Batches formed together from one length-sorted window.
    pub window_batches: usize,
    /// Seeds shuffling (each epoch reshuffles).
    pub seed: u64,
    /// Stop after this many records (fractional epochs); `None` streams until told to stop.
    pub max_records: Option<u64>,
    /// Model context.
    pub context: usize,
}

/// A batch and where the stream stands.
#[derive(Debug)]
pub struct StreamItem {
    /// The batch.
    pub batch: Batch,
    /// Zero-based epoch the batch belongs to.
    pub epoch: u32,
}

/// The running producer.
pub struct BatchStream {
    /// Batches, in training order; closed at the end of the stream or on error.
    pub rx: Receiver<Result<StreamItem>>,
    stop: Arc<AtomicBool>,
    /// Records skipped because their text spells a special token.
    pub skipped: Arc<AtomicU64>,
    handle: Option<JoinHandle<()>>,
}

impl BatchStream {
    /// Starts the producer thread.
    pub fn spawn(cfg: StreamConfig, tok: Arc<CoachTokenizer>) -> Self {
        let (tx, rx) = sync_channel(4);
        let stop = Arc::new(AtomicBool::new(false));
        let skipped = Arc::new(AtomicU64::new(0));
        let (s, k) = (stop.clone(), skipped.clone());
        let handle = std::thread::Builder::new()
            .name("coach-batches".into())
            .spawn(move || {
                if let Err(e) = produce(&cfg, &tok, &tx, &s, &k) {
                    let _ = tx.send(Err(e));
                }
            })
            .expect("spawn batch thread");
        Self { rx, stop, skipped, handle: Some(handle) }
    }

    /// Stops the producer and waits for it.
    pub fn finish(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // drain so a producer blocked on a full channel can see the flag
        while self.rx.try_recv().is_ok() {}
        if let Some(h) = self.handle.take() {
            while !h.is_finished() {
                while self.rx.try_recv().is_ok() {}
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            let _ = h.join();
        }
    }
}

impl Drop for BatchStream {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn produce(
    cfg: &StreamConfig,
    tok: &CoachTokenizer,
    tx: &SyncSender<Result<StreamItem>>,
    stop: &AtomicBool,
    skipped: &AtomicU64,
) -> Result<()> {
    let mut sent = 0u64;
    let limit = cfg.max_records.unwrap_or(u64::MAX);
    let window_cap = cfg.batch_size * cfg.window_batches.max(1);
    let mut rng = SplitMix64::new(cfg.seed ^ 0x0BA7_C4E5);
    for epoch in 0u32.. {
        let mut reader = ShardReader::new(cfg.files.clone());
        let mut shuffle = ShuffleBuffer::new(cfg.shuffle_capacity, cfg.seed.wrapping_add(u64::from(epoch) * 7919));
        let mut window: Vec<Encoded> = Vec::with_capacity(window_cap);
        let sent_before = sent;
        let flush = |window: &mut Vec<Encoded>, sent: &mut u64, rng: &mut SplitMix64| -> bool {
            window.sort_by_key(|e| e.ids.len());
            // sorted by length, each batch is `batch_size` records or fewer when long sequences
            // would exceed the padded-token cap (bounds a step's memory, whatever the data holds)
            let mut chunks: Vec<Vec<Encoded>> = Vec::new();
            let mut chunk: Vec<Encoded> = Vec::new();
            for e in window.drain(..) {
                let t = e.ids.len() - 1;
                if !chunk.is_empty() && (chunk.len() >= cfg.batch_size || (chunk.len() + 1) * t > cfg.max_batch_tokens)
                {
                    chunks.push(std::mem::take(&mut chunk));
                }
                chunk.push(e);
            }
            if !chunk.is_empty() {
                chunks.push(chunk);
            }
            for i in (1..chunks.len()).rev() {
                chunks.swap(i, rng.below(i + 1));
            }
            for mut c in chunks {
                if stop.load(Ordering::Relaxed) || *sent >= limit {
                    return false;
                }
                c.truncate((limit - *sent).min(c.len() as u64) as usize);
                *sent += c.len() as u64;
                let item = StreamItem { batch: Batch::new(&c, tok.ids.pad), epoch };
                if tx.send(Ok(item)).is_err() {
                    return false;
                }
            }
            true
        };
        let take = |ex: Example, window: &mut Vec<Encoded>| -> Result<()> {
            match encode(tok, &ex, cfg.context)? {
                Some(e) => window.push(e),
                None => {
                    skipped.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(())
        };
        while let Some(ex) = reader.next_example()? {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            if !cfg.split.is_training(ex.content_hash()) {
                continue;
            }
            if let Some(out) = shuffle.push(ex) {
                take(out, &mut window)?;
                if window.len() >= window_cap && !flush(&mut window, &mut sent, &mut rng) {
                    return Ok(());
                }
            }
        }
        for ex in shuffle.drain() {
            take(ex, &mut window)?;
        }
        if !flush(&mut window, &mut sent, &mut rng) {
            return Ok(());
        }
        if sent == sent_before {
            anyhow::bail!("no usable training records on the training side of the split");
        }
    }
    Ok(())
}
