//! `cargo xtask soak [--minutes N] [--dev]`: the long checks `cargo xtask test` only samples.
//!
//! 1. API fuzzing (see [`crate::fuzz`]) with many more examples per operation, half the time.
//! 2. A sustained mixed load for the other half: `wrk` at 64 connections cycling through cached
//!    synthesis, clip downloads, workout logging and listing and the cache index, in 30-second
//!    windows; after each window the server's resident memory is read. Passes with 0 errors and
//!    0 server errors; prints the memory curve.
//!
//! Writes the outcome into `docs/reliability.md` (block `soak`). Loopback only, bounded in time.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::coachproc::{Coach, Profile, build, machine, request, update_doc};
use crate::fuzz;
use crate::tools::ensure_apt;

/// Runs the soak for about `minutes`.
pub fn run(minutes: u32, profile: Profile) -> Result<()> {
    ensure_apt("wrk (soak load)", &["wrk"], &["wrk"])?;
    let half_secs = (minutes.max(2) * 60) / 2;
    let t0 = Instant::now();
    // the fuzzing makes six runs; give each a share of the first half
    let summary = fuzz::run(&fuzz::Plan { examples: 1000, max_secs: (half_secs / 6).max(30), seed: None, profile })?;
    println!("\n{}", summary.report());

    let bin = build(profile)?;
    // 64 connections of one user logging sets: far beyond a person's rate, on purpose.
    let coach = Coach::start(&bin, &fuzz::UNTHROTTLED)?;
    let token = coach.user("soak_premium", true, true)?;
    let line =
        json!({ "text": "Breathe out on the way up, nice and steady.", "tone": "neutral", "context": "rest_period" });
    let auth = format!("Bearer {token}");
    let (s, warm) = request(
        &coach.addr,
        "POST",
        "/v1/voice/synthesize",
        &[("authorization", &auth), ("content-type", "application/json")],
        Some(&serde_json::to_vec(&line)?),
    )?;
    if s != 200 {
        bail!("warming the phrase: {s}");
    }
    let key = serde_json::from_slice::<Value>(&warm)?["cacheKey"].as_str().context("cacheKey")?.to_string();
    let workout =
        json!({ "exerciseType": "squat", "setNumber": 3, "weight": 100.0, "reps": 5, "perceivedExertion": 8.0 });
    let script = coach.data_dir().join("soak.lua");
    std::fs::write(
        &script,
        format!(
            "local reqs = {{}}\nlocal i = 0\n\
             init = function(args)\n\
               local a = {{ [\"Authorization\"] = \"{auth}\" }}\n\
               local j = {{ [\"Authorization\"] = \"{auth}\", [\"Content-Type\"] = \"application/json\" }}\n\
               reqs[1] = wrk.format(\"POST\", \"/v1/voice/synthesize\", j, '{line}')\n\
               reqs[2] = wrk.format(\"GET\", \"/v1/voice/clips/{key}.mp3\")\n\
               reqs[3] = wrk.format(\"POST\", \"/v1/workouts\", j, '{workout}')\n\
               reqs[4] = wrk.format(\"GET\", \"/v1/workouts?limit=20\", a)\n\
               reqs[5] = wrk.format(\"GET\", \"/v1/voice/cache\", a)\n\
             end\n\
             request = function()\n  i = i + 1\n  return reqs[(i % #reqs) + 1]\nend\n"
        ),
    )?;
    let windows = (half_secs / 30).max(1);
    let url = format!("http://{}/", coach.addr);
    let script_s = script.display().to_string();
    let mut rows = String::from("| window | requests/s | p99 ms | errors | RSS MiB |\n|---:|---:|---:|---:|---:|\n");
    let (mut errors, mut first_rss, mut last_rss) = (0u64, 0u64, 0u64);
    println!("\n--- sustained mixed load: {windows} windows of 30 s at 64 connections");
    for w in 1..=windows {
        let out = std::process::Command::new("wrk")
            .args(["-t2", "-c64", "-d30s", "--latency", "--timeout", "5s", "-s", &script_s, &url])
            .output()
            .context("could not run wrk")?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let rps: f64 =
            text.lines().find_map(|l| l.trim().strip_prefix("Requests/sec:")?.trim().parse().ok()).unwrap_or(0.0);
        let p99 = text.lines().find_map(|l| l.trim().strip_prefix("99%").map(crate::bench_server::parse_ms));
        let p99 = p99.unwrap_or(f64::NAN);
        let mut e = 0u64;
        for l in text.lines().map(str::trim) {
            if let Some(v) = l.strip_prefix("Non-2xx or 3xx responses:") {
                e += v.trim().parse::<u64>().unwrap_or(0);
            } else if let Some(v) = l.strip_prefix("Socket errors:") {
                e += v.split(',').filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok()).sum::<u64>();
            }
        }
        errors += e;
        let (rss, _) = coach.memory_kib();
        if w == 1 {
            first_rss = rss;
        }
        last_rss = rss;
        println!(
            "  window {w:>3}: {rps:>8.0} req/s  p99 {p99:>7.2} ms  errors {e}  RSS {:.1} MiB",
            rss as f64 / 1024.0
        );
        rows.push_str(&format!("| {w} | {rps:.0} | {p99:.2} | {e} | {:.1} |\n", rss as f64 / 1024.0));
    }
    let server_errors = coach.server_errors()?;
    let (_, hwm) = coach.memory_kib();
    let verdict = format!(
        "Fuzzing: {}\n\nSustained load: {} requests failed (non-2xx/3xx or socket errors), {} 5xx series in the \
         server's metrics; RSS after the first window {:.1} MiB, after the last {:.1} MiB (peak {:.1} MiB).",
        summary.report(),
        errors,
        server_errors.len(),
        first_rss as f64 / 1024.0,
        last_rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    println!("\n{verdict}");
    let cmdline =
        format!("cargo xtask soak --minutes {minutes}{}", if profile == Profile::Dev { " --dev" } else { "" });
    let date = crate::cmd::cmd("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).read().unwrap_or_default();
    update_doc(
        "docs/reliability.md",
        "soak",
        &format!(
            "Latest run: `{cmdline}`, {date}, {:.0} min in all; {}; {}.\n\n{verdict}\n\n{rows}",
            t0.elapsed().as_secs_f64() / 60.0,
            machine(),
            profile.describe()
        ),
    )?;
    summary.ok()?;
    if errors > 0 || !server_errors.is_empty() {
        bail!("soak: {errors} failed requests, server errors {server_errors:?}");
    }
    Ok(())
}
