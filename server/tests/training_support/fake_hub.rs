//! A fake Hugging Face Hub on 127.0.0.1 that speaks the real wire format and checks it: bearer
//! auth on API calls, `whoami-v2`, `repos/create` (409 once the repo exists), `preupload` (LFS for
//! `*.safetensors`, with `shouldIgnore`), the Git LFS batch API on `/{repo}.git/...` with the LFS
//! media types, `PUT` uploads (sha256 checked), verify, the NDJSON commit (header first; `file`
//! lines base64; `lfsFile` lines must name uploaded objects), and tags (409 when they exist). It
//! can answer the next N API calls with 429 + `RateLimit` to exercise retries, and inject faults
//! into any request ([`HubFault`]: 429 with `Retry-After`, 500, slow answers, bodies cut off
//! mid-stream, garbage), once each from a queue or on every request, optionally only on paths
//! containing a given string.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// What the fake saw and holds.
#[derive(Default)]
pub struct Hub {
    /// Repos created.
    pub repos: Vec<String>,
    /// LFS objects uploaded (oid → bytes).
    pub lfs: HashMap<String, Vec<u8>>,
    /// Files of the last commit per repo (path → bytes).
    pub files: HashMap<String, BTreeMap<String, Vec<u8>>>,
    /// Commit summaries.
    pub commits: Vec<String>,
    /// Tags per repo.
    pub tags: HashMap<String, Vec<String>>,
    /// Wire-format violations seen (tests assert this stays empty).
    pub violations: Vec<String>,
    /// Answer this many API calls with 429 first.
    pub throttle: u32,
    /// Requests answered 429.
    pub throttled: u32,
    /// Faults for the next requests, one each.
    pub faults: VecDeque<HubFault>,
    /// A fault for every request while set.
    pub sticky: Option<HubFault>,
    /// Inject faults only into requests whose path contains this.
    pub fault_path: Option<String>,
    /// Requests answered with an injected fault.
    pub faulted: u32,
    base: String,
}

/// A fault the fake can inject.
#[derive(Debug, Clone, PartialEq)]
pub enum HubFault {
    /// 429 with `Retry-After: n` when given.
    TooMany(Option<u64>),
    /// 500.
    ServerError,
    /// Answer normally after this long.
    Slow(Duration),
    /// A 200 JSON answer whose body is cut off mid-stream.
    Truncated,
    /// A 200 answer that is an HTML error page, not JSON.
    Garbage,
}

async fn inject(State(s): State<S>, req: Request, next: Next) -> Response {
    let fault = {
        let mut hub = s.lock().unwrap();
        let applies = hub.fault_path.as_deref().is_none_or(|p| req.uri().path().contains(p));
        let f = if applies { hub.faults.pop_front().or_else(|| hub.sticky.clone()) } else { None };
        if f.is_some() {
            hub.faulted += 1;
        }
        f
    };
    match fault {
        None => next.run(req).await,
        Some(HubFault::Slow(d)) => {
            tokio::time::sleep(d).await;
            next.run(req).await
        }
        Some(HubFault::TooMany(after)) => {
            let mut r = err(StatusCode::TOO_MANY_REQUESTS, "rate limited");
            if let Some(a) = after {
                r.headers_mut().insert("retry-after", a.into());
            }
            r
        }
        Some(HubFault::ServerError) => err(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Error - We're working hard to fix this as soon as possible!",
        ),
        Some(HubFault::Truncated) => {
            let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(Bytes::from_static(br#"{"files": [{"path": "config.json", "uploadMo"#)),
                Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "cut")),
            ];
            (
                StatusCode::OK,
                [("content-type", "application/json")],
                Body::from_stream(futures_util::stream::iter(chunks)),
            )
                .into_response()
        }
        Some(HubFault::Garbage) => {
            (StatusCode::OK, [("content-type", "text/html")], "<html><body>502 Bad Gateway</body></html>")
                .into_response()
        }
    }
}

/// A running fake Hub.
pub struct FakeHub {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Shared state.
    pub hub: Arc<Mutex<Hub>>,
}

type S = Arc<Mutex<Hub>>;

const TOKEN: &str = "hf_test_token";

fn err(status: StatusCode, msg: &str) -> Response {
    (status, [("x-error-message", msg.to_string())], axum::Json(json!({ "error": msg }))).into_response()
}

fn gate(s: &S, h: &HeaderMap) -> Option<Response> {
    let mut hub = s.lock().unwrap();
    if h.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {TOKEN}")) {
        return Some(err(StatusCode::UNAUTHORIZED, "Invalid credentials in Authorization header"));
    }
    if hub.throttle > 0 {
        hub.throttle -= 1;
        hub.throttled += 1;
        return Some(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("ratelimit", "\"api\";r=0;t=0"), ("ratelimit-policy", "\"fixed window\";\"api\";q=1000;w=300")],
                axum::Json(json!({"error": "rate limited"})),
            )
                .into_response(),
        );
    }
    None
}

