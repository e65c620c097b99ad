//! Hostile users at the edge (issue 10): garbage methods and paths cannot grow `/metrics`, dev
//! mode cannot leak (no start on a public address, no foreign CORS origin, no admin token for an
//! existing user), short secrets are refused at start, the server's files are owner-only whatever
//! the umask, and 503s carry no internal error text.
//!
//! The attacks that need the real binary (hyper's parser, the start-up refusals, the umask) run
//! `coach-server` as a child process; the others use the in-process harness.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::Method;
use common::{Auth, Engine, TestApp};
use serde_json::{Value, json};

/// An admin key of the accepted length.
const ADMIN_KEY: &str = "hostile-edge-admin-key-0123456789abcdef";

/// A `coach-server` child, killed when dropped (also when a test fails).
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary through `sh` (so a test can set the umask first), with a fresh environment of ours.
fn server_command(data_dir: &Path, umask: &str, env: &[(&str, &str)]) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!("umask {umask} && exec \"$0\""))
        .arg(env!("CARGO_BIN_EXE_coach-server"))
        .env("COACH_BIND", "127.0.0.1:0")
        .env("COACH_DATA_DIR", data_dir)
        .env("COACH_SCHEDULER", "0")
        .env("RUST_LOG", "warn")
        .env_remove("COACH_DATABASE_URL")
        .env_remove("COACH_ADMIN_API_KEY")
        .env_remove("COACH_JWT_SECRET")
        .env_remove("COACH_DEV_MODE")
        .env_remove("COACH_CORS_ORIGINS")
        .env_remove("ELEVENLABS_API_KEY");
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// Starts the server and waits for the address it prints.
fn start(data_dir: &Path, umask: &str, env: &[(&str, &str)]) -> Server {
    let mut child = server_command(data_dir, umask, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn coach-server");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut addr = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("Coach server listening on http://") {
            addr = Some(rest.split_whitespace().next().unwrap().to_string());
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let addr = addr.expect("the server printed its address");
    Server { child, addr }
}

/// Runs the server expecting it to refuse to start: its exit status and what it wrote to stderr.
/// A server that starts anyway is killed after 20 s and reported as such.
fn refused(data_dir: &Path, env: &[(&str, &str)]) -> (std::process::ExitStatus, String) {
    let mut child = server_command(data_dir, "022", env)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn coach-server");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("coach-server started with {env:?}; it must refuse to");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    (status, err)
}

/// An HTTP/1.1 answer.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// One request on its own connection, written byte for byte (any method token hyper accepts).
fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&Value>) -> Answer {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let body = body.map(|b| serde_json::to_vec(b).unwrap());
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = &body {
        head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    if let Some(b) = &body {
        s.write_all(b).unwrap();
    }
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
        body = dechunk(&body);
    }
    Answer { status, headers, body }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 4 + size..];
    }
}

/// `n` random upper-case letters.
fn letters(n: usize) -> String {
    let mut s = String::with_capacity(n);
    while s.len() < n {
        for b in uuid::Uuid::new_v4().as_bytes() {
            s.push((b'A' + b % 26) as char);
        }
    }
    s.truncate(n);
    s
}

/// The series of `/metrics` (every sample line) and the size of the exposition.
fn series(addr: &str) -> (Vec<String>, usize) {
    let r = http(addr, "GET", "/metrics", &[], None);
    assert_eq!(r.status, 200);
    let text = r.text();
    let lines = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.rsplit_once(' ').map_or(l, |(name, _value)| name).to_string())
        .collect();
    (lines, text.len())
}

/// Sends `n` garbage requests of each kind and checks each gets a JSON 404 or 405.
fn garbage(addr: &str, n: usize) {
    for i in 0..n {
        let long = letters(1000 + (i * 37) % 3000);
        let uuid = uuid::Uuid::new_v4();
        let rand_path = format!("/{}", letters(12).to_ascii_lowercase());
        let unknown_api = format!("/v1/xyz/{uuid}");
        let tries: [(&str, &str); 6] = [
            (&long, "/health"),
            (&long, &unknown_api),
            ("GET", &unknown_api),
            ("GET", &rand_path),
            ("get", "/v1/workouts"),
            ("PROPFIND", &rand_path),
        ];
        for (method, path) in tries {
            let r = http(addr, method, path, &[], None);
            assert!(
                matches!(r.status, 404 | 405),
                "{}… {path}: {} {}",
                &method[..method.len().min(12)],
                r.status,
                r.text()
            );
            let ct = r.header("content-type").unwrap_or("");
            assert!(ct.starts_with("application/json"), "{path}: content-type {ct:?}");
            let v = r.json();
            assert!(v["error"].is_string() && v["message"].is_string(), "{v}");
            assert!(r.body.len() < 2048, "a bounded error body, not an echo of the request: {} bytes", r.body.len());
        }
    }
}

