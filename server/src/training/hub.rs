//! Pushing models to the Hugging Face Hub over its real HTTP API (enabled by `HF_TOKEN`;
//! `HF_ENDPOINT` overrides `https://huggingface.co`, e.g. a self-hosted mirror or the test fake).
//!
//! The push of a version: `GET /api/whoami-v2` (namespace, when `COACH_HF_REPO` names none) →
//! `POST /api/repos/create` (409 = exists, fine) → `POST /api/models/{repo}/preupload/main` (which
//! files go through LFS) → for LFS files the Git LFS batch API `POST /{repo}.git/info/lfs/objects/batch`,
//! `PUT` of the bytes (basic or multipart), `POST` verify → `POST /api/models/{repo}/commit/main`
//! (NDJSON: header, inline `file` lines, `lfsFile` lines) → `POST /api/models/{repo}/tag/main`
//! (`{"tag": "vX.Y.Z"}`; 409 = exists, fine). 429 and 5xx are retried with backoff honouring
//! `Retry-After` (or the Hub's `RateLimit: ...;t=<secs>`), except the commit itself, which is retried
//! only on 429 (a retried commit could land twice).

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A place models are published to.
pub trait ModelHub: Send + Sync {
    /// Publishes the HF-layout directory `dir` as `version`; returns the repository id.
    fn push<'a>(&'a self, dir: &'a Path, version: &'a str)
    -> Pin<Box<dyn Future<Output = Result<String>> + Send + 'a>>;
}

/// The Hugging Face Hub client.
pub struct HfHub {
    http: reqwest::Client,
    endpoint: String,
    token: String,
    /// `namespace/name`, or just `name` (namespace from whoami).
    repo: String,
    max_retries: u32,
}

const LFS_CT: &str = "application/vnd.git-lfs+json";

