//! # coach-trainer
//!
//! The real trainer of the Coach language model: a small GPT-style decoder-only transformer
//! (candle, CPU) that learns to write a coaching line, and the tone to say it in, from a compact
//! workout context. The server runs it as a separate process (`coach-server trainer …` calls
//! [`cli::run`]) so a crash or an out-of-memory kill cannot take the API down, and serves the
//! result with [`CoachModel`].
//!
//! | module | role |
//! |---|---|
//! | [`data`] | the [`Example`] record, streaming JSONL shards, validation, held-out [`data::Split`], shuffle buffer |
//! | [`scan`] | the two bounded passes before training: counts, split, tokenizer sample, baseline, evaluation sample |
//! | [`tokenizer`] | byte-level BPE (`tokenizers`) plus the prompt's special tokens |
//! | [`model`] | the transformer, its parameters and safetensors I/O |
//! | [`batch`] | encoding, padded batches with target-only loss positions, the producer thread |
//! | [`mod@train`] | a run end to end: [`train()`] with [`TrainOptions`] |
//! | [`eval`], [`bleu`], [`baseline`] | held-out loss, perplexity, loss per byte, BLEU-4, responsiveness, the lookup baseline |
//! | [`generate`] | [`CoachModel::load`] and [`CoachModel::generate`] for serving |
//! | [`compliance`] | [`compliance_sample`]: PII, length, emptiness and tone checks of generations |
//! | [`artifacts`], [`card`] | the Hugging Face-layout model directory and its model card |
//! | [`report`] | progress events and the [`TrainingReport`] |
//! | [`synth`] | realistic synthetic records for tests and benchmarks |
//! | [`cli`], `bench` | the `coach-trainer` command line (`train`, `eval`, `generate`, `synth`, `bench`) |
//!
//! ```no_run
//! use coach_trainer::{CoachContext, CoachModel, GenOptions, TrainOptions, train};
//! # fn main() -> anyhow::Result<()> {
//! let outcome = train(&TrainOptions::new("export/batch-1", "models/v1.0.0"), &mut |_progress| {})?;
//! println!("perplexity {}", outcome.report.metrics.perplexity);
//! let model = CoachModel::load("models/v1.0.0".as_ref())?;
//! let ctx = CoachContext { exercise_type: "squat".into(), set_number: 3, strain_percentage: 85.0, ..Default::default() };
//! let line = model.generate(&ctx, GenOptions { seed: 1, ..Default::default() })?;
//! println!("{} ({})", line.text, line.tone);
//! # Ok(()) }
//! ```

pub mod artifacts;
pub mod baseline;
pub mod batch;
mod bench;
pub mod bleu;
pub mod card;
pub mod cli;
pub mod compliance;
pub mod data;
pub mod eval;
pub mod fused;
pub mod generate;
pub mod model;
pub mod report;
pub mod scan;
pub mod synth;
pub mod tokenizer;
pub mod train;

pub use bleu::corpus_bleu;
pub use compliance::{ComplianceReport, check_generation, compliance_sample};
pub use data::{CoachContext, Example, ReadStats};
pub use eval::{EvalReport, evaluate_dir};
pub use generate::{CoachModel, GenOptions, Generation};
pub use model::ModelConfig;
pub use report::{Progress, TrainingReport};
pub use train::{TrainOptions, TrainOutcome, train};
