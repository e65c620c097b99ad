//! Helpers for end-to-end scenarios: a real server on a loopback port (embedded defaults, fresh
//! data dir) and an HTTP client that speaks to it as the app's backend and its users would.

use std::time::Duration;

use coach_server::config::Config;
use reqwest::{Client, Method, Response};
use serde_json::Value;

/// A running server on 127.0.0.1 with its own data dir.
pub struct Server {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The admin API key (generated on start, as a newcomer would get it).
    pub admin_key: String,
    /// An HTTP client.
    pub http: Client,
    running: Option<coach_server::Running>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts a server on the embedded defaults (SQLite in a fresh data dir, generated secrets).
    pub async fn start() -> anyhow::Result<Server> {
        let dir = tempfile::tempdir()?;
        let config = Config::for_data_dir(dir.path().to_path_buf(), None);
        let running = coach_server::start(config).await?;
        let admin_key = running.new_admin_key.clone().expect("a fresh data dir generates the admin key");
        // reqwest is built with `rustls-no-provider` in this workspace: install the provider first
        coach_server::install_tls_provider();
        Ok(Server {
            base: format!("http://{}", running.addr),
            admin_key,
            http: Client::builder().timeout(Duration::from_secs(30)).build()?,
            running: Some(running),
            _dir: dir,
        })
    }

    /// Stops the server gracefully.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(r) = self.running.take() {
            r.stop().await?;
        }
        Ok(())
    }

    /// A request builder for `path` with the admin key.
    pub fn admin(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base)).header("x-api-key", &self.admin_key)
    }

    /// A request builder for `path` with a bearer token.
    pub fn user(&self, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token)
    }

    /// A request builder without credentials.
    pub fn anon(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// Creates a user and returns a user token for it.
    pub async fn new_user(&self, id: &str, premium: bool, consent: bool) -> anyhow::Result<String> {
        let r = self
            .admin(Method::POST, "/v1/users")
            .json(&serde_json::json!({"id": id, "email": format!("{id}@example.com"), "isPremium": premium, "dataCollectionConsent": consent}))
            .send()
            .await?;
        anyhow::ensure!(r.status() == 201, "create user: {}", r.text().await?);
        let t: Value = self
            .admin(Method::POST, "/v1/auth/token")
            .json(&serde_json::json!({"userId": id}))
            .send()
            .await?
            .json()
            .await?;
        Ok(t["token"].as_str().unwrap_or_default().to_string())
    }
}

/// Asserts a JSON `ErrorResponse` with `status` and returns its body.
pub async fn expect_error(resp: Response, status: u16) -> Value {
    assert_eq!(resp.status().as_u16(), status);
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert!(ct.starts_with("application/json"), "content-type {ct}");
    let v: Value = resp.json().await.expect("JSON body");
    for f in ["error", "message", "timestamp"] {
        assert!(v[f].is_string(), "ErrorResponse lacks {f}: {v}");
    }
    v
}
