//! The learning loop end to end with the REAL trainer (a child process of the server binary):
//! consented records → session → a deployed `vX.Y.Z` model with all metrics → the coach answers
//! from it → a second model deploys and rolls back → a trainer killed mid-run leaves the deployed
//! model serving. On both engines.

mod common;
mod training_support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::http::Method;
use common::{Auth, Engine, TestApp};
use serde_json::{Value, json};
use training_support::submit_records;

/// A trainer command that crashes (SIGKILL after its first progress line) while `flag` exists, and
/// runs the real trainer otherwise.
fn trainer_command(flag: &Path) -> Vec<String> {
    let script = format!(
        r#"if [ -f '{}' ]; then echo '{{"event":"progress","step":0}}'; kill -9 $$; fi; exec '{}' trainer "$@""#,
        flag.display(),
        env!("CARGO_BIN_EXE_coach-server")
    );
    vec!["sh".into(), "-c".into(), script, "trainer".into()]
}

async fn app(engine: Engine, flag: &Path) -> Option<TestApp> {
    let cmd = trainer_command(flag);
    TestApp::with_config(engine, move |c| {
        c.training.trainer_command = cmd;
        c.training.train_budget = Duration::from_secs(12);
        c.training.retry_base = Duration::from_millis(1);
        c.training.scheduler = false;
    })
    .await
}

