//! What a run tells its supervisor: progress events while it runs and the final
//! [`TrainingReport`] (also written as `training_report.json` next to the model). All camelCase
//! JSON; the `metrics` object is the contract's `ModelMetrics`.

use coach_shared::types::training::ModelMetrics;
use serde::Serialize;

use crate::baseline::Coverage;
use crate::model::ModelConfig;
use crate::scan::DataSummary;

/// Phase of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Scanning the shards and building (or reusing) the tokenizer.
    Tokenizer,
    /// Optimizer steps.
    Training,
    /// Held-out scoring and writing the artifacts.
    Evaluation,
}

/// One progress event (`{"event":"progress", …}` on the CLI).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Where the run is.
    pub phase: Phase,
    /// Optimizer steps so far.
    pub step: u64,
    /// Mean training loss of the recent steps (training phase).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    /// Seconds since the run started.
    pub elapsed: f64,
    /// Training records consumed so far.
    pub records_seen: u64,
    /// Epochs completed so far (fractional).
    pub epochs: f64,
    /// What is happening, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Whether the weights continued from a previous model.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitReport {
    /// `fresh` (new tokenizer, random weights) or `continued` (previous tokenizer and weights).
    pub mode: String,
    /// The version continued from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_version: Option<String>,
    /// Why a requested continuation was not possible.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The tokenizer of the run.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenizerReport {
    /// `trained` or `reused`.
    pub mode: String,
    /// Entries, special tokens included.
    pub vocab_size: usize,
    /// Special (prompt and control) tokens.
    pub special_tokens: usize,
    /// Exercise types with their own token.
    pub exercise_tokens: usize,
    /// Responses the BPE was trained on (0 when reused).
    pub trained_on: usize,
    /// Seconds spent.
    pub seconds: f64,
}

/// How training went.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainingStats {
    /// Optimizer steps.
    pub steps: u64,
    /// Training records consumed (with repeats across epochs).
    pub records_seen: u64,
    /// Records consumed / training records.
    pub epochs: f64,
    /// Share of the distinct training records seen at least once (0–1).
    pub data_seen_share: f64,
    /// `budget` (time ran out), `epochs` (the epoch limit was reached) or `early_stopping` (the
    /// dev loss stopped improving).
    pub stopped_by: String,
    /// Seconds of optimizer steps.
    pub train_seconds: f64,
    /// The time budget, if any.
    pub budget_seconds: Option<f64>,
    /// The epoch limit, if any.
    pub max_epochs: Option<f64>,
    /// Real input tokens per second.
    pub tokens_per_second: f64,
    /// Real input tokens processed.
    pub tokens: u64,
    /// Records per batch.
    pub batch_size: usize,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Compute threads.
    pub threads: usize,
    /// Seed of initialisation and shuffling.
    pub seed: u64,
    /// Records skipped because their text spells a special token.
    pub skipped_reserved: u64,
    /// `fused` or `reference` kernels.
    pub kernels: String,
    /// Dev records used for early stopping (0: none, the data set is small).
    pub dev_records: usize,
    /// Best dev loss seen.
    pub best_dev_loss: Option<f64>,
    /// Step of the best dev loss.
    pub best_step: Option<u64>,
    /// Whether the best weights were put back at the end (they beat the final ones).
    pub restored_best: bool,
    /// Mean loss of the first logged steps (to see it fall).
    pub first_loss: f64,
}

/// The retrieval baseline's scores on the same held-out sample.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BaselineReport {
    /// Corpus BLEU-4 of the lookup answers (0–1).
    pub bleu_score: f64,
    /// Which key answered, by share.
    pub coverage: Coverage,
}

/// Held-out scores of a model.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EvalScores {
    /// Mean cross-entropy per target token (nats).
    pub validation_loss: f64,
    /// exp(validation loss).
    pub perplexity: f64,
    /// Summed target cross-entropy per byte of response text (nats/byte): comparable across
    /// tokenizers, used by the deployment gate.
    pub loss_per_byte: f64,
    /// Corpus BLEU-4 of greedy generations (0–1).
    pub bleu_score: f64,
    /// Share of generations whose tone is the one the rules ask for (0–1).
    pub responsiveness: f64,
    /// Held-out records scored for loss.
    pub loss_records: usize,
    /// Held-out records generated for (BLEU, responsiveness).
    pub generations: usize,
    /// Mean generation length in characters.
    pub mean_generation_chars: f64,
    /// Milliseconds per generation.
    pub ms_per_generation: f64,
    /// The baseline on the same records.
    pub baseline: BaselineReport,
}

/// Everything about a training run.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainingReport {
    /// Model version (`vX.Y.Z`).
    pub version: String,
    /// The contract's metrics.
    pub metrics: ModelMetrics,
    /// See [`EvalScores::loss_per_byte`].
    pub loss_per_byte: f64,
    /// Held-out details, baseline included.
    pub evaluation: EvalScores,
    /// The data (aggregates only).
    pub data: DataSummary,
    /// Fresh or continued.
    pub init: InitReport,
    /// The tokenizer.
    pub tokenizer: TokenizerReport,
    /// The optimisation.
    pub training: TrainingStats,
    /// Network shape.
    pub model: ModelConfig,
    /// Trainable parameters.
    pub parameters: usize,
    /// Where the artifacts are.
    pub out_dir: String,
    /// Seconds for the whole run.
    pub wall_seconds: f64,
    /// Peak resident memory of the process so far (bytes), where the OS reports it.
    pub peak_rss_bytes: Option<u64>,
    /// The crate version that trained it.
    pub trainer_version: String,
}

/// Peak resident set size of this process (`VmHWM`), in bytes, on Linux.
pub fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