impl HfHub {
    /// A client for `endpoint` (no trailing slash needed) with `token`, publishing to `repo`.
    pub fn new(endpoint: &str, token: &str, repo: &str) -> Result<Self> {
        crate::install_tls_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(600))
            .user_agent(concat!("coach-server/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            token: token.to_string(),
            repo: repo.to_string(),
            max_retries: 4,
        })
    }

    /// Shorter backoff for tests.
    pub fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.endpoint)
    }

    /// Sends a request built by `make`, retrying 429 (and 5xx when `idempotent`).
    async fn send(&self, idempotent: bool, make: impl Fn() -> reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let mut attempt = 0u32;
        loop {
            let res = make().send().await;
            let retry_in = match &res {
                Ok(r) if r.status() == StatusCode::TOO_MANY_REQUESTS => Some(wait_hint(r).unwrap_or(backoff(attempt))),
                Ok(r) if r.status().is_server_error() && idempotent => Some(wait_hint(r).unwrap_or(backoff(attempt))),
                Err(e) if idempotent && (e.is_timeout() || e.is_connect()) => Some(backoff(attempt)),
                _ => None,
            };
            match retry_in {
                Some(wait) if attempt < self.max_retries => {
                    attempt += 1;
                    tracing::warn!(attempt, wait_ms = wait.as_millis() as u64, "Hub request retried");
                    tokio::time::sleep(wait).await;
                }
                _ => return Ok(res?),
            }
        }
    }

    fn auth(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path)).bearer_auth(&self.token)
    }

    async fn repo_id(&self) -> Result<String> {
        if self.repo.contains('/') {
            return Ok(self.repo.clone());
        }
        let r = self.send(true, || self.auth(Method::GET, "/api/whoami-v2")).await?;
        let v = expect_json(r, "whoami").await?;
        let ns = v.get("name").and_then(Value::as_str).context("whoami-v2 has no name")?;
        Ok(format!("{ns}/{}", self.repo))
    }

    async fn push_dir(&self, dir: &Path, version: &str) -> Result<String> {
        let repo = self.repo_id().await?;
        let (ns, name) = repo.split_once('/').context("repo id is namespace/name")?;
        let body = json!({"name": name, "organization": ns, "type": "model", "private": true});
        let r = self.send(true, || self.auth(Method::POST, "/api/repos/create").json(&body)).await?;
        if r.status() != StatusCode::CONFLICT {
            expect_json(r, "create repo").await?;
        }

        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                let path = entry.file_name().to_string_lossy().to_string();
                let bytes = std::fs::read(entry.path())?;
                files.push((path, bytes));
            }
        }
        files.sort_by(|a, b| a.0.cmp(&b.0));
        let b64 = base64::engine::general_purpose::STANDARD;
        let pre = json!({"files": files.iter().map(|(p, b)| json!({
            "path": p, "size": b.len(), "sample": b64.encode(&b[..b.len().min(512)])
        })).collect::<Vec<_>>()});
        let r = self
            .send(true, || self.auth(Method::POST, &format!("/api/models/{repo}/preupload/main")).json(&pre))
            .await?;
        let modes = expect_json(r, "preupload").await?;
        let lfs: Vec<String> = modes["files"]
            .as_array()
            .context("preupload answer has no files")?
            .iter()
            .filter(|f| f["uploadMode"] == "lfs" && f["shouldIgnore"] != true)
            .filter_map(|f| f["path"].as_str().map(str::to_string))
            .collect();

        let mut lines =
            vec![json!({"key": "header", "value": {"summary": format!("Coach model {version}"), "description": ""}})];
        for (path, bytes) in &files {
            if lfs.contains(path) && !bytes.is_empty() {
                let oid = hex::encode(Sha256::digest(bytes));
                self.upload_lfs(&repo, &oid, bytes).await.with_context(|| format!("LFS upload of {path}"))?;
                lines.push(json!({"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": oid, "size": bytes.len()}}));
            } else {
                lines.push(
                    json!({"key": "file", "value": {"content": b64.encode(bytes), "path": path, "encoding": "base64"}}),
                );
            }
        }
        let ndjson: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let r = self
            .send(false, || {
                self.auth(Method::POST, &format!("/api/models/{repo}/commit/main"))
                    .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
                    .body(ndjson.clone())
            })
            .await?;
        let commit = expect_json(r, "commit").await?;
        tracing::info!(repo, version, commit = %commit["commitOid"], "model pushed to the Hub");

        let tag = json!({"tag": version, "message": format!("Coach model {version}")});
        let r = self.send(true, || self.auth(Method::POST, &format!("/api/models/{repo}/tag/main")).json(&tag)).await?;
        if r.status() != StatusCode::CONFLICT && !r.status().is_success() {
            bail!("tag {version}: {}", error_text(r).await);
        }
        Ok(repo)
    }

    async fn upload_lfs(&self, repo: &str, oid: &str, bytes: &[u8]) -> Result<()> {
        let batch = json!({
            "operation": "upload", "transfers": ["basic", "multipart"],
            "objects": [{"oid": oid, "size": bytes.len()}], "hash_algo": "sha256", "ref": {"name": "main"}
        });
        let r = self
            .send(true, || {
                self.http
                    .post(self.url(&format!("/{repo}.git/info/lfs/objects/batch")))
                    .bearer_auth(&self.token)
                    .header(reqwest::header::ACCEPT, LFS_CT)
                    .header(reqwest::header::CONTENT_TYPE, LFS_CT)
                    .body(batch.to_string())
            })
            .await?;
        let v = expect_json(r, "LFS batch").await?;
        let obj = v["objects"].as_array().and_then(|o| o.first()).context("LFS batch answer has no objects")?;
        if let Some(err) = obj.get("error") {
            bail!("LFS batch refused the object: {err}");
        }
        let Some(upload) = obj.pointer("/actions/upload") else {
            return Ok(()); // already stored
        };
        let href = upload["href"].as_str().context("upload action without href")?;
        let header = upload.get("header").and_then(Value::as_object);
        match header.and_then(|h| h.get("chunk_size")) {
            None => {
                let r = self.send(true, || self.http.put(href).body(bytes.to_vec())).await?;
                if !r.status().is_success() {
                    bail!("LFS PUT: {}", error_text(r).await);
                }
            }
            Some(chunk) => {
                let chunk: usize = chunk
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .or(chunk.as_u64().map(|c| c as usize))
                    .context("bad chunk_size")?;
                let mut parts: Vec<(u32, String)> = header
                    .into_iter()
                    .flatten()
                    .filter_map(|(k, v)| Some((k.parse::<u32>().ok()?, v.as_str()?.to_string())))
                    .collect();
                parts.sort();
                if chunk == 0 || parts.len() != bytes.len().div_ceil(chunk) {
                    bail!("multipart upload: {} part URLs for {} bytes in chunks of {chunk}", parts.len(), bytes.len());
                }
                let mut etags = Vec::new();
                for (i, (n, url)) in parts.iter().enumerate() {
                    let slice = bytes[i * chunk..((i + 1) * chunk).min(bytes.len())].to_vec();
                    let r = self.send(true, || self.http.put(url).body(slice.clone())).await?;
                    let etag = r.headers().get(reqwest::header::ETAG).and_then(|e| e.to_str().ok()).map(str::to_string);
                    if !r.status().is_success() {
                        bail!("multipart PUT part {n}: {}", error_text(r).await);
                    }
                    etags.push(json!({"partNumber": n, "etag": etag.context("part answer without ETag")?}));
                }
                let done = json!({"oid": oid, "parts": etags});
                let r = self
                    .send(true, || {
                        self.http
                            .post(href)
                            .header(reqwest::header::ACCEPT, LFS_CT)
                            .header(reqwest::header::CONTENT_TYPE, LFS_CT)
                            .body(done.to_string())
                    })
                    .await?;
                if !r.status().is_success() {
                    bail!("multipart completion: {}", error_text(r).await);
                }
            }
        }
        if let Some(verify) = obj.pointer("/actions/verify/href").and_then(Value::as_str) {
            let body = json!({"oid": oid, "size": bytes.len()});
            let r = self.send(true, || self.http.post(verify).bearer_auth(&self.token).json(&body)).await?;
            if !r.status().is_success() {
                bail!("LFS verify: {}", error_text(r).await);
            }
        }
        Ok(())
    }
}

