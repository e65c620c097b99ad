//! Fused CPU kernels **with backward passes** for the element-wise-heavy parts of the network:
//! cross-entropy over the vocabulary, causal softmax over attention scores, LayerNorm, and bias
//! addition.
//!
//! candle's fast `LayerNorm`/`softmax_last_dim` have no backward pass (gradients silently go
//! missing), and the differentiable compositions (`ops::layer_norm_slow`, `ops::softmax`,
//! `log_softmax`) cost a dozen tensor passes each way, plus a zero-fill per operand in candle's
//! backward. Each kernel here is one pass forward and one pass backward. The tests check values
//! and gradients against those reference compositions, and `tests/gradients.rs` checks that
//! every parameter of the model receives a gradient.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Error, Layout, Result, Shape, Tensor};

fn f32s<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else { return Err(Error::Msg(format!("{what}: f32 expected"))) };
    let (a, b) = l.contiguous_offsets().ok_or_else(|| Error::Msg(format!("{what}: contiguous input expected")))?;
    Ok(&v[a..b])
}

fn u32s<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [u32]> {
    let CpuStorage::U32(v) = s else { return Err(Error::Msg(format!("{what}: u32 expected"))) };
    let (a, b) = l.contiguous_offsets().ok_or_else(|| Error::Msg(format!("{what}: contiguous input expected")))?;
    Ok(&v[a..b])
}

fn last_dim(l: &Layout) -> Result<usize> {
    l.dims().last().copied().filter(|d| *d > 0).ok_or_else(|| Error::Msg("empty last dimension".into()))
}

// ---------------------------------------------------------------------------------------------
// cross-entropy

/// Per-row cross-entropy `logsumexp(logits) − logits[target]` of `logits (n, v)` and
/// `targets (n,)` (u32), differentiable in the logits.
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    logits.contiguous()?.apply_op2(&targets.contiguous()?, CrossEntropy)
}

struct CrossEntropy;

/// Row statistics: max and Σ exp(x − max).
fn row_lse(row: &[f32]) -> (f32, f32) {
    let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    (m, row.iter().map(|x| (x - m).exp()).sum())
}

impl CustomOp2 for CrossEntropy {
    fn name(&self) -> &'static str {
        "coach-cross-entropy"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32s(s1, l1, "cross_entropy logits")?;
        let t = u32s(s2, l2, "cross_entropy targets")?;
        let v = last_dim(l1)?;
        if x.len() != t.len() * v {
            return Err(Error::Msg(format!("cross_entropy: {} logits for {} targets", x.len(), t.len())));
        }
        let mut out = Vec::with_capacity(t.len());
        for (row, &target) in x.chunks_exact(v).zip(t) {
            let target = target as usize;
            if target >= v {
                return Err(Error::Msg(format!("cross_entropy: target {target} outside a vocabulary of {v}")));
            }
            let (m, s) = row_lse(row);
            out.push(s.ln() + m - row[target]);
        }
        Ok((CpuStorage::F32(out), Shape::from(t.len())))
    }

    fn bwd(
        &self,
        logits: &Tensor,
        targets: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let g = logits.apply_op3_no_bwd(targets, &grad.contiguous()?, &CrossEntropyGrad)?;
        Ok((Some(g), None))
    }
}

/// (softmax(logits) − onehot(target)) · grad_row.
struct CrossEntropyGrad;

