//! The validation gate: a new model goes live only if it beats or matches the deployed one on
//! held-out loss and passes a compliance sample.
//!
//! * **Held-out loss** is compared per byte of response text (cross-entropy summed over a
//!   response's tokens ÷ its UTF-8 bytes), which stays comparable when the two models use
//!   different tokenizers. The deployed model is evaluated on the *new* batch's held-out split by
//!   the trainer process (`eval`), so both numbers come from the same examples. "Matches" allows
//!   [`TOLERANCE`] (1 %) of noise.
//! * **Compliance**: the new model writes a line for up to [`SAMPLE`] held-out contexts; every line
//!   must be non-empty, at most 280 characters and free of PII.

use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use coach_shared::limits::MAX_TEXT_CHARS;
use coach_shared::pii::PiiScanner;
use serde_json::{Value, json};

use super::registry::ModelRow;
use super::runner;
use super::serving::{CoachContext, Generator};
use crate::state::AppState;

/// Relative slack when comparing held-out losses.
pub const TOLERANCE: f64 = 0.01;
/// Contexts in the compliance sample.
pub const SAMPLE: usize = 50;

/// The gate's decision.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Whether the model may go live.
    pub passed: bool,
    /// Why not (or "passed").
    pub reason: String,
    /// Everything measured (kept with the model).
    pub report: Value,
}

/// Finds a number under any of `keys`, at the top level or one object deep.
pub fn find_num(v: &Value, keys: &[&str]) -> Option<f64> {
    let direct = keys.iter().find_map(|k| v.get(*k).and_then(Value::as_f64));
    direct
        .or_else(|| {
            v.as_object()?.values().find_map(|inner| keys.iter().find_map(|k| inner.get(*k).and_then(Value::as_f64)))
        })
        .filter(|x| x.is_finite())
}

const LOSS_PER_BYTE: &[&str] = &["lossPerByte", "loss_per_byte", "heldoutLossPerByte", "validationLossPerByte"];

/// Reads up to `n` contexts from the JSONL shards in `data`.
fn sample_contexts(data: &Path, n: usize) -> Vec<CoachContext> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(data) else { return out };
    let mut files: Vec<_> =
        entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "jsonl")).collect();
    files.sort();
    for f in files {
        let Ok(file) = std::fs::File::open(&f) else { continue };
        for line in std::io::BufReader::new(file).lines().map_while(Result::ok) {
            let Ok(v) = serde_json::from_str::<Value>(&line) else { continue };
            out.push(CoachContext {
                exercise_type: v["exerciseType"].as_str().unwrap_or_default().to_string(),
                set_number: v["setNumber"].as_u64().unwrap_or(1) as u32,
                strain_percentage: v["strainPercentage"].as_f64().unwrap_or(50.0),
                skip_reason: v["skipReason"].as_str().map(str::to_string),
                sleep_hours: v["sleepHours"].as_f64(),
                context_tags: v["contextTags"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect())
                    .unwrap_or_default(),
            });
            if out.len() >= n {
                return out;
            }
        }
    }
    out
}

/// Generates for the sample and counts violations.
pub fn compliance(generator: &dyn Generator, contexts: &[CoachContext]) -> Value {
    let scanner = PiiScanner::default();
    let (mut pii, mut too_long, mut empty, mut errors, mut tone_fit) = (0, 0, 0, 0, 0);
    for (i, ctx) in contexts.iter().enumerate() {
        match generator.generate(ctx, i as u64) {
            Ok((text, tone)) => {
                let n = text.trim().chars().count();
                if n == 0 {
                    empty += 1;
                }
                if n > MAX_TEXT_CHARS {
                    too_long += 1;
                }
                if scanner.contains_pii(&text) {
                    pii += 1;
                }
                if tone == super::coach::expected_tone(ctx) {
                    tone_fit += 1;
                }
            }
            Err(_) => errors += 1,
        }
    }
    json!({ "sampled": contexts.len(), "pii": pii, "tooLong": too_long, "empty": empty, "errors": errors, "toneFit": tone_fit })
}

/// Decides whether the model in `new_dir` (trained on `data_dir`, with the trainer's `report`) may
/// replace `deployed`.
pub async fn evaluate(
    state: &AppState,
    new_dir: &Path,
    data_dir: &Path,
    report: &Value,
    deployed: Option<&ModelRow>,
) -> Result<Verdict> {
    let new_lpb = find_num(report, LOSS_PER_BYTE);
    let mut deployed_lpb = None;
    if let Some(path) = deployed.and_then(|d| d.artifact_path.as_deref()) {
        let args = vec![
            "eval".to_string(),
            "--model".into(),
            path.to_string(),
            "--data".into(),
            data_dir.display().to_string(),
        ];
        let (tx, rx) = tokio::sync::watch::channel(false);
        match runner::run(&state.config.training.trainer_command, &args, Duration::from_secs(600), rx, |_| {}).await {
            Ok((eval, _)) => deployed_lpb = find_num(&eval, LOSS_PER_BYTE),
            Err(e) => tracing::warn!(error = %e, "could not evaluate the deployed model; comparing by compliance only"),
        }
        drop(tx);
    }
    let generator: Arc<dyn Generator> = state.training.serving.load(new_dir)?;
    let contexts = sample_contexts(data_dir, SAMPLE);
    let comp = tokio::task::spawn_blocking(move || compliance(generator.as_ref(), &contexts)).await?;
    let bad = comp["pii"].as_u64().unwrap_or(0)
        + comp["tooLong"].as_u64().unwrap_or(0)
        + comp["empty"].as_u64().unwrap_or(0)
        + comp["errors"].as_u64().unwrap_or(0);
    let (passed, reason) = if bad > 0 {
        (false, format!("{bad} of {} sampled generations failed compliance", comp["sampled"]))
    } else {
        match (new_lpb, deployed_lpb) {
            (Some(n), Some(d)) if n > d * (1.0 + TOLERANCE) => {
                (false, format!("held-out loss {n:.4}/byte is worse than the deployed model's {d:.4}/byte"))
            }
            (Some(n), Some(d)) => (true, format!("held-out loss {n:.4}/byte vs deployed {d:.4}/byte")),
            _ => (true, "no deployed model to compare with".to_string()),
        }
    };
    Ok(Verdict {
        passed,
        reason: reason.clone(),
        report: json!({
            "passed": passed, "reason": reason, "newLossPerByte": new_lpb, "deployedLossPerByte": deployed_lpb,
            "deployedVersion": deployed.map(|d| d.version.clone()), "compliance": comp, "tolerance": TOLERANCE,
        }),
    })
}
