//! `coach-trainer bench`: synthesize N records into a temporary directory (streamed), train with
//! the given budget, and print what matters for the weekly run: tokens/s, wall time, peak RSS
//! (`VmHWM`), the share of the data seen, held-out perplexity and BLEU next to the retrieval
//! baseline's BLEU. Figures are printed, never asserted.

use std::time::Instant;

use anyhow::Result;
use serde_json::json;

use crate::cli::{BenchArgs, emit, event, set_compute_threads};
use crate::report::peak_rss_bytes;
use crate::synth::write_synthetic;
use crate::train::{TrainOptions, train};

/// Runs the benchmark and prints JSON lines (progress, then `{"event":"bench",…}`).
pub(crate) fn bench(a: &BenchArgs) -> Result<()> {
    set_compute_threads(a.run.threads);
    let tmp = tempfile::Builder::new().prefix("coach-bench-").tempdir()?;
    let data = tmp.path().join("data");
    let t0 = Instant::now();
    let shards = write_synthetic(&data, a.records, 10_000, a.run.seed.wrapping_add(17))?;
    let synth_secs = t0.elapsed().as_secs_f64();
    let rss_after_synth = peak_rss_bytes();
    emit(
        &json!({ "event": "progress", "phase": "synth", "records": a.records, "shards": shards, "elapsed": synth_secs }),
    );
    let mut o = TrainOptions::new(&data, tmp.path().join("model"));
    a.run.apply(&mut o);
    let t1 = Instant::now();
    let outcome = train(&o, &mut |p| emit(&event("progress", p)))?;
    let wall = t1.elapsed().as_secs_f64();
    let r = &outcome.report;
    let mib = |b: Option<u64>| b.map(|b| (b as f64 / (1024.0 * 1024.0) * 10.0).round() / 10.0);
    emit(&json!({
        "event": "bench",
        "records": a.records,
        "trainRecords": r.data.train_records,
        "heldoutRecords": r.data.heldout_records,
        "parameters": r.parameters,
        "model": r.model,
        "threads": r.training.threads,
        "batchSize": r.training.batch_size,
        "budgetSeconds": r.training.budget_seconds,
        "stoppedBy": r.training.stopped_by,
        "synthSeconds": synth_secs,
        "trainWallSeconds": wall,
        "optimizerSeconds": r.training.train_seconds,
        "steps": r.training.steps,
        "tokensPerSecond": r.training.tokens_per_second.round(),
        "epochs": r.training.epochs,
        "dataSeenShare": r.training.data_seen_share,
        "peakRssMiB": mib(peak_rss_bytes()),
        "peakRssAfterSynthMiB": mib(rss_after_synth),
        "firstLoss": r.training.first_loss,
        "trainingLoss": r.metrics.training_loss,
        "validationLoss": r.metrics.validation_loss,
        "perplexity": r.metrics.perplexity,
        "lossPerByte": r.loss_per_byte,
        "bleu": r.metrics.bleu_score,
        "baselineBleu": r.evaluation.baseline.bleu_score,
        "baselineCoverage": r.evaluation.baseline.coverage,
        "responsiveness": r.metrics.responsiveness,
        "msPerGeneration": r.evaluation.ms_per_generation,
        "generations": r.evaluation.generations,
        "tokenizerSeconds": r.tokenizer.seconds,
    }));
    Ok(())
}
