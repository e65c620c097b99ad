//! Crash durability: the REAL server binary is killed with SIGKILL while concurrent clients submit
//! training data (with `Idempotency-Key`) and log workouts; after a restart on the same data dir
//! and database, every request that was answered 201 is present exactly once, with what was sent.
//! Requests whose answer was lost in the crash are sent again with the same key, as the browser's
//! outbox does: each then exists exactly once too. On SQLite and on PostgreSQL (a fresh schema;
//! skipped with the reason printed when PostgreSQL is unreachable).

mod common;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Row;

const ADMIN_KEY: &str = "durability-admin-key-0123456789abcdef";

/// The server binary on a port, with its data dir and database.
struct Proc {
    child: Child,
    base: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        // also when a test fails: never leave a server behind
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &std::path::Path, db_url: Option<&str>, port: u16) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_coach-server"));
    cmd.env("COACH_BIND", format!("127.0.0.1:{port}"))
        .env("COACH_DATA_DIR", data)
        .env("COACH_ADMIN_API_KEY", ADMIN_KEY)
        .env("COACH_SCHEDULER", "0")
        .env("COACH_INTAKE_BURST", "100000")
        .env("COACH_INTAKE_PER_MINUTE", "100000")
        .env("RUST_LOG", "error")
        .env_remove("COACH_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(url) = db_url {
        cmd.env("COACH_DATABASE_URL", url);
    }
    Proc { child: cmd.spawn().expect("start coach-server"), base: format!("http://127.0.0.1:{port}") }
}

