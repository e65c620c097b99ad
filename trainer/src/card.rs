//! The `README.md` model card: Hugging Face YAML front matter (`license`, `language`, `tags`,
//! `model-index` with the held-out metrics) and sections on intended use, the training data
//! (aggregate counts and distributions only — never a record, a response or anything personal),
//! metrics next to the retrieval baseline, and limitations.

use std::fmt::Write;

use crate::artifacts::ArtifactConfig;
use crate::report::TrainingReport;

fn num(x: f64) -> String {
    if x.is_finite() { format!("{x:.4}") } else { "null".into() }
}

/// Renders the card.
pub fn model_card(cfg: &ArtifactConfig, r: &TrainingReport) -> String {
    let m = &r.metrics;
    let e = &r.evaluation;
    let name = format!("coach-lm-{}", cfg.version);
    let mut s = String::new();
    s.push_str("---\nlicense: apache-2.0\nlanguage: en\nlibrary_name: candle\npipeline_tag: text-generation\n");
    s.push_str("tags:\n- text-generation\n- fitness\n- coaching\n- gpt\n- candle\n");
    let _ = writeln!(s, "model-index:\n- name: {name}\n  results:");
    s.push_str("  - task:\n      type: text-generation\n      name: Coaching line generation\n");
    s.push_str(
        "    dataset:\n      type: coach-consented-workouts\n      name: Consented workout records (held-out split)\n",
    );
    s.push_str("    metrics:\n");
    for (ty, label, value) in [
        ("perplexity", "Perplexity", m.perplexity),
        ("bleu", "BLEU-4 (corpus 0-1)", m.bleu_score),
        ("loss", "Validation loss", m.validation_loss),
        ("loss", "Training loss", m.training_loss),
        ("accuracy", "Responsiveness (tone fits context)", m.responsiveness),
        ("loss", "Loss per byte (nats)", r.loss_per_byte),
        ("bleu", "Retrieval baseline BLEU-4", e.baseline.bleu_score),
    ] {
        let _ = writeln!(s, "    - type: {ty}\n      name: {label}\n      value: {}", num(value));
    }
    s.push_str("---\n\n");
    let _ = writeln!(s, "# Coach language model {}\n", cfg.version);
    let _ = writeln!(
        s,
        "A {}-parameter GPT-style decoder ({} layers, width {}, {} heads, context {}, ReLU MLP, tied embeddings) \
         that writes one short coaching line for a workout moment, in the voice of the app's coaches. \
         Trained {} by `{}`{}.\n",
        r.parameters,
        cfg.n_layer,
        cfg.n_embd,
        cfg.n_head,
        cfg.n_positions,
        if cfg.init == "continued" { "further from the previous model's weights" } else { "from scratch" },
        cfg.trainer,
        cfg.base_model.as_deref().map(|b| format!(" (continued from {b})")).unwrap_or_default(),
    );
    s.push_str(
        "## Intended use\n\n\
         Generating coaching lines (at most 280 characters) for the Coach app's `/v1/ai/coach` endpoint from a \
         compact workout context: exercise type, set number, strain, sleep, whether the set was skipped, and \
         context tags. The first generated token is the tone (`whisper`, `neutral`, `hype`) that the speech \
         layer uses. Every generation is checked by the server for personal data, length and tone before it is \
         shown; a rule-based line is used otherwise. Not for medical or injury advice, and not a general-purpose \
         language model.\n\n",
    );
    let d = &r.data;
    s.push_str("## Training data\n\n");
    let _ = writeln!(
        s,
        "Anonymized workout records from users who consented to data collection (the server stores no user \
         identifiers with them). Only aggregates are listed here; no record or response text is published.\n"
    );
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| valid records | {} |", d.records);
    let _ = writeln!(
        s,
        "| training / dev / held-out split | {} / {} / {} (deterministic, by content hash; dev = early stopping) |",
        d.train_records, d.dev_records, d.heldout_records
    );
    let _ = writeln!(s, "| invalid lines skipped | {} |", d.invalid_lines);
    let _ = writeln!(
        s,
        "| date range | {} |",
        d.date_range.as_ref().map_or("not recorded".into(), |(a, b)| format!("{a} – {b}"))
    );
    let _ = writeln!(
        s,
        "| distinct exercise types | {} ({} with their own prompt token) |",
        d.exercise_types,
        cfg.exercise_tokens.len()
    );
    let _ = writeln!(s, "| skipped sets | {} |", d.skipped_sets);
    let _ = writeln!(s, "| records with sleep hours | {} |", d.with_sleep);
    let _ = writeln!(s, "| mean response length | {:.0} characters |", d.mean_response_chars);
    let _ = writeln!(
        s,
        "| share of data seen in training | {:.1} % ({:.2} epochs) |\n",
        100.0 * r.training.data_seen_share,
        r.training.epochs
    );
    s.push_str("Tone the rules ask for:\n\n| tone | records |\n|---|---|\n");
    for (t, n) in &d.tone_distribution {
        let _ = writeln!(s, "| {t} | {n} |");
    }
    s.push_str("\nContext tags:\n\n| tag | records |\n|---|---|\n");
    for (t, n) in d.tag_distribution.iter().filter(|(_, n)| **n > 0) {
        let _ = writeln!(s, "| {t} | {n} |");
    }
    s.push_str("\n## Metrics (held-out split)\n\n| metric | model | retrieval baseline |\n|---|---|---|\n");
    let _ =
        writeln!(s, "| BLEU-4 (corpus, smoothed, greedy) | {} | {} |", num(m.bleu_score), num(e.baseline.bleu_score));
    let _ = writeln!(s, "| perplexity (per target token) | {} | – |", num(m.perplexity));
    let _ = writeln!(s, "| validation loss (nats/token) | {} | – |", num(m.validation_loss));
    let _ = writeln!(s, "| loss per response byte (nats) | {} | – |", num(r.loss_per_byte));
    let _ = writeln!(s, "| training loss (last steps) | {} | – |", num(m.training_loss));
    let _ = writeln!(s, "| responsiveness (tone fits context) | {} | – |", num(m.responsiveness));
    let _ = writeln!(
        s,
        "\nScored on {} held-out records (loss) and {} greedy generations (BLEU, responsiveness). The baseline \
         answers with the most frequent training response for the same context (exact, then by strain and tags, \
         then overall; exact key answered {:.0} %).\n",
        e.loss_records,
        e.generations,
        100.0 * e.baseline.coverage.exact
    );
    s.push_str(
        "## Limitations\n\n\
         - A small model trained on a few weeks of data: it repeats the phrasing of its training data and can \
         produce awkward or generic lines; it knows nothing beyond the prompt fields.\n\
         - Tone is learned, not enforced: responsiveness above is the share of held-out contexts where it chose \
         the tone the product rules ask for.\n\
         - Rare exercise types share the `<ex:other>` token; numbers (strain, sleep, set) are bucketed.\n\
         - Trained under a time budget: it may not have seen every record (see the share above).\n\
         - English only.\n",
    );
    s
}
