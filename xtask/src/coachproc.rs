//! A `coach-server` process for the benchmarks, the soak and the fuzzing step: the built binary on a
//! free loopback port with a fresh data dir and a known admin key, plus the few HTTP calls they
//! need (HTTP/1.1 over a loopback socket, one request per connection) and its memory as the
//! kernel reports it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::cmd::cmd;
use crate::servers::free_port;
use crate::{root, target_dir};

/// The cargo profile a benchmark runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// `--release` (thin LTO).
    Release,
    /// The dev profile: our crates unoptimized, every dependency at opt-level 3.
    Dev,
}

impl Profile {
    /// How the docs name it.
    pub fn describe(self) -> &'static str {
        match self {
            Profile::Release => "release profile",
            Profile::Dev => "dev profile (our crates unoptimized, dependencies opt-level 3)",
        }
    }
}

/// Builds `coach-server` with `profile` and returns the binary.
pub fn build(profile: Profile) -> Result<PathBuf> {
    let mut args = vec!["build", "-p", "coach-server"];
    if profile == Profile::Release {
        args.push("--release");
    }
    cmd("cargo", &args).dir(&root()).run()?;
    let dir = if profile == Profile::Release { "release" } else { "debug" };
    Ok(target_dir().join(dir).join("coach-server"))
}

/// A running server.
pub struct Coach {
    /// `127.0.0.1:<port>`.
    pub addr: String,
    /// The admin API key it was started with.
    pub key: String,
    /// Its process id.
    pub pid: u32,
    child: Child,
    data_dir: PathBuf,
}

