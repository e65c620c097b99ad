//! The compliance sample of the deployment gate: generate for a set of contexts and check every
//! line the way the coach endpoint does — no personal data (`coach_shared::pii`), at most 280
//! characters, not empty, and a tone that fits the context. Failing lines are reported with any
//! personal data masked.

use anyhow::Result;
use coach_shared::Tone;
use coach_shared::limits::MAX_TEXT_CHARS;
use coach_shared::pii::PiiScanner;
use serde::Serialize;

use crate::data::CoachContext;
use crate::generate::{CoachModel, GenOptions, Generation};

/// Failing examples kept in a report.
pub const MAX_FAILURES_KEPT: usize = 10;

/// Why a generation fails the check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Problem {
    /// It holds personal data of this kind.
    Pii {
        /// e.g. `email`.
        pii: coach_shared::PiiKind,
    },
    /// It is longer than 280 characters.
    TooLong {
        /// Its length.
        chars: usize,
    },
    /// It has no text.
    Empty,
    /// Its tone is not the one the context asks for.
    ToneMismatch {
        /// What the rules ask for.
        expected: Tone,
        /// What the model chose.
        got: Tone,
    },
}

impl Problem {
    /// Problems that keep a model from deploying (a tone mismatch only lowers responsiveness).
    pub fn is_hard(&self) -> bool {
        !matches!(self, Problem::ToneMismatch { .. })
    }
}

/// Checks one generation for `ctx` (with an optional scanner that knows names to look for).
pub fn check_generation(ctx: &CoachContext, g: &Generation, scanner: &PiiScanner) -> Vec<Problem> {
    let mut p = Vec::new();
    if let Some(m) = scanner.find(&g.text) {
        p.push(Problem::Pii { pii: m.kind });
    }
    let chars = g.text.chars().count();
    if chars > MAX_TEXT_CHARS {
        p.push(Problem::TooLong { chars });
    }
    if g.text.trim().is_empty() {
        p.push(Problem::Empty);
    }
    let expected = ctx.expected_tone();
    if g.tone != expected {
        p.push(Problem::ToneMismatch { expected, got: g.tone });
    }
    p
}

/// Masks every PII finding in `text`.
pub fn redact(text: &str, scanner: &PiiScanner) -> String {
    let mut out = text.to_string();
    for _ in 0..32 {
        let Some(m) = scanner.find(&out) else { break };
        out.replace_range(m.start..m.end, &format!("[{:?}]", m.kind).to_lowercase());
    }
    out
}

/// A failing generation.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComplianceFailure {
    /// The context it was generated for.
    pub context: CoachContext,
    /// The line, personal data masked.
    pub text: String,
    /// The tone chosen.
    pub tone: Tone,
    /// What is wrong.
    pub problems: Vec<Problem>,
}

/// Counts over a compliance sample.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComplianceReport {
    /// Generations checked.
    pub checked: usize,
    /// Generations without any problem.
    pub passed: usize,
    /// Generations with personal data.
    pub pii: usize,
    /// Generations over 280 characters.
    pub too_long: usize,
    /// Empty generations.
    pub empty: usize,
    /// Generations whose tone does not fit.
    pub tone_mismatch: usize,
    /// Up to [`MAX_FAILURES_KEPT`] failing generations.
    pub failures: Vec<ComplianceFailure>,
}

impl ComplianceReport {
    /// Adds one checked generation.
    pub fn record(&mut self, ctx: &CoachContext, g: &Generation, scanner: &PiiScanner) {
        let problems = check_generation(ctx, g, scanner);
        self.checked += 1;
        if problems.is_empty() {
            self.passed += 1;
            return;
        }
        for p in &problems {
            match p {
                Problem::Pii { .. } => self.pii += 1,
                Problem::TooLong { .. } => self.too_long += 1,
                Problem::Empty => self.empty += 1,
                Problem::ToneMismatch { .. } => self.tone_mismatch += 1,
            }
        }
        if self.failures.len() < MAX_FAILURES_KEPT {
            self.failures.push(ComplianceFailure {
                context: ctx.clone(),
                text: redact(&g.text, scanner),
                tone: g.tone,
                problems,
            });
        }
    }

    /// No personal data, nothing too long, nothing empty (the gate's requirement).
    pub fn passes_gate(&self) -> bool {
        self.checked > 0 && self.pii == 0 && self.too_long == 0 && self.empty == 0
    }

    /// Share of generations with a fitting tone.
    pub fn tone_fit_rate(&self) -> f64 {
        if self.checked == 0 { 0.0 } else { 1.0 - self.tone_mismatch as f64 / self.checked as f64 }
    }
}

/// Generates `n` lines, cycling through `contexts` with seeds 0..n (sampled as served), and
/// checks each.
pub fn compliance_sample(model: &CoachModel, contexts: &[CoachContext], n: usize) -> Result<ComplianceReport> {
    let scanner = PiiScanner::default();
    let mut report = ComplianceReport::default();
    if contexts.is_empty() {
        return Ok(report);
    }
    for i in 0..n {
        let ctx = &contexts[i % contexts.len()];
        let g = model.generate(ctx, GenOptions { seed: i as u64, ..GenOptions::default() })?;
        report.record(ctx, &g, &scanner);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(strain: f64, tags: &[&str]) -> CoachContext {
        CoachContext {
            exercise_type: "squat".into(),
            set_number: 3,
            strain_percentage: strain,
            context_tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        }
    }

    fn gen_(text: &str, tone: Tone) -> Generation {
        Generation { text: text.into(), tone, tokens: 1 }
    }

    #[test]
    fn catches_injected_pii_length_empty_and_tone() {
        let s = PiiScanner::default();
        let mut r = ComplianceReport::default();
        r.record(&ctx(50.0, &[]), &gen_("Nice set, keep going.", Tone::Neutral), &s);
        r.record(&ctx(50.0, &[]), &gen_("Great set! Mail me at jane.doe@example.com", Tone::Neutral), &s);
        r.record(&ctx(50.0, &[]), &gen_("Call +1 415 555 0134 after your set", Tone::Neutral), &s);
        r.record(&ctx(50.0, &[]), &gen_(&"x".repeat(281), Tone::Neutral), &s);
        r.record(&ctx(50.0, &[]), &gen_("  ", Tone::Neutral), &s);
        r.record(&ctx(95.0, &[]), &gen_("LET'S GO!", Tone::Hype), &s);
        assert_eq!((r.checked, r.passed, r.pii, r.too_long, r.empty, r.tone_mismatch), (6, 1, 2, 1, 1, 1));
        assert!(!r.passes_gate());
        let f = &r.failures[0];
        assert!(!f.text.contains("jane.doe"), "{}", f.text);
        assert!(f.text.contains("[email]"), "{}", f.text);
        assert_eq!(f.problems, vec![Problem::Pii { pii: coach_shared::PiiKind::Email }]);
        assert!(matches!(
            r.failures[4].problems[0],
            Problem::ToneMismatch { expected: Tone::Whisper, got: Tone::Hype }
        ));
        // names of a user are found when the scanner knows them
        let named = PiiScanner::with_names(["Jordan Example"]);
        assert!(!check_generation(&ctx(50.0, &[]), &gen_("Good job Jordan Example", Tone::Neutral), &named).is_empty());
        let mut clean = ComplianceReport::default();
        clean.record(&ctx(85.0, &[]), &gen_("Breathe. Slow and steady.", Tone::Whisper), &s);
        assert!(clean.passes_gate());
    }
}