async fn run_session(app: &TestApp, batch: &str) -> Value {
    let r = app.json(Method::POST, "/v1/ai-training/sessions", Auth::Admin, json!({"batchId": batch})).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut seen = Vec::new();
    loop {
        let s = app.get(&format!("/v1/ai-training/sessions/{id}"), Auth::Admin).await.json();
        let status = s["status"].as_str().unwrap().to_string();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == "completed" || status == "failed" {
            return json!({"session": s, "seen": seen});
        }
        assert!(Instant::now() < deadline, "session did not finish: {s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn model_by_version(app: &TestApp, version: &str) -> Value {
    let list = app.get(&format!("/v1/ai-training/models?version={version}"), Auth::Admin).await.json();
    assert_eq!(list["total"], 1, "{list}");
    list["models"][0].clone()
}

fn artifact_dir(app: &TestApp, version: &str) -> PathBuf {
    app.data_dir.join("models").join(version)
}

both_engines!(the_learning_loop_end_to_end, |app: TestApp| async move {
    let flags = tempfile::tempdir().unwrap();
    let flag = flags.path().join("crash-trainer");
    let engine = app.engine;
    drop(app);
    let app = self::app(engine, &flag).await.unwrap();

    // 1. seventy consented records → a session → v1.0.0 deployed, trained for real
    submit_records(&app, "loop_a", 70, 1).await;
    let run = run_session(&app, "loop-1").await;
    let s = &run["session"];
    assert_eq!(s["status"], "completed", "{run}");
    assert_eq!(s["recordCount"], 70);
    assert!(s["dataSize"].as_u64().unwrap() > 1000);
    assert!(s["modelOutputPath"].as_str().unwrap().ends_with("v1.0.0"));
    let seen: Vec<&str> = run["seen"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(seen.contains(&"training") && seen.contains(&"validation"), "{seen:?}");
    let v1 = model_by_version(&app, "v1.0.0").await;
    assert_eq!(v1["status"], "deployed", "{v1}");
    assert_eq!(v1["deployedEnvironments"], json!(["production"]));
    let m = &v1["performanceMetrics"];
    for k in ["perplexity", "bleuScore", "validationLoss", "trainingLoss", "responsiveness"] {
        assert!(m[k].as_f64().is_some_and(f64::is_finite), "{k}: {m}");
    }
    assert!(m["perplexity"].as_f64().unwrap() > 1.0);
    assert!((0.0..=1.0).contains(&m["bleuScore"].as_f64().unwrap()));
    let dir = artifact_dir(&app, "v1.0.0");
    for f in ["config.json", "model.safetensors", "tokenizer.json", "README.md"] {
        assert!(dir.join(f).is_file(), "{f} in the HF layout");
    }
    let card = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(card.contains("perplexity") || card.contains("Perplexity"), "model card has metrics");
    assert!(!card.contains("loop_a") && !card.contains(&coach_shared::hash_user_id("loop_a")), "no ids in the card");
    // the training rows of the batch are marked
    let listing = app.get("/v1/ai-training/data?limit=1", Auth::Admin).await.json();
    assert_eq!(listing["pending"], 0);
    assert_eq!(listing["records"][0]["batchId"], "loop-1");
    assert_eq!(listing["records"][0]["status"], "queued_for_training");

    // a second replica on the same database and data dir: it loads the live model at start and
    // follows later deployments made through the first one
    let replica = coach_server::build_state((*app.state.config).clone()).await.unwrap().state;
    assert_eq!(replica.training.serving.get("production").unwrap().version, "v1.0.0");

    // 2. the coach answers from it
    let t = app.user("loop_coach", false, false).await;
    let mut from_model = 0;
    for (strain, tags) in [
        (40, json!([])),
        (55, json!(["working_set"])),
        (30, json!(["warmup"])),
        (92, json!([])),
        (50, json!(["pr_attempt"])),
    ] {
        let r = app
            .json(
                Method::POST,
                "/v1/ai/coach",
                Auth::Bearer(t.clone()),
                json!({"exerciseType": "squat", "setNumber": 2, "strainPercentage": strain, "contextTags": tags}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        assert!(v["text"].as_str().unwrap().chars().count() <= 280);
        if v["modelVersion"] == "v1.0.0" {
            from_model += 1;
        } else {
            assert_eq!(v["modelVersion"], "rules");
        }
    }
    assert!(from_model >= 1, "the deployed model answered at least once");

    // 3. a second model; an admin deploys it even if the gate held it back, then rolls back
    submit_records(&app, "loop_b", 70, 2).await;
    let run = run_session(&app, "loop-2").await;
    assert_eq!(run["session"]["status"], "completed", "{run}");
    let v2 = model_by_version(&app, "v1.1.0").await;
    assert!(v2["performanceMetrics"].is_object());
    let v2_id = v2["id"].as_str().unwrap().to_string();
    let v1_id = v1["id"].as_str().unwrap().to_string();
    if v2["status"] != "deployed" {
        let r = app
            .json(
                Method::POST,
                &format!("/v1/ai-training/models/{v2_id}/deploy"),
                Auth::Admin,
                json!({"deploymentEnvironment": "production"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["status"], "deployed");
        assert_eq!(r.json()["rollbackAvailable"], true);
    }
    let v2 = model_by_version(&app, "v1.1.0").await;
    assert_eq!(v2["status"], "deployed");
    assert_eq!(v2["rollbackData"]["previousModelId"], v1_id.as_str());
    assert_eq!(model_by_version(&app, "v1.0.0").await["status"], "archived");
    let r = app
        .json(
            Method::POST,
            &format!("/v1/ai-training/models/{v2_id}/rollback"),
            Auth::Admin,
            json!({"rollbackReason": "Performance degradation detected"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["rolledBackTo"], v1_id.as_str());
    let v1_now = model_by_version(&app, "v1.0.0").await;
    assert_eq!(v1_now["status"], "deployed");
    assert_eq!(v1_now["deployedEnvironments"], json!(["production"]));
    let v2_now = model_by_version(&app, "v1.1.0").await;
    assert_eq!(v2_now["status"], "archived");
    assert_eq!(v2_now["rollbackData"]["rollbackReason"], "Performance degradation detected");
    let live: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM model_deployments WHERE environment = 'production' AND retired_at IS NULL")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(live, 1, "exactly one live model in production");
    let deadline = Instant::now() + coach_server::training::SERVING_SYNC * 3;
    while replica.training.serving.get("production").map(|m| m.model_id.clone()) != Some(v1_id.clone()) {
        assert!(Instant::now() < deadline, "the other replica did not follow the rollback");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // staging is separate
    let r = app
        .json(
            Method::POST,
            &format!("/v1/ai-training/models/{v2_id}/deploy"),
            Auth::Admin,
            json!({"deploymentEnvironment": "staging"}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(model_by_version(&app, "v1.1.0").await["deployedEnvironments"], json!(["staging"]));

    // 4. a trainer killed mid-run: retried up to five times, then failed; v1.0.0 keeps serving
    submit_records(&app, "loop_c", 20, 3).await;
    std::fs::write(&flag, b"crash").unwrap();
    let run = run_session(&app, "loop-3").await;
    assert_eq!(run["session"]["status"], "failed", "{run}");
    assert_eq!(run["session"]["retryCount"], 5);
    assert!(run["session"]["errorMessage"].as_str().unwrap().contains("Maximum retry limit (5) exceeded"));
    let live = app.get("/v1/ai-training/models?status=deployed", Auth::Admin).await.json();
    let versions: Vec<&str> =
        live["models"].as_array().unwrap().iter().map(|m| m["version"].as_str().unwrap()).collect();
    assert!(versions.contains(&"v1.0.0"), "{versions:?}");
    assert!(artifact_dir(&app, "v1.0.0").join("model.safetensors").is_file(), "deployed artifacts intact");
});
