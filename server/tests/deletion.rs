//! `DELETE /v1/users/me` removes everything of the caller at once — and nothing of anyone else.

mod common;

use axum::http::Method;
use common::{Auth, TestApp};
use serde_json::json;

async fn populate(app: &TestApp, id: &str) -> String {
    let t = app.user(id, true, true).await;
    let w = app
        .json(
            Method::POST,
            "/v1/workouts",
            Auth::Bearer(t.clone()),
            json!({"exerciseType": "squat", "setNumber": 1, "weight": 80, "reps": 5, "perceivedExertion": 7}),
        )
        .await
        .json();
    let r = app
        .json(
            Method::POST,
            "/v1/voice/interactions",
            Auth::Bearer(t.clone()),
            json!({"workoutEntryId": w["id"], "aiResponseText": "Nice depth.", "voiceTone": "neutral", "wasVoicePlayed": false}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r =
        app.json(Method::PUT, "/v1/voice/preferences", Auth::Bearer(t.clone()), json!({"personality": "Aiden"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    for _ in 0..2 {
        let r = app
            .json(
                Method::POST,
                "/v1/ai-training/data",
                Auth::Bearer(t.clone()),
                json!({
                    "hashedUserId": coach_shared::hash_user_id(id), "exerciseType": "squat", "setNumber": 1, "strainPercentage": 60,
                    "aiResponse": "Steady.", "contextTags": [], "timestamp": chrono::Utc::now().to_rfc3339(),
                }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    t
}

both_engines!(deleting_me_removes_everything_of_mine_only, |app: TestApp| async move {
    let mine = populate(&app, "del_me").await;
    let theirs = populate(&app, "del_other").await;
    let r = app.send(Method::DELETE, "/v1/users/me", Auth::Bearer(mine.clone()), None, vec![]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["userId"], "del_me");
    let d = &v["deleted"];
    assert_eq!(d["trainingRecords"], 2);
    assert_eq!(d["workouts"], 1);
    assert_eq!(d["voiceInteractions"], 1);
    assert_eq!(d["voicePreferences"], 1);

    app.get("/v1/users/me", Auth::Bearer(mine.clone())).await.assert_error(401, Some("invalid_token"));
    app.send(Method::DELETE, "/v1/users/me", Auth::Bearer(mine), None, vec![]).await.assert_error(401, None);
    app.get("/v1/users/del_me", Auth::Admin).await.assert_error(404, None);
    let db = &app.state.db.pool;
    let count = |sql: &'static str| async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(db).await.unwrap() };
    assert_eq!(
        count("SELECT CAST(COUNT(*) AS BIGINT) FROM ai_training_data").await,
        2,
        "only the other user's rows remain"
    );
    assert_eq!(count("SELECT CAST(COUNT(*) AS BIGINT) FROM workout_entries").await, 1);
    assert_eq!(count("SELECT CAST(COUNT(*) AS BIGINT) FROM voice_interactions").await, 1);
    assert_eq!(count("SELECT CAST(COUNT(*) AS BIGINT) FROM voice_preferences").await, 1);
    assert_eq!(app.get("/v1/users/me", Auth::Bearer(theirs)).await.status, 200);
    app.send(Method::DELETE, "/v1/users/me", Auth::Admin, None, vec![]).await.assert_error(403, None);
});