impl ModelHub for HfHub {
    fn push<'a>(
        &'a self,
        dir: &'a Path,
        version: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<String>> + Send + 'a>> {
        Box::pin(self.push_dir(dir, version))
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250u64 << attempt.min(5))
}

/// `Retry-After: <secs>` or the Hub's `RateLimit: "api";r=0;t=<secs>`.
fn wait_hint(r: &reqwest::Response) -> Option<Duration> {
    let h = r.headers();
    if let Some(s) =
        h.get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok())
    {
        return Some(Duration::from_secs(s.min(300)));
    }
    let rl = h.get("ratelimit")?.to_str().ok()?;
    let t = rl.split(';').find_map(|p| p.trim().strip_prefix("t=")).and_then(|t| t.trim().parse::<u64>().ok())?;
    Some(Duration::from_secs((t + 1).min(300)))
}

async fn error_text(r: reqwest::Response) -> String {
    let status = r.status();
    let msg = r.headers().get("x-error-message").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = r.text().await.unwrap_or_default();
    let from_body = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v.get("error").map(|e| e.as_str().map(str::to_string).unwrap_or_else(|| e.to_string())));
    format!("{status}: {}", msg.or(from_body).unwrap_or_else(|| body.chars().take(200).collect()))
}

async fn expect_json(r: reqwest::Response, what: &str) -> Result<Value> {
    if !r.status().is_success() {
        return Err(anyhow!("{what}: {}", error_text(r).await));
    }
    r.json().await.with_context(|| format!("{what}: the answer is not JSON"))
}
