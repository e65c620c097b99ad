//! `cargo xtask bench [serving|economy|training|audio|all] [--dev] [--secs N]`: the server's
//! benchmarks.
//!
//! * **serving** — a `coach-server` (release build unless `--dev`) and nginx (Debian, started here
//!   with a generated config on a free loopback port, serving the same clip bytes as a static
//!   file) are loaded in the same run by `wrk` (Debian) at 64 and 256 connections: `GET` of a clip
//!   URL on both, and the cached `POST /v1/voice/synthesize` as JSON and as `audio/mpeg` on the
//!   server. Prints requests/s, p50/p99 and errors, the clip ratio to nginx and whether the targets
//!   hold (≥ 0.8× nginx on clip GETs, p99 < 10 ms for cached synthesize at 256 connections,
//!   0 errors).
//! * **economy** — the Zipf trace against the counting fake ElevenLabs
//!   (`server/tests/economy.rs`, `economy_bench`).
//! * **training** — intake throughput, export and training at 5k/50k/500k records
//!   (`server/tests/bench_training.rs`).
//! * **audio** — peak RSS of a `coach-server` process under the crafted-audio corpus: each file
//!   alone, the issue's FLAC bombs ten uploads at once, the corpus from 8 concurrent clients
//!   (`server/tests/bench_audio.rs`; target < 150 MiB).
//!
//! Each writes its figures into `docs/performance.md` (a marked block per benchmark) with the
//! command and the machine. Loopback only; every scenario is bounded in time.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::coachproc::{Coach, Profile, build, machine, request, run_capture, update_doc};
use crate::servers::free_port;
use crate::tools::ensure_apt;

const DOC: &str = "docs/performance.md";

/// Options of `cargo xtask bench`.
pub struct Options {
    /// `serving`, `economy`, `training` or `all`.
    pub what: String,
    /// Build profile of the server.
    pub profile: Profile,
    /// Seconds per serving scenario.
    pub secs: u32,
}

/// Runs the selected benchmarks.
pub fn run(o: &Options) -> Result<()> {
    let all = o.what == "all";
    let mut ran = false;
    if all || o.what == "serving" {
        serving(o)?;
        ran = true;
    }
    if all || o.what == "economy" {
        economy()?;
        ran = true;
    }
    if all || o.what == "training" {
        training(o.profile)?;
        ran = true;
    }
    if all || o.what == "audio" {
        audio(o.profile)?;
        ran = true;
    }
    if !ran {
        bail!("unknown benchmark {:?}: serving, economy, training, audio or all", o.what);
    }
    Ok(())
}

fn today() -> String {
    crate::cmd::cmd("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).read().unwrap_or_default()
}

/// One wrk run.
struct Load {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    requests: u64,
}

/// A wrk latency (`850.00us`, `1.23ms`, `2.00s`) in milliseconds.
pub fn parse_ms(v: &str) -> f64 {
    let v = v.trim();
    let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len()));
    let n: f64 = num.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => f64::NAN,
    }
}

/// `wrk` against `url` with `connections`, optionally scripted (method, body, headers).
fn wrk(url: &str, connections: u32, secs: u32, script: Option<&Path>) -> Result<Load> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).min(4).to_string();
    let (c, d) = (connections.to_string(), format!("{secs}s"));
    let mut args = vec!["-t", &threads, "-c", &c, "-d", &d, "--latency", "--timeout", "5s"];
    let script_s;
    if let Some(s) = script {
        script_s = s.display().to_string();
        args.extend(["-s", script_s.as_str()]);
    }
    args.push(url);
    let out = Command::new("wrk").args(&args).output().context("could not run wrk")?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        bail!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    }
    let mut l = Load { rps: 0.0, p50_ms: f64::NAN, p99_ms: f64::NAN, errors: 0, requests: 0 };
    for line in text.lines() {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("Requests/sec:") {
            l.rps = v.trim().parse().unwrap_or(0.0);
        } else if let Some(v) = t.strip_prefix("50%") {
            l.p50_ms = parse_ms(v);
        } else if let Some(v) = t.strip_prefix("99%") {
            l.p99_ms = parse_ms(v);
        } else if let Some(v) = t.strip_prefix("Non-2xx or 3xx responses:") {
            l.errors += v.trim().parse::<u64>().unwrap_or(0);
        } else if let Some(v) = t.strip_prefix("Socket errors:") {
            l.errors += v.split(',').filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok()).sum::<u64>();
        } else if t.contains(" requests in ") {
            l.requests = t.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
        }
    }
    Ok(l)
}

/// nginx serving `root` on a free loopback port; stopped (SIGTERM, then SIGKILL) when dropped.
struct Nginx {
    addr: String,
    child: Child,
    dir: PathBuf,
}

