//! Migrations and invariants enforced by the database itself, on both engines.

mod common;

use coach_server::db::{is_unique_violation, now_ms};
use common::TestApp;

both_engines!(migrations_are_idempotent, |app: TestApp| async move {
    app.state.db.migrate().await.expect("second run is a no-op");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(n, 0);
});

both_engines!(one_live_model_per_environment, |app: TestApp| async move {
    let db = &app.state.db;
    let now = now_ms();
    for (id, v) in [("m1", "v1.0.0"), ("m2", "v1.1.0")] {
        sqlx::query(
            "INSERT INTO ai_models (id, version, hugging_face_model_id, base_model, training_data_batch, status, training_started_at, created_at)
             VALUES ($1, $2, 'local/coach', 'scratch', 'b', 'validating', $3, $3)",
        )
        .bind(id)
        .bind(v)
        .bind(now)
        .execute(&db.pool)
        .await
        .unwrap();
    }
    let deploy = |id: &'static str, model: &'static str, env: &'static str| {
        sqlx::query(
            "INSERT INTO model_deployments (id, model_id, environment, strategy, action, deployed_at) VALUES ($1, $2, $3, 'gradual', 'deploy', $4)",
        )
        .bind(id)
        .bind(model)
        .bind(env)
        .bind(now)
        .execute(&db.pool)
    };
    deploy("d1", "m1", "production").await.unwrap();
    deploy("d2", "m2", "staging").await.unwrap();
    let err = deploy("d3", "m2", "production").await.unwrap_err();
    assert!(is_unique_violation(&err), "{err}");
    sqlx::query("UPDATE model_deployments SET retired_at = $1 WHERE id = 'd1'")
        .bind(now)
        .execute(&db.pool)
        .await
        .unwrap();
    deploy("d3", "m2", "production").await.expect("after retiring the live one");
});

both_engines!(one_training_session_in_flight, |app: TestApp| async move {
    let db = &app.state.db;
    let insert = |id: &'static str, batch: &'static str, status: &'static str| {
        sqlx::query(
            "INSERT INTO training_sessions (id, batch_id, status, trigger_source, scheduled_at, created_at, updated_at)
             VALUES ($1, $2, $3, 'manual', 0, 0, 0)",
        )
        .bind(id)
        .bind(batch)
        .bind(status)
        .execute(&db.pool)
    };
    insert("s1", "b1", "completed").await.unwrap();
    insert("s2", "b2", "training").await.unwrap();
    let err = insert("s3", "b3", "scheduled").await.unwrap_err();
    assert!(is_unique_violation(&err), "{err}");
    let err = insert("s4", "b1", "failed").await.unwrap_err();
    assert!(is_unique_violation(&err), "batch ids are unique: {err}");
});

both_engines!(booleans_and_floats_round_trip, |app: TestApp| async move {
    use coach_server::db::{DbBool, DbF64};
    let db = &app.state.db;
    sqlx::query("INSERT INTO users (id, email, is_premium, data_collection_consent, created_at, updated_at) VALUES ('b', 'b@x.io', $1, $2, 0, 0)")
        .bind(true)
        .bind(false)
        .execute(&db.pool)
        .await
        .unwrap();
    let (p, c): (DbBool, DbBool) =
        sqlx::query_as("SELECT is_premium, data_collection_consent FROM users WHERE id = 'b'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((p.0, c.0), (true, false));
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE is_premium = TRUE").fetch_one(&db.pool).await.unwrap();
    assert_eq!(n, 1);
    let s: DbF64 = sqlx::query_scalar("SELECT CAST(COALESCE(SUM(created_at), 0) AS DOUBLE PRECISION) FROM users")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(s.0, 0.0);
    let s: i64 = sqlx::query_scalar("SELECT CAST(COALESCE(SUM(created_at), 0) AS BIGINT) FROM users")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(s, 0);
});

both_engines!(optional_floats_bind_null_then_values, |app: TestApp| async move {
    // sqlx's Any driver types a NULL f64 as float4 on PostgreSQL; the same prepared statement then
    // rejects a float8 value. `OptF64` binds NULL as float8: NULL first, values next, NULL again.
    use axum::http::Method;
    use common::Auth;
    let t = app.user("floats", false, false).await;
    for body in [
        serde_json::json!({"exerciseType": "row", "setNumber": 1, "weight": 40, "reps": 10, "perceivedExertion": 6}),
        serde_json::json!({"exerciseType": "row", "setNumber": 2, "weight": 40, "reps": 10, "perceivedExertion": 6, "strainPercentage": 55.5, "sleepHours": 7.25}),
        serde_json::json!({"exerciseType": "row", "setNumber": 3, "weight": 40, "reps": 10, "perceivedExertion": 6, "sleepHours": 6.5}),
        serde_json::json!({"exerciseType": "row", "setNumber": 4, "weight": 40, "reps": 10, "perceivedExertion": 6}),
    ] {
        let r = app.json(Method::POST, "/v1/workouts", Auth::Bearer(t.clone()), body).await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let list = app.get("/v1/workouts", Auth::Bearer(t)).await.json();
    let sleeps: Vec<_> = list["workouts"].as_array().unwrap().iter().map(|w| w["sleepHours"].clone()).collect();
    assert_eq!(
        sleeps,
        vec![serde_json::Value::Null, serde_json::json!(6.5), serde_json::json!(7.25), serde_json::Value::Null]
    );
});
