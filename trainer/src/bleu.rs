//! Corpus BLEU-4 (Papineni et al., 2002) with add-one smoothing of the 2- to 4-gram precisions
//! (Lin & Och, 2004), so short corpora with no 4-gram match do not score 0. One reference per
//! hypothesis. Text is lowercased and split into words and punctuation marks.
//!
//! BLEU = BP · exp(¼ Σₙ log pₙ), p₁ = m₁ / t₁, pₙ = (mₙ + 1) / (tₙ + 1) for n ≥ 2,
//! BP = 1 if c > r else exp(1 − r / c), where m are clipped n-gram matches, t hypothesis n-grams,
//! c the hypothesis length and r the reference length, all summed over the corpus.

use std::collections::HashMap;

/// Words and punctuation marks of `text`, lowercased.
pub fn bleu_tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() || c == '\'' {
            word.extend(c.to_lowercase());
        } else {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            if !c.is_whitespace() {
                out.push(c.to_string());
            }
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Sufficient statistics of corpus BLEU-4; add pairs, then read [`BleuStats::score`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BleuStats {
    /// Clipped n-gram matches, n = 1..4.
    pub matches: [u64; 4],
    /// Hypothesis n-grams, n = 1..4.
    pub totals: [u64; 4],
    /// Hypothesis tokens.
    pub hyp_len: u64,
    /// Reference tokens.
    pub ref_len: u64,
}

impl BleuStats {
    /// Adds one hypothesis and its reference.
    pub fn add(&mut self, hypothesis: &str, reference: &str) {
        let h = bleu_tokens(hypothesis);
        let r = bleu_tokens(reference);
        self.hyp_len += h.len() as u64;
        self.ref_len += r.len() as u64;
        for n in 1..=4 {
            let rc = ngram_counts(&r, n);
            let hc = ngram_counts(&h, n);
            self.totals[n - 1] += h.len().saturating_sub(n - 1) as u64;
            self.matches[n - 1] += hc.iter().map(|(g, c)| (*c).min(rc.get(g).copied().unwrap_or(0))).sum::<u64>();
        }
    }

    /// The smoothed corpus BLEU-4, 0–1.
    pub fn score(&self) -> f64 {
        if self.hyp_len == 0 || self.matches[0] == 0 {
            return 0.0;
        }
        let mut log_p = (self.matches[0] as f64 / self.totals[0] as f64).ln();
        for n in 1..4 {
            log_p += ((self.matches[n] + 1) as f64 / (self.totals[n] + 1) as f64).ln();
        }
        let (c, r) = (self.hyp_len as f64, self.ref_len as f64);
        let bp = if c > r { 1.0 } else { (1.0 - r / c).exp() };
        (bp * (log_p / 4.0).exp()).clamp(0.0, 1.0)
    }
}

fn ngram_counts(tokens: &[String], n: usize) -> HashMap<&[String], u64> {
    let mut m = HashMap::new();
    if tokens.len() >= n {
        for w in tokens.windows(n) {
            *m.entry(w).or_insert(0) += 1;
        }
    }
    m
}

/// Corpus BLEU-4 of `hypotheses` against `references` (pairwise; extra items are ignored).
pub fn corpus_bleu<H: AsRef<str>, R: AsRef<str>>(hypotheses: &[H], references: &[R]) -> f64 {
    let mut s = BleuStats::default();
    for (h, r) in hypotheses.iter().zip(references) {
        s.add(h.as_ref(), r.as_ref());
    }
    s.score()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn tokenizes_words_and_punctuation() {
        assert_eq!(bleu_tokens("Nice set!  You're UP."), ["nice", "set", "!", "you're", "up", "."]);
    }

    #[test]
    fn identical_text_scores_one() {
        close(corpus_bleu(&["keep the bar path tight today"], &["Keep the bar path tight today"]), 1.0);
    }

    #[test]
    fn hand_computed_partial_match() {
        // 1-grams 5/6; 2-grams 3/5 → 4/6; 3-grams 1/4 → 2/5; 4-grams 0/3 → 1/4; BP = 1.
        let s = corpus_bleu(&["the cat sat on the mat"], &["the cat is on the mat"]);
        close(s, (5.0 / 6.0 * 4.0 / 6.0 * 2.0 / 5.0 * 1.0 / 4.0f64).powf(0.25));
        close(s, (1.0 / 18.0f64).powf(0.25));
    }

    #[test]
    fn brevity_penalty_and_empty_ngram_orders() {
        // p1 = 2/2, p2 = (1+1)/(1+1), p3 = p4 = (0+1)/(0+1); BP = exp(1 − 6/2).
        close(corpus_bleu(&["the cat"], &["the cat sat on the mat"]), (-2.0f64).exp());
    }

    #[test]
    fn clipping_and_corpus_sums() {
        // "the the the" vs "the cat": 1-gram matches clipped to 1 of 3.
        let mut s = BleuStats::default();
        s.add("the the the", "the cat");
        assert_eq!(s.matches, [1, 0, 0, 0]);
        assert_eq!(s.totals, [3, 2, 1, 0]);
        // corpus: statistics are summed before the score is taken
        s.add("the cat sat on the mat", "the cat is on the mat");
        assert_eq!(s.matches, [6, 3, 1, 0]);
        assert_eq!(s.totals, [9, 7, 5, 3]);
        assert_eq!((s.hyp_len, s.ref_len), (9, 8));
        let expected = (6.0 / 9.0 * 4.0 / 8.0 * 2.0 / 6.0 * 1.0 / 4.0f64).powf(0.25);
        close(s.score(), expected);
    }

    #[test]
    fn no_overlap_or_no_output_scores_zero() {
        close(corpus_bleu(&["alpha beta"], &["gamma delta"]), 0.0);
        close(corpus_bleu(&[""], &["gamma delta"]), 0.0);
        close(corpus_bleu::<&str, &str>(&[], &[]), 0.0);
    }
}
