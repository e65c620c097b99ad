//! The `coach-trainer` command line, also callable in-process as [`run`] (the server runs
//! `coach-server trainer …` as a child process of itself and hands the arguments over).
//!
//! `train` and `eval` print one JSON object per line on stdout, for a supervising process:
//! `{"event":"progress","phase":"tokenizer|training|evaluation","step":…,"loss":…,"elapsed":…}`,
//! then `{"event":"done","report":{…}}`; on failure `{"event":"error","message":…}` and exit code 1.
//! `generate`, `synth` and `bench` print JSON lines too.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use serde_json::{Value, json};

use crate::data::CoachContext;
use crate::generate::{CoachModel, GenOptions};
use crate::model::ModelConfig;
use crate::scan::ScanOptions;
use crate::train::{DEFAULT_BUDGET_SECS, DEFAULT_MAX_EPOCHS, TrainOptions, train};

#[derive(Parser)]
#[command(name = "coach-trainer", version, about = "Train, evaluate and run the Coach language model")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Train a model from a directory of JSONL shards.
    Train(TrainArgs),
    /// Score a model on the held-out split of a data directory.
    Eval(EvalArgs),
    /// Generate coaching lines for a context.
    Generate(GenerateArgs),
    /// Write synthetic coaching records as JSONL shards.
    Synth(SynthArgs),
    /// Synthesize, train and print throughput, memory and quality next to the baseline.
    Bench(BenchArgs),
}

/// Options shared by `train` and `bench`.
#[derive(Args, Clone)]
pub(crate) struct RunArgs {
    /// Wall-clock budget of the optimisation in seconds (0 = none, stop by epochs).
    #[arg(long, default_value_t = DEFAULT_BUDGET_SECS)]
    pub budget_secs: u64,
    /// Epoch limit (fractional allowed).
    #[arg(long, default_value_t = DEFAULT_MAX_EPOCHS)]
    pub max_epochs: f64,
    /// Seed of initialisation and shuffling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Compute threads (the data pipeline uses one more).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Model width (fresh models).
    #[arg(long)]
    pub d_model: Option<usize>,
    /// Transformer blocks (fresh models).
    #[arg(long)]
    pub layers: Option<usize>,
    /// Attention heads (fresh models).
    #[arg(long)]
    pub heads: Option<usize>,
    /// Records per batch.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Peak learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Train with candle's differentiable compositions instead of the fused kernels (slower;
    /// for comparison).
    #[arg(long)]
    pub reference_kernels: bool,
}

impl RunArgs {
    pub(crate) fn apply(&self, o: &mut TrainOptions) {
        o.budget = (self.budget_secs > 0).then(|| Duration::from_secs(self.budget_secs));
        o.max_epochs = Some(self.max_epochs);
        o.seed = self.seed;
        o.scan.seed = self.seed;
        let m: &mut ModelConfig = &mut o.model;
        if let Some(d) = self.d_model {
            m.d_model = d;
            m.d_ff = 4 * d;
        }
        m.n_layers = self.layers.unwrap_or(m.n_layers);
        m.n_heads = self.heads.unwrap_or(m.n_heads);
        o.batch_size = self.batch_size.unwrap_or(o.batch_size);
        o.learning_rate = self.lr.unwrap_or(o.learning_rate);
        if self.reference_kernels {
            o.kernels = crate::model::Kernels::Reference;
        }
    }
}

#[derive(Args)]
struct TrainArgs {
    /// Directory of `*.jsonl` shards.
    #[arg(long)]
    data: PathBuf,
    /// Output model directory (must not exist, or be empty).
    #[arg(long)]
    out: PathBuf,
    /// Previous model to continue from when the shapes match.
    #[arg(long)]
    init_from: Option<PathBuf>,
    /// Version of the new model (vX.Y.Z).
    #[arg(long, default_value = "v0.1.0")]
    version: String,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args)]