impl CustomOp3 for CrossEntropyGrad {
    fn name(&self) -> &'static str {
        "coach-cross-entropy-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32s(s1, l1, "cross_entropy grad logits")?;
        let t = u32s(s2, l2, "cross_entropy grad targets")?;
        let gr = f32s(s3, l3, "cross_entropy grad")?;
        let v = last_dim(l1)?;
        let mut out = vec![0f32; x.len()];
        for (((row, o), &target), &g) in x.chunks_exact(v).zip(out.chunks_exact_mut(v)).zip(t).zip(gr) {
            let (m, s) = row_lse(row);
            let k = g / s;
            for (o, &xi) in o.iter_mut().zip(row) {
                *o = (xi - m).exp() * k;
            }
            o[target as usize] -= g;
        }
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

// ---------------------------------------------------------------------------------------------
// causal softmax

/// Softmax over the last dimension of attention scores `(…, t, s)`, where query row `i` (of the
/// `t` new positions, after `past` cached ones) may only attend to keys `j ≤ past + i`; masked
/// entries get probability 0. Differentiable.
pub fn causal_softmax(scores: &Tensor, past: usize) -> Result<Tensor> {
    scores.contiguous()?.apply_op1(CausalSoftmax { past })
}

struct CausalSoftmax {
    past: usize,
}

impl CustomOp1 for CausalSoftmax {
    fn name(&self) -> &'static str {
        "coach-causal-softmax"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32s(s, l, "causal_softmax")?;
        let dims = l.dims();
        if dims.len() < 2 {
            return Err(Error::Msg("causal_softmax: (…, t, s) expected".into()));
        }
        let (t, n) = (dims[dims.len() - 2], dims[dims.len() - 1]);
        let mut out = vec![0f32; x.len()];
        for (r, (row, o)) in x.chunks_exact(n).zip(out.chunks_exact_mut(n)).enumerate() {
            let visible = (self.past + r % t + 1).min(n);
            let row = &row[..visible];
            let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0f32;
            for (o, &xi) in o.iter_mut().zip(row) {
                *o = (xi - m).exp();
                sum += *o;
            }
            let inv = 1.0 / sum;
            for o in &mut o[..visible] {
                *o *= inv;
            }
        }
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(res.apply_op2_no_bwd(&grad.contiguous()?, &SoftmaxGrad)?))
    }
}

/// p ⊙ (g − Σ p·g) per row.
struct SoftmaxGrad;

impl CustomOp2 for SoftmaxGrad {
    fn name(&self) -> &'static str {
        "coach-softmax-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let p = f32s(s1, l1, "softmax grad probabilities")?;
        let g = f32s(s2, l2, "softmax grad")?;
        let n = last_dim(l1)?;
        let mut out = vec![0f32; p.len()];
        for ((pr, gr), o) in p.chunks_exact(n).zip(g.chunks_exact(n)).zip(out.chunks_exact_mut(n)) {
            let dot: f32 = pr.iter().zip(gr).map(|(a, b)| a * b).sum();
            for ((o, &pi), &gi) in o.iter_mut().zip(pr).zip(gr) {
                *o = pi * (gi - dot);
            }
        }
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

// ---------------------------------------------------------------------------------------------
// layer norm

/// LayerNorm over the last dimension: `(x − mean) / √(var + eps) · weight + bias`.
/// Differentiable in `x`, `weight` and `bias`.
pub fn layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f32) -> Result<Tensor> {
    x.contiguous()?.apply_op3(&weight.contiguous()?, &bias.contiguous()?, LayerNorm { eps })
}

#[derive(Clone, Copy)]
struct LayerNorm {
    eps: f32,
}

/// Mean and 1/σ of a row.
fn row_stats(row: &[f32], eps: f32) -> (f32, f32) {
    let n = row.len() as f32;
    let mean = row.iter().sum::<f32>() / n;
    let var = row.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / n;
    (mean, 1.0 / (var + eps).sqrt())
}

