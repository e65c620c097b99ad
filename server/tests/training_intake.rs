//! Training-data intake: consent, ownership of the hash, validation, PII, keyed storage,
//! idempotency and rate limits — on both engines.

mod common;

use axum::http::Method;
use common::{Auth, Engine, TestApp};
use serde_json::{Value, json};

fn submission(user_id: &str) -> Value {
    json!({
        "hashedUserId": coach_shared::hash_user_id(user_id),
        "exerciseType": "bench_press",
        "setNumber": 3,
        "strainPercentage": 72.5,
        "skipReason": null,
        "sleepHours": 7.5,
        "aiResponse": "Great form! Try adding 5 more pounds next set.",
        "contextTags": ["high_strain", "morning_workout"],
        "timestamp": (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339(),
    })
}

async fn post(app: &TestApp, token: &str, body: Value) -> common::TestResponse {
    app.json(Method::POST, "/v1/ai-training/data", Auth::Bearer(token.into()), body).await
}

both_engines!(consenting_user_submits_and_only_the_keyed_hash_is_stored, |app: TestApp| async move {
    let t = app.user("td_1", false, true).await;
    let r = post(&app, &t, submission("td_1")).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let body = r.json();
    assert_eq!(body["status"], "validated");
    assert!(body["batchId"].is_null());
    assert!(body["id"].is_string());

    let raw = coach_shared::hash_user_id("td_1");
    let (key,): (String,) =
        sqlx::query_as("SELECT subject_key FROM ai_training_data").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(key.len(), 64);
    assert_ne!(key, raw, "the raw SHA-256 is never stored");
    assert_eq!(key, coach_server::training::subject::subject_key(&app.state.secrets.subject_pepper, &raw));
    let n: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM ai_training_data WHERE subject_key = $1 OR ai_response LIKE $2",
    )
    .bind(&raw)
    .bind(format!("%{raw}%"))
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(n, 0);
});

both_engines!(no_consent_or_a_foreign_hash_is_403_and_stores_nothing, |app: TestApp| async move {
    let no = app.user("td_no", false, false).await;
    post(&app, &no, submission("td_no")).await.assert_error(403, Some("consent_required"));
    let yes = app.user("td_yes", false, true).await;
    post(&app, &yes, submission("someone_else")).await.assert_error(403, Some("hash_mismatch"));
    // withdrawing consent stops intake
    app.json(Method::PUT, "/v1/users/me/consent", Auth::Bearer(yes.clone()), json!({"dataCollectionConsent": false}))
        .await;
    post(&app, &yes, submission("td_yes")).await.assert_error(403, Some("consent_required"));
    let n: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM ai_training_data")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
    post(&app, "not-a-token", submission("td_yes")).await.assert_error(401, None);
});

both_engines!(pii_and_bad_fields_are_400_naming_the_field, |app: TestApp| async move {
    app.json(Method::POST, "/v1/users", Auth::Admin, json!({"id": "td_pii", "email": "jordan.smith@example.com", "name": "Jordan Smith", "dataCollectionConsent": true})).await;
    let t = app.token("td_pii", "user").await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"aiResponse": "Text me at 555-123-4567"}), "aiResponse"),
        (json!({"aiResponse": "Nice work, Jordan Smith!"}), "aiResponse"),
        (json!({"skipReason": "mail jo@example.com"}), "skipReason"),
        (json!({"skipReason": "card 4111 1111 1111 1111"}), "skipReason"),
        (json!({"contextTags": ["high_strain", "call me"]}), "contextTags[1]"),
        (json!({"setNumber": 21}), "setNumber"),
        (json!({"strainPercentage": 100.5}), "strainPercentage"),
        (json!({"sleepHours": -1}), "sleepHours"),
        (json!({"aiResponse": "x".repeat(281)}), "aiResponse"),
        (json!({"hashedUserId": "ABC"}), "hashedUserId"),
        (json!({"timestamp": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339()}), "timestamp"),
        (json!({"timestamp": (chrono::Utc::now() - chrono::Duration::days(200)).to_rfc3339()}), "timestamp"),
    ];
    for (patch, field) in cases {
        let mut body = submission("td_pii");
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let v = post(&app, &t, body).await.assert_error(400, Some("validation_error"));
        assert_eq!(v["details"]["field"], field, "{v}");
        assert!(v["message"].as_str().unwrap().contains(field), "{v}");
    }
    let mut wrong_type = submission("td_pii");
    wrong_type["setNumber"] = json!("three");
    post(&app, &t, wrong_type).await.assert_error(400, Some("validation_error"));
    let mut missing = submission("td_pii");
    missing.as_object_mut().unwrap().remove("aiResponse");
    post(&app, &t, missing).await.assert_error(400, Some("validation_error"));
    let n: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM ai_training_data")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(n, 0, "nothing half-written");
});