impl Coach {
    /// Starts `bin` with a fresh data dir, `COACH_SCHEDULER=0`, warnings-only logs and `env`.
    pub fn start(bin: &Path, env: &[(&str, &str)]) -> Result<Coach> {
        let port = free_port()?;
        let addr = format!("127.0.0.1:{port}");
        let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos();
        let data_dir = std::env::temp_dir().join(format!("coach-xtask-{}-{stamp}", std::process::id()));
        std::fs::create_dir_all(&data_dir)?;
        // at least 32 bytes, as the server requires of COACH_ADMIN_API_KEY
        let key = format!("coach_admin_xtask_{stamp:032}");
        let log = std::fs::File::create(data_dir.join("server.log"))?;
        let mut c = Command::new(bin);
        c.current_dir(&data_dir)
            .env("COACH_BIND", &addr)
            .env("COACH_DATA_DIR", &data_dir)
            .env("COACH_ADMIN_API_KEY", &key)
            .env("COACH_SCHEDULER", "0")
            .env("RUST_LOG", "warn")
            .env_remove("COACH_DATABASE_URL")
            .env_remove("ELEVENLABS_API_KEY")
            .env_remove("HF_TOKEN")
            .stdout(log.try_clone()?)
            .stderr(log)
            .stdin(Stdio::null());
        for (k, v) in env {
            c.env(k, v);
        }
        let child = c.spawn().with_context(|| format!("could not start {}", bin.display()))?;
        let pid = child.id();
        let mut coach = Coach { addr, key, pid, child, data_dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if matches!(request(&coach.addr, "GET", "/health", &[], None), Ok((200, _))) {
                return Ok(coach);
            }
            if let Some(status) = coach.child.try_wait()? {
                bail!("coach-server exited ({status}) before answering:\n{}", coach.log_tail());
            }
            if Instant::now() > deadline {
                bail!("coach-server did not answer /health within 60 s:\n{}", coach.log_tail());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Creates a user and returns a bearer token for it (24 h).
    pub fn user(&self, id: &str, premium: bool, consent: bool) -> Result<String> {
        let body = json!({ "id": id, "email": format!("{id}@example.com"), "isPremium": premium, "dataCollectionConsent": consent });
        let (s, b) = self.admin_json("POST", "/v1/users", &body)?;
        if s != 201 {
            bail!("creating user {id}: {s} {}", String::from_utf8_lossy(&b));
        }
        let (s, b) = self.admin_json("POST", "/v1/auth/token", &json!({ "userId": id, "ttlSeconds": 86400 }))?;
        let v: Value = serde_json::from_slice(&b).unwrap_or_default();
        match (s, v["token"].as_str()) {
            (200, Some(t)) => Ok(t.to_string()),
            _ => bail!("token for {id}: {s} {}", String::from_utf8_lossy(&b)),
        }
    }

    fn admin_json(&self, method: &str, path: &str, body: &Value) -> Result<(u16, Vec<u8>)> {
        let bytes = serde_json::to_vec(body)?;
        request(
            &self.addr,
            method,
            path,
            &[("x-api-key", &self.key), ("content-type", "application/json")],
            Some(&bytes),
        )
    }

    /// `VmRSS` and `VmHWM` (peak) of the process, KiB.
    pub fn memory_kib(&self) -> (u64, u64) {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        let field = |name: &str| {
            s.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// Requests the server answered with a 5xx, by `METHOD route status`, from its `/metrics`.
    pub fn server_errors(&self) -> Result<Vec<(String, u64)>> {
        let (_, body) = request(&self.addr, "GET", "/metrics", &[], None)?;
        let text = String::from_utf8_lossy(&body);
        Ok(text
            .lines()
            .filter(|l| l.starts_with("coach_http_requests_total{") && l.contains("status=\"5"))
            .filter_map(|l| {
                let (series, v) = l.rsplit_once(' ')?;
                let n = v.parse::<f64>().ok()? as u64;
                (n > 0).then(|| (series.to_string(), n))
            })
            .collect())
    }

    /// The data dir (its `clips/` hold the stored audio).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        tail(&self.data_dir.join("server.log"), 30)
    }
}

/// The last `n` lines of the file at `path` (empty when it cannot be read).
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl Drop for Coach {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// One HTTP/1.1 request on a fresh loopback connection; returns (status, body). Chunked bodies
/// are decoded.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.unwrap_or_default();
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").context("no header end")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let mut body = raw[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    Ok((status, body))
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 || b.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[(eol + 4 + size).min(b.len())..];
    }
    out
}

/// Replaces the text between `<!-- name:begin -->` and `<!-- name:end -->` in `doc` (relative to
/// the workspace root) with `content`; appends the block when the markers are missing.
pub fn update_doc(doc: &str, name: &str, content: &str) -> Result<()> {
    let path = root().join(doc);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let (begin, end) = (format!("<!-- {name}:begin -->"), format!("<!-- {name}:end -->"));
    let block = format!("{begin}\n{}\n{end}", content.trim_end());
    let new = match (text.find(&begin), text.find(&end)) {
        (Some(b), Some(e)) if e > b => format!("{}{block}{}", &text[..b], &text[e + end.len()..]),
        _ => format!("{}\n{block}\n", text.trim_end()),
    };
    std::fs::write(&path, new)?;
    println!("(figures written to {doc}, block `{name}`)");
    Ok(())
}

/// The machine, for the docs: CPU model and count, memory.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mem = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let gib = mem
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1048576.0);
    format!("{} × {}, {gib:.0} GiB", cores, model.unwrap_or_else(|| "unknown CPU".into()))
}

/// Runs `program args` in the workspace root, printing its stdout as it comes, and returns it.
pub fn run_capture(program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<String> {
    use std::io::BufRead;
    println!("$ {program} {}", args.join(" "));
    let mut c = Command::new(program);
    c.args(args).current_dir(root()).stdout(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().with_context(|| format!("could not start {program}"))?;
    let mut out = String::new();
    for line in std::io::BufReader::new(child.stdout.take().context("stdout")?).lines() {
        let line = line?;
        println!("{line}");
        out.push_str(&line);
        out.push('\n');
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    Ok(out)
}
