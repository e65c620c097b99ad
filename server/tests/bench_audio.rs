//! Peak memory of a real `coach-server` process under the crafted-audio corpus, printed by
//! `cargo xtask bench audio` (ignored in `cargo test`; release build unless `--dev`):
//!
//! 1. every corpus file (`voice_support::corpus`) alone, as the second of four samples;
//! 2. the attack ten times at once: three distinct 42 KB FLAC files declaring 655 350 Hz
//!    (~196 M samples each), then the same with 96 kHz bombs that pass the rate check and are
//!    decoded up to the frame budget;
//! 3. the whole corpus again from 8 concurrent clients.
//!
//! Prints each answer, the wall time per phase and the server's `VmRSS`/`VmHWM` (peak resident
//! memory, from `/proc/<pid>/status`) after each phase. Figures are printed, never asserted; the
//! run fails only if the server answers a 5xx or dies.

mod common;
mod voice_support;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use voice_support::corpus::{corpus, flac};
use voice_support::{Part, multipart, tone_wav};

const KEY: &str = "bench-audio-admin-key-0123456789abcdef";

/// The server process; killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `VmRSS` and `VmHWM` of `pid`, MiB.
fn memory(pid: u32) -> (f64, f64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A clone form: the `samples` and a voice name.
fn form(samples: Vec<(String, &'static str, Vec<u8>)>) -> (String, Vec<u8>) {
    let mut parts: Vec<Part> =
        samples.iter().map(|(name, ct, bytes)| Part::File("audioSamples", name.as_str(), ct, bytes.clone())).collect();
    parts.push(Part::Text("voiceName", "Bench"));
    multipart(&parts)
}

/// `crafted` as the second of four samples (the others are good, distinct per `n`).
fn with_good(n: usize, crafted: (String, &'static str, Vec<u8>)) -> (String, Vec<u8>) {
    let good = |k: usize| (format!("g{k}.wav"), "audio/wav", tone_wav(100.0 + (n * 3 + k) as f64, 1.2, 16000));
    form(vec![good(0), crafted, good(1), good(2)])
}

/// Sends the forms, `clients` at a time; returns (status, error code, first field code) per form.
async fn send_all(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    forms: Vec<(String, Vec<u8>)>,
    clients: usize,
) -> Vec<(u16, String)> {
    let sem = Arc::new(tokio::sync::Semaphore::new(clients));
    let mut tasks = Vec::new();
    for (ct, body) in forms {
        let (http, url, auth, sem) =
            (http.clone(), format!("{base}/v1/voice/clone"), format!("Bearer {token}"), sem.clone());
        tasks.push(tokio::spawn(async move {
            let _turn = sem.acquire_owned().await.unwrap();
            let r = http.post(url).header("authorization", auth).header("content-type", ct).body(body).send().await;
            let r = r.expect("the server answers");
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap_or_default();
            let code = v["details"]["fields"][0]["code"].as_str().or(v["error"].as_str()).unwrap_or("").to_string();
            (status, code)
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn tally(answers: &[(u16, String)]) -> String {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for (s, c) in answers {
        *counts.entry(format!("{s} {c}")).or_default() += 1;
    }
    counts.iter().map(|(k, n)| format!("{n} × {k}")).collect::<Vec<_>>().join(", ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark: run by `cargo xtask bench audio`"]
async fn audio_corpus_bench() {
    coach_server::install_tls_provider();
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_coach-server"))
        .env("COACH_BIND", format!("127.0.0.1:{port}"))
        .env("COACH_DATA_DIR", dir.path())
        .env("COACH_ADMIN_API_KEY", KEY)
        .env("COACH_SCHEDULER", "0")
        .env("COACH_CLONE_PER_HOUR", "1000000")
        .env("RUST_LOG", "error")
        .env_remove("COACH_DATABASE_URL")
        .env_remove("ELEVENLABS_API_KEY")
        .env_remove("COACH_TTS_PROVIDER")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start coach-server");
    let pid = child.id();
    let _server = Server(child);
    let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches!(http.get(format!("{base}/health")).send().await, Ok(r) if r.status() == 200) {
        assert!(Instant::now() < deadline, "coach-server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let token = common::user_over_http(&http, &base, KEY, json!({ "id": "bomber", "isPremium": true })).await;
    let (rss0, hwm0) = memory(pid);
    println!("audio bench: coach-server pid {pid}; at start RSS {rss0:.1} MiB, peak {hwm0:.1} MiB");
    let mut all = Vec::new();

    println!("\n1. each crafted file alone (second of four samples)");
    println!("| file | bytes | lie | answer | ms | peak RSS after, MiB |\n|---|---:|---|---|---:|---:|");
    let files = corpus();
    for (n, c) in files.iter().enumerate() {
        let f = with_good(n, (c.file_name.to_string(), c.content_type, c.bytes.clone()));
        let t0 = Instant::now();
        let a = send_all(&http, &base, &token, vec![f], 1).await;
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        let peak = memory(pid).1;
        println!("| {} | {} | {} | {} {} | {ms:.0} | {peak:.1} |", c.file_name, c.bytes.len(), c.lie, a[0].0, a[0].1);
        all.extend(a);
    }
    let (rss, hwm) = memory(pid);
    println!("after phase 1: RSS {rss:.1} MiB, peak {hwm:.1} MiB");

    for (label, rate) in [("655 350 Hz", 655_350u32), ("96 kHz", 96_000)] {
        let forms: Vec<_> = (0..10)
            .map(|i| {
                form(
                    (0..3)
                        .map(|k| (format!("bomb{k}.flac"), "audio/flac", flac(rate, 1, 3000 + i * 3 + k, 0)))
                        .collect(),
                )
            })
            .collect();
        let t0 = Instant::now();
        let a = send_all(&http, &base, &token, forms, 10).await;
        let secs = t0.elapsed().as_secs_f64();
        let (rss, hwm) = memory(pid);
        println!(
            "\n2. ten uploads at once of three 42 KB FLAC files at {label}: {} in {secs:.2} s; RSS {rss:.1} MiB, peak {hwm:.1} MiB",
            tally(&a)
        );
        all.extend(a);
    }

    let forms: Vec<_> = files
        .iter()
        .enumerate()
        .map(|(n, c)| with_good(100 + n, (c.file_name.to_string(), c.content_type, c.bytes.clone())))
        .collect();
    let t0 = Instant::now();
    let a = send_all(&http, &base, &token, forms, 8).await;
    let secs = t0.elapsed().as_secs_f64();
    let (rss, hwm) = memory(pid);
    println!(
        "\n3. the whole corpus from 8 concurrent clients: {} in {secs:.2} s; RSS {rss:.1} MiB, peak {hwm:.1} MiB",
        tally(&a)
    );
    all.extend(a);

    let total: usize = files.iter().map(|c| c.bytes.len()).sum();
    println!(
        "\npeak RSS (VmHWM) of coach-server over the whole run: {hwm:.1} MiB (target < 150 MiB: {}); \
         {} crafted files, {:.1} MB; {} requests: {}",
        if hwm < 150.0 { "met" } else { "NOT met" },
        files.len(),
        total as f64 / 1e6,
        all.len(),
        tally(&all)
    );
    let server_errors = all.iter().filter(|(s, _)| *s >= 500 && *s != 503).count();
    assert_eq!(server_errors, 0, "5xx answers: {}", tally(&all));
}