impl CustomOp3 for LayerNorm {
    fn name(&self) -> &'static str {
        "coach-layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32s(s1, l1, "layer_norm input")?;
        let w = f32s(s2, l2, "layer_norm weight")?;
        let b = f32s(s3, l3, "layer_norm bias")?;
        let d = last_dim(l1)?;
        if w.len() != d || b.len() != d {
            return Err(Error::Msg(format!("layer_norm: weight/bias of {}/{} for width {d}", w.len(), b.len())));
        }
        let mut out = vec![0f32; x.len()];
        for (row, o) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
            let (mean, rstd) = row_stats(row, self.eps);
            for (((o, &xi), &wi), &bi) in o.iter_mut().zip(row).zip(w).zip(b) {
                *o = (xi - mean) * rstd * wi + bi;
            }
        }
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        // one pass computes dx (rows 0..n), dweight (row n) and dbias (row n + 1)
        let d = w.dim(0)?;
        let x2 = x.reshape(((), d))?;
        let n = x2.dim(0)?;
        let all = x2.apply_op3_no_bwd(w, &grad.contiguous()?.reshape(((), d))?, &LayerNormGrad { eps: self.eps })?;
        let dx = all.narrow(0, 0, n)?.reshape(x.shape())?;
        let dw = all.narrow(0, n, 1)?.reshape(d)?;
        let db = all.narrow(0, n + 1, 1)?.reshape(d)?;
        Ok((Some(dx), Some(dw), Some(db)))
    }
}

struct LayerNormGrad {
    eps: f32,
}

impl CustomOp3 for LayerNormGrad {
    fn name(&self) -> &'static str {
        "coach-layer-norm-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32s(s1, l1, "layer_norm grad input")?;
        let w = f32s(s2, l2, "layer_norm grad weight")?;
        let g = f32s(s3, l3, "layer_norm grad")?;
        let d = w.len();
        let n = x.len() / d;
        let mut out = vec![0f32; (n + 2) * d];
        let (dx, rest) = out.split_at_mut(n * d);
        let (dw, db) = rest.split_at_mut(d);
        let mut xhat = vec![0f32; d];
        for ((row, gr), o) in x.chunks_exact(d).zip(g.chunks_exact(d)).zip(dx.chunks_exact_mut(d)) {
            let (mean, rstd) = row_stats(row, self.eps);
            let (mut sum_dxh, mut sum_dxh_xh) = (0f32, 0f32);
            for (k, (&xi, &gi)) in row.iter().zip(gr).enumerate() {
                let xh = (xi - mean) * rstd;
                xhat[k] = xh;
                let dxh = gi * w[k];
                sum_dxh += dxh;
                sum_dxh_xh += dxh * xh;
                dw[k] += gi * xh;
                db[k] += gi;
            }
            let (m1, m2) = (sum_dxh / d as f32, sum_dxh_xh / d as f32);
            for (k, o) in o.iter_mut().enumerate() {
                *o = rstd * (gr[k] * w[k] - m1 - xhat[k] * m2);
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((n + 2, d))))
    }
}

// ---------------------------------------------------------------------------------------------
// bias

/// `x (…, n) + bias (n)`, differentiable in both; the bias gradient is a row-major column sum
/// (candle's broadcast backward reduces over the strided rows, which is slow).
pub fn add_bias(x: &Tensor, bias: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op2(&bias.contiguous()?, AddBias)
}

struct AddBias;

impl CustomOp2 for AddBias {
    fn name(&self) -> &'static str {
        "coach-add-bias"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32s(s1, l1, "add_bias input")?;
        let b = f32s(s2, l2, "add_bias bias")?;
        if last_dim(l1)? != b.len() {
            return Err(Error::Msg(format!("add_bias: bias of {} for width {}", b.len(), last_dim(l1)?)));
        }
        let mut out = Vec::with_capacity(x.len());
        for row in x.chunks_exact(b.len()) {
            out.extend(row.iter().zip(b).map(|(a, c)| a + c));
        }
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let db = grad.contiguous()?.apply_op1_no_bwd(&ColumnSum { width: bias.dim(0)? })?;
        Ok((Some(grad.clone()), Some(db)))
    }
}

/// Sums the rows of a `(…, width)` tensor into `(width,)`.
struct ColumnSum {
    width: usize,
}

