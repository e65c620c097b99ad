//! Training sessions and scheduled jobs: creation, conflicts, the state machine driven by the
//! worker, retries with their cap, cancellation, retention — on both engines. The trainer here is a
//! real child process (a shell script standing in for a crashing trainer); the end-to-end run with
//! the real trainer is in `training_pipeline.rs`.

mod common;

use std::time::Duration;

use axum::http::Method;
use common::{Auth, Engine, TestApp, app_with_trainer};
use serde_json::{Value, json};

async fn add_records(app: &TestApp, user: &str, n: usize) {
    let t = app.user(user, false, true).await;
    for i in 0..n {
        let body = json!({
            "hashedUserId": coach_shared::hash_user_id(user), "exerciseType": "squat", "setNumber": 1 + (i % 5),
            "strainPercentage": 50 + (i % 50), "aiResponse": "Steady tempo, full depth.", "contextTags": ["strength"],
            "timestamp": (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339(),
        });
        let r = app.json(Method::POST, "/v1/ai-training/data", Auth::Bearer(t.clone()), body).await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
}

async fn wait_for(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let s = app.get(&format!("/v1/ai-training/sessions/{id}"), Auth::Admin).await.json();
        if done(&s) {
            return s;
        }
        assert!(std::time::Instant::now() < deadline, "session never reached the state: {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn terminal(s: &Value) -> bool {
    s["status"] == "completed" || s["status"] == "failed"
}

both_engines!(a_session_without_data_fails_at_once_and_is_not_retried, |app: TestApp| async move {
    let r = app.json(Method::POST, "/v1/ai-training/sessions", Auth::Admin, json!({"batchId": "empty-1"})).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let s = r.json();
    assert_eq!(s["status"], "scheduled");
    assert_eq!(s["recordCount"], 0);
    assert_eq!(s["retryCount"], 0);
    let id = s["id"].as_str().unwrap().to_string();
    let done = wait_for(&app, &id, terminal).await;
    assert_eq!(done["status"], "failed");
    assert!(done["errorMessage"].as_str().unwrap().contains("No training data"), "{done}");
    assert_eq!(done["retryCount"], 0, "not retried automatically");
    assert!(done["completedAt"].is_string());
});

both_engines!(creation_conflicts_and_validation, |app: TestApp| async move {
    let app = app_with_trainer(app.engine, "sleep 30").await.unwrap();
    add_records(&app, "s_conf", 3).await;
    let r = app.json(Method::POST, "/v1/ai-training/sessions", Auth::Admin, json!({"batchId": "b-1"})).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["recordCount"], 3, "pending data counted at start");
    assert!(r.json()["dataSize"].as_u64().unwrap() > 0);
    let id = r.json()["id"].as_str().unwrap().to_string();
    app.json(Method::POST, "/v1/ai-training/sessions", Auth::Admin, json!({"batchId": "b-2"}))
        .await
        .assert_error(409, Some("session_in_progress"));
    app.json(Method::POST, "/v1/ai-training/sessions", Auth::Admin, json!({"batchId": "b-1"}))
        .await
        .assert_error(409, Some("batch_exists"));
    app.json(Method::POST, "/v1/ai-training/sessions", Auth::Admin, json!({"batchId": ""}))
        .await
        .assert_error(400, Some("validation_error"));
    app.json(Method::POST, "/v1/ai-training/sessions", Auth::Admin, json!({}))
        .await
        .assert_error(400, Some("validation_error"));
    let user = app.user("s_conf_user", false, false).await;
    app.json(Method::POST, "/v1/ai-training/sessions", Auth::Bearer(user), json!({"batchId": "b-3"}))
        .await
        .assert_error(403, Some("forbidden"));
    // the worker moves it along: data collection → training (the stand-in trainer sleeps)
    let s = wait_for(&app, &id, |s| s["status"] == "training").await;
    assert!(s["startedAt"].is_string());
    // cancel stops it
    let r = app
        .json(Method::PATCH, &format!("/v1/ai-training/sessions/{id}"), Auth::Admin, json!({"status": "cancelled"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "failed");
    assert!(r.json()["errorMessage"].as_str().unwrap().starts_with("Cancelled"));
    app.json(Method::PATCH, &format!("/v1/ai-training/sessions/{id}"), Auth::Admin, json!({"status": "cancelled"}))
        .await
        .assert_error(409, Some("invalid_state"));
    // a new session may start now
    let r = app.json(Method::POST, "/v1/ai-training/sessions", Auth::Admin, json!({"batchId": "b-4"})).await;
    assert_eq!(r.status, 201);
});

both_engines!(transient_failures_are_retried_up_to_five_times, |app: TestApp| async move {
    // a trainer that crashes every time (SIGKILL of itself, as an OOM kill would look)
    let app = app_with_trainer(app.engine, r#"echo '{"event":"progress","step":1}'; kill -9 $$"#).await.unwrap();
    add_records(&app, "s_retry", 2).await;
    let r = app.json(Method::POST, "/v1/ai-training/sessions", Auth::Admin, json!({"batchId": "crashy"})).await;
    let id = r.json()["id"].as_str().unwrap().to_string();
    let done = wait_for(&app, &id, |s| s["status"] == "failed").await;
    assert_eq!(done["retryCount"], 5, "{done}");
    let msg = done["errorMessage"].as_str().unwrap();
    assert!(msg.contains("Maximum retry limit (5) exceeded"), "{msg}");
    // manual retry is refused now: the 6th
    let r = app
        .json(Method::PATCH, &format!("/v1/ai-training/sessions/{id}"), Auth::Admin, json!({"status": "retrying"}))
        .await;
    let v = r.assert_error(400, Some("retry_limit_exceeded"));
    assert_eq!(v["message"], "Maximum retry limit (5) exceeded");
    let s = app.get(&format!("/v1/ai-training/sessions/{id}"), Auth::Admin).await.json();
    assert_eq!(s["retryCount"], 5, "unchanged");
});

both_engines!(manual_retries_count_and_stop_at_five, |app: TestApp| async move {
    // a trainer that always reports an error (not transient from the API's view: it still retries)
    let app = app_with_trainer(app.engine, r#"echo '{"event":"error","message":"disk full"}'; exit 1"#).await.unwrap();
    // no data: fails at once, no automatic retries, so every retry below is manual
    let r = app.json(Method::POST, "/v1/ai-training/sessions", Auth::Admin, json!({"batchId": "manual"})).await;
    let id = r.json()["id"].as_str().unwrap().to_string();
    wait_for(&app, &id, terminal).await;
    for n in 1..=5 {
        let r = app
            .json(Method::PATCH, &format!("/v1/ai-training/sessions/{id}"), Auth::Admin, json!({"status": "retrying"}))
            .await;
        assert_eq!(r.status, 200, "retry {n}: {}", r.text());
        assert_eq!(r.json()["retryCount"], n);
        wait_for(&app, &id, |s| s["status"] == "failed" && s["retryCount"] == n).await;
    }
    let r = app
        .json(Method::PATCH, &format!("/v1/ai-training/sessions/{id}"), Auth::Admin, json!({"status": "retrying"}))
        .await;
    assert_eq!(r.assert_error(400, Some("retry_limit_exceeded"))["message"], "Maximum retry limit (5) exceeded");
    app.json(Method::PATCH, &format!("/v1/ai-training/sessions/{id}"), Auth::Admin, json!({"status": "paused"}))
        .await
        .assert_error(400, Some("validation_error"));
    app.json(Method::PATCH, "/v1/ai-training/sessions/nope", Auth::Admin, json!({"status": "retrying"}))
        .await
        .assert_error(404, Some("not_found"));
});

both_engines!(lists_filter_and_page, |app: TestApp| async move {
    for b in ["l-1", "l-2", "l-3"] {
        let r = app.json(Method::POST, "/v1/ai-training/sessions", Auth::Admin, json!({"batchId": b})).await;
        let id = r.json()["id"].as_str().unwrap().to_string();
        wait_for(&app, &id, terminal).await; // no data: each fails at once
    }
    let page = app.get("/v1/ai-training/sessions?limit=2", Auth::Admin).await.json();
    assert_eq!(page["sessions"].as_array().unwrap().len(), 2);
    assert_eq!(page["total"], 3);
    assert_eq!(page["hasMore"], true);
    let rest = app.get("/v1/ai-training/sessions?limit=2&offset=2", Auth::Admin).await.json();
    assert_eq!(rest["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(rest["hasMore"], false);
    assert_eq!(app.get("/v1/ai-training/sessions?status=failed", Auth::Admin).await.json()["total"], 3);
    assert_eq!(app.get("/v1/ai-training/sessions?status=running", Auth::Admin).await.json()["total"], 0);
    app.get("/v1/ai-training/sessions?status=bogus", Auth::Admin).await.assert_error(400, Some("validation_error"));
    app.get("/v1/ai-training/sessions?limit=0", Auth::Admin).await.assert_error(400, Some("validation_error"));
    app.get("/v1/ai-training/sessions?limit=101", Auth::Admin).await.assert_error(400, Some("validation_error"));
    app.get("/v1/ai-training/sessions?offset=-1", Auth::Admin).await.assert_error(400, Some("invalid_query"));
    app.get("/v1/ai-training/sessions", Auth::None).await.assert_error(401, None);
    app.get("/v1/ai-training/sessions/nope", Auth::Admin).await.assert_error(404, Some("not_found"));
});

both_engines!(retention_job_deletes_old_rows_only, |app: TestApp| async move {
    add_records(&app, "s_ret", 2).await;
    // an old row (as if it had been kept past six months)
    sqlx::query("UPDATE ai_training_data SET event_at = $1 WHERE id = (SELECT MIN(id) FROM ai_training_data)")
        .bind(coach_server::db::now_ms() - 200 * 86_400_000)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let r = app.send(Method::POST, "/v1/admin/jobs/retention-cleanup", Auth::Admin, None, vec![]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["result"]["deletedTrainingRecords"], 1);
    let n: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM ai_training_data")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
    app.send(Method::POST, "/v1/admin/jobs/nope", Auth::Admin, None, vec![]).await.assert_error(404, Some("not_found"));
    let user = app.user("s_ret_u", false, false).await;
    app.send(Method::POST, "/v1/admin/jobs/retention-cleanup", Auth::Bearer(user), None, vec![])
        .await
        .assert_error(403, None);
});

both_engines!(weekly_job_starts_a_session_and_leases_are_exclusive, |app: TestApp| async move {
    let r = app.send(Method::POST, "/v1/admin/jobs/weekly-training", Auth::Admin, None, vec![]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["result"]["session"]["batchId"].as_str().unwrap().starts_with("weekly-"));
    let db = &app.state.db;
    assert!(coach_server::training::jobs::acquire_lease(db, "x", "replica-a").await.unwrap());
    assert!(!coach_server::training::jobs::acquire_lease(db, "x", "replica-b").await.unwrap(), "held by a");
    assert!(coach_server::training::jobs::acquire_lease(db, "x", "replica-a").await.unwrap(), "re-entrant");
});

#[tokio::test]
async fn coach_answers_with_rules_when_no_model_is_live() {
    let app = TestApp::new(Engine::Sqlite).await.unwrap();
    let t = app.user("coach_u", false, false).await;
    let r = app
        .json(
            Method::POST,
            "/v1/ai/coach",
            Auth::Bearer(t.clone()),
            json!({"exerciseType": "deadlift", "setNumber": 4, "strainPercentage": 92}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["modelVersion"], "rules");
    assert_eq!(v["tone"], "whisper");
    assert!(v["text"].as_str().unwrap().chars().count() <= 280);
    let r = app
        .json(
            Method::POST,
            "/v1/ai/coach",
            Auth::Bearer(t.clone()),
            json!({"exerciseType": "bench_press", "contextTags": ["pr_attempt"]}),
        )
        .await;
    assert_eq!(r.json()["tone"], "hype");
    let other = app.user("coach_other", false, false).await;
    let w = app
        .json(
            Method::POST,
            "/v1/workouts",
            Auth::Bearer(other),
            json!({"exerciseType": "row", "setNumber": 1, "weight": 50, "reps": 10, "perceivedExertion": 6}),
        )
        .await
        .json();
    app.json(Method::POST, "/v1/ai/coach", Auth::Bearer(t.clone()), json!({"workoutEntryId": w["id"]}))
        .await
        .assert_error(404, Some("not_found"));
    app.json(Method::POST, "/v1/ai/coach", Auth::Bearer(t.clone()), json!({}))
        .await
        .assert_error(400, Some("validation_error"));
    app.json(
        Method::POST,
        "/v1/ai/coach",
        Auth::Bearer(t.clone()),
        json!({"exerciseType": "squat", "strainPercentage": 150}),
    )
    .await
    .assert_error(400, Some("validation_error"));
    app.json(
        Method::POST,
        "/v1/ai/coach",
        Auth::Bearer(t),
        json!({"exerciseType": "squat", "contextTags": ["made_up"]}),
    )
    .await
    .assert_error(400, Some("validation_error"));
}

both_engines!(model_endpoints_without_models, |app: TestApp| async move {
    let list = app.get("/v1/ai-training/models", Auth::Admin).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.json()["total"], 0);
    app.get("/v1/ai-training/models?status=bogus", Auth::Admin).await.assert_error(400, Some("validation_error"));
    app.get("/v1/ai-training/models/nope", Auth::Admin).await.assert_error(404, Some("not_found"));
    app.json(
        Method::POST,
        "/v1/ai-training/models/nope/deploy",
        Auth::Admin,
        json!({"deploymentEnvironment": "production"}),
    )
    .await
    .assert_error(404, Some("not_found"));
    // a model row without metrics cannot be deployed
    sqlx::query(
        "INSERT INTO ai_models (id, version, hugging_face_model_id, base_model, training_data_batch, status, training_started_at, created_at)
         VALUES ('m0', 'v0.1.0', 'local/x', 'scratch', 'b', 'training', 0, 0)",
    )
    .execute(&app.state.db.pool)
    .await
    .unwrap();
    app.json(
        Method::POST,
        "/v1/ai-training/models/m0/deploy",
        Auth::Admin,
        json!({"deploymentEnvironment": "production"}),
    )
    .await
    .assert_error(400, Some("model_not_ready"));
    app.json(Method::POST, "/v1/ai-training/models/m0/deploy", Auth::Admin, json!({"deploymentEnvironment": "moon"}))
        .await
        .assert_error(400, Some("validation_error"));
    app.json(Method::POST, "/v1/ai-training/models/m0/rollback", Auth::Admin, json!({"rollbackReason": "bad"}))
        .await
        .assert_error(400, Some("rollback_unavailable"));
    app.json(Method::POST, "/v1/ai-training/models/m0/rollback", Auth::Admin, json!({}))
        .await
        .assert_error(400, Some("validation_error"));
    let one = app.get("/v1/ai-training/models/m0", Auth::Admin).await.json();
    assert_eq!(one["version"], "v0.1.0");
    assert_eq!(one["status"], "training");
    assert!(one["performanceMetrics"].is_null());
});
