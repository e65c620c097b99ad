//! Serving: [`CoachModel`] loads a model directory and writes coaching lines. The first
//! generated token is constrained to a tone token (so every generation has a tone); after it only
//! text tokens and `<eos>` may follow (no prompt tokens inside a response), and at least one text
//! token is produced. Generation runs with a key/value cache, a few milliseconds per line.

use std::path::Path;

use anyhow::{Context, Result};
use coach_shared::limits::MAX_TEXT_CHARS;
use coach_shared::{SplitMix64, Tone};
use serde::{Deserialize, Serialize};

use crate::artifacts::ArtifactConfig;
use crate::data::CoachContext;
use crate::model::{Gpt, KvCache, ModelConfig, load_tensors};
use crate::tokenizer::CoachTokenizer;

/// How to sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenOptions {
    /// Seeds sampling: the same seed and context give the same line.
    pub seed: u64,
    /// 0 = greedy; higher = more varied.
    pub temperature: f64,
    /// Most response tokens (also bounded by the context length).
    pub max_tokens: usize,
    /// Sample among this many most likely tokens (0 = all).
    pub top_k: usize,
}

impl Default for GenOptions {
    fn default() -> Self {
        Self { seed: 0, temperature: 0.7, max_tokens: 80, top_k: 40 }
    }
}

impl GenOptions {
    /// Greedy decoding (evaluation).
    pub fn greedy() -> Self {
        Self { temperature: 0.0, ..Self::default() }
    }
}

/// A generated coaching line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Generation {
    /// The line (≤ 280 characters).
    pub text: String,
    /// The tone the model chose (its first token).
    pub tone: Tone,
    /// Response tokens generated.
    pub tokens: usize,
}

/// A loaded model, ready to generate. `Send + Sync`: share it behind an `Arc`.
pub struct CoachModel {
    gpt: Gpt,
    tok: CoachTokenizer,
    version: String,
    /// Ids allowed inside a response: text tokens and `<eos>`.
    text_ok: Vec<bool>,
}

impl CoachModel {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from a model directory.
    pub fn load(dir: &Path) -> Result<Self> {
        let cfg = ArtifactConfig::load(dir)?;
        let tok = CoachTokenizer::load(&dir.join("tokenizer.json"))?;
        let mc = cfg.model_config();
        anyhow::ensure!(
            tok.vocab_size() <= mc.vocab_size,
            "the tokenizer has {} entries but the model only {}",
            tok.vocab_size(),
            mc.vocab_size
        );
        let tensors = load_tensors(&dir.join("model.safetensors"), &mc)?;
        let gpt = Gpt::new(mc, &tensors).with_context(|| format!("cannot build the model of {}", dir.display()))?;
        Ok(Self::from_parts(gpt, tok, cfg.version))
    }

    /// A model from weights and a tokenizer in memory.
    pub fn from_parts(gpt: Gpt, tok: CoachTokenizer, version: String) -> Self {
        let text_ok = (0..gpt.cfg.vocab_size as u32)
            .map(|id| (id as usize) < tok.vocab_size() && (!tok.is_special(id) || id == tok.ids.eos))
            .collect();
        Self { gpt, tok, version, text_ok }
    }

    /// The model's version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The network shape.
    pub fn config(&self) -> &ModelConfig {
        &self.gpt.cfg
    }

    /// The vocabulary.
    pub fn tokenizer(&self) -> &CoachTokenizer {
        &self.tok
    }

    /// The network.
    pub fn network(&self) -> &Gpt {
        &self.gpt
    }

    /// Next-token logits right after the prompt of `ctx` (the tone decision), over the whole
    /// vocabulary.
    pub fn prompt_logits(&self, ctx: &CoachContext) -> Result<Vec<f32>> {
        let mut cache = KvCache::default();
        Ok(self.gpt.step(&self.tok.prompt_ids(ctx), &mut cache)?.to_vec1()?)
    }