async fn wait_healthy(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(r) = http.get(format!("{base}/health")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("coach-server did not become healthy at {base}");
}

fn record(user: &str, client: usize, n: usize) -> Value {
    json!({
        "hashedUserId": coach_shared::hash_user_id(user), "exerciseType": "deadlift", "setNumber": 1 + n % 20,
        "strainPercentage": (n % 100) as f64, "aiResponse": format!("Durable line {client} {n}."),
        "contextTags": ["working_set"], "timestamp": (chrono::Utc::now() - chrono::Duration::minutes(2)).to_rfc3339(),
    })
}

fn workout(n: usize) -> Value {
    json!({ "exerciseType": "row", "setNumber": 1 + n % 20, "weight": n as f64, "reps": 5, "perceivedExertion": 7.0 })
}

/// What the clients saw: training records by idempotency key (body, id when answered 201) and
/// workouts answered 201 (id → weight sent).
#[derive(Default)]
struct Seen {
    records: HashMap<String, (String, Value, Option<String>)>,
    workouts: HashMap<String, (String, f64)>,
}

/// One client (`tag`) of `user`: submits a record and logs a set, again and again, until the
/// server goes away.
async fn client(http: reqwest::Client, base: String, user: String, tag: usize, token: String, seen: Arc<Mutex<Seen>>) {
    for n in 0.. {
        let key = format!("client{tag}-{n}");
        let body = record(&user, tag, n);
        seen.lock().unwrap().records.insert(key.clone(), (token.clone(), body.clone(), None));
        let r = http
            .post(format!("{base}/v1/ai-training/data"))
            .bearer_auth(&token)
            .header("idempotency-key", &key)
            .json(&body)
            .send()
            .await;
        let Ok(r) = r else { return };
        let status = r.status().as_u16();
        let Ok(v) = r.json::<Value>().await else { return };
        assert_eq!(status, 201, "{v}");
        seen.lock().unwrap().records.get_mut(&key).unwrap().2 = Some(v["id"].as_str().unwrap().to_string());
        let w = http.post(format!("{base}/v1/workouts")).bearer_auth(&token).json(&workout(n)).send().await;
        let Ok(w) = w else { return };
        let status = w.status().as_u16();
        let Ok(v) = w.json::<Value>().await else { return };
        assert_eq!(status, 201, "{v}");
        seen.lock().unwrap().workouts.insert(v["id"].as_str().unwrap().to_string(), (token.clone(), n as f64));
    }
}

async fn crash_and_recover(db_url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    coach_server::install_tls_provider();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let mut server = start(dir.path(), db_url.as_deref(), port);
    wait_healthy(&http, &server.base).await;
    let mut users = Vec::new();
    for i in 0..6 {
        let id = format!("durable_{i}");
        users.push((id.clone(), common::consenting_user_over_http(&http, &server.base, ADMIN_KEY, &id).await));
    }
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut tasks = Vec::new();
    for (user, token) in &users {
        for _ in 0..2 {
            // two clients per user, each with its own keys
            let tag = tasks.len();
            let (http, base, user, token, seen) =
                (http.clone(), server.base.clone(), user.clone(), token.clone(), seen.clone());
            tasks.push(tokio::spawn(client(http, base, user, tag, token, seen)));
        }
    }
    // let the intake run, then kill -9 mid-flight
    let t0 = Instant::now();
    while seen.lock().unwrap().workouts.len() < 150 && t0.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    for t in tasks {
        t.await.unwrap();
    }

    let server = start(dir.path(), db_url.as_deref(), port);
    wait_healthy(&http, &server.base).await;
    let seen = Arc::try_unwrap(seen).ok().unwrap().into_inner().unwrap();
    let answered = seen.records.values().filter(|r| r.2.is_some()).count();
    assert!(answered >= 50 && seen.workouts.len() >= 50, "{answered} records, {} workouts", seen.workouts.len());

    // every 201 is there exactly once, as sent
    let config = coach_server::config::Config::for_data_dir(dir.path().to_path_buf(), db_url.clone());
    let db = coach_server::db::Db::connect(&config.database_url).await.unwrap();
    let rows = sqlx::query("SELECT id, ai_response FROM ai_training_data").fetch_all(&db.pool).await.unwrap();
    let mut by_id: HashMap<String, String> = HashMap::new();
    let mut texts: HashMap<String, usize> = HashMap::new();
    for r in &rows {
        let (id, text): (String, String) = (r.get(0), r.get(1));
        *texts.entry(text.clone()).or_default() += 1;
        by_id.insert(id, text);
    }
    assert!(texts.values().all(|n| *n == 1), "a record stored twice");
    for (_, body, id) in seen.records.values() {
        if let Some(id) = id {
            assert_eq!(by_id.get(id), Some(&body["aiResponse"].as_str().unwrap().to_string()), "201'd record {id}");
        }
    }
    for (id, (token, weight)) in &seen.workouts {
        let w: Value = http
            .get(format!("{}/v1/workouts/{id}", server.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(w["weight"].as_f64(), Some(*weight), "201'd workout {id}: {w}");
    }
    let count: i64 =
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM workout_entries").fetch_one(&db.pool).await.unwrap();
    assert!(count as usize >= seen.workouts.len() && count as usize <= seen.workouts.len() + 12, "{count} workouts");

    // the outbox sends everything again with the same keys: replays for the stored ones, one
    // insert for each lost one; in the end one row per key
    for (key, (token, body, id)) in &seen.records {
        let r = http
            .post(format!("{}/v1/ai-training/data", server.base))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let replayed = r.headers().get("idempotent-replayed").is_some();
        let v: Value = r.json().await.unwrap();
        if let Some(id) = id {
            assert!(replayed, "{key} was stored: the retry is a replay");
            assert_eq!(v["id"].as_str(), Some(id.as_str()));
        }
    }
    let total: i64 =
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM ai_training_data").fetch_one(&db.pool).await.unwrap();
    assert_eq!(total as usize, seen.records.len(), "exactly one row per idempotency key");
    println!(
        "durability ({}): killed after {answered} answered records and {} workouts; {} keys in all, {total} rows after retries",
        if db_url.is_some() { "PostgreSQL" } else { "SQLite" },
        seen.workouts.len(),
        seen.records.len()
    );
    db.pool.close().await;
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_intake_sqlite() {
    crash_and_recover(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_intake_postgres() {
    use sqlx::Connection;
    let Some((url, schema)) = common::fresh_postgres_url().await else { return };
    crash_and_recover(Some(url)).await;
    let mut c = sqlx::PgConnection::connect(&common::postgres_url()).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))).execute(&mut c).await.unwrap();
}
