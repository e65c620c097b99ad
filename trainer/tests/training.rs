//! Real training runs on synthetic data: the loss falls, the model directory is complete (Hugging
//! Face layout, no raw records in the card), a reload gives identical logits, generations are
//! short and have a tone, continuing from weights works when shapes match and falls back to a
//! fresh start when they do not, and `evaluate_dir` reproduces the run's held-out scores.

use std::path::Path;
use std::time::Duration;

use coach_shared::limits::MAX_TEXT_CHARS;
use coach_trainer::artifacts::MODEL_FILES;
use coach_trainer::scan::ScanOptions;
use coach_trainer::synth::write_synthetic;
use coach_trainer::{CoachContext, CoachModel, GenOptions, ModelConfig, TrainOptions, compliance_sample, train};

fn options(data: &Path, out: &Path, epochs: f64) -> TrainOptions {
    let mut o = TrainOptions::new(data, out);
    o.budget = Some(Duration::from_secs(40));
    o.max_epochs = Some(epochs);
    o.batch_size = 32;
    o.warmup_steps = 10;
    o.eval_generations = 40;
    o.model = ModelConfig { d_model: 48, n_layers: 2, n_heads: 4, d_ff: 192, ..ModelConfig::default() };
    o.scan.eval_cap = 200;
    o
}

fn contexts() -> Vec<CoachContext> {
    let c = |ex: &str, set, strain, tags: &[&str]| CoachContext {
        exercise_type: ex.into(),
        set_number: set,
        strain_percentage: strain,
        sleep_hours: Some(7.0),
        context_tags: tags.iter().map(|t| t.to_string()).collect(),
        ..Default::default()
    };
    vec![
        c("squat", 4, 88.0, &["high_strain", "working_set"]),
        c("bench_press", 2, 70.0, &["pr_attempt"]),
        c("deadlift", 1, 35.0, &["warmup", "low_strain"]),
        c("unheard_of_exercise", 20, 100.0, &["grinding"]),
    ]
}