#[test]
fn garbage_methods_and_paths_add_no_metric_series() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "022", &[]);
    let addr = server.addr.as_str();
    assert_eq!(http(addr, "GET", "/health", &[], None).status, 200);
    let (before, size_before) = series(addr);

    // the first batch may add the fixed OTHER / unmatched series ...
    garbage(addr, 40);
    let (after_first, size_first) = series(addr);
    let added: Vec<&String> = after_first.iter().filter(|s| !before.contains(s)).collect();
    for s in &added {
        assert!(
            s.contains("method=\"OTHER\"") || s.contains("route=\"unmatched\"") || s.contains("method=\"GET\""),
            "a series outside the closed label sets: {s}"
        );
        assert!(s.len() < 300, "a label copied from input: {s}");
    }
    // ... a second batch of different garbage adds none
    garbage(addr, 40);
    let (after_second, size_second) = series(addr);
    let more: Vec<&String> = after_second.iter().filter(|s| !after_first.contains(s)).collect();
    assert!(more.is_empty(), "new series after the second batch: {more:?}");
    assert_eq!(after_second.len(), after_first.len());
    println!(
        "/metrics: {} series, {size_before} bytes before; {} series, {size_first} bytes after 240 garbage \
         requests; {} series, {size_second} bytes after 240 more",
        before.len(),
        after_first.len(),
        after_second.len()
    );
    assert!(size_second < size_first + 512, "{size_first} → {size_second} bytes");
    assert!(size_second < 64 * 1024, "/metrics stays small: {size_second} bytes");
}

#[test]
fn dev_mode_refuses_to_start_on_a_public_address() {
    let dir = tempfile::tempdir().unwrap();
    for bind in ["0.0.0.0:0", "[::]:0", "192.0.2.10:8080"] {
        let (status, err) = refused(dir.path(), &[("COACH_DEV_MODE", "1"), ("COACH_BIND", bind)]);
        assert_eq!(status.code(), Some(2), "{bind}: a refused configuration exits 2: {err}");
        assert!(!err.contains("Stack backtrace"), "a setting to fix, not a crash: {err}");
        assert!(err.contains("COACH_DEV_MODE") && err.contains("COACH_BIND"), "{bind}: names both settings: {err}");
        assert!(err.contains("loopback"), "{bind}: says what is allowed: {err}");
    }
    // loopback (by address or by name) is fine, and the public address is fine without dev mode
    for (bind, dev) in [("localhost:0", "1"), ("[::1]:0", "1"), ("127.0.0.2:0", "1"), ("0.0.0.0:0", "0")] {
        if bind.starts_with("[::1]") && std::net::TcpListener::bind("[::1]:0").is_err() {
            continue; // no IPv6 loopback on this machine
        }
        let server = start(dir.path(), "022", &[("COACH_DEV_MODE", dev), ("COACH_BIND", bind)]);
        assert_eq!(http(&server.addr, "GET", "/health", &[], None).status, 200, "{bind}");
    }
}

#[tokio::test]
async fn dev_mode_is_refused_by_start_in_process_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = coach_server::config::Config::for_data_dir(dir.path().to_path_buf(), None);
    config.dev_mode = true;
    config.bind = "0.0.0.0:0".parse().unwrap();
    let err = coach_server::start(config).await.err().expect("refused");
    assert!(format!("{err:#}").contains("COACH_DEV_MODE"), "{err:#}");
}