impl Nginx {
    fn start(dir: &Path) -> Result<Nginx> {
        let port = free_port()?;
        let addr = format!("127.0.0.1:{port}");
        let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        std::fs::create_dir_all(dir.join("tmp"))?;
        let conf = format!(
            "user root;\nworker_processes {workers};\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  tcp_nodelay on;\n  keepalive_timeout 65;\n  keepalive_requests 1000000;\n\
               client_body_temp_path {d}/tmp;\n  types {{ audio/mpeg mp3; }}\n  etag on;\n\
               server {{\n    listen {addr};\n    root {d}/www;\n\
                 location / {{ add_header Cache-Control \"public, max-age=31536000, immutable\"; }}\n  }}\n}}\n",
            d = dir.display()
        );
        std::fs::write(dir.join("nginx.conf"), conf)?;
        let conf_path = dir.join("nginx.conf");
        let conf_s = conf_path.display().to_string();
        let prefix = dir.display().to_string();
        let child = Command::new("nginx")
            .args(["-p", &prefix, "-c", &conf_s, "-e", &format!("{prefix}/error.log")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("could not start nginx")?;
        let nginx = Nginx { addr, child, dir: dir.to_path_buf() };
        for _ in 0..100 {
            if std::net::TcpStream::connect(&nginx.addr).is_ok() {
                return Ok(nginx);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("nginx did not start: {}", std::fs::read_to_string(nginx.dir.join("error.log")).unwrap_or_default())
    }

    fn version() -> String {
        let out = Command::new("nginx").arg("-v").output().ok();
        out.map(|o| String::from_utf8_lossy(&o.stderr).trim().replace("nginx version: ", "")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lua(dir: &Path, name: &str, token: &str, body: &Value, accept: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    let script = format!(
        "wrk.method = \"POST\"\nwrk.body = '{}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n\
         wrk.headers[\"Authorization\"] = \"Bearer {token}\"\nwrk.headers[\"Accept\"] = \"{accept}\"\n",
        body.to_string().replace('\'', "\\'")
    );
    std::fs::write(&path, script)?;
    Ok(path)
}

fn serving(o: &Options) -> Result<()> {
    ensure_apt("wrk and nginx (serving benchmark)", &["wrk", "nginx"], &["wrk", "nginx-light"])?;
    let bin = build(o.profile)?;
    let coach = Coach::start(&bin, &[])?;
    let token = coach.user("bench_premium", true, false)?;
    let line = json!({ "text": "Great job! You are crushing this workout, keep going.", "tone": "neutral", "context": "rest_period" });
    let body = serde_json::to_vec(&line)?;
    let auth = format!("Bearer {token}");
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    let (s, warm) = request(&coach.addr, "POST", "/v1/voice/synthesize", &headers, Some(&body))?;
    if s != 200 {
        bail!("warming the phrase: {s} {}", String::from_utf8_lossy(&warm));
    }
    let warm: Value = serde_json::from_slice(&warm)?;
    let key = warm["cacheKey"].as_str().context("cacheKey")?.to_string();
    let clip_path = format!("/v1/voice/clips/{key}.mp3");
    let (s, clip) = request(&coach.addr, "GET", &clip_path, &[], None)?;
    if s != 200 || clip.is_empty() {
        bail!("fetching the clip: {s}");
    }
    let work = coach.data_dir().join("bench");
    std::fs::create_dir_all(work.join("www"))?;
    std::fs::write(work.join("www").join(format!("{key}.mp3")), &clip)?;
    let nginx = Nginx::start(&work)?;
    let json_lua = lua(&work, "synth-json.lua", &token, &line, "application/json")?;
    let audio_lua = lua(&work, "synth-audio.lua", &token, &line, "audio/mpeg")?;
    let (nginx_url, coach_url) =
        (format!("http://{}/{key}.mp3", nginx.addr), format!("http://{}{clip_path}", coach.addr));
    let synth_url = format!("http://{}/v1/voice/synthesize", coach.addr);
    // warm-up: connections, caches, page cache
    for (url, script) in [(&nginx_url, None), (&coach_url, None), (&synth_url, Some(json_lua.as_path()))] {
        wrk(url, 64, 2, script)?;
    }
    let mut rows: Vec<(String, u32, Load)> = Vec::new();
    for c in [64u32, 256] {
        println!("\n--- {c} connections, {} s per scenario", o.secs);
        for (name, url, script) in [
            ("clip GET — nginx (static file)", &nginx_url, None),
            ("clip GET — coach-server", &coach_url, None),
            ("cached synthesize, JSON", &synth_url, Some(json_lua.as_path())),
            ("cached synthesize, audio/mpeg", &synth_url, Some(audio_lua.as_path())),
        ] {
            let l = wrk(url, c, o.secs, script)?;
            println!(
                "  {name:<34} {:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  errors {}",
                l.rps, l.p50_ms, l.p99_ms, l.errors
            );
            rows.push((name.to_string(), c, l));
        }
    }
    let (rss, hwm) = coach.memory_kib();
    let server_errors = coach.server_errors()?;
    drop(nginx);

    let find = |n: &str, c: u32| rows.iter().find(|r| r.0.starts_with(n) && r.1 == c).map(|r| &r.2);
    let mut table = String::from(
        "| scenario | connections | requests/s | p50 ms | p99 ms | errors |\n|---|---:|---:|---:|---:|---:|\n",
    );
    for (name, c, l) in &rows {
        table
            .push_str(&format!("| {name} | {c} | {:.0} | {:.2} | {:.2} | {} |\n", l.rps, l.p50_ms, l.p99_ms, l.errors));
    }
    let mut verdict = String::new();
    let mut all_errors = 0;
    for c in [64u32, 256] {
        if let (Some(n), Some(s)) = (find("clip GET — nginx", c), find("clip GET — coach", c)) {
            let ratio = s.rps / n.rps;
            verdict.push_str(&format!(
                "- clip GET at {c} connections: {ratio:.2}× nginx — target ≥ 0.8×: **{}**\n",
                if ratio >= 0.8 { "met" } else { "not met" }
            ));
        }
    }
    for name in ["cached synthesize, JSON", "cached synthesize, audio"] {
        if let Some(l) = find(name, 256) {
            verdict.push_str(&format!(
                "- {name} p99 at 256 connections: {:.2} ms — target < 10 ms: **{}**\n",
                l.p99_ms,
                if l.p99_ms < 10.0 { "met" } else { "not met" }
            ));
        }
    }
    for (_, _, l) in &rows {
        all_errors += l.errors;
    }
    verdict.push_str(&format!(
        "- errors (non-2xx/3xx and socket errors, all scenarios): {all_errors}; 5xx in the server's metrics: {} — target 0: **{}**\n",
        server_errors.len(),
        if all_errors == 0 && server_errors.is_empty() { "met" } else { "not met" }
    ));
    verdict.push_str(&format!(
        "- coach-server memory after the run: RSS {:.0} MiB, peak {:.0} MiB\n",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    ));
    println!("\n{table}\n{verdict}");
    let wrk_v = crate::cmd::cmd("wrk", &["-v"]).read().unwrap_or_default();
    let wrk_v = wrk_v.lines().next().unwrap_or("wrk").to_string();
    let cmdline =
        if o.profile == Profile::Dev { "cargo xtask bench serving --dev" } else { "cargo xtask bench serving" };
    let doc = format!(
        "Latest run: `{cmdline}` ({} s per scenario), {}; {}; coach-server {}, clip {} bytes, SQLite; \
         nginx {} ({} workers, sendfile, access log off); {} with as many threads as cores, on the same machine \
         (load generator, nginx and the server share the cores).\n\n{table}\n{verdict}",
        o.secs,
        today(),
        machine(),
        o.profile.describe(),
        clip.len(),
        Nginx::version(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
        wrk_v.split(" [").next().unwrap_or("wrk"),
    );
    update_doc(DOC, "serving", &doc)
}

fn economy() -> Result<()> {
    let args = ["test", "-p", "coach-server", "--test", "economy", "--", "--ignored", "--nocapture", "economy_bench"];
    let out = run_capture("cargo", &args, &[])?;
    let figures: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("upstream economy"))
        .filter(|l| !l.starts_with("test ") && !l.trim().is_empty() && !l.starts_with("running"))
        .take_while(|l| !l.starts_with("test result"))
        .collect();
    let doc = format!(
        "Latest run: `cargo xtask bench economy` (runs `cargo {}`), {}; {}.\n\n```\n{}\n```",
        args.join(" "),
        today(),
        machine(),
        figures.join("\n")
    );
    update_doc(DOC, "economy", &doc)
}

fn training(profile: Profile) -> Result<()> {
    let mut args = vec!["test", "-p", "coach-server", "--test", "bench_training"];
    if profile == Profile::Release {
        args.push("--release");
    }
    args.extend(["--", "--ignored", "--nocapture", "training_scale_bench"]);
    let out = run_capture("cargo", &args, &[])?;
    let figures: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("intake over HTTP"))
        .filter(|l| !l.contains("has been running for over"))
        .take_while(|l| !l.starts_with("test "))
        .collect();
    let cmdline =
        if profile == Profile::Dev { "cargo xtask bench training --dev" } else { "cargo xtask bench training" };
    let doc = format!(
        "Latest run: `{cmdline}` (runs `cargo {}`), {}; {}; {}.\n\n```\n{}\n```",
        args.join(" "),
        today(),
        machine(),
        profile.describe(),
        figures.join("\n").trim()
    );
    update_doc(DOC, "training", &doc)
}

fn audio(profile: Profile) -> Result<()> {
    let mut args = vec!["test", "-p", "coach-server", "--test", "bench_audio"];
    if profile == Profile::Release {
        args.push("--release");
    }
    args.extend(["--", "--ignored", "--nocapture", "audio_corpus_bench"]);
    let out = run_capture("cargo", &args, &[])?;
    let figures: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("audio bench:"))
        .filter(|l| !l.contains("has been running for over"))
        .take_while(|l| !l.starts_with("test "))
        .collect();
    let cmdline = if profile == Profile::Dev { "cargo xtask bench audio --dev" } else { "cargo xtask bench audio" };
    let doc = format!(
        "Latest run: `{cmdline}` (runs `cargo {}`), {}; {}; {}; SQLite, local speech provider.\n\n{}",
        args.join(" "),
        today(),
        machine(),
        profile.describe(),
        figures.join("\n").trim()
    );
    update_doc(DOC, "audio", &doc)
}
