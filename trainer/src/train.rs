//! A training run, end to end: scan the shards and decide the held-out split, build (or reuse) the
//! tokenizer, start from scratch or continue from a previous model, train with AdamW under a
//! wall-clock budget and/or an epoch limit (linear warm-up, cosine decay on the larger of the time
//! and data progress) with early stopping on a dev slice (best weights kept), evaluate on the
//! held-out split next to the retrieval baseline, and write the model directory atomically.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use candle_core::Tensor;
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use coach_shared::types::training::ModelMetrics;

use crate::artifacts::{ArtifactConfig, GenerationConfig, ModelArtifacts, check_destination, write_model_dir};
use crate::batch::{BatchStream, StreamConfig, batches_of};
use crate::eval::{EVAL_BATCH, batches_loss, evaluate};
use crate::generate::{CoachModel, GenOptions};
use crate::model::{Gpt, Kernels, ModelConfig, ParamStore};
use crate::report::{InitReport, Phase, Progress, TokenizerReport, TrainingReport, TrainingStats, peak_rss_bytes};
use crate::scan::{ScanOptions, baseline_for, collect, scan};
use crate::tokenizer::CoachTokenizer;

/// Default wall-clock budget of the optimisation (seconds): the weekly 50k-record run fits in
/// five minutes on two cores with scanning and evaluation around it.
pub const DEFAULT_BUDGET_SECS: u64 = 180;
/// Default epoch limit (the budget usually stops a run first; tiny data sets stop here).
pub const DEFAULT_MAX_EPOCHS: f64 = 30.0;

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Directory of `*.jsonl` shards.
    pub data_dir: PathBuf,
    /// Where the model directory goes (must not exist, or be empty).
    pub out_dir: PathBuf,
    /// A previous model to continue from when its shape matches.
    pub init_from: Option<PathBuf>,
    /// Wall-clock budget of the optimisation.
    pub budget: Option<Duration>,
    /// Epoch limit (fractional allowed).
    pub max_epochs: Option<f64>,
    /// Seeds initialisation and shuffling.
    pub seed: u64,
    /// The new model's version (`vX.Y.Z`).
    pub version: String,
    /// Network shape of a fresh model.
    pub model: ModelConfig,
    /// Records per batch.
    pub batch_size: usize,
    /// Most padded positions per batch: batches of long sequences hold fewer records, so a step's
    /// memory is bounded whatever lengths the data holds.
    pub max_batch_tokens: usize,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// The learning rate decays to this share of the peak.
    pub min_lr_ratio: f64,
    /// Linear warm-up steps.
    pub warmup_steps: u64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Shuffle buffer capacity (records).
    pub shuffle_capacity: usize,
    /// Batches formed from one length-sorted window.
    pub window_batches: usize,
    /// Scanning, split and sampling settings.
    pub scan: ScanOptions,
    /// Held-out greedy generations for BLEU and responsiveness.
    pub eval_generations: usize,
    /// Seconds between progress events during training.
    pub progress_every: Duration,
    /// Kernels of the optimisation (the fused ones; the reference compositions for comparison).
    pub kernels: Kernels,
    /// Early stopping: stop after this many dev-loss checks without improvement (0 = never), and
    /// keep the best weights seen. Needs a dev slice (see `ScanOptions::dev_min_records`).
    pub patience: u32,
    /// Time between dev-loss checks (`None`: a 40th of the budget, at least 3 s).
    pub dev_check_every: Option<Duration>,
}

