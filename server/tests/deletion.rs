//! `DELETE /v1/users/me` removes everything of the caller at once — and nothing of anyone else:
//! the rows (one transaction), the exported training shards on disk (scrubbed at once; a session's
//! work directory goes when the session ends), and nothing can be written for the user after the
//! deletion committed (intake and the workout export re-check under the user's row lock). The
//! provider side (cloned voices, the outbox) is in `deletion_voices.rs`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::http::Method;
use coach_server::training::subject::subject_key_for_user;
use coach_server::training::workouts_export::export_consented_workouts;
use common::{Auth, Engine, TestApp, app_with_trainer, eventually};
use serde_json::{Value, json};

async fn populate(app: &TestApp, id: &str) -> String {
    let t = app.user(id, true, true).await;
    log_set_with_interaction(app, &t, "Nice depth.").await;
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

/// Submits `n` training rows whose response is `text` for a new consenting user; returns its token.
async fn submit(app: &TestApp, user: &str, text: &str, n: usize) -> String {
    let t = app.user(user, false, true).await;
    for i in 0..n {
        let body = json!({
            "hashedUserId": coach_shared::hash_user_id(user), "exerciseType": "squat", "setNumber": 1 + i % 5,
            "strainPercentage": 55, "aiResponse": text, "contextTags": ["strength"],
            "timestamp": (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339(),
        });
        let r = app.json(Method::POST, "/v1/ai-training/data", Auth::Bearer(t.clone()), body).await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    t
}

async fn start_session(app: &TestApp, batch: &str) -> String {
    let r = app.json(Method::POST, "/v1/ai-training/sessions", Auth::Admin, json!({ "batchId": batch })).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

async fn session(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/v1/ai-training/sessions/{id}"), Auth::Admin).await.json()
}

fn work_dir(app: &TestApp, id: &str) -> PathBuf {
    app.data_dir.join("training").join("sessions").join(id)
}

/// Every JSONL shard under `dir`, concatenated.
fn shard_text(dir: &Path) -> String {
    let mut out = String::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.push_str(&shard_text(&p));
        } else if p.extension().is_some_and(|x| x == "jsonl") {
            out.push_str(&std::fs::read_to_string(&p).unwrap());
        }
    }
    out
}

const MINE: &str = "Drive through the heels on every rep.";
const THEIRS: &str = "Keep the bar close to your shins.";

both_engines!(deleting_me_scrubs_my_rows_from_the_shards_of_a_running_session, |app: TestApp| async move {
    // A trainer that runs until it is cancelled: the shards stay on disk meanwhile.
    let app = app_with_trainer(app.engine, "sleep 60").await.unwrap();
    let mine = submit(&app, "shard_me", MINE, 3).await;
    submit(&app, "shard_other", THEIRS, 2).await;
    let id = start_session(&app, "scrub-1").await;
    eventually("the session reaches training", || async { session(&app, &id).await["status"] == "training" }).await;
    let before = shard_text(&work_dir(&app, &id));
    assert_eq!((before.matches(MINE).count(), before.matches(THEIRS).count()), (3, 2), "{before}");

    let r = app.send(Method::DELETE, "/v1/users/me", Auth::Bearer(mine), None, vec![]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // By the time the deletion answers, no shard on disk holds my rows; the other user's remain.
    let after = shard_text(&work_dir(&app, &id));
    assert_eq!((after.matches(MINE).count(), after.matches(THEIRS).count()), (0, 2), "{after}");
    let ids: usize = std::fs::read_dir(work_dir(&app, &id).join("data-ids"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap().lines().count())
        .sum();
    assert_eq!(ids, 2, "the id lists follow their shards");

    let r = app
        .json(Method::PATCH, &format!("/v1/ai-training/sessions/{id}"), Auth::Admin, json!({"status": "cancelled"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    eventually("a cancelled session's work directory is removed", || async { !work_dir(&app, &id).exists() }).await;
});

both_engines!(a_failed_session_leaves_no_shards_on_disk, |app: TestApp| async move {
    // A trainer that crashes every time: five automatic retries, then failed.
    let app = app_with_trainer(app.engine, "echo boom >&2; exit 3").await.unwrap();
    submit(&app, "shard_fail", MINE, 2).await;
    let id = start_session(&app, "fails-1").await;
    eventually("the session fails for good", || async { session(&app, &id).await["status"] == "failed" }).await;
    eventually("its work directory is removed", || async { !work_dir(&app, &id).exists() }).await;
    assert_eq!(shard_text(&app.data_dir), "", "no exported shard is left anywhere under the data dir");
});

/// The part of an account deletion that a racing writer must not outrun, written as the
/// orchestrator orders it, on its own connection: the user's row is locked (`FOR UPDATE`; on
/// SQLite the write transaction already is the lock) and the training rows deleted first; the
/// writer `racer` then runs; once it is blocked (PostgreSQL shows it waiting on a lock; on
/// SQLite it waits for the write lock) or done, the rest is deleted and committed.
async fn delete_while<T>(app: &TestApp, user: &str, racer: impl std::future::Future<Output = T>) -> T {
    let db = &app.state.db;
    let pg = app.engine == Engine::Postgres;
    let mut tx = db.begin().await.unwrap();
    if pg {
        sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE").bind(user).execute(&mut *tx).await.unwrap();
    }
    let key = subject_key_for_user(&app.state.secrets.subject_pepper, user);
    sqlx::query("DELETE FROM ai_training_data WHERE subject_key = $1").bind(&key).execute(&mut *tx).await.unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let racer = {
        let done = done.clone();
        async move {
            let out = racer.await;
            done.store(true, Ordering::SeqCst);
            out
        }
    };
    let deleter = async {
        for _ in 0..100 {
            if done.load(Ordering::SeqCst) {
                break;
            }
            if pg {
                let waiting: i64 = sqlx::query_scalar(
                    "SELECT CAST(COUNT(*) AS BIGINT) FROM pg_stat_activity
                     WHERE wait_event_type = 'Lock' AND query LIKE '%FOR SHARE%'",
                )
                .fetch_one(&db.pool)
                .await
                .unwrap();
                if waiting > 0 {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for sql in [
            "DELETE FROM voice_interactions WHERE user_id = $1",
            "DELETE FROM workout_entries WHERE user_id = $1",
            "DELETE FROM idempotency_keys WHERE user_id = $1",
            "DELETE FROM users WHERE id = $1",
        ] {
            sqlx::query(sql).bind(user).execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    };
    let (out, ()) = tokio::join!(racer, deleter);
    let left: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM ai_training_data WHERE subject_key = $1")
        .bind(&key)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "no training row of the deleted user survives the deletion");
    out
}

both_engines!(intake_cannot_insert_after_the_deletion_committed, |app: TestApp| async move {
    let t = app.user("race_intake", false, true).await;
    let body = json!({
        "hashedUserId": coach_shared::hash_user_id("race_intake"), "exerciseType": "squat", "setNumber": 1,
        "strainPercentage": 60, "aiResponse": MINE, "contextTags": [], "timestamp": chrono::Utc::now().to_rfc3339(),
    });
    let r =
        delete_while(&app, "race_intake", app.json(Method::POST, "/v1/ai-training/data", Auth::Bearer(t), body)).await;
    // Authenticated before the deletion, refused after it: the account no longer exists.
    r.assert_error(401, Some("invalid_token"));
});

/// Logs one set for the holder of `token` and a voice interaction on it saying `text` (what the
/// workout export turns into a training row).
async fn log_set_with_interaction(app: &TestApp, token: &str, text: &str) {
    let w = app
        .json(
            Method::POST,
            "/v1/workouts",
            Auth::Bearer(token.to_string()),
            json!({"exerciseType": "squat", "setNumber": 1, "weight": 80, "reps": 5, "perceivedExertion": 7}),
        )
        .await
        .json();
    let r = app
        .json(
            Method::POST,
            "/v1/voice/interactions",
            Auth::Bearer(token.to_string()),
            json!({"workoutEntryId": w["id"], "aiResponseText": text, "voiceTone": "neutral", "wasVoicePlayed": false}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
}

both_engines!(the_workout_export_cannot_insert_after_the_deletion_committed, |app: TestApp| async move {
    let t = app.user("race_export", false, true).await;
    log_set_with_interaction(&app, &t, MINE).await;
    let made = delete_while(&app, "race_export", export_consented_workouts(&app.state)).await.unwrap();
    assert_eq!(made, 0, "the page read before the deletion exports nothing after it");
});

both_engines!(consent_withdrawn_meanwhile_stops_the_workout_export, |app: TestApp| async move {
    let t = app.user("withdraws", false, true).await;
    log_set_with_interaction(&app, &t, MINE).await;
    let r =
        app.json(Method::PUT, "/v1/users/me/consent", Auth::Bearer(t), json!({"dataCollectionConsent": false})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(export_consented_workouts(&app.state).await.unwrap(), 0);
});

// A write racing its user's deletion is kept out by the foreign key; the client gets a 409
// `conflict` (what it refers to is gone), never a 500.
both_engines!(a_row_whose_user_was_deleted_meanwhile_is_a_409_not_a_500, |app: TestApp| async move {
    use axum::response::IntoResponse;
    let err = sqlx::query("INSERT INTO voice_interactions_probe_missing_user (id) VALUES ($1)")
        .bind("x")
        .execute(&app.state.db.pool)
        .await;
    assert!(err.is_err(), "the probe table does not exist: a plain database error");
    let plain = coach_server::error::AppError::from(err.unwrap_err()).into_response();
    assert_eq!(plain.status(), 500, "other database errors stay internal");

    let fk = sqlx::query(
        "INSERT INTO workout_entries (id, user_id, exercise_type, set_number, weight, reps, perceived_exertion,
             strain_percentage, sleep_hours, skip_reason, exported_for_training, created_at)
         VALUES ($1, $2, 'squat', 1, 60.0, 5, 7.0, NULL, NULL, NULL, FALSE, 0)",
    )
    .bind("wrk_gone")
    .bind("usr_deleted_meanwhile")
    .execute(&app.state.db.pool)
    .await
    .expect_err("no such user: the foreign key refuses the row");
    let resp = coach_server::error::AppError::from(fk).into_response();
    assert_eq!(resp.status(), 409);
    let body: Value =
        serde_json::from_slice(&http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["error"], "conflict");
    let n: (i64,) = sqlx::query_as("SELECT CAST(COUNT(*) AS BIGINT) FROM workout_entries")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(n.0, 0);
});
