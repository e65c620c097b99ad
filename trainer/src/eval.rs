//! Held-out evaluation: validation loss (mean cross-entropy per target token), perplexity, loss
//! per response byte, corpus BLEU-4 of greedy generations, responsiveness (share of generations
//! whose tone token is the tone `coach_shared::choose_tone` asks for), and the retrieval
//! baseline's BLEU on the very same records. Also [`evaluate_dir`]: score an existing model on a
//! data directory's held-out split (what the deployment gate compares).

use std::path::Path;
use std::time::Instant;

use anyhow::{Result, ensure};
use serde::Serialize;

use crate::baseline::{Baseline, Coverage, Level};
use crate::batch::{Batch, batches_of};
use crate::bleu::BleuStats;
use crate::data::Example;
use crate::generate::{CoachModel, GenOptions};
use crate::model::{Gpt, Kernels};
use crate::report::{BaselineReport, EvalScores};
use crate::scan::{DataSummary, ScanOptions, baseline_for, collect, scan};

/// Records per loss batch.
pub const EVAL_BATCH: usize = 32;

/// Loss of a model on records.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossScores {
    /// Mean cross-entropy per target token.
    pub validation_loss: f64,
    /// Summed cross-entropy per response byte.
    pub loss_per_byte: f64,
    /// Target tokens scored.
    pub tokens: usize,
    /// Records scored.
    pub records: usize,
}

/// Summed cross-entropy, target tokens, response bytes and records of prepared batches (fused
/// kernels). Pass a detached network ([`Gpt::detached`]) so no autograd graph is recorded.
pub fn batches_loss(gpt: &Gpt, batches: &[Batch]) -> Result<(f64, usize, usize, usize)> {
    let (mut sum, mut tokens, mut bytes, mut records) = (0f64, 0usize, 0usize, 0usize);
    for b in batches {
        let (ids, rows, targets) = b.tensors()?;
        sum += gpt.loss_sum(&ids, &rows, &targets, Kernels::Fused)?.detach().to_scalar::<f32>()? as f64;
        tokens += b.targets.len();
        bytes += b.target_bytes;
        records += b.b;
    }
    Ok((sum, tokens, bytes, records))
}

/// Cross-entropy of the targets of `examples`.
pub fn heldout_loss(model: &CoachModel, examples: &[Example]) -> Result<LossScores> {
    let gpt = model.network();
    let batches = batches_of(model.tokenizer(), examples, gpt.cfg.context, EVAL_BATCH)?;
    let (sum, tokens, bytes, records) = batches_loss(gpt, &batches)?;
    ensure!(tokens > 0, "nothing to score: no held-out records");
    Ok(LossScores { validation_loss: sum / tokens as f64, loss_per_byte: sum / bytes.max(1) as f64, tokens, records })
}

/// BLEU and tone fit of greedy generations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GenScores {
    /// Corpus BLEU-4, 0–1.
    pub bleu: f64,
    /// Share with the expected tone.
    pub responsiveness: f64,
    /// Generations made.
    pub generations: usize,
    /// Mean length in characters.
    pub mean_chars: f64,
    /// Milliseconds per generation.
    pub ms_per_generation: f64,
}

/// Generates greedily for the first `n` records and scores the lines against their references.
pub fn generation_scores(model: &CoachModel, examples: &[Example], n: usize) -> Result<GenScores> {
    let mut bleu = BleuStats::default();
    let (mut fit, mut chars, mut count) = (0usize, 0usize, 0usize);
    let start = Instant::now();
    for ex in examples.iter().take(n) {
        let g = model.generate(&ex.context, GenOptions::greedy())?;
        bleu.add(&g.text, &ex.ai_response);
        fit += usize::from(g.tone == ex.context.expected_tone());
        chars += g.text.chars().count();
        count += 1;
    }
    let c = count.max(1) as f64;
    Ok(GenScores {
        bleu: bleu.score(),
        responsiveness: fit as f64 / c,
        generations: count,
        mean_chars: chars as f64 / c,
        ms_per_generation: start.elapsed().as_secs_f64() * 1000.0 / c,
    })
}

/// The baseline's BLEU on the first `n` records, and which keys answered.
pub fn baseline_scores(baseline: &Baseline, examples: &[Example], n: usize) -> BaselineReport {
    let mut bleu = BleuStats::default();
    let mut levels = [0usize; 3];
    let mut count = 0usize;
    for ex in examples.iter().take(n) {
        let (text, level) = baseline.lookup(&ex.context).unwrap_or(("", Level::Global));
        bleu.add(text, &ex.ai_response);
        levels[level as usize] += 1;
        count += 1;
    }
    let c = count.max(1) as f64;
    BaselineReport {
        bleu_score: bleu.score(),
        coverage: Coverage { exact: levels[0] as f64 / c, coarse: levels[1] as f64 / c, global: levels[2] as f64 / c },
    }
}

/// Every held-out score of a model.
pub fn evaluate(
    model: &CoachModel,
    heldout: &[Example],
    baseline: &Baseline,
    generations: usize,
) -> Result<EvalScores> {
    let loss = heldout_loss(model, heldout)?;
    let gen_scores = generation_scores(model, heldout, generations)?;
    Ok(EvalScores {
        validation_loss: loss.validation_loss,
        perplexity: loss.validation_loss.exp(),
        loss_per_byte: loss.loss_per_byte,
        bleu_score: gen_scores.bleu,
        responsiveness: gen_scores.responsiveness,
        loss_records: loss.records,
        generations: gen_scores.generations,
        mean_generation_chars: gen_scores.mean_chars,
        ms_per_generation: gen_scores.ms_per_generation,
        baseline: baseline_scores(baseline, heldout, generations),
    })
}

/// An existing model scored on a data directory.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EvalReport {
    /// The model's version.
    pub version: String,
    /// Held-out scores (and the baseline's).
    pub scores: EvalScores,
    /// The data (aggregates).
    pub data: DataSummary,
    /// Seconds taken.
    pub seconds: f64,
}

/// Scores the model in `model_dir` on the held-out split of `data_dir` — the same split and the
/// same evaluation sample a training run on that data uses, so two models can be compared.
pub fn evaluate_dir(model_dir: &Path, data_dir: &Path, opts: &ScanOptions, generations: usize) -> Result<EvalReport> {
    let start = Instant::now();
    let model = CoachModel::load(model_dir)?;
    let s = scan(data_dir, opts)?;
    let c = collect(&s.files, &s.split, opts)?;
    ensure!(!c.heldout.is_empty(), "the data has no held-out records (at least 10 valid records are needed)");
    let baseline = baseline_for(&s.files, &s.split, c.heldout.iter().take(generations).map(|e| &e.context))?;
    let scores = evaluate(&model, &c.heldout, &baseline, generations)?;
    Ok(EvalReport {
        version: model.version().to_string(),
        scores,
        data: s.summary,
        seconds: start.elapsed().as_secs_f64(),
    })
}
