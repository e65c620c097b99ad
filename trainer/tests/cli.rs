//! The command line as a supervisor sees it: JSON lines on stdout (`progress` … `done`), an
//! `error` line and exit code 1 on failure; `generate` and `synth` work from the shell.

use std::process::Command;

use serde_json::Value;

fn run(args: &[&str]) -> (i32, Vec<Value>) {
    let out = Command::new(env!("CARGO_BIN_EXE_coach-trainer")).args(args).output().unwrap();
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    (out.status.code().unwrap(), lines)
}

#[test]
fn synth_train_generate_eval_over_json_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let model = tmp.path().join("model");
    let (code, lines) = run(&["synth", "--records", "120", "--out", data.to_str().unwrap(), "--shard-size", "50"]);
    assert_eq!(code, 0);
    assert_eq!(lines[0]["shards"], 3);
    // a line the trainer must skip and count
    std::fs::write(data.join("zz-broken.jsonl"), "{oops\n").unwrap();

    let (code, lines) = run(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--budget-secs",
        "3",
        "--max-epochs",
        "2",
        "--seed",
        "4",
        "--version",
        "v0.2.0",
        "--threads",
        "1",
        "--d-model",
        "32",
        "--layers",
        "1",
    ]);
    assert_eq!(code, 0, "{lines:?}");
    let (last, progress) = lines.split_last().unwrap();
    assert!(progress.iter().all(|l| l["event"] == "progress"));
    for phase in ["tokenizer", "training", "evaluation"] {
        assert!(progress.iter().any(|l| l["phase"] == phase), "no {phase} progress");
    }
    let step = progress.iter().find(|l| l["phase"] == "training").unwrap();
    assert!(step["step"].is_u64() && step["loss"].is_f64() && step["elapsed"].is_f64());
    assert_eq!(last["event"], "done");
    let report = &last["report"];
    assert_eq!(report["version"], "v0.2.0");
    assert_eq!(report["data"]["invalidLines"], 1);
    assert!(report["metrics"]["perplexity"].is_f64());
    assert!(report["training"]["dataSeenShare"].is_f64());

    let ctx = r#"{"exerciseType":"squat","setNumber":3,"strainPercentage":91,"contextTags":["high_strain"]}"#;
    let (code, lines) = run(&["generate", "--model", model.to_str().unwrap(), "--context", ctx, "--count", "2"]);
    assert_eq!(code, 0);
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l["event"] == "generation" && l["text"].is_string() && l["tone"].is_string()));
    assert_eq!(lines[0]["modelVersion"], "v0.2.0");

    let (code, lines) =
        run(&["eval", "--model", model.to_str().unwrap(), "--data", data.to_str().unwrap(), "--generations", "5"]);
    assert_eq!(code, 0);
    let report = &lines.last().unwrap()["report"];
    assert!(report["scores"]["lossPerByte"].is_f64());
    assert!(report["scores"]["baseline"]["bleuScore"].is_f64());

    // failures: one error line, exit code 1
    for args in [
        vec!["train", "--data", "/nonexistent/dir", "--out", tmp.path().join("x").to_str().unwrap()],
        vec!["train", "--data", data.to_str().unwrap(), "--out", model.to_str().unwrap()],
        vec!["generate", "--model", model.to_str().unwrap(), "--context", "{\"setNumber\": 99}"],
        vec!["train", "--bogus"],
    ] {
        let (code, lines) = run(&args);
        assert_eq!(code, 1, "{args:?}");
        let last = lines.last().unwrap();
        assert_eq!(last["event"], "error");
        assert!(last["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}
