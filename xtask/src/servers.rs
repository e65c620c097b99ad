//! Servers the browser tests talk to: the real `coach-server` (dev mode, SQLite in a temp data
//! dir, a free loopback port) and a tiny fake of an outage (503 `voice_unavailable` on synthesis,
//! 503/429 with `Retry-After` on the outbox routes, a 201 for a logged set) for the failure paths the real server only
//! shows when its speech provider or database is down; it also accepts the multipart clone upload
//! (answering with the number of samples it received) so the upload-progress path runs without a
//! speech provider. Both stop when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cmd::cmd;
use crate::{root, target_dir};

/// A free loopback port (bound then released).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// One HTTP/1.1 request over a fresh connection; returns (status, body).
pub fn http_get(addr: &str, path: &str) -> Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

/// `coach-server` running for the browser tests.
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    child: Child,
    data_dir: PathBuf,
}

impl TestServer {
    /// Builds (debug) and starts the server with `COACH_DEV_MODE=1` on a free port and a fresh data
    /// dir, with extra environment variables (e.g. the app's `COACH_WWW_DIR`, a short
    /// `COACH_TRAIN_BUDGET_SECS`, the browser tests' `COACH_CORS_ORIGINS`); waits until `/health`
    /// answers.
    pub fn start_with(extra_env: &[(&str, String)]) -> Result<TestServer> {
        crate::tools::ensure_espeak()?;
        cmd("cargo", &["build", "-p", "coach-server"]).dir(&root()).run()?;
        let bin = target_dir().join("debug").join("coach-server");
        let port = free_port()?;
        let addr = format!("127.0.0.1:{port}");
        let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos();
        let data_dir = std::env::temp_dir().join(format!("coach-browser-tests-{}-{stamp}", std::process::id()));
        std::fs::create_dir_all(&data_dir)?;
        let log = std::fs::File::create(data_dir.join("server.log"))?;
        println!("starting {} on http://{addr} (data: {})", bin.display(), data_dir.display());
        let mut command = Command::new(&bin);
        command
            .current_dir(&data_dir)
            .env("COACH_BIND", &addr)
            .env("COACH_DATA_DIR", &data_dir)
            .env("COACH_DEV_MODE", "1")
            .env_remove("COACH_DATABASE_URL")
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
            .stdout(log.try_clone()?)
            .stderr(log);
        for (k, v) in extra_env {
            command.env(k, v);
        }
        let child = command.spawn().with_context(|| format!("could not start {}", bin.display()))?;
        let mut server = TestServer { url: format!("http://{addr}"), child, data_dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _)) = http_get(&addr, "/health") {
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait()? {
                bail!("coach-server exited ({status}) before answering:\n{}", server.log_tail());
            }
            if Instant::now() > deadline {
                bail!("coach-server did not answer /health within 60 s:\n{}", server.log_tail());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        crate::coachproc::tail(&self.data_dir.join("server.log"), 40)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// The fake outage (see the module docs). Counts requests per `METHOD path`, readable at
/// `GET /__count?<METHOD path>`.
pub struct FakeOutage {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    stop: Arc<AtomicBool>,
    addr: String,
}

const PROFILE: &str = r#"{"provider":"local","model":"espeak-ng/1","format":"mp3_22050_48","personality":"Alice","voice":"en-us+f3","settings":{"whisper":"w","neutral":"n","hype":"h"},"voiceEnabled":true,"toneAdaptation":false}"#;

fn respond(stream: &mut TcpStream, status: &str, origin: &str, extra: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Access-Control-Allow-Origin: {origin}\r\nAccess-Control-Allow-Methods: GET, POST, PUT, DELETE\r\n\
         Access-Control-Allow-Headers: authorization, content-type, accept, idempotency-key\r\n\
         Access-Control-Expose-Headers: retry-after, idempotent-replayed\r\n{extra}Connection: close\r\n\r\n{body}",
        body.len()
    );
}

fn error_body(code: &str, message: &str, details: &str) -> String {
    format!(r#"{{"error":"{code}","message":"{message}","details":{details},"timestamp":"2026-01-01T00:00:00Z"}}"#)
}

fn handle(mut stream: TcpStream, counts: &Mutex<std::collections::HashMap<String, u32>>) -> Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let (mut len, mut origin) = (0usize, "*".to_string());
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        let (k, v) = h.split_once(':').unwrap_or((&h, ""));
        match k.trim().to_ascii_lowercase().as_str() {
            "content-length" => len = v.trim().parse().unwrap_or(0),
            "origin" => origin = v.trim().to_string(),
            _ => {}
        }
    }
    let mut body = vec![0u8; len.min(8 << 20)];
    reader.read_exact(&mut body)?;
    let body = String::from_utf8_lossy(&body).to_string();
    if method == "OPTIONS" {
        respond(&mut stream, "204 No Content", &origin, "", "");
        return Ok(());
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    if path == "/__count" {
        let key = query.replace("%20", " ");
        let n = counts.lock().map(|c| c.get(&key).copied().unwrap_or(0)).unwrap_or(0);
        respond(&mut stream, "200 OK", &origin, "", &n.to_string());
        return Ok(());
    }
    if let Ok(mut c) = counts.lock() {
        *c.entry(format!("{method} {path}")).or_default() += 1;
    }
    match (method.as_str(), path) {
        ("GET", "/v1/voice/profile") => respond(&mut stream, "200 OK", &origin, "", PROFILE),
        ("POST", "/v1/voice/synthesize") => {
            let text = serde_text(&body);
            let details = format!(r#"{{"text":{text},"provider":"local"}}"#);
            let b = error_body("voice_unavailable", "Speech is unavailable right now; show the text", &details);
            respond(&mut stream, "503 Service Unavailable", &origin, "Retry-After: 30\r\n", &b);
        }
        ("POST", "/v1/voice/clone") => {
            // echoes how many samples the multipart body carried
            let n = body.matches("name=\"audioSamples\"").count();
            let b = format!(
                r#"{{"cloneId":"fake-clone-{n}","status":"processing","estimatedCompletionTime":"2026-01-01T00:05:00Z","elevenLabsJobId":null}}"#
            );
            respond(&mut stream, "202 Accepted", &origin, "", &b);
        }
        ("POST", "/v1/ai-training/data") => {
            let b = error_body("service_unavailable", "The database is unavailable", "null");
            respond(&mut stream, "503 Service Unavailable", &origin, "Retry-After: 1\r\n", &b);
        }
        ("POST", "/v1/workouts") => {
            // a set is logged (so a queued set's follow-up interaction can be watched meeting the 429)
            let b = r#"{"id":"fake-workout-1","userId":"fake","exerciseType":"squat","setNumber":1,"weight":100,"reps":5,"perceivedExertion":8,"strainPercentage":null,"sleepHours":null,"skipReason":null,"exportedForTraining":false,"createdAt":"2026-01-01T00:00:00Z"}"#;
            respond(&mut stream, "201 Created", &origin, "", b);
        }
        ("POST", "/v1/voice/interactions") => {
            let b = error_body("rate_limited", "Too many requests", "null");
            respond(&mut stream, "429 Too Many Requests", &origin, "Retry-After: 1\r\n", &b);
        }
        _ => respond(&mut stream, "404 Not Found", &origin, "", &error_body("not_found", "No such route", "null")),
    }
    Ok(())
}

/// The `text` field of a JSON body, re-encoded as a JSON string (`null` when absent).
fn serde_text(body: &str) -> String {
    // minimal extraction without a JSON dependency: the fake only needs to echo the text back
    let Some(i) = body.find("\"text\"") else { return "null".into() };
    let rest = &body[i + 6..];
    let Some(start) = rest.find('"') else { return "null".into() };
    let mut out = String::from("\"");
    let mut escaped = false;
    for c in rest[start + 1..].chars() {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            out.push(c);
            escaped = true;
        } else if c == '"' {
            break;
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

impl FakeOutage {
    /// Starts the fake on a free loopback port.
    pub fn start() -> Result<FakeOutage> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?.to_string();
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let counts = Arc::new(Mutex::new(std::collections::HashMap::new()));
        std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let counts = counts.clone();
                        std::thread::spawn(move || {
                            let _ = handle(stream, &counts);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Ok(FakeOutage { url: format!("http://{addr}"), stop, addr })
    }
}

impl Drop for FakeOutage {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(&self.addr);
    }
}
