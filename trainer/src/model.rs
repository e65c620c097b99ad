//! The network: a GPT-style decoder-only transformer in candle (token + learned position
//! embeddings, pre-norm blocks of causal multi-head attention and a ReLU MLP, a final LayerNorm,
//! and an output head tied to the token embedding).
//!
//! Training must not use candle's fast LayerNorm or `softmax_last_dim`: they have no backward
//! pass, and the gradients would be silently missing. The network runs the fused kernels of
//! [`crate::fused`] (with backward passes, checked against candle's differentiable compositions),
//! or those compositions themselves ([`Kernels::Reference`]); `tests/gradients.rs` checks that
//! every parameter receives a gradient either way.
//!
//! Parameters are named like GPT-2 on the Hugging Face Hub (`wte.weight`, `h.0.attn.c_attn.weight`,
//! …); linear weights are stored `(in, out)` as GPT-2's `Conv1D` does.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::ops;
use coach_shared::SplitMix64;
use serde::{Deserialize, Serialize};

use crate::fused;

const LN_EPS: f32 = 1e-5;

/// The shape of the network. Two models can continue from one another only if these are equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelConfig {
    /// Rows of the embedding (≥ the tokenizer's vocabulary; unused rows are never produced).
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub d_model: usize,
    /// Transformer blocks.
    pub n_layers: usize,
    /// Attention heads (must divide `d_model`).
    pub n_heads: usize,
    /// Width of the MLP's hidden layer.
    pub d_ff: usize,
    /// Longest sequence (prompt + target) the model sees.
    pub context: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self { vocab_size: 1024, d_model: 64, n_layers: 2, n_heads: 4, d_ff: 256, context: 96 }
    }
}

impl ModelConfig {
    /// Checks that the shape is buildable.
    pub fn validate(&self) -> Result<()> {
        ensure!(self.vocab_size >= 300 && self.vocab_size <= 65_536, "vocab_size must be 300–65536");
        ensure!(
            self.d_model >= 8 && self.n_heads >= 1 && self.d_model.is_multiple_of(self.n_heads),
            "n_heads must divide d_model"
        );
        ensure!(self.n_layers >= 1 && self.d_ff >= 8, "n_layers and d_ff must be positive");
        ensure!((32..=1024).contains(&self.context), "context must be 32–1024");
        Ok(())
    }

    /// The name and shape of every parameter, in a fixed order.
    pub fn parameter_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let (d, f) = (self.d_model, self.d_ff);
        let mut v = vec![("wte.weight".into(), vec![self.vocab_size, d]), ("wpe.weight".into(), vec![self.context, d])];
        for i in 0..self.n_layers {
            let p = |s: &str| format!("h.{i}.{s}");
            v.extend([
                (p("ln_1.weight"), vec![d]),
                (p("ln_1.bias"), vec![d]),
                (p("attn.c_attn.weight"), vec![d, 3 * d]),
                (p("attn.c_attn.bias"), vec![3 * d]),
                (p("attn.c_proj.weight"), vec![d, d]),
                (p("attn.c_proj.bias"), vec![d]),
                (p("ln_2.weight"), vec![d]),
                (p("ln_2.bias"), vec![d]),
                (p("mlp.c_fc.weight"), vec![d, f]),
                (p("mlp.c_fc.bias"), vec![f]),
                (p("mlp.c_proj.weight"), vec![f, d]),
                (p("mlp.c_proj.bias"), vec![d]),
            ]);
        }
        v.extend([("ln_f.weight".into(), vec![d]), ("ln_f.bias".into(), vec![d])]);
        v
    }

    /// Trainable numbers in all.
    pub fn parameter_count(&self) -> usize {
        self.parameter_shapes().iter().map(|(_, s)| s.iter().product::<usize>()).sum()
    }

    /// What differs from `other`, or `None` when the shapes match.
    pub fn mismatch(&self, other: &ModelConfig) -> Option<String> {
        let pairs = [
            ("vocabSize", self.vocab_size, other.vocab_size),
            ("dModel", self.d_model, other.d_model),
            ("nLayers", self.n_layers, other.n_layers),
            ("nHeads", self.n_heads, other.n_heads),
            ("dFf", self.d_ff, other.d_ff),
            ("context", self.context, other.context),
        ];
        let diffs: Vec<String> =
            pairs.iter().filter(|(_, a, b)| a != b).map(|(n, a, b)| format!("{n} {b} → {a}")).collect();
        (!diffs.is_empty()).then(|| diffs.join(", "))
    }
}

