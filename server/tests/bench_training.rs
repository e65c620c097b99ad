//! Training at scale, printed by `cargo xtask bench training` (ignored in `cargo test`):
//!
//! * intake throughput: concurrent clients submitting consented records over real HTTP to a server
//!   on a loopback port, on SQLite and on PostgreSQL (records/s, p50/p99);
//! * export: the pipeline's batch export (`export_batch`, streamed JSONL shards) of 5k, 50k and
//!   500k rows, its time and this process's peak resident memory growth while it runs;
//! * training: `coach-server trainer bench --records N --budget-secs B` at the same sizes, its wall
//!   time and peak RSS (`VmHWM`), to show memory stays flat as data grows.
//!
//! Sizes: `COACH_BENCH_RECORDS` (default `5000,50000,500000`); training budget:
//! `COACH_BENCH_BUDGET_SECS` (default 30); intake requests per engine: `COACH_BENCH_INTAKE`
//! (default 3000).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use coach_server::config::Config;
use coach_server::training::export::export_batch;
use serde_json::{Value, json};

fn env_or<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d)
}

fn sizes() -> Vec<u64> {
    std::env::var("COACH_BENCH_RECORDS")
        .unwrap_or_else(|_| "5000,50000,500000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// Resident memory of this process now (`VmRSS`), bytes.
fn rss_now() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Records/s and latency percentiles (ms) of `n` submissions by `clients` concurrent clients.
async fn intake(db_url: Option<String>, n: usize, clients: usize) -> (f64, f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_data_dir(dir.path().to_path_buf(), db_url);
    config.bind = "127.0.0.1:0".parse().unwrap();
    config.admin_api_key = Some("bench-key".into());
    config.training.scheduler = false;
    config.training.intake_burst = 1_000_000;
    config.training.intake_per_minute = 1_000_000;
    let running = coach_server::start(config).await.unwrap();
    let base = format!("http://{}", running.addr);
    coach_server::install_tls_provider();
    let http = reqwest::Client::builder().pool_max_idle_per_host(clients).build().unwrap();
    let mut tokens = Vec::new();
    for u in 0..clients {
        let id = format!("bench_{u}");
        let token = common::consenting_user_over_http(&http, &base, "bench-key", &id).await;
        tokens.push((id, token));
    }
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (id, token) in tokens {
        let (http, base, next) = (http.clone(), base.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let hash = coach_shared::hash_user_id(&id);
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n as u64 {
                    return lat;
                }
                let body = json!({
                    "hashedUserId": hash, "exerciseType": "bench_press", "setNumber": 1 + i % 20,
                    "strainPercentage": (i % 100) as f64, "sleepHours": 7.5,
                    "aiResponse": format!("Keep the bar over mid-foot, rep {i}."), "contextTags": ["working_set"],
                    "timestamp": (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339(),
                });
                let t = Instant::now();
                let r = http
                    .post(format!("{base}/v1/ai-training/data"))
                    .bearer_auth(&token)
                    .header("idempotency-key", format!("bench-{i}"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let secs = start.elapsed().as_secs_f64();
    running.stop().await.unwrap();
    lat.sort_by(f64::total_cmp);
    (n as f64 / secs, pct(&lat, 0.5), pct(&lat, 0.99))
}

/// Adds rows to `ai_training_data` until it holds `total`, in one statement per 50k rows.
async fn fill(db: &coach_server::db::Db, from: u64, total: u64) {
    let now = coach_server::db::now_ms();
    let mut at = from;
    while at < total {
        let n = (total - at).min(50_000) as i64;
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
             INSERT INTO ai_training_data (id, subject_key, exercise_type, set_number, strain_percentage, skip_reason,
                 sleep_hours, ai_response, context_tags, event_at, status, batch_id, source, byte_size, created_at)
             SELECT 'bench-' || CAST($2 + i AS TEXT), 'bench-subject',
                    CASE i % 4 WHEN 0 THEN 'squat' WHEN 1 THEN 'deadlift' WHEN 2 THEN 'bench_press' ELSE 'row' END,
                    1 + i % 20, CAST(i % 100 AS DOUBLE PRECISION), NULL, 7.5,
                    'Strong set number ' || CAST($2 + i AS TEXT) || ', keep your core tight and breathe.',
                    '[\"working_set\"]', $3, 'validated', NULL, 'client', 80, $3
             FROM n",
        )
        .bind(n)
        .bind(at as i64)
        .bind(now)
        .execute(&db.pool)
        .await
        .unwrap();
        at += n as u64;
    }
}

/// Export time (s), records, MiB written and peak RSS growth (MiB) for each size.
async fn exports(db_url: Option<String>) -> Vec<(u64, f64, u64, f64, f64)> {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::for_data_dir(dir.path().to_path_buf(), db_url);
    let db = coach_server::db::Db::connect(&config.database_url).await.unwrap();
    db.migrate().await.unwrap();
    let mut out = Vec::new();
    let mut have = 0;
    for size in sizes() {
        fill(&db, have, size).await;
        have = size;
        let base = rss_now();
        let peak = Arc::new(AtomicU64::new(base));
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (peak, stop) = (peak.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_now(), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        let t = Instant::now();
        let e = export_batch(&db, "", true, &dir.path().join("export")).await.unwrap();
        let secs = t.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        sampler.join().unwrap();
        assert_eq!(e.records, size);
        let grew = peak.load(Ordering::Relaxed).saturating_sub(base) as f64 / 1048576.0;
        out.push((size, secs, e.records, e.bytes as f64 / 1048576.0, grew));
    }
    db.pool.close().await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: cargo xtask bench training"]
async fn training_scale_bench() {
    let n = env_or("COACH_BENCH_INTAKE", 3000usize);
    let pg = common::fresh_postgres_url().await;
    println!("\nintake over HTTP ({n} records, 32 concurrent clients, Idempotency-Key on each)");
    println!("  {:<11} {:>10} {:>9} {:>9}", "engine", "records/s", "p50 ms", "p99 ms");
    let (rps, p50, p99) = intake(None, n, 32).await;
    println!("  {:<11} {rps:>10.0} {p50:>9.2} {p99:>9.2}", "SQLite");
    if let Some((url, _)) = &pg {
        let (rps, p50, p99) = intake(Some(url.clone()), n, 32).await;
        println!("  {:<11} {rps:>10.0} {p50:>9.2} {p99:>9.2}", "PostgreSQL");
    }

    println!("\nexport of every retained row into JSONL shards (export_batch, pages of 2000)");
    println!(
        "  {:<11} {:>9} {:>9} {:>10} {:>9} {:>14}",
        "engine", "rows", "seconds", "rows/s", "MiB out", "RSS growth MiB"
    );
    let mut engines = vec![("SQLite", None)];
    if let Some((url, _)) = &pg {
        // a fresh schema for the export rows
        let (url2, _) = common::fresh_postgres_url().await.unwrap_or((url.clone(), String::new()));
        engines.push(("PostgreSQL", Some(url2)));
    }
    for (name, url) in engines {
        for (size, secs, rows, mib, grew) in exports(url).await {
            println!("  {name:<11} {size:>9} {secs:>9.2} {:>10.0} {mib:>9.1} {grew:>14.1}", rows as f64 / secs);
        }
    }

    let budget = env_or("COACH_BENCH_BUDGET_SECS", 30u64);
    println!("\ntraining (coach-server trainer bench, budget {budget} s, one compute thread)");
    println!(
        "  {:>9} {:>9} {:>10} {:>9} {:>10} {:>8} {:>11} {:>10}",
        "records", "synth s", "train s", "steps", "tokens/s", "seen %", "peak RSS MiB", "perplexity"
    );
    for size in sizes() {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_coach-server"))
            .args(["trainer", "bench", "--records", &size.to_string(), "--budget-secs", &budget.to_string()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        let b: Value = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["event"] == "bench")
            .expect("a bench line");
        let f = |k: &str| b[k].as_f64().unwrap_or(f64::NAN);
        println!(
            "  {size:>9} {:>9.1} {:>10.1} {:>9.0} {:>10.0} {:>8.1} {:>11.1} {:>10.2}",
            f("synthSeconds"),
            f("trainWallSeconds"),
            f("steps"),
            f("tokensPerSecond"),
            100.0 * f("dataSeenShare"),
            f("peakRssMiB"),
            f("perplexity"),
        );
    }
}