#[test]
fn trains_writes_reloads_generates_and_continues() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_synthetic(&data, 500, 250, 5).unwrap();
    let out = tmp.path().join("models").join("v1.0.0");
    let mut events = 0;
    let mut o = options(&data, &out, 5.0);
    o.version = "v1.0.0".into();
    let first = train(&o, &mut |_| events += 1).unwrap();
    let r = &first.report;
    eprintln!(
        "steps {} first {:.3} train {:.3} val {:.3} bleu {:.3} resp {:.3} secs {:.1}",
        r.training.steps,
        r.training.first_loss,
        r.metrics.training_loss,
        r.metrics.validation_loss,
        r.metrics.bleu_score,
        r.metrics.responsiveness,
        r.wall_seconds
    );
    assert!(events >= 4);
    assert_eq!(r.init.mode, "fresh");
    assert_eq!(r.tokenizer.mode, "trained");
    assert_eq!(r.data.records, 500);
    assert!(r.training.steps >= 20, "{:?}", r.training);
    // the loss falls well below its starting point (≈ ln 1024 = 6.93)
    assert!(r.training.first_loss > 6.0, "{}", r.training.first_loss);
    assert!(r.metrics.training_loss < r.training.first_loss - 2.0, "{:?}", r.metrics);
    assert!(r.metrics.validation_loss < 4.0, "{:?}", r.metrics);
    assert!((r.metrics.perplexity - r.metrics.validation_loss.exp()).abs() < 1e-9);
    assert!((0.0..=1.0).contains(&r.metrics.bleu_score) && r.metrics.bleu_score > 0.0);
    assert!((0.0..=1.0).contains(&r.metrics.responsiveness));
    assert!(r.loss_per_byte > 0.0 && r.loss_per_byte < r.metrics.validation_loss);
    assert!((0.0..=1.0).contains(&r.training.data_seen_share));

    // the directory
    for f in MODEL_FILES {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let leftovers: Vec<_> = std::fs::read_dir(out.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "temp dirs left behind: {leftovers:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.join("model.safetensors")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["version"], "v1.0.0");
    assert_eq!(config["n_embd"], 48);
    assert_eq!(config["init"], "fresh");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("training_report.json")).unwrap()).unwrap();
    for k in ["perplexity", "bleuScore", "validationLoss", "trainingLoss", "responsiveness"] {
        assert!(report["metrics"][k].is_number(), "{k}");
    }
    let card = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(card.starts_with("---\nlicense: "));
    for needle in [
        "language: en",
        "tags:",
        "model-index:",
        "## Intended use",
        "## Training data",
        "## Metrics",
        "## Limitations",
        "retrieval baseline",
    ] {
        assert!(card.contains(needle), "card lacks {needle}");
    }
    // aggregate only: no training response appears in the card
    let mut reader = coach_trainer::data::ShardReader::open_dir(&data).unwrap();
    while let Some(ex) = reader.next_example().unwrap() {
        assert!(!card.contains(&ex.ai_response), "the card leaks a record");
    }

    // reload: identical logits and generations
    let loaded = CoachModel::load(&out).unwrap();
    assert_eq!(loaded.version(), "v1.0.0");
    for ctx in contexts() {
        assert_eq!(first.model.prompt_logits(&ctx).unwrap(), loaded.prompt_logits(&ctx).unwrap());
        let g = loaded.generate(&ctx, GenOptions::greedy()).unwrap();
        assert_eq!(g, first.model.generate(&ctx, GenOptions::greedy()).unwrap());
        for seed in 0..5 {
            let g = loaded.generate(&ctx, GenOptions { seed, ..Default::default() }).unwrap();
            assert!(!g.text.is_empty() && g.text.chars().count() <= MAX_TEXT_CHARS, "{g:?}");
            let again = loaded.generate(&ctx, GenOptions { seed, ..Default::default() }).unwrap();
            assert_eq!(g, again, "same seed, same line");
        }
    }
    let compliance = compliance_sample(&loaded, &contexts(), 12).unwrap();
    assert_eq!(compliance.checked, 12);
    assert!(compliance.passes_gate(), "{compliance:?}");

    // the same data scored again from disk gives the run's held-out numbers
    let opts = ScanOptions { eval_cap: 200, ..Default::default() };
    let ev = coach_trainer::evaluate_dir(&out, &data, &opts, 40).unwrap();
    assert!((ev.scores.validation_loss - r.metrics.validation_loss).abs() < 1e-6, "{ev:?}");
    assert!((ev.scores.loss_per_byte - r.loss_per_byte).abs() < 1e-6);
    assert_eq!(ev.scores.bleu_score, r.metrics.bleu_score);

    // continue from the model: same shape → its tokenizer and weights
    let out2 = tmp.path().join("models").join("v1.1.0");
    let mut o2 = options(&data, &out2, 0.5);
    o2.version = "v1.1.0".into();
    o2.init_from = Some(out.clone());
    let second = train(&o2, &mut |_| {}).unwrap();
    assert_eq!(second.report.init.mode, "continued");
    assert_eq!(second.report.init.from_version.as_deref(), Some("v1.0.0"));
    assert_eq!(second.report.tokenizer.mode, "reused");
    assert!(second.report.training.first_loss < r.training.first_loss - 2.0, "starts from trained weights");
    assert_eq!(
        std::fs::read_to_string(out.join("tokenizer.json")).unwrap(),
        std::fs::read_to_string(out2.join("tokenizer.json")).unwrap()
    );
    let c2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out2.join("config.json")).unwrap()).unwrap();
    assert_eq!(c2["base_model"], "v1.0.0");
    assert_eq!(c2["init"], "continued");

    // a different shape cannot continue: fresh start, with the reason
    let out3 = tmp.path().join("models").join("v2.0.0");
    let mut o3 = options(&data, &out3, 0.2);
    o3.version = "v2.0.0".into();
    o3.init_from = Some(out.clone());
    o3.model.d_model = 32;
    o3.model.d_ff = 128;
    let third = train(&o3, &mut |_| {}).unwrap();
    assert_eq!(third.report.init.mode, "fresh");
    assert!(third.report.init.reason.as_deref().unwrap().contains("shapes differ"), "{:?}", third.report.init);
    assert_eq!(third.report.tokenizer.mode, "trained");

    // a missing or broken previous model is not fatal either
    let out4 = tmp.path().join("models").join("v2.0.1");
    let mut o4 = options(&data, &out4, 0.1);
    o4.version = "v2.0.1".into();
    o4.init_from = Some(tmp.path().join("nowhere"));
    assert_eq!(train(&o4, &mut |_| {}).unwrap().report.init.mode, "fresh");

    // an existing model is never overwritten
    let err = train(&options(&data, &out, 0.1), &mut |_| {}).err().unwrap();
    assert!(format!("{err:#}").contains("not empty"), "{err:#}");
}

#[test]
fn too_little_data_or_bad_options_fail_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_synthetic(&data, 5, 10, 1).unwrap();
    let err = train(&options(&data, &tmp.path().join("m"), 1.0), &mut |_| {}).err().unwrap();
    assert!(format!("{err:#}").contains("at least 10"), "{err:#}");
    let mut o = options(&data, &tmp.path().join("m"), 1.0);
    o.version = "1.0".into();
    assert!(train(&o, &mut |_| {}).is_err());
    assert!(!tmp.path().join("m").exists());
}

#[test]
fn the_serving_model_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<CoachModel>();
}

#[test]
fn early_stopping_on_the_dev_slice_keeps_the_best_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_synthetic(&data, 1200, 1200, 8).unwrap();
    let mut o = options(&data, &tmp.path().join("m"), 4.0);
    o.model = ModelConfig { d_model: 32, n_layers: 1, n_heads: 2, d_ff: 64, ..ModelConfig::default() };
    o.patience = 1;
    o.dev_check_every = Some(Duration::ZERO);
    o.eval_generations = 5;
    let r = train(&o, &mut |_| {}).unwrap().report;
    assert!(r.data.dev_records > 0 && r.training.dev_records > 0, "{:?}", r.data);
    assert_eq!(r.data.train_records + r.data.heldout_records + r.data.dev_records, 1200);
    assert_eq!(r.training.stopped_by, "early_stopping", "{:?}", r.training);
    let best = r.training.best_step.unwrap();
    assert!(best >= 1 && best <= r.training.steps);
    assert!(r.training.best_dev_loss.unwrap().is_finite());
}
