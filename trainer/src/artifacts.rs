//! The model directory, in Hugging Face layout: `config.json` (architecture, vocabulary, special
//! tokens, version, lineage), `model.safetensors` (mode 0644), `tokenizer.json`,
//! `generation_config.json`, `training_report.json` and the `README.md` model card. The directory
//! is written under a temporary name next to its destination and renamed into place, so a reader
//! never sees half a model.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::model::{Gpt, ModelConfig, save_tensors};
use crate::report::TrainingReport;
use crate::tokenizer::{CoachTokenizer, EOS, PAD, SEP};

/// Bumped when the layout or the prompt format changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;
/// `config.json`'s `model_type`.
pub const MODEL_TYPE: &str = "coach-gpt";

/// `config.json` (GPT-2-style field names, plus the coach prompt format).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactConfig {
    /// `["CoachGptLMHeadModel"]`.
    pub architectures: Vec<String>,
    /// [`MODEL_TYPE`].
    pub model_type: String,
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The model's semantic version (`vX.Y.Z`).
    pub version: String,
    /// Embedding rows.
    pub vocab_size: usize,
    /// Entries of `tokenizer.json` (≤ `vocab_size`).
    pub tokenizer_vocab_size: usize,
    /// Residual width.
    pub n_embd: usize,
    /// Blocks.
    pub n_layer: usize,
    /// Attention heads.
    pub n_head: usize,
    /// MLP width.
    pub n_inner: usize,
    /// Context length.
    pub n_positions: usize,
    /// `relu`.
    pub activation_function: String,
    /// LayerNorm epsilon.
    pub layer_norm_epsilon: f64,
    /// The output head is the token embedding.
    pub tie_word_embeddings: bool,
    /// `float32`.
    pub torch_dtype: String,
    /// `<pad>` id.
    pub pad_token_id: u32,
    /// `<eos>` id.
    pub eos_token_id: u32,
    /// `<sep>` id (end of the prompt).
    pub sep_token_id: u32,
    /// Tone tokens → ids.
    pub tone_token_ids: std::collections::BTreeMap<String, u32>,
    /// Exercise types with their own prompt token.
    pub exercise_tokens: Vec<String>,
    /// How a prompt is built (documentation for other consumers).
    pub prompt_format: String,
    /// `fresh` or `continued`.
    pub init: String,
    /// The version the weights continued from.
    pub base_model: Option<String>,
    /// `coach-trainer x.y.z`.
    pub trainer: String,
    /// RFC 3339 time of writing.
    pub created_at: String,
}

impl ArtifactConfig {
    /// Describes a trained network.
    pub fn describe(cfg: &ModelConfig, tok: &CoachTokenizer, version: &str, base: Option<&str>) -> Self {
        let tone_token_ids =
            coach_shared::Tone::ALL.iter().map(|t| (crate::tokenizer::tone_token(*t), tok.tone_id(*t))).collect();
        Self {
            architectures: vec!["CoachGptLMHeadModel".into()],
            model_type: MODEL_TYPE.into(),
            format_version: FORMAT_VERSION,
            version: version.into(),
            vocab_size: cfg.vocab_size,
            tokenizer_vocab_size: tok.vocab_size(),
            n_embd: cfg.d_model,
            n_layer: cfg.n_layers,
            n_head: cfg.n_heads,
            n_inner: cfg.d_ff,
            n_positions: cfg.context,
            activation_function: "relu".into(),
            layer_norm_epsilon: 1e-5,
            tie_word_embeddings: true,
            torch_dtype: "float32".into(),
            pad_token_id: tok.ids.pad,
            eos_token_id: tok.ids.eos,
            sep_token_id: tok.ids.sep,
            tone_token_ids,
            exercise_tokens: tok.exercises().to_vec(),
            prompt_format: format!(
                "<ex:TYPE|other> <set:BUCKET> <strain:BUCKET> <sleep:BUCKET> <skip:no|yes> <tag:TAG>* {SEP} \
                 <tone:whisper|neutral|hype> RESPONSE {EOS}; padding {PAD}; loss on the tone, response and {EOS}"
            ),
            init: if base.is_some() { "continued".into() } else { "fresh".into() },
            base_model: base.map(str::to_string),
            trainer: format!("coach-trainer {}", env!("CARGO_PKG_VERSION")),
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }

    /// The network shape it records.
    pub fn model_config(&self) -> ModelConfig {
        ModelConfig {
            vocab_size: self.vocab_size,
            d_model: self.n_embd,
            n_layers: self.n_layer,
            n_heads: self.n_head,
            d_ff: self.n_inner,
            context: self.n_positions,
        }
    }

    /// Reads and checks `dir/config.json`.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let cfg: Self =
            serde_json::from_str(&text).with_context(|| format!("{} is not a coach model config", path.display()))?;
        if cfg.model_type != MODEL_TYPE || cfg.format_version != FORMAT_VERSION {
            bail!(
                "{} is a {} v{} model, expected {MODEL_TYPE} v{FORMAT_VERSION}",
                dir.display(),
                cfg.model_type,
                cfg.format_version
            );
        }
        cfg.model_config().validate()?;
        Ok(cfg)
    }
}