/// The trainable parameters, by name.
pub struct ParamStore {
    /// Name → variable.
    pub vars: BTreeMap<String, Var>,
}

impl ParamStore {
    /// Fresh parameters: N(0, 0.02) weights (residual projections scaled by 1/√(2·layers)), zero
    /// biases, unit LayerNorm gains; seeded, so a run is reproducible.
    pub fn init(cfg: &ModelConfig, seed: u64) -> Result<Self> {
        cfg.validate()?;
        let mut rng = SplitMix64::new(seed ^ 0x5EED_C0AC);
        let resid_std = 0.02 / (2.0 * cfg.n_layers as f64).sqrt();
        let mut vars = BTreeMap::new();
        for (name, shape) in cfg.parameter_shapes() {
            let n: usize = shape.iter().product();
            let data: Vec<f32> = if name.ends_with(".bias") {
                vec![0.0; n]
            } else if name.contains("ln_") {
                vec![1.0; n]
            } else {
                let std = if name.ends_with("c_proj.weight") { resid_std } else { 0.02 };
                (0..n).map(|_| (normal(&mut rng) * std) as f32).collect()
            };
            vars.insert(name, Var::from_tensor(&Tensor::from_vec(data, shape, &Device::Cpu)?)?);
        }
        Ok(Self { vars })
    }

    /// Parameters read from a safetensors file, checked against `cfg`.
    pub fn load(path: &Path, cfg: &ModelConfig) -> Result<Self> {
        let tensors = load_tensors(path, cfg)?;
        let vars = tensors.into_iter().map(|(k, t)| Ok((k, Var::from_tensor(&t)?))).collect::<Result<_>>()?;
        Ok(Self { vars })
    }

    /// The variables, for the optimizer.
    pub fn all_vars(&self) -> Vec<Var> {
        self.vars.values().cloned().collect()
    }

    /// The current values by name (tracked: gradients flow back to the variables).
    pub fn tensors(&self) -> HashMap<String, Tensor> {
        self.vars.iter().map(|(k, v)| (k.clone(), v.as_tensor().clone())).collect()
    }
}

/// Reads a safetensors file and checks it has exactly the parameters of `cfg`.
pub fn load_tensors(path: &Path, cfg: &ModelConfig) -> Result<HashMap<String, Tensor>> {
    let tensors = candle_core::safetensors::load(path, &Device::Cpu)
        .with_context(|| format!("cannot read weights {}", path.display()))?;
    let shapes = cfg.parameter_shapes();
    ensure!(
        tensors.len() == shapes.len(),
        "{} holds {} tensors, expected {}",
        path.display(),
        tensors.len(),
        shapes.len()
    );
    let mut out = HashMap::new();
    for (name, shape) in shapes {
        let t = tensors.get(&name).with_context(|| format!("{} lacks {name}", path.display()))?;
        ensure!(t.dims() == shape.as_slice(), "{name} has shape {:?}, expected {shape:?}", t.dims());
        out.insert(name, t.to_dtype(DType::F32)?);
    }
    Ok(out)
}

/// Writes tensors as safetensors, world-readable (the library leaves its temp file mode 0600).
pub fn save_tensors(tensors: &HashMap<String, Tensor>, path: &Path) -> Result<()> {
    candle_core::safetensors::save(tensors, path).with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))?;
    }
    Ok(())
}

