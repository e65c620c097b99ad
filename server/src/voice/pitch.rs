//! Fundamental-frequency estimation of a speaker (the YIN method: de Cheveigné & Kawahara, 2002),
//! used by the local provider's pitch-matched "clone": the median pitch of the voiced frames of
//! the cloning samples picks the engine variant and pitch nearest to the speaker's.

/// Rate the signal is decimated to before analysis (speech pitch lies far below its Nyquist).
pub const ANALYSIS_RATE: u32 = 11_025;
/// Lowest and highest pitch searched (Hz): deep male to high female/child speech.
const F0_MIN: f64 = 60.0;
const F0_MAX: f64 = 450.0;
/// YIN's absolute threshold on the cumulative-mean-normalized difference.
const THRESHOLD: f64 = 0.15;
/// Seconds analysed per sample at most (the cloning check keeps no more than this, in mono).
pub const MAX_SECS: usize = 30;

/// The median pitch (Hz) of the voiced frames of mono `samples` at `rate`, or `None` when fewer
/// than five frames are voiced (silence, noise, music without a clear pitch).
pub fn median_f0(samples: &[f32], rate: u32) -> Option<f64> {
    if rate == 0 {
        return None;
    }
    let step = (rate / ANALYSIS_RATE).max(1) as usize;
    let sr = f64::from(rate) / step as f64;
    let x: Vec<f64> = samples
        .chunks(step)
        .take(MAX_SECS * sr as usize)
        .map(|c| c.iter().map(|v| f64::from(*v)).sum::<f64>() / c.len() as f64)
        .collect();
    let min_lag = (sr / F0_MAX).floor() as usize;
    let max_lag = (sr / F0_MIN).ceil() as usize;
    let window = max_lag + 1;
    let hop = (sr * 0.02) as usize;
    if x.len() < window + max_lag || hop == 0 {
        return None;
    }
    let frames: Vec<usize> = (0..x.len() - window - max_lag).step_by(hop).collect();
    let rms = |s: usize| (x[s..s + window].iter().map(|v| v * v).sum::<f64>() / window as f64).sqrt();
    let loudest = frames.iter().map(|&s| rms(s)).fold(0.0, f64::max);
    if loudest <= 1e-4 {
        return None;
    }
    let mut f0s = Vec::new();
    let mut d = vec![0.0; max_lag + 1];
    for &s in &frames {
        if rms(s) < loudest * 0.1 {
            continue;
        }
        let frame = &x[s..s + window + max_lag];
        for (tau, slot) in d.iter_mut().enumerate().skip(1) {
            *slot = (0..window).map(|j| (frame[j] - frame[j + tau]).powi(2)).sum();
        }
        // Cumulative mean normalization, then the first dip under the threshold.
        let mut running = 0.0;
        let mut found = None;
        for tau in 1..=max_lag {
            running += d[tau];
            let norm = if running > 0.0 { d[tau] * tau as f64 / running } else { 1.0 };
            if tau >= min_lag && norm < THRESHOLD {
                // Walk to the local minimum of this dip.
                let mut t = tau;
                while t < max_lag && d[t + 1] < d[t] {
                    t += 1;
                }
                found = Some(t);
                break;
            }
        }
        if let Some(t) = found {
            // Parabolic interpolation around the minimum for sub-sample precision.
            let (a, b, c) = (d[t - 1], d[t], d[(t + 1).min(max_lag)]);
            let denom = a - 2.0 * b + c;
            let shift = if denom.abs() > f64::EPSILON { 0.5 * (a - c) / denom } else { 0.0 };
            f0s.push(sr / (t as f64 + shift.clamp(-1.0, 1.0)));
        }
    }
    if f0s.len() < 5 {
        return None;
    }
    f0s.sort_by(f64::total_cmp);
    Some(f0s[f0s.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voiced(f0: f64, rate: u32, secs: f64) -> Vec<f32> {
        // A harmonic-rich tone, like a glottal source.
        (0..(secs * f64::from(rate)) as usize)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                (1..6).map(|h| (std::f64::consts::TAU * f0 * h as f64 * t).sin() / h as f64).sum::<f64>() as f32 * 0.3
            })
            .collect()
    }

    #[test]
    fn finds_the_pitch_of_voiced_signals() {
        for (f0, rate) in [(110.0, 22050), (220.0, 44100), (180.0, 16000), (95.0, 48000)] {
            let got = median_f0(&voiced(f0, rate, 1.0), rate).unwrap();
            assert!((got - f0).abs() / f0 < 0.03, "{f0} Hz at {rate}: {got}");
        }
    }

    #[test]
    fn silence_and_noise_have_no_pitch() {
        assert_eq!(median_f0(&vec![0.0; 22050], 22050), None);
        let mut state = 1u64;
        let noise: Vec<f32> = (0..22050)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
            })
            .collect();
        assert_eq!(median_f0(&noise, 22050), None);
    }
}
