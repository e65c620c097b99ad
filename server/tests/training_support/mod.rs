//! Helpers of the training tests: a fake Hugging Face Hub ([`fake_hub`]) and realistic consented
//! records submitted through the API ([`submit_records`]).
#![allow(dead_code)]

pub mod fake_hub;

use axum::http::Method;
use serde_json::{Value, json};

use crate::common::{Auth, TestApp};

/// `n` realistic consented records of `user`: synthesized by the trainer (`coach-server trainer
/// synth`, deterministic for `seed`) and submitted through `POST /v1/ai-training/data`.
pub async fn submit_records(app: &TestApp, user: &str, n: usize, seed: u64) {
    let t = app.user(user, false, true).await;
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coach-server"))
        .args(["trainer", "synth", "--records", &n.to_string(), "--seed", &seed.to_string(), "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut sent = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        for line in std::fs::read_to_string(entry.unwrap().path()).unwrap().lines() {
            let mut v: Value = serde_json::from_str(line).unwrap();
            v["hashedUserId"] = json!(coach_shared::hash_user_id(user));
            v["timestamp"] = json!((chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339());
            let r = app.json(Method::POST, "/v1/ai-training/data", Auth::Bearer(t.clone()), v).await;
            assert_eq!(r.status, 201, "{}", r.text());
            sent += 1;
        }
    }
    assert_eq!(sent, n);
}
