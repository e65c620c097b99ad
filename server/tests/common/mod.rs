//! Test harness: a complete app (router + state) on a fresh database of either engine.
//!
//! Every database test runs twice through [`both_engines!`]: on a SQLite file in a temp dir and on
//! PostgreSQL (a fresh schema in `COACH_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`). Where PostgreSQL is unreachable the PostgreSQL
//! variant prints why and passes without running.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use coach_server::config::Config;
use coach_server::state::AppState;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests use.
pub fn postgres_url() -> String {
    std::env::var("COACH_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Creates a fresh schema on the test PostgreSQL and returns a URL that uses it, or `None` (with
/// the reason printed) when PostgreSQL is not reachable.
pub async fn fresh_postgres_url() -> Option<(String, String)> {
    use sqlx::Connection;
    let base = postgres_url();
    let conn = tokio::time::timeout(Duration::from_secs(3), sqlx::PgConnection::connect(&base)).await;
    let mut conn = match conn {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            eprintln!(
                "SKIPPED (PostgreSQL variant): cannot connect to {base}: {e}. Set COACH_TEST_POSTGRES_URL to run it."
            );
            return None;
        }
        Err(_) => {
            eprintln!(
                "SKIPPED (PostgreSQL variant): {base} did not answer within 3 s. Set COACH_TEST_POSTGRES_URL to run it."
            );
            return None;
        }
    };
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .expect("create schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    Some((format!("{base}{sep}options=-c%20search_path%3D{schema}"), schema))
}

fn drop_schema(schema: String) {
    // Drop runs outside any runtime: use a short-lived one on its own thread.
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            use sqlx::Connection;
            if let Ok(mut c) = sqlx::PgConnection::connect(&postgres_url()).await {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE")))
                    .execute(&mut c)
                    .await;
            }
        });
    })
    .join();
}

/// A running app on a fresh database.
pub struct TestApp {
    pub engine: Engine,
    pub router: Router,
    pub state: AppState,
    pub admin_key: String,
    pub data_dir: PathBuf,
    _dir: tempfile::TempDir,
    pg_schema: Option<String>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(s) = self.pg_schema.take() {
            drop_schema(s);
        }
    }
}

/// An answer.
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl TestResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts a JSON `ErrorResponse` with this status (and code, when given).
    pub fn assert_error(&self, status: u16, code: Option<&str>) -> Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text());
        let ct = self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(ct.starts_with("application/json"), "content-type {ct:?}");
        let v = self.json();
        for f in ["error", "message", "timestamp"] {
            assert!(v.get(f).is_some_and(|x| x.is_string()), "ErrorResponse lacks {f}: {v}");
        }
        assert!(v.get("details").is_some(), "ErrorResponse lacks details: {v}");
        chrono::DateTime::parse_from_rfc3339(v["timestamp"].as_str().unwrap()).expect("RFC 3339 timestamp");
        if let Some(code) = code {
            assert_eq!(v["error"], code, "{v}");
        }
        v
    }
}

/// Credentials to send.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Admin,
    Bearer(String),
    ApiKey(String),
    Raw(&'static str, String),
}

impl TestApp {
    /// A fresh app on `engine`, or `None` when that engine is unavailable (reason printed).
    pub async fn new(engine: Engine) -> Option<TestApp> {
        Self::with_config(engine, |_| {}).await
    }

    /// Like [`TestApp::new`], letting the test adjust the configuration.
    pub async fn with_config(engine: Engine, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
        let dir = tempfile::tempdir().expect("tempdir");
        let (url, schema) = match engine {
            Engine::Sqlite => (None, None),
            Engine::Postgres => {
                let (url, schema) = fresh_postgres_url().await?;
                (Some(url), Some(schema))
            }
        };
        let mut config = Config::for_data_dir(dir.path().to_path_buf(), url);
        config.admin_api_key = Some("test-admin-key".into());
        adjust(&mut config);
        let built = coach_server::build_state(config).await.expect("build state");
        let router = coach_server::app::build_router(built.state.clone());
        Some(TestApp {
            engine,
            router,
            state: built.state,
            admin_key: "test-admin-key".into(),
            data_dir: dir.path().to_path_buf(),
            _dir: dir,
            pg_schema: schema,
        })
    }