async fn whoami(State(s): State<S>, h: HeaderMap) -> Response {
    if let Some(r) = gate(&s, &h) {
        return r;
    }
    axum::Json(json!({"type": "user", "name": "coach-bot", "orgs": [], "auth": {"type": "access_token", "accessToken": {"displayName": "t", "role": "write"}}})).into_response()
}

async fn create(State(s): State<S>, h: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = gate(&s, &h) {
        return r;
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else { return err(StatusCode::BAD_REQUEST, "body is not JSON") };
    let mut hub = s.lock().unwrap();
    let (Some(name), Some(org)) = (v["name"].as_str(), v["organization"].as_str()) else {
        hub.violations.push(format!("create: {v}"));
        return err(StatusCode::BAD_REQUEST, "name and organization");
    };
    if v.get("type").is_some_and(|t| t != "model") {
        hub.violations.push("create: type".into());
    }
    let id = format!("{org}/{name}");
    let url = format!("{}/{id}", hub.base);
    if hub.repos.contains(&id) {
        return (StatusCode::CONFLICT, axum::Json(json!({"error": "You already created this model repo", "url": url})))
            .into_response();
    }
    hub.repos.push(id.clone());
    axum::Json(json!({"url": url, "id": id})).into_response()
}

async fn api_models(State(s): State<S>, h: HeaderMap, Path(rest): Path<String>, body: Bytes) -> Response {
    if let Some(r) = gate(&s, &h) {
        return r;
    }
    // rest = "{ns}/{name}/{op}/{revision}"
    let parts: Vec<&str> = rest.split('/').collect();
    if parts.len() != 4 {
        return err(StatusCode::NOT_FOUND, "no such route");
    }
    let repo = format!("{}/{}", parts[0], parts[1]);
    let mut hub = s.lock().unwrap();
    if !hub.repos.contains(&repo) {
        return (
            StatusCode::NOT_FOUND,
            [("x-error-code", "RepoNotFound")],
            axum::Json(json!({"error": "Repository not found"})),
        )
            .into_response();
    }
    if parts[3] != "main" {
        hub.violations.push(format!("revision {}", parts[3]));
    }
    match parts[2] {
        "preupload" => {
            let Ok(v) = serde_json::from_slice::<Value>(&body) else { return err(StatusCode::BAD_REQUEST, "not JSON") };
            let files: Vec<Value> = v["files"]
                .as_array()
                .map(|fs| {
                    fs.iter()
                        .map(|f| {
                            let path = f["path"].as_str().unwrap_or_default();
                            if f["size"].as_u64().is_none() || f["sample"].as_str().is_none() {
                                hub.violations.push(format!("preupload file {f}"));
                            }
                            let lfs = path.ends_with(".safetensors");
                            json!({"path": path, "uploadMode": if lfs { "lfs" } else { "regular" }, "shouldIgnore": false})
                        })
                        .collect()
                })
                .unwrap_or_default();
            axum::Json(json!({ "files": files })).into_response()
        }
        "commit" => {
            if h.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/x-ndjson") {
                hub.violations.push("commit content-type".into());
            }
            let text = String::from_utf8_lossy(&body).to_string();
            let lines: Vec<Value> =
                text.lines().filter(|l| !l.trim().is_empty()).filter_map(|l| serde_json::from_str(l).ok()).collect();
            if lines.first().map(|l| l["key"].clone()) != Some(json!("header")) {
                hub.violations.push("commit: header is not first".into());
                return err(StatusCode::BAD_REQUEST, "header first");
            }
            hub.commits.push(lines[0]["value"]["summary"].as_str().unwrap_or_default().to_string());
            let mut files = BTreeMap::new();
            for l in &lines[1..] {
                let v = &l["value"];
                let path = v["path"].as_str().unwrap_or_default().to_string();
                match l["key"].as_str() {
                    Some("file") => {
                        if v["encoding"] != "base64" {
                            hub.violations.push(format!("file {path}: encoding"));
                        }
                        let bytes = base64::engine::general_purpose::STANDARD
                            .decode(v["content"].as_str().unwrap_or_default())
                            .unwrap_or_default();
                        files.insert(path, bytes);
                    }
                    Some("lfsFile") => {
                        let oid = v["oid"].as_str().unwrap_or_default();
                        match hub.lfs.get(oid) {
                            Some(b) if v["algo"] == "sha256" && v["size"].as_u64() == Some(b.len() as u64) => {
                                files.insert(path, b.clone());
                            }
                            _ => hub.violations.push(format!("lfsFile {path}: unknown oid or bad size/algo")),
                        }
                    }
                    other => hub.violations.push(format!("commit line key {other:?}")),
                }
            }
            hub.files.insert(repo.clone(), files);
            let oid = hex::encode(&Sha256::digest(&body)[..20]);
            axum::Json(json!({"success": true, "commitOid": oid, "commitUrl": format!("{}/{repo}/commit/{oid}", hub.base), "hookOutput": ""})).into_response()
        }
        "tag" => {
            let Ok(v) = serde_json::from_slice::<Value>(&body) else { return err(StatusCode::BAD_REQUEST, "not JSON") };
            let tag = v["tag"].as_str().unwrap_or_default().to_string();
            let tags = hub.tags.entry(repo).or_default();
            if tags.contains(&tag) {
                return err(StatusCode::CONFLICT, "Tag already exists");
            }
            tags.push(tag);
            axum::Json(json!({})).into_response()
        }
        _ => err(StatusCode::NOT_FOUND, "no such route"),
    }
}