fn normal(rng: &mut SplitMix64) -> f64 {
    let u1 = ((rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    let u2 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Which implementation of LayerNorm, causal softmax and cross-entropy the network runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernels {
    /// The fused kernels of [`crate::fused`] (one pass each way): training and serving.
    Fused,
    /// candle's differentiable compositions (`ops::layer_norm_slow`, additive mask +
    /// `ops::softmax`, `log_softmax`): slower; the reference the fused kernels are tested against.
    Reference,
}

struct Block {
    ln1: (Tensor, Tensor),
    attn: (Tensor, Tensor),
    proj: (Tensor, Tensor),
    ln2: (Tensor, Tensor),
    fc: (Tensor, Tensor),
    out: (Tensor, Tensor),
}

/// Keys and values of the positions already seen, per layer (fast autoregressive generation).
#[derive(Default)]
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
    len: usize,
}

impl KvCache {
    /// Positions cached so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The network, built over a set of parameter tensors.
pub struct Gpt {
    /// Its shape.
    pub cfg: ModelConfig,
    wte: Tensor,
    wpe: Tensor,
    blocks: Vec<Block>,
    ln_f: (Tensor, Tensor),
    mask: Tensor,
}

impl Gpt {
    /// Builds the network over `tensors` (from [`ParamStore::tensors`] or [`load_tensors`]).
    pub fn new(cfg: ModelConfig, tensors: &HashMap<String, Tensor>) -> Result<Self> {
        cfg.validate()?;
        for (name, shape) in cfg.parameter_shapes() {
            let t = tensors.get(&name).with_context(|| format!("missing parameter {name}"))?;
            ensure!(t.dims() == shape.as_slice(), "{name} has shape {:?}, expected {shape:?}", t.dims());
        }
        let g = |n: String| tensors[&n].clone();
        let pair = |p: String| (g(format!("{p}.weight")), g(format!("{p}.bias")));
        let blocks = (0..cfg.n_layers)
            .map(|i| Block {
                ln1: pair(format!("h.{i}.ln_1")),
                attn: pair(format!("h.{i}.attn.c_attn")),
                proj: pair(format!("h.{i}.attn.c_proj")),
                ln2: pair(format!("h.{i}.ln_2")),
                fc: pair(format!("h.{i}.mlp.c_fc")),
                out: pair(format!("h.{i}.mlp.c_proj")),
            })
            .collect();
        let c = cfg.context;
        let mask: Vec<f32> = (0..c * c).map(|k| if k % c > k / c { -1e9 } else { 0.0 }).collect();
        Ok(Self {
            cfg,
            wte: g("wte.weight".into()),
            wpe: g("wpe.weight".into()),
            blocks,
            ln_f: pair("ln_f".into()),
            mask: Tensor::from_vec(mask, (c, c), &Device::Cpu)?,
        })
    }

    fn ln(x: &Tensor, p: &(Tensor, Tensor), k: Kernels) -> candle_core::Result<Tensor> {
        match k {
            Kernels::Fused => fused::layer_norm(x, &p.0, &p.1, LN_EPS),
            Kernels::Reference => ops::layer_norm_slow(x, &p.0, &p.1, LN_EPS),
        }
    }

    fn linear(x: &Tensor, p: &(Tensor, Tensor), k: Kernels) -> candle_core::Result<Tensor> {
        match k {
            Kernels::Fused => fused::add_bias(&x.matmul(&p.0)?, &p.1),
            Kernels::Reference => x.matmul(&p.0)?.broadcast_add(&p.1),
        }
    }

    /// Self-attention of `t` new positions (rows of `x`, batch `b`) over themselves and the cache.
    fn attention(
        &self,
        blk: &Block,
        x: &Tensor,
        (b, t, past): (usize, usize, usize),
        cache: Option<&mut Option<(Tensor, Tensor)>>,
        kernels: Kernels,
    ) -> Result<Tensor> {
        let (d, h) = (self.cfg.d_model, self.cfg.n_heads);
        let hd = d / h;
        let qkv = Self::linear(x, &blk.attn, kernels)?.reshape((b, t, 3, h, hd))?.permute((2, 0, 3, 1, 4))?;
        let q = qkv.get(0)?.contiguous()?;
        let mut k = qkv.get(1)?.contiguous()?;
        let mut v = qkv.get(2)?.contiguous()?;
        if let Some(slot) = cache {
            if let Some((pk, pv)) = slot.as_ref() {
                k = Tensor::cat(&[pk, &k], 2)?;
                v = Tensor::cat(&[pv, &v], 2)?;
            }
            *slot = Some((k.clone(), v.clone()));
        }
        let q = (q * (1.0 / (hd as f64).sqrt()))?;
        let att = q.matmul(&k.t()?)?;
        let att = match kernels {
            Kernels::Fused => fused::causal_softmax(&att, past)?,
            Kernels::Reference => {
                let mask = self.mask.narrow(0, past, t)?.narrow(1, 0, past + t)?;
                ops::softmax(&att.broadcast_add(&mask)?, D::Minus1)?
            }
        };
        let y = att.matmul(&v)?.transpose(1, 2)?.reshape((b * t, d))?;
        Ok(Self::linear(&y, &blk.proj, kernels)?)
    }

    fn blocks(
        &self,
        mut x: Tensor,
        dims: (usize, usize, usize),
        mut cache: Option<&mut KvCache>,
        k: Kernels,
    ) -> Result<Tensor> {
        for (i, blk) in self.blocks.iter().enumerate() {
            let slot = cache.as_deref_mut().map(|c| &mut c.layers[i]);
            let a = self.attention(blk, &Self::ln(&x, &blk.ln1, k)?, dims, slot, k)?;
            x = (x + a)?;
            let m = Self::linear(&Self::linear(&Self::ln(&x, &blk.ln2, k)?, &blk.fc, k)?.relu()?, &blk.out, k)?;
            x = (x + m)?;
        }
        Ok(Self::ln(&x, &self.ln_f, k)?)
    }

    /// Final hidden states `(b·t, d)` of a padded batch of token ids `(b, t)`.
    pub fn hidden(&self, ids: &Tensor, k: Kernels) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        ensure!(t <= self.cfg.context, "sequence of {t} tokens exceeds the context of {}", self.cfg.context);
        let d = self.cfg.d_model;
        let tok = self.wte.index_select(&ids.flatten_all()?, 0)?.reshape((b, t, d))?;
        let x = tok.broadcast_add(&self.wpe.narrow(0, 0, t)?)?.reshape((b * t, d))?;
        self.blocks(x, (b, t, 0), None, k)
    }

    /// Logits `(n, vocab)` for the selected rows of [`Gpt::hidden`]'s output.
    pub fn logits_at(&self, hidden: &Tensor, rows: &Tensor) -> Result<Tensor> {
        Ok(hidden.index_select(rows, 0)?.matmul(&self.wte.t()?)?)
    }

    /// Summed cross-entropy (nats) of `targets` predicted at `rows` of a batch of `ids`.
    pub fn loss_sum(&self, ids: &Tensor, rows: &Tensor, targets: &Tensor, k: Kernels) -> Result<Tensor> {
        let logits = self.logits_at(&self.hidden(ids, k)?, rows)?;
        Ok(match k {
            Kernels::Fused => fused::cross_entropy(&logits, targets)?.sum_all()?,
            Kernels::Reference => {
                let logp = ops::log_softmax(&logits, D::Minus1)?;
                logp.gather(&targets.unsqueeze(1)?, 1)?.sum_all()?.neg()?
            }
        })
    }

    /// Runs `ids` after the cached positions and returns the next-token logits `(vocab,)`.
    pub fn step(&self, ids: &[u32], cache: &mut KvCache) -> Result<Tensor> {
        let (t, past) = (ids.len(), cache.len);
        if t == 0 {
            bail!("no tokens to run");
        }
        ensure!(past + t <= self.cfg.context, "sequence exceeds the context of {}", self.cfg.context);
        if cache.layers.len() != self.cfg.n_layers {
            cache.layers = vec![None; self.cfg.n_layers];
        }
        let d = self.cfg.d_model;
        let ids_t = Tensor::from_slice(ids, t, &Device::Cpu)?;
        let x = self.wte.index_select(&ids_t, 0)?.add(&self.wpe.narrow(0, past, t)?)?.reshape((t, d))?;
        let h = self.blocks(x, (1, t, past), Some(cache), Kernels::Fused)?;
        cache.len += t;
        let last = h.narrow(0, t - 1, 1)?;
        Ok(last.matmul(&self.wte.t()?)?.squeeze(0)?)
    }

    /// All parameter tensors by name (for saving).
    pub fn tensors(&self) -> HashMap<String, Tensor> {
        let mut m = HashMap::new();
        m.insert("wte.weight".into(), self.wte.clone());
        m.insert("wpe.weight".into(), self.wpe.clone());
        for (i, b) in self.blocks.iter().enumerate() {
            for (n, p) in [
                ("ln_1", &b.ln1),
                ("attn.c_attn", &b.attn),
                ("attn.c_proj", &b.proj),
                ("ln_2", &b.ln2),
                ("mlp.c_fc", &b.fc),
                ("mlp.c_proj", &b.out),
            ] {
                m.insert(format!("h.{i}.{n}.weight"), p.0.clone());
                m.insert(format!("h.{i}.{n}.bias"), p.1.clone());
            }
        }
        m.insert("ln_f.weight".into(), self.ln_f.0.clone());
        m.insert("ln_f.bias".into(), self.ln_f.1.clone());
        m
    }

    /// A copy whose tensors no longer track gradients or share storage with training variables.
    pub fn detached(&self) -> Result<Self> {
        let t: HashMap<String, Tensor> =
            self.tensors().into_iter().map(|(k, v)| Ok((k, v.detach().copy()?))).collect::<Result<_>>()?;
        Self::new(self.cfg, &t)
    }
}