struct EvalArgs {
    /// Model directory.
    #[arg(long)]
    model: PathBuf,
    /// Directory of `*.jsonl` shards.
    #[arg(long)]
    data: PathBuf,
    /// Greedy generations scored.
    #[arg(long, default_value_t = 300)]
    generations: usize,
    /// Compute threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

#[derive(Args)]
struct GenerateArgs {
    /// Model directory.
    #[arg(long)]
    model: PathBuf,
    /// The context as JSON (`{"exerciseType":"squat","setNumber":3,"strainPercentage":85,…}`).
    #[arg(long)]
    context: String,
    /// Sampling seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Sampling temperature (0 = greedy).
    #[arg(long, default_value_t = GenOptions::default().temperature)]
    temperature: f64,
    /// Most response tokens.
    #[arg(long, default_value_t = GenOptions::default().max_tokens)]
    max_tokens: usize,
    /// Lines to generate (seeds seed, seed+1, …).
    #[arg(long, default_value_t = 1)]
    count: u64,
}

#[derive(Args)]
struct SynthArgs {
    /// Records to write.
    #[arg(long)]
    records: u64,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Records per shard file.
    #[arg(long, default_value_t = 10_000)]
    shard_size: u64,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[derive(Args)]
pub(crate) struct BenchArgs {
    /// Synthetic records.
    #[arg(long)]
    pub records: u64,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Prints one JSON object as a line and flushes (a supervisor reads line by line).
pub(crate) fn emit(v: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

/// `{"event": name, …fields of value}`.
pub(crate) fn event<T: Serialize>(name: &str, value: &T) -> Value {
    let mut v = serde_json::to_value(value).unwrap_or(Value::Null);
    match v.as_object_mut() {
        Some(map) => {
            let mut ordered = serde_json::Map::new();
            ordered.insert("event".into(), json!(name));
            ordered.extend(std::mem::take(map).into_iter().filter(|(k, _)| k != "event"));
            Value::Object(ordered)
        }
        None => json!({ "event": name, "value": v }),
    }
}

/// Sets the number of compute threads candle uses. Call before any model work starts: candle
/// reads `RAYON_NUM_THREADS` when it runs a parallel kernel.
pub fn set_compute_threads(n: usize) {
    // SAFETY: called at the start of a CLI command, before this process spawns any thread of its
    // own; `run`'s contract asks embedders (the server's `train` subcommand) to do the same.
    unsafe {
        std::env::set_var("RAYON_NUM_THREADS", n.max(1).to_string());
    }
}

/// Runs the command line `args` (without the program name), printing JSON lines; returns the exit
/// code (0 success, 1 failure). Call it before the process starts other threads.
pub fn run(args: impl IntoIterator<Item = String>) -> i32 {
    let argv = std::iter::once("coach-trainer".to_string()).chain(args);
    let cli = match Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return 0;
        }
        Err(e) => {
            let _ = e.print();
            emit(&json!({ "event": "error", "message": e.kind().to_string() }));
            return 1;
        }
    };
    match dispatch(cli.cmd) {
        Ok(()) => 0,
        Err(e) => {
            emit(&json!({ "event": "error", "message": format!("{e:#}") }));
            1
        }
    }
}

fn dispatch(cmd: Cmd) -> Result<()> {
    match cmd {
        Cmd::Train(a) => {
            set_compute_threads(a.run.threads);
            let mut o = TrainOptions::new(&a.data, &a.out);
            o.init_from = a.init_from;
            o.version = a.version;
            a.run.apply(&mut o);
            let outcome = train(&o, &mut |p| emit(&event("progress", p)))?;
            emit(&json!({ "event": "done", "report": outcome.report }));
        }
        Cmd::Eval(a) => {
            set_compute_threads(a.threads);
            emit(&json!({ "event": "progress", "phase": "evaluation", "step": 0, "elapsed": 0.0 }));
            let r = crate::eval::evaluate_dir(&a.model, &a.data, &ScanOptions::default(), a.generations)?;
            emit(&json!({ "event": "done", "report": r }));
        }
        Cmd::Generate(a) => {
            set_compute_threads(1);
            let ctx: CoachContext =
                serde_json::from_str(&a.context).context("--context is not a context JSON object")?;
            ctx.validate().map_err(|f| anyhow::anyhow!("--context: invalid {f}"))?;
            let model = CoachModel::load(&a.model)?;
            for i in 0..a.count.max(1) {
                let opts = GenOptions {
                    seed: a.seed + i,
                    temperature: a.temperature,
                    max_tokens: a.max_tokens,
                    ..Default::default()
                };
                let g = model.generate(&ctx, opts)?;
                emit(
                    &json!({ "event": "generation", "text": g.text, "tone": g.tone, "modelVersion": model.version() }),
                );
            }
        }
        Cmd::Synth(a) => {
            let start = std::time::Instant::now();
            let shards = crate::synth::write_synthetic(&a.out, a.records, a.shard_size, a.seed)?;
            emit(&json!({ "event": "done", "records": a.records, "shards": shards, "dir": a.out,
                          "seconds": start.elapsed().as_secs_f64() }));
        }
        Cmd::Bench(a) => crate::bench::bench(&a)?,
    }
    Ok(())
}