    /// Sends a request with a raw body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        auth: Auth,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> TestResponse {
        let mut req = Request::builder().method(method).uri(path);
        match &auth {
            Auth::None => {}
            Auth::Admin => req = req.header("x-api-key", &self.admin_key),
            Auth::ApiKey(k) => req = req.header("x-api-key", k),
            Auth::Bearer(t) => req = req.header("authorization", format!("Bearer {t}")),
            Auth::Raw(h, v) => req = req.header(*h, v),
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let resp = self.router.clone().oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
        TestResponse { status, headers, body }
    }

    /// Sends JSON.
    pub async fn json(&self, method: Method, path: &str, auth: Auth, body: Value) -> TestResponse {
        self.send(method, path, auth, Some("application/json"), serde_json::to_vec(&body).unwrap()).await
    }

    /// GET.
    pub async fn get(&self, path: &str, auth: Auth) -> TestResponse {
        self.send(Method::GET, path, auth, None, Vec::new()).await
    }

    /// Creates a user through the admin API and returns a user token for it.
    pub async fn user(&self, id: &str, premium: bool, consent: bool) -> String {
        let r = self
            .json(
                Method::POST,
                "/v1/users",
                Auth::Admin,
                serde_json::json!({ "id": id, "email": format!("{id}@example.com"), "isPremium": premium, "dataCollectionConsent": consent }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        self.token(id, "user").await
    }

    /// Mints a token.
    pub async fn token(&self, id: &str, role: &str) -> String {
        let r = self
            .json(Method::POST, "/v1/auth/token", Auth::Admin, serde_json::json!({ "userId": id, "role": role }))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json()["token"].as_str().unwrap().to_string()
    }
}

/// Runs a test body on SQLite and on PostgreSQL: `both_engines!(name, |app| async move { ... })`.
#[macro_export]
macro_rules! both_engines {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::common::TestApp::new($crate::common::Engine::Sqlite).await.expect("sqlite");
                ($body)(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = $crate::common::TestApp::new($crate::common::Engine::Postgres).await {
                    ($body)(app).await;
                }
            }
        }
    };
}

/// For tests that run `coach-server` as a separate process: creates the consenting user `id` over
/// HTTP with the admin API key `key` and returns a one-hour token for them.
pub async fn consenting_user_over_http(http: &reqwest::Client, base: &str, key: &str, id: &str) -> String {
    user_over_http(http, base, key, serde_json::json!({ "id": id, "dataCollectionConsent": true })).await
}

/// Creates the user described by `user` (a `POST /v1/users` body; `email` defaults to
/// `<id>@example.com`) over HTTP with the admin API key `key`; returns a one-hour token for them.
pub async fn user_over_http(http: &reqwest::Client, base: &str, key: &str, mut user: Value) -> String {
    let id = user["id"].as_str().expect("the user's id").to_string();
    if user.get("email").is_none() {
        user["email"] = Value::String(format!("{id}@example.com"));
    }
    let r = http.post(format!("{base}/v1/users")).header("x-api-key", key).json(&user).send().await.unwrap();
    assert_eq!(r.status(), 201, "creating {id}");
    let t: Value = http
        .post(format!("{base}/v1/auth/token"))
        .header("x-api-key", key)
        .json(&serde_json::json!({ "userId": id, "ttlSeconds": 3600 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    t["token"].as_str().expect("a token").to_string()
}

/// Polls `check` (up to ~20 s) and panics with `what` if it never holds.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..400 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never happened: {what}");
}

/// An app whose trainer is the shell `script` (a fake trainer speaking the JSON-lines protocol),
/// with fast retries and no scheduler.
pub async fn app_with_trainer(engine: Engine, script: &str) -> Option<TestApp> {
    let script = script.to_string();
    TestApp::with_config(engine, move |c| {
        c.training.trainer_command = vec!["sh".into(), "-c".into(), script, "trainer".into()];
        c.training.retry_base = Duration::from_millis(1);
        c.training.scheduler = false;
    })
    .await
}