/// `generation_config.json`: the sampling defaults of serving.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GenerationConfig {
    /// Where generation stops.
    pub eos_token_id: u32,
    /// Padding id.
    pub pad_token_id: u32,
    /// The prompt ends with this id.
    pub sep_token_id: u32,
    /// Most response tokens.
    pub max_new_tokens: usize,
    /// Serving samples (evaluation is greedy).
    pub do_sample: bool,
    /// Sampling temperature.
    pub temperature: f64,
    /// Candidates per step.
    pub top_k: usize,
}

/// Everything that goes into a model directory.
pub struct ModelArtifacts<'a> {
    /// The weights.
    pub gpt: &'a Gpt,
    /// The vocabulary.
    pub tokenizer: &'a CoachTokenizer,
    /// `config.json`.
    pub config: &'a ArtifactConfig,
    /// `generation_config.json`.
    pub generation: &'a GenerationConfig,
    /// `training_report.json` and the card's numbers.
    pub report: &'a TrainingReport,
}

/// Fails unless `out` is absent or an empty directory (never overwrite a model).
pub fn check_destination(out: &Path) -> Result<()> {
    if out.exists() {
        let empty = out.is_dir() && std::fs::read_dir(out)?.next().is_none();
        if !empty {
            bail!("the output directory {} already exists and is not empty", out.display());
        }
    }
    Ok(())
}

/// Writes the directory atomically: into a sibling temp dir, then renamed to `out`.
pub fn write_model_dir(out: &Path, a: &ModelArtifacts<'_>) -> Result<PathBuf> {
    check_destination(out)?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).with_context(|| format!("cannot create {}", parent.display()))?;
    let name = out.file_name().context("the output directory needs a name")?.to_string_lossy().to_string();
    let tmp = tempfile::Builder::new().prefix(&format!(".{name}.tmp-")).tempdir_in(&parent)?;
    let dir = tmp.path();
    save_tensors(&a.gpt.tensors(), &dir.join("model.safetensors"))?;
    a.tokenizer.save(&dir.join("tokenizer.json"))?;
    write_json(&dir.join("config.json"), a.config)?;
    write_json(&dir.join("generation_config.json"), a.generation)?;
    write_json(&dir.join("training_report.json"), a.report)?;
    std::fs::write(dir.join("README.md"), crate::card::model_card(a.config, a.report))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    }
    if out.exists() {
        std::fs::remove_dir(out).with_context(|| format!("cannot replace the empty directory {}", out.display()))?;
    }
    let kept = tmp.keep();
    if let Err(e) = std::fs::rename(&kept, out) {
        let _ = std::fs::remove_dir_all(&kept);
        return Err(e).with_context(|| format!("cannot move the model into {}", out.display()));
    }
    Ok(out.to_path_buf())
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// The files a complete model directory holds.
pub const MODEL_FILES: [&str; 6] = [
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "generation_config.json",
    "training_report.json",
    "README.md",
];