impl CustomOp1 for ColumnSum {
    fn name(&self) -> &'static str {
        "coach-column-sum"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = f32s(s, l, "column_sum")?;
        let mut out = vec![0f32; self.width];
        for row in g.chunks_exact(self.width) {
            for (o, x) in out.iter_mut().zip(row) {
                *o += x;
            }
        }
        Ok((CpuStorage::F32(out), Shape::from(self.width)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{D, Device, Var};
    use candle_nn::ops;
    use coach_shared::SplitMix64;

    fn randn(shape: &[usize], seed: u64) -> Tensor {
        let mut r = SplitMix64::new(seed);
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| ((r.next_u64() >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 4.0).collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    fn close(a: &Tensor, b: &Tensor, tol: f32) {
        let d = (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
        assert!(d < tol, "max difference {d}");
    }

    #[test]
    fn cross_entropy_matches_log_softmax() {
        let x = Var::from_tensor(&randn(&[5, 7], 1)).unwrap();
        let t = Tensor::from_slice(&[0u32, 6, 3, 3, 1], 5, &Device::Cpu).unwrap();
        let w = randn(&[5], 2);
        let fused = cross_entropy(&x, &t).unwrap();
        let reference = ops::log_softmax(&x, D::Minus1)
            .unwrap()
            .gather(&t.unsqueeze(1).unwrap(), 1)
            .unwrap()
            .squeeze(1)
            .unwrap()
            .neg()
            .unwrap();
        close(&fused, &reference, 1e-5);
        let gf = (fused * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let gr = (reference * &w).unwrap().sum_all().unwrap().backward().unwrap();
        close(gf.get(&x).unwrap(), gr.get(&x).unwrap(), 1e-5);
    }

    #[test]
    fn causal_softmax_matches_masked_softmax() {
        for (t, past) in [(4, 0), (2, 3)] {
            let s = past + t;
            let x = Var::from_tensor(&randn(&[2, 3, t, s], 3)).unwrap();
            let mask: Vec<f32> = (0..t * s).map(|k| if k % s > past + k / s { -1e9 } else { 0.0 }).collect();
            let mask = Tensor::from_vec(mask, (t, s), &Device::Cpu).unwrap();
            let w = randn(&[2, 3, t, s], 4);
            let fused = causal_softmax(&x, past).unwrap();
            let reference = ops::softmax(&x.broadcast_add(&mask).unwrap(), D::Minus1).unwrap();
            close(&fused, &reference, 1e-6);
            let gf = (fused * &w).unwrap().sum_all().unwrap().backward().unwrap();
            let gr = (reference * &w).unwrap().sum_all().unwrap().backward().unwrap();
            close(gf.get(&x).unwrap(), gr.get(&x).unwrap(), 1e-5);
        }
    }

    #[test]
    fn add_bias_matches_broadcast_add() {
        let x = Var::from_tensor(&randn(&[6, 5], 9)).unwrap();
        let b = Var::from_tensor(&randn(&[5], 10)).unwrap();
        let w = randn(&[6, 5], 11);
        let fused = add_bias(&x, &b).unwrap();
        let reference = x.broadcast_add(&b).unwrap();
        close(&fused, &reference, 1e-6);
        let gf = (fused * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let gr = (reference * &w).unwrap().sum_all().unwrap().backward().unwrap();
        for v in [&x, &b] {
            close(gf.get(v).unwrap(), gr.get(v).unwrap(), 1e-5);
        }
    }

    #[test]
    fn layer_norm_matches_the_slow_reference() {
        let x = Var::from_tensor(&randn(&[6, 8], 5)).unwrap();
        let a = Var::from_tensor(&randn(&[8], 6)).unwrap();
        let b = Var::from_tensor(&randn(&[8], 7)).unwrap();
        let w = randn(&[6, 8], 8);
        let fused = layer_norm(&x, &a, &b, 1e-5).unwrap();
        let reference = ops::layer_norm_slow(&x, &a, &b, 1e-5).unwrap();
        close(&fused, &reference, 1e-5);
        let gf = (fused * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let gr = (reference * &w).unwrap().sum_all().unwrap().backward().unwrap();
        for v in [&x, &a, &b] {
            close(gf.get(v).unwrap(), gr.get(v).unwrap(), 1e-4);
        }
    }
}