    /// Writes a coaching line for `ctx`.
    pub fn generate(&self, ctx: &CoachContext, opts: GenOptions) -> Result<Generation> {
        let mut rng = SplitMix64::new(opts.seed ^ 0x000C_0AC4);
        let prompt = self.tok.prompt_ids(ctx);
        let context = self.gpt.cfg.context;
        let mut cache = KvCache::default();
        let logits: Vec<f32> = self.gpt.step(&prompt, &mut cache)?.to_vec1()?;
        let tones = self.tok.ids.tones;
        let tone_id = pick(&logits, |id| tones.contains(&id), &opts, &mut rng).unwrap_or(tones[1]);
        let tone = self.tok.tone_of(tone_id).unwrap_or(Tone::Neutral);
        let mut out: Vec<u32> = Vec::new();
        let mut next = tone_id;
        while out.len() < opts.max_tokens && cache.len() < context {
            let logits: Vec<f32> = self.gpt.step(&[next], &mut cache)?.to_vec1()?;
            let eos = self.tok.ids.eos;
            let first = out.is_empty();
            let allowed = |id: u32| self.text_ok.get(id as usize).copied().unwrap_or(false) && !(first && id == eos);
            let Some(id) = pick(&logits, allowed, &opts, &mut rng) else { break };
            if id == eos {
                break;
            }
            out.push(id);
            next = id;
        }
        let text = cap_text(self.tok.decode(&out)?.trim(), MAX_TEXT_CHARS);
        Ok(Generation { text, tone, tokens: out.len() })
    }
}

/// Picks a token among the allowed ids: the most likely one (temperature 0), or a sample from the
/// top-k of the tempered distribution.
fn pick(logits: &[f32], allowed: impl Fn(u32) -> bool, opts: &GenOptions, rng: &mut SplitMix64) -> Option<u32> {
    let mut cand: Vec<(u32, f32)> = logits
        .iter()
        .enumerate()
        .filter(|(i, l)| allowed(*i as u32) && l.is_finite())
        .map(|(i, l)| (i as u32, *l))
        .collect();
    if cand.is_empty() {
        return None;
    }
    cand.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    if opts.temperature <= 0.0 {
        return Some(cand[0].0);
    }
    if opts.top_k > 0 {
        cand.truncate(opts.top_k);
    }
    let max = cand[0].1 as f64;
    let weights: Vec<f64> = cand.iter().map(|(_, l)| ((*l as f64 - max) / opts.temperature).exp()).collect();
    let total: f64 = weights.iter().sum();
    let mut u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
    for ((id, _), w) in cand.iter().zip(&weights) {
        if u < *w {
            return Some(*id);
        }
        u -= w;
    }
    cand.last().map(|c| c.0)
}

/// Shortens `text` to at most `max` characters, at a sentence end when one is in the second half,
/// else at a word boundary.
pub fn cap_text(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    let half = cut.len() / 2;
    if let Some(i) = cut.rfind(['.', '!', '?']).filter(|i| *i >= half) {
        return cut[..=i].to_string();
    }
    match cut.rfind(char::is_whitespace) {
        Some(i) if i > 0 => cut[..i].trim_end().to_string(),
        _ => cut,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_text_at_sentences_or_words() {
        assert_eq!(cap_text("short", 280), "short");
        let long = format!("{} End here. {}", "word ".repeat(40), "more ".repeat(40));
        let c = cap_text(&long, 280);
        assert!(c.ends_with("End here.") && c.chars().count() <= 280, "{c}");
        let c = cap_text(&"abcdefghij ".repeat(40), 280);
        assert!(c.chars().count() <= 280 && c.ends_with('j'));
    }

    #[test]
    fn picking_respects_the_allowed_set_and_seed() {
        let logits = [5.0, 1.0, 3.0, f32::NEG_INFINITY];
        let g = GenOptions::greedy();
        let mut rng = SplitMix64::new(1);
        assert_eq!(pick(&logits, |_| true, &g, &mut rng), Some(0));
        assert_eq!(pick(&logits, |i| i != 0, &g, &mut rng), Some(2));
        assert_eq!(pick(&logits, |i| i == 3, &g, &mut rng), None);
        let o = GenOptions { temperature: 1.0, top_k: 2, ..Default::default() };
        let a: Vec<_> = (0..50).map(|s| pick(&logits, |_| true, &o, &mut SplitMix64::new(s))).collect();
        let b: Vec<_> = (0..50).map(|s| pick(&logits, |_| true, &o, &mut SplitMix64::new(s))).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|x| matches!(x, Some(0) | Some(2))));
        assert!(a.contains(&Some(2)));
    }
}