impl TrainOptions {
    /// Defaults for a run from `data_dir` into `out_dir`.
    pub fn new(data_dir: impl Into<PathBuf>, out_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            out_dir: out_dir.into(),
            init_from: None,
            budget: Some(Duration::from_secs(DEFAULT_BUDGET_SECS)),
            max_epochs: Some(DEFAULT_MAX_EPOCHS),
            seed: 0,
            version: "v0.1.0".into(),
            model: ModelConfig::default(),
            batch_size: 32,
            max_batch_tokens: 32 * 56,
            learning_rate: 3e-3,
            min_lr_ratio: 0.1,
            warmup_steps: 30,
            weight_decay: 0.01,
            shuffle_capacity: 4096,
            window_batches: 16,
            scan: ScanOptions::default(),
            eval_generations: 300,
            progress_every: Duration::from_secs(2),
            kernels: Kernels::Fused,
            patience: 5,
            dev_check_every: None,
        }
    }

    fn validate(&self) -> Result<()> {
        ensure!(is_semver(&self.version), "version must look like vX.Y.Z, got {:?}", self.version);
        ensure!(self.budget.is_some() || self.max_epochs.is_some(), "give a time budget or an epoch limit");
        ensure!(self.max_epochs.is_none_or(|e| e > 0.0 && e.is_finite()), "max epochs must be positive");
        ensure!(self.batch_size >= 1 && self.learning_rate > 0.0, "batch size and learning rate must be positive");
        self.model.validate()
    }
}