async fn lfs_batch(
    State(s): State<S>,
    h: HeaderMap,
    Path((ns, repo_git)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if let Some(r) = gate(&s, &h) {
        return r;
    }
    let mut hub = s.lock().unwrap();
    for header in ["accept", "content-type"] {
        if h.get(header).and_then(|v| v.to_str().ok()) != Some("application/vnd.git-lfs+json") {
            hub.violations.push(format!("LFS batch {header}"));
        }
    }
    let Some(name) = repo_git.strip_suffix(".git") else { return err(StatusCode::NOT_FOUND, "not a repo") };
    if !hub.repos.contains(&format!("{ns}/{name}")) {
        return err(StatusCode::NOT_FOUND, "Repository not found");
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else { return err(StatusCode::BAD_REQUEST, "not JSON") };
    if v["operation"] != "upload" {
        hub.violations.push("LFS operation".into());
    }
    let base = hub.base.clone();
    let objects: Vec<Value> = v["objects"]
        .as_array()
        .map(|os| {
            os.iter()
                .map(|o| {
                    let oid = o["oid"].as_str().unwrap_or_default();
                    json!({"oid": oid, "size": o["size"], "authenticated": true, "actions": {
                        "upload": {"href": format!("{base}/__lfs/upload/{oid}")},
                        "verify": {"href": format!("{base}/__lfs/verify")}
                    }})
                })
                .collect()
        })
        .unwrap_or_default();
    ([("content-type", "application/vnd.git-lfs+json")], axum::Json(json!({"transfer": "basic", "objects": objects})))
        .into_response()
}

async fn lfs_upload(State(s): State<S>, Path(oid): Path<String>, body: Bytes) -> Response {
    let mut hub = s.lock().unwrap();
    if hex::encode(Sha256::digest(&body)) != oid {
        hub.violations.push(format!("upload {oid}: sha256 mismatch"));
        return err(StatusCode::BAD_REQUEST, "sha256 mismatch");
    }
    hub.lfs.insert(oid, body.to_vec());
    StatusCode::OK.into_response()
}

async fn lfs_verify(State(s): State<S>, h: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = gate(&s, &h) {
        return r;
    }
    let mut hub = s.lock().unwrap();
    let v: Value = serde_json::from_slice(&body).unwrap_or_default();
    let ok = v["oid"].as_str().and_then(|o| hub.lfs.get(o)).is_some_and(|b| v["size"].as_u64() == Some(b.len() as u64));
    if !ok {
        hub.violations.push(format!("verify {v}"));
        return err(StatusCode::NOT_FOUND, "object not found");
    }
    StatusCode::OK.into_response()
}

impl FakeHub {
    /// Starts the fake on a free loopback port.
    pub async fn start() -> FakeHub {
        let hub: S = Arc::new(Mutex::new(Hub::default()));
        let app = Router::new()
            .route("/api/whoami-v2", get(whoami))
            .route("/api/repos/create", post(create))
            .route("/api/models/{*rest}", post(api_models))
            .route("/__lfs/upload/{oid}", put(lfs_upload))
            .route("/__lfs/verify", post(lfs_verify))
            .route("/{ns}/{repo}/info/lfs/objects/batch", post(lfs_batch))
            .fallback(any(|| async { err(StatusCode::NOT_FOUND, "no such route") }))
            .layer(middleware::from_fn_with_state(hub.clone(), inject))
            .with_state(hub.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let url = format!("http://{addr}");
        hub.lock().unwrap().base = url.clone();
        FakeHub { url, hub }
    }

    /// The token the fake accepts.
    pub fn token() -> &'static str {
        TOKEN
    }
}