#[tokio::test]
async fn dev_cors_allows_only_the_apps_own_origins() {
    let app = TestApp::with_config(Engine::Sqlite, |c| {
        c.dev_mode = true;
        c.bind = "127.0.0.1:8080".parse().unwrap();
        c.cors_origins = vec!["https://app.example.com".into()];
    })
    .await
    .unwrap();
    let ask = |method: Method, path: &'static str, origin: &'static str| {
        let mut req = axum::http::Request::builder().method(method.clone()).uri(path).header("origin", origin);
        if method == Method::OPTIONS {
            req = req
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "content-type,authorization");
        } else {
            req = req.header("content-type", "application/json");
        }
        let body = if method == Method::POST { r#"{"userId":"cors-probe","role":"admin"}"# } else { "" };
        let req = req.body(axum::body::Body::from(body)).unwrap();
        let router = app.router.clone();
        async move { tower::ServiceExt::oneshot(router, req).await.unwrap() }
    };
    for origin in ["https://evil.example", "http://localhost:5173", "http://127.0.0.1:9999", "null"] {
        for (method, path) in
            [(Method::OPTIONS, "/v1/dev/session"), (Method::POST, "/v1/dev/session"), (Method::GET, "/health")]
        {
            let r = ask(method.clone(), path, origin).await;
            assert!(
                r.headers().get("access-control-allow-origin").is_none(),
                "{method} {path} from {origin}: {:?}",
                r.headers().get("access-control-allow-origin")
            );
            assert!(r.headers().get("access-control-allow-credentials").is_none());
        }
    }
    for origin in ["http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080", "https://app.example.com"] {
        let r = ask(Method::OPTIONS, "/v1/dev/session", origin).await;
        assert_eq!(r.headers()["access-control-allow-origin"], origin, "preflight from {origin}");
        let r = ask(Method::GET, "/health", origin).await;
        assert_eq!(r.headers()["access-control-allow-origin"], origin, "GET from {origin}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_sign_in_never_raises_an_existing_user_to_admin() {
    for engine in [Engine::Sqlite, Engine::Postgres] {
        let Some(app) = TestApp::with_config(engine, |c| c.dev_mode = true).await else { continue };
        let dev = |body: Value| app.json(Method::POST, "/v1/dev/session", Auth::None, body);

        // a user made by the admin API, and one signed in here as a plain user
        app.user("alice", false, false).await;
        let r = dev(json!({"userId": "bob", "isPremium": false})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        for id in ["alice", "bob"] {
            let before = app.get(&format!("/v1/users/{id}"), Auth::Admin).await.json();
            let r = dev(json!({"userId": id, "role": "admin", "isPremium": true, "dataCollectionConsent": true})).await;
            let v = r.assert_error(403, Some("forbidden"));
            assert!(v.get("token").is_none(), "{v}");
            let after = app.get(&format!("/v1/users/{id}"), Auth::Admin).await.json();
            assert_eq!(before, after, "{engine:?} {id}: a refused sign-in changes nothing");
            // a plain sign-in still works for them
            assert_eq!(dev(json!({"userId": id})).await.status, 200);
        }

        // a brand-new id may be created as an admin (the dashboard's "sign in as admin") ...
        let r = dev(json!({"userId": "carol", "role": "admin"})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let admin = r.json()["token"].as_str().unwrap().to_string();
        let models = app.get("/v1/ai-training/models", Auth::Bearer(admin)).await;
        assert_eq!(models.status, 200, "{engine:?}: the admin token reaches an admin route: {}", models.text());
        // ... and signs in as admin again later (its role is not raised: it was made an admin)
        assert_eq!(dev(json!({"userId": "carol", "role": "admin"})).await.status, 200);
        assert_eq!(dev(json!({"userId": "carol"})).await.status, 200, "and as a plain user");

        // a plain user's token is refused on the admin route, as before
        let bob = dev(json!({"userId": "bob"})).await.json()["token"].as_str().unwrap().to_string();
        app.get("/v1/ai-training/models", Auth::Bearer(bob)).await.assert_error(403, Some("forbidden"));
    }
}

#[test]
fn short_secrets_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let short = "x".repeat(31);
    for name in ["COACH_JWT_SECRET", "COACH_ADMIN_API_KEY"] {
        for value in ["secret", short.as_str()] {
            let (status, err) = refused(dir.path(), &[(name, value)]);
            assert_eq!(status.code(), Some(2), "{name} of {} bytes: {status}: {err}", value.len());
            assert!(err.contains(name) && err.contains("32"), "{name}: a clear message: {err}");
            assert!(!err.contains(value) || value.len() < 8, "the secret itself is not printed: {err}");
        }
    }
    // 32 bytes are enough
    let ok = "y".repeat(32);
    let server = start(dir.path(), "022", &[("COACH_JWT_SECRET", &ok), ("COACH_ADMIN_API_KEY", &ok)]);
    let r = http(&server.addr, "GET", "/v1/ai-training/models", &[("x-api-key", &ok)], None);
    assert_eq!(r.status, 200, "{}", r.text());
}

#[cfg(unix)]
#[test]
fn data_files_are_owner_only_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |p: &Path| std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o777;
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("fresh").join("data");
    // umask 000: whatever the server does not set explicitly comes out world-readable
    let server = start(&data, "000", &[("COACH_ADMIN_API_KEY", ADMIN_KEY)]);
    let addr = server.addr.as_str();
    let key = [("x-api-key", ADMIN_KEY)];
    let user = json!({"id": "fm", "email": "fm@example.com", "isPremium": true, "dataCollectionConsent": false});
    assert_eq!(http(addr, "POST", "/v1/users", &key, Some(&user)).status, 201);
    let t = http(addr, "POST", "/v1/auth/token", &key, Some(&json!({"userId": "fm"}))).json();
    let bearer = format!("Bearer {}", t["token"].as_str().unwrap());
    let phrase = json!({"text": "Owner only, every file.", "tone": "neutral", "context": "rest_period"});
    let r = http(addr, "POST", "/v1/voice/synthesize", &[("authorization", &bearer)], Some(&phrase));
    assert_eq!(r.status, 200, "{}", r.text());

    assert_eq!(mode(&data), 0o700, "data dir");
    assert_eq!(mode(&root.path().join("fresh")), 0o700, "parent created for it");
    for f in ["coach.db", "coach.db-wal", "coach.db-shm", "secrets.json"] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
    let clips = data.join("clips");
    assert_eq!(mode(&clips), 0o700, "clips dir");
    let mut files = 0;
    for shard in std::fs::read_dir(&clips).unwrap() {
        let shard = shard.unwrap().path();
        assert_eq!(mode(&shard), 0o700, "{}", shard.display());
        for clip in std::fs::read_dir(&shard).unwrap() {
            let clip = clip.unwrap().path();
            assert_eq!(mode(&clip), 0o600, "{}", clip.display());
            files += 1;
        }
    }
    assert!(files >= 1, "a clip was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_and_503_details_carry_no_internal_error_text() {
    for engine in [Engine::Sqlite, Engine::Postgres] {
        let Some(app) = TestApp::new(engine).await else { continue };
        assert_eq!(app.get("/ready", Auth::None).await.status, 200);
        app.state.db.pool.close().await;
        let r = app.get("/ready", Auth::None).await;
        let v = r.assert_error(503, Some("not_ready"));
        assert_eq!(v["message"], "The database is not reachable", "{engine:?}: {v}");
        assert!(v["details"].is_null(), "{v}");
        assert!(!r.text().to_lowercase().contains("pool"), "no driver text: {v}");
    }

    // the local speech engine cannot start: the 503 says so without the path or the OS error
    let app = TestApp::with_config(Engine::Sqlite, |c| {
        c.voice.espeak_bin = "/nonexistent/secret-dir/espeak-ng".into();
    })
    .await
    .unwrap();
    let alice = app.user("alice", true, false).await;
    let body = json!({"text": "No engine here.", "tone": "neutral", "context": "rest_period"});
    let r = app.json(Method::POST, "/v1/voice/synthesize", Auth::Bearer(alice), body).await;
    let v = r.assert_error(503, Some("voice_unavailable"));
    assert_eq!(v["details"]["text"], "No engine here.", "the text-only fallback is kept: {v}");
    let text = r.text();
    for leak in ["nonexistent", "secret-dir", "No such file", "os error"] {
        assert!(!text.contains(leak), "{leak:?} leaked: {v}");
    }
    assert!(v["details"]["reason"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
}