/// Whether `v` is `vMAJOR.MINOR.PATCH`.
pub fn is_semver(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('v') else { return false };
    let parts: Vec<&str> = rest.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// A finished run: its report and the trained model, ready to generate.
pub struct TrainOutcome {
    /// The report (also in `training_report.json`).
    pub report: TrainingReport,
    /// The trained model, as written.
    pub model: CoachModel,
}

struct Start {
    store: ParamStore,
    tok: CoachTokenizer,
    cfg: ModelConfig,
    init: InitReport,
    tokenizer: TokenizerReport,
}

/// Tries to continue from `dir`: same shape, and its tokenizer fits.
fn try_continue(dir: &Path, want: &ModelConfig) -> Result<(ParamStore, CoachTokenizer, String), String> {
    let prev = ArtifactConfig::load(dir).map_err(|e| format!("cannot read the previous model: {e:#}"))?;
    if let Some(diff) = want.mismatch(&prev.model_config()) {
        return Err(format!("shapes differ ({diff})"));
    }
    let tok = CoachTokenizer::load(&dir.join("tokenizer.json")).map_err(|e| format!("{e:#}"))?;
    if tok.vocab_size() > want.vocab_size || tok.vocab_size() != prev.tokenizer_vocab_size {
        return Err(format!("its tokenizer ({} entries) does not match its config", tok.vocab_size()));
    }
    let store = ParamStore::load(&dir.join("model.safetensors"), want).map_err(|e| format!("{e:#}"))?;
    Ok((store, tok, prev.version))
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Runs training; `on_progress` receives events as it goes.
pub fn train(opts: &TrainOptions, on_progress: &mut dyn FnMut(&Progress)) -> Result<TrainOutcome> {
    opts.validate()?;
    check_destination(&opts.out_dir)?;
    let t0 = Instant::now();
    let mut emit = |phase, step, loss, seen, epochs, msg: Option<String>| {
        on_progress(&Progress {
            phase,
            step,
            loss,
            elapsed: secs(t0.elapsed()),
            records_seen: seen,
            epochs,
            message: msg,
        })
    };
    emit(Phase::Tokenizer, 0, None, 0, 0.0, Some(format!("scanning {}", opts.data_dir.display())));
    let scanned = scan(&opts.data_dir, &opts.scan)?;
    let summary = scanned.summary.clone();
    ensure!(
        summary.records >= 10,
        "at least 10 valid records are needed to hold some out for validation (found {}, {} invalid lines)",
        summary.records,
        summary.invalid_lines
    );
    ensure!(summary.train_records > 0, "every record fell on the held-out side of the split");
    let collected = collect(&scanned.files, &scanned.split, &opts.scan)?;

    // fresh or continued
    let tok_t = Instant::now();
    let mut reason = None;
    let mut start = None;
    if let Some(dir) = &opts.init_from {
        match try_continue(dir, &opts.model) {
            Ok((store, tok, from)) => {
                start = Some(Start {
                    tokenizer: TokenizerReport {
                        mode: "reused".into(),
                        vocab_size: tok.vocab_size(),
                        special_tokens: tok.special_count(),
                        exercise_tokens: tok.exercises().len(),
                        trained_on: 0,
                        seconds: secs(tok_t.elapsed()),
                    },
                    store,
                    tok,
                    cfg: opts.model,
                    init: InitReport { mode: "continued".into(), from_version: Some(from), reason: None },
                })
            }
            Err(why) => reason = Some(format!("not continuing from {}: {why}", dir.display())),
        }
    }
    let start = match start {
        Some(s) => s,
        None => {
            let tok =
                CoachTokenizer::train(&collected.tokenizer_sample, &scanned.exercise_tokens, opts.model.vocab_size)?;
            Start {
                tokenizer: TokenizerReport {
                    mode: "trained".into(),
                    vocab_size: tok.vocab_size(),
                    special_tokens: tok.special_count(),
                    exercise_tokens: tok.exercises().len(),
                    trained_on: collected.tokenizer_sample.len(),
                    seconds: secs(tok_t.elapsed()),
                },
                store: ParamStore::init(&opts.model, opts.seed)?,
                tok,
                cfg: opts.model,
                init: InitReport { mode: "fresh".into(), from_version: None, reason: reason.clone() },
            }
        }
    };
    drop(collected.tokenizer_sample);
    emit(
        Phase::Tokenizer,
        0,
        None,
        0,
        0.0,
        Some(format!(
            "{} records ({} invalid lines), tokenizer {} ({} entries), {} start{}",
            summary.records,
            summary.invalid_lines,
            start.tokenizer.mode,
            start.tokenizer.vocab_size,
            start.init.mode,
            reason.as_deref().map(|r| format!(" — {r}")).unwrap_or_default()
        )),
    );

    // optimisation
    let Start { store, tok, cfg, init, tokenizer } = start;
    let tok = Arc::new(tok);
    let gpt = Gpt::new(cfg, &store.tensors())?;
    let mut opt = AdamW::new(
        store.all_vars(),
        ParamsAdamW { lr: opts.learning_rate, weight_decay: opts.weight_decay, ..Default::default() },
    )?;
    let train_records = summary.train_records;
    let max_records = opts.max_epochs.map(|e| ((e * train_records as f64).ceil() as u64).max(1));
    let stream = BatchStream::spawn(
        StreamConfig {
            files: scanned.files.clone(),
            split: scanned.split,
            batch_size: opts.batch_size,
            max_batch_tokens: opts.max_batch_tokens.max(opts.model.context),
            shuffle_capacity: opts.shuffle_capacity,
            window_batches: opts.window_batches,
            seed: opts.seed,
            max_records,
            context: cfg.context,
        },
        tok.clone(),
    );
    let dev_batches = batches_of(&tok, &collected.dev, cfg.context, EVAL_BATCH)?;
    let mut dev = DevTracker::new(opts, !dev_batches.is_empty());
    let train_t = Instant::now();
    let (mut step, mut seen, mut tokens) = (0u64, 0u64, 0u64);
    let mut losses: Vec<f64> = Vec::new();
    let mut last_emit = Instant::now();
    let mut stopped_by = "epochs";
    loop {
        let elapsed = train_t.elapsed();
        let wait = match opts.budget {
            Some(b) if elapsed >= b => {
                stopped_by = "budget";
                break;
            }
            Some(b) => b - elapsed,
            None => Duration::from_secs(3600),
        };
        let item = match stream.rx.recv_timeout(wait) {
            Ok(Ok(item)) => item,
            Ok(Err(e)) => return Err(e.context("reading training batches")),
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let progress = {
            let by_time = opts.budget.map_or(0.0, |b| secs(train_t.elapsed()) / secs(b));
            let by_data = max_records.map_or(0.0, |m| seen as f64 / m as f64);
            by_time.max(by_data).min(1.0)
        };
        opt.set_learning_rate(learning_rate(opts, step, progress));
        let (ids, rows, targets) = item.batch.tensors()?;
        let n = item.batch.targets.len().max(1) as f64;
        let loss = (gpt.loss_sum(&ids, &rows, &targets, opts.kernels)? / n)?;
        opt.backward_step(&loss)?;
        let l = loss.to_scalar::<f32>()? as f64;
        if !l.is_finite() {
            bail!("training diverged at step {step} (loss {l})");
        }
        losses.push(l);
        step += 1;
        seen += item.batch.b as u64;
        tokens += item.batch.tokens as u64;
        if step == 1 || last_emit.elapsed() >= opts.progress_every {
            last_emit = Instant::now();
            let recent = mean_tail(&losses, 20);
            emit(Phase::Training, step, Some(recent), seen, seen as f64 / train_records as f64, None);
        }
        if dev.due() && dev.check(&gpt, &dev_batches, &store, step)? {
            stopped_by = "early_stopping";
            break;
        }
    }
    let restored_best = dev.restore_if_better(&gpt, &dev_batches, &store)?;
    let train_secs = secs(train_t.elapsed());
    let skipped = stream.skipped.load(Ordering::Relaxed);
    stream.finish();
    ensure!(step > 0, "no optimizer step ran (budget too small?)");
    let epochs = seen as f64 / train_records as f64;
    emit(Phase::Training, step, Some(mean_tail(&losses, 50)), seen, epochs, Some(format!("stopped by {stopped_by}")));

    // evaluation
    emit(
        Phase::Evaluation,
        step,
        None,
        seen,
        epochs,
        Some(format!("scoring {} held-out records", collected.heldout.len())),
    );
    let model = CoachModel::from_parts(
        gpt.detached()?,
        Arc::try_unwrap(tok).ok().context("tokenizer still shared")?,
        opts.version.clone(),
    );
    let asked = collected.heldout.iter().take(opts.eval_generations).map(|e| &e.context);
    let baseline = baseline_for(&scanned.files, &scanned.split, asked)?;
    let scores = evaluate(&model, &collected.heldout, &baseline, opts.eval_generations)?;
    let training_loss = mean_tail(&losses, 50);
    let report = TrainingReport {
        version: opts.version.clone(),
        metrics: ModelMetrics {
            perplexity: scores.perplexity,
            bleu_score: scores.bleu_score,
            validation_loss: scores.validation_loss,
            training_loss,
            responsiveness: scores.responsiveness,
        },
        loss_per_byte: scores.loss_per_byte,
        evaluation: scores,
        data: summary,
        init,
        tokenizer,
        training: TrainingStats {
            steps: step,
            records_seen: seen,
            epochs,
            data_seen_share: (seen as f64 / train_records as f64).min(1.0),
            stopped_by: stopped_by.into(),
            train_seconds: train_secs,
            budget_seconds: opts.budget.map(secs),
            max_epochs: opts.max_epochs,
            tokens_per_second: tokens as f64 / train_secs.max(1e-9),
            tokens,
            batch_size: opts.batch_size,
            learning_rate: opts.learning_rate,
            threads: candle_core::utils::get_num_threads(),
            seed: opts.seed,
            skipped_reserved: skipped,
            kernels: format!("{:?}", opts.kernels).to_lowercase(),
            dev_records: collected.dev.len(),
            best_dev_loss: dev.best.as_ref().map(|b| b.loss),
            best_step: dev.best.as_ref().map(|b| b.step),
            restored_best,
            first_loss: losses.iter().take(5).sum::<f64>() / losses.len().min(5) as f64,
        },
        model: cfg,
        parameters: cfg.parameter_count(),
        out_dir: opts.out_dir.display().to_string(),
        wall_seconds: 0.0,
        peak_rss_bytes: None,
        trainer_version: env!("CARGO_PKG_VERSION").into(),
    };
    let mut report = report;
    let base = report.init.from_version.clone();
    let config = ArtifactConfig::describe(&cfg, model.tokenizer(), &opts.version, base.as_deref());
    let gen_defaults = GenOptions::default();
    let generation = GenerationConfig {
        eos_token_id: model.tokenizer().ids.eos,
        pad_token_id: model.tokenizer().ids.pad,
        sep_token_id: model.tokenizer().ids.sep,
        max_new_tokens: gen_defaults.max_tokens,
        do_sample: true,
        temperature: gen_defaults.temperature,
        top_k: gen_defaults.top_k,
    };
    report.wall_seconds = secs(t0.elapsed());
    report.peak_rss_bytes = peak_rss_bytes();
    write_model_dir(
        &opts.out_dir,
        &ModelArtifacts {
            gpt: model.network(),
            tokenizer: model.tokenizer(),
            config: &config,
            generation: &generation,
            report: &report,
        },
    )?;
    emit(Phase::Evaluation, step, None, seen, epochs, Some(format!("wrote {}", opts.out_dir.display())));
    Ok(TrainOutcome { report, model })
}

/// Linear warm-up over `warmup_steps`, then cosine decay from the peak to `min_lr_ratio` of it as
/// `progress` goes 0 → 1.
pub fn learning_rate(opts: &TrainOptions, step: u64, progress: f64) -> f64 {
    let peak = opts.learning_rate;
    if step < opts.warmup_steps {
        return peak * (step + 1) as f64 / opts.warmup_steps as f64;
    }
    let floor = peak * opts.min_lr_ratio;
    floor + (peak - floor) * 0.5 * (1.0 + (std::f64::consts::PI * progress.clamp(0.0, 1.0)).cos())
}

/// The best dev loss and the weights that had it.
struct Best {
    loss: f64,
    step: u64,
    weights: Vec<Tensor>,
}

/// Early stopping on the dev slice: checks the dev loss every few seconds, snapshots the weights
/// when it improves, and says when it has not improved for `patience` checks.
struct DevTracker {
    enabled: bool,
    every: Duration,
    last: Instant,
    patience: u32,
    bad: u32,
    best: Option<Best>,
}

impl DevTracker {
    fn new(opts: &TrainOptions, has_dev: bool) -> Self {
        let auto = opts.budget.map_or(Duration::from_secs(5), |b| (b / 40).max(Duration::from_secs(3)));
        let every = opts.dev_check_every.unwrap_or(auto);
        Self {
            enabled: has_dev && opts.patience > 0,
            every,
            last: Instant::now(),
            patience: opts.patience,
            bad: 0,
            best: None,
        }
    }

    fn due(&self) -> bool {
        self.enabled && self.last.elapsed() >= self.every
    }

    fn loss(gpt: &Gpt, batches: &[crate::batch::Batch]) -> Result<f64> {
        // on a detached copy: no autograd graph is recorded, so no activations are kept
        let (sum, tokens, _, _) = batches_loss(&gpt.detached()?, batches)?;
        Ok(sum / tokens.max(1) as f64)
    }

    /// Checks the dev loss; `true` when training should stop.
    fn check(&mut self, gpt: &Gpt, batches: &[crate::batch::Batch], store: &ParamStore, step: u64) -> Result<bool> {
        let loss = Self::loss(gpt, batches)?;
        self.last = Instant::now();
        if self.best.as_ref().is_none_or(|b| loss < b.loss * (1.0 - 1e-3)) {
            let weights =
                store.vars.values().map(|v| v.as_tensor().detach().copy()).collect::<candle_core::Result<_>>()?;
            self.best = Some(Best { loss, step, weights });
            self.bad = 0;
            return Ok(false);
        }
        self.bad += 1;
        Ok(self.bad >= self.patience)
    }

    /// Puts the best weights back if they beat the final ones on the dev slice.
    fn restore_if_better(&self, gpt: &Gpt, batches: &[crate::batch::Batch], store: &ParamStore) -> Result<bool> {
        let Some(best) = self.best.as_ref().filter(|_| self.enabled) else { return Ok(false) };
        if Self::loss(gpt, batches)? <= best.loss {
            return Ok(false);
        }
        for (var, w) in store.vars.values().zip(&best.weights) {
            var.set(w)?;
        }
        Ok(true)
    }
}

fn mean_tail(v: &[f64], n: usize) -> f64 {
    let tail = &v[v.len().saturating_sub(n)..];
    if tail.is_empty() { f64::NAN } else { tail.iter().sum::<f64>() / tail.len() as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_and_schedule() {
        assert!(is_semver("v1.20.3") && !is_semver("1.2.3") && !is_semver("v1.2") && !is_semver("v1.2.x"));
        let o = TrainOptions::new("d", "o");
        assert!(learning_rate(&o, 0, 0.0) < o.learning_rate / 10.0);
        assert!((learning_rate(&o, 100, 0.0) - o.learning_rate).abs() < 1e-12);
        assert!((learning_rate(&o, 100, 1.0) - o.learning_rate * o.min_lr_ratio).abs() < 1e-12);
    }
}