// The attack row: obfuscated emails and phone numbers were stored as training data. Each
// is now a 400 naming the field and the kind; workout talk with numbers still goes through.
both_engines!(obfuscated_pii_is_400_naming_the_field_and_workout_numbers_pass, |app: TestApp| async move {
    let t = app.user("td_obf", false, true).await;
    let attacks = [
        ("jane.doe @gmail.com", "an email address"),
        ("jane.doe\u{200B}@gmail.com", "an email address"),
        ("josé@example.com", "an email address"),
        ("jane＠gmail.com", "an email address"),
        ("555 - 123 - 4567", "a phone number"),
        ("5 5 5 1 2 3 4 5 6 7", "a phone number"),
        ("５５５１２３４５６７", "a phone number"),
        ("jane dot doe at gmail dot com", "an email address"),
    ];
    for (text, kind) in attacks {
        for field in ["aiResponse", "skipReason"] {
            let mut body = submission("td_obf");
            body[field] = json!(format!("Nice set. {text}"));
            let v = post(&app, &t, body).await.assert_error(400, Some("validation_error"));
            assert_eq!(v["details"]["field"], field, "{text}: {v}");
            let message = v["message"].as_str().unwrap();
            assert!(message.contains(field) && message.contains(kind), "{text}: {v}");
        }
    }
    let n: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM ai_training_data")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(n, 0, "no obfuscated PII stored");
    for ok in ["3 x 5 @ 80%, then 3x10 @ 135", "5k in 25:30 on 2024-05-01 at 6:30", "Sets 10 10 8 8 6, 135 185 225 lbs"]
    {
        let mut body = submission("td_obf");
        body["aiResponse"] = json!(ok);
        let r = post(&app, &t, body).await;
        assert_eq!(r.status, 201, "{ok}: {}", r.text());
    }
});

both_engines!(idempotency_key_replays_instead_of_duplicating, |app: TestApp| async move {
    let t = app.user("td_idem", false, true).await;
    let body = serde_json::to_vec(&submission("td_idem")).unwrap();
    let send = |key: &'static str, body: Vec<u8>| {
        let req = axum::http::Request::builder()
            .method(Method::POST)
            .uri("/v1/ai-training/data")
            .header("authorization", format!("Bearer {t}"))
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(axum::body::Body::from(body))
            .unwrap();
        let router = app.router.clone();
        async move { tower::ServiceExt::oneshot(router, req).await.unwrap() }
    };
    let first = send("k-1", body.clone()).await;
    assert_eq!(first.status(), 201);
    let first_body = http_body_util::BodyExt::collect(first.into_body()).await.unwrap().to_bytes();
    let again = send("k-1", body.clone()).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again_body = http_body_util::BodyExt::collect(again.into_body()).await.unwrap().to_bytes();
    assert_eq!(first_body, again_body, "the same response");
    // concurrent retries of a new key still make one record
    let (a, b) = tokio::join!(send("k-2", body.clone()), send("k-2", body.clone()));
    assert_eq!((a.status(), b.status()), (axum::http::StatusCode::CREATED, axum::http::StatusCode::CREATED));
    let n: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM ai_training_data")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(n, 2, "one row per key");
    let mut other = submission("td_idem");
    other["setNumber"] = json!(4);
    let r = send("k-1", serde_json::to_vec(&other).unwrap()).await;
    assert_eq!(r.status(), 422);
});

#[tokio::test]
async fn bursts_beyond_the_limit_get_429_with_retry_after() {
    let app = TestApp::with_config(Engine::Sqlite, |c| {
        c.training.intake_burst = 3;
        c.training.intake_per_minute = 1;
    })
    .await
    .unwrap();
    let t = app.user("td_rate", false, true).await;
    for _ in 0..3 {
        assert_eq!(post(&app, &t, submission("td_rate")).await.status, 201);
    }
    let r = post(&app, &t, submission("td_rate")).await;
    r.assert_error(429, Some("rate_limited"));
    assert!(r.headers.get("retry-after").is_some());
}

both_engines!(hashes_from_the_shared_vectors_are_accepted, |app: TestApp| async move {
    #[derive(serde::Deserialize)]
    struct V {
        input: String,
        sha256: String,
    }
    let vectors: Vec<V> = serde_json::from_str(coach_shared::vectors::HASHES).unwrap();
    let mut tried = 0;
    for v in vectors.iter().filter(|v| coach_shared::validate::is_valid_user_id(&v.input) && !v.input.contains('@')) {
        let t = app.user(&v.input, false, true).await;
        let mut body = submission(&v.input);
        body["hashedUserId"] = json!(v.sha256);
        assert_eq!(post(&app, &t, body).await.status, 201, "vector {}", v.input);
        tried += 1;
    }
    assert!(tried >= 3);
});

both_engines!(admins_list_anonymized_rows, |app: TestApp| async move {
    let t = app.user("td_list", false, true).await;
    for _ in 0..3 {
        post(&app, &t, submission("td_list")).await;
    }
    let page = app.get("/v1/ai-training/data?limit=2", Auth::Admin).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let v = page.json();
    assert_eq!(v["records"].as_array().unwrap().len(), 2);
    assert_eq!(v["total"], 3);
    assert_eq!(v["pending"], 3);
    let text = page.text();
    assert!(
        !text.contains("td_list") && !text.contains(&coach_shared::hash_user_id("td_list")),
        "no ids, no raw hashes"
    );
    let next = v["nextCursor"].as_str().unwrap();
    let rest = app.get(&format!("/v1/ai-training/data?limit=2&cursor={next}"), Auth::Admin).await.json();
    assert_eq!(rest["records"].as_array().unwrap().len(), 1);
    assert!(rest["nextCursor"].is_null());
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let all = app.get(&format!("/v1/ai-training/data?before={later}"), Auth::Admin).await.json();
    assert_eq!(all["records"].as_array().unwrap().len(), 3);
    let earlier = (chrono::Utc::now() - chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let none = app.get(&format!("/v1/ai-training/data?before={earlier}"), Auth::Admin).await.json();
    assert_eq!(none["records"].as_array().unwrap().len(), 0);
    app.get("/v1/ai-training/data?cursor=garbage", Auth::Admin).await.assert_error(400, Some("validation_error"));
    app.get("/v1/ai-training/data", Auth::Bearer(t)).await.assert_error(403, Some("forbidden"));
    app.get("/v1/ai-training/data?limit=101", Auth::Admin).await.assert_error(400, Some("validation_error"));
});
