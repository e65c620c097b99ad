//! Fault injection on the training side.
//!
//! * The Hub client against the fake Hub answering 429 with `Retry-After`, 500, slowly, with a body
//!   cut off mid-stream and with garbage: transient faults on idempotent calls are retried, the
//!   commit is not retried on a 500 (it could land twice), and every other fault ends the push with
//!   an error — never a panic.
//! * The whole learning loop with the REAL trainer: a Hub that fails every request leaves the model
//!   local but deployed; then the trainer process is killed (SIGKILL by pid, found in /proc) in the
//!   middle of training: the session retries and completes, and the model deployed before serves
//!   throughout with its artifacts byte-identical. Both engines.

mod common;
mod training_support;

use std::path::Path;
use std::time::{Duration, Instant};

use axum::http::Method;
use coach_server::training::hub::{HfHub, ModelHub};
use common::{Auth, Engine, TestApp};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use training_support::fake_hub::{FakeHub, HubFault};
use training_support::submit_records;

fn model_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), br#"{"d_model": 64}"#).unwrap();
    std::fs::write(dir.path().join("README.md"), "---\nlicense: apache-2.0\n---\n# Coach model\n").unwrap();
    let weights: Vec<u8> = (0..50_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(dir.path().join("model.safetensors"), weights).unwrap();
    dir
}

fn set(fake: &FakeHub, path: Option<&str>, queue: &[HubFault], sticky: Option<HubFault>) {
    let mut h = fake.hub.lock().unwrap();
    h.fault_path = path.map(str::to_string);
    h.faults = queue.iter().cloned().collect();
    h.sticky = sticky;
    h.faulted = 0;
}

#[tokio::test]
async fn hub_push_under_faults() {
    let fake = FakeHub::start().await;
    let dir = model_dir();
    let hub = HfHub::new(&fake.url, FakeHub::token(), "org/coach").unwrap();

    // 429 with Retry-After: waited out
    set(&fake, None, &[HubFault::TooMany(Some(1))], None);
    let t = Instant::now();
    hub.push(dir.path(), "v1.0.0").await.unwrap();
    assert!(t.elapsed() >= Duration::from_secs(1), "{:?}", t.elapsed());
    // 500 and a slow answer on idempotent calls: retried
    set(&fake, Some("/preupload/"), &[HubFault::ServerError, HubFault::Slow(Duration::from_millis(700))], None);
    hub.push(dir.path(), "v1.1.0").await.unwrap();
    assert_eq!(fake.hub.lock().unwrap().faulted, 2);
    // 500 on the commit: not retried (a retried commit could land twice), the push fails
    let commits = fake.hub.lock().unwrap().commits.len();
    set(&fake, Some("/commit/"), &[], Some(HubFault::ServerError));
    let e = hub.push(dir.path(), "v1.2.0").await.unwrap_err();
    assert!(format!("{e:#}").contains("commit"), "{e:#}");
    assert_eq!(fake.hub.lock().unwrap().faulted, 1, "the commit was sent once");
    assert_eq!(fake.hub.lock().unwrap().commits.len(), commits);
    // a body cut off mid-stream, garbage instead of JSON: errors, not panics
    for fault in [HubFault::Truncated, HubFault::Garbage] {
        set(&fake, Some("/preupload/"), &[], Some(fault.clone()));
        let e = hub.push(dir.path(), "v1.3.0").await.unwrap_err();
        assert!(format!("{e:#}").contains("preupload"), "{fault:?}: {e:#}");
    }
    // a namespace lookup answered with garbage
    set(&fake, Some("/whoami"), &[], Some(HubFault::Garbage));
    let bare = HfHub::new(&fake.url, FakeHub::token(), "coach-model").unwrap().with_max_retries(1);
    assert!(bare.push(dir.path(), "v1.3.0").await.is_err());
    // faults gone: it works again, and nothing the failures did is half-committed
    set(&fake, None, &[], None);
    hub.push(dir.path(), "v1.3.0").await.unwrap();
    let h = fake.hub.lock().unwrap();
    assert!(h.violations.is_empty(), "{:?}", h.violations);
    assert_eq!(h.tags["org/coach"], ["v1.0.0", "v1.1.0", "v1.3.0"]);
}

async fn session(app: &TestApp, batch: &str) -> String {
    let r = app.json(Method::POST, "/v1/ai-training/sessions", Auth::Admin, json!({ "batchId": batch })).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

async fn wait_done(app: &TestApp, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let s = app.get(&format!("/v1/ai-training/sessions/{id}"), Auth::Admin).await.json();
        if s["status"] == "completed" || s["status"] == "failed" {
            return s;
        }
        assert!(Instant::now() < deadline, "session did not finish: {s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The pid of this process's child running `trainer train …`, if any.
fn trainer_pid() -> Option<i32> {
    let me = std::process::id().to_string();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // the parent pid is the 2nd field after the parenthesized command name
        let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1).map(str::to_string));
        if ppid.as_deref() != Some(me.as_str()) {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if args.len() > 2 && args[1] == b"trainer" && args[2] == b"train" {
            return Some(pid);
        }
    }
    None
}

/// CPU seconds `pid` has used (user + system), from /proc.
fn cpu_secs(pid: i32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
    // after the command name: state is field 0, utime 11, stime 12 (clock ticks, 100 per second)
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

fn sha256(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

async fn deployed_versions(app: &TestApp) -> Vec<String> {
    let live = app.get("/v1/ai-training/models?status=deployed", Auth::Admin).await.json();
    live["models"].as_array().unwrap().iter().map(|m| m["version"].as_str().unwrap().to_string()).collect()
}

/// Both engines one after the other: the trainer is found among this process's children, so two
/// such tests must not run at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_outage_and_a_killed_trainer_on_both_engines() {
    hub_outage_and_a_killed_trainer(Engine::Sqlite).await;
    hub_outage_and_a_killed_trainer(Engine::Postgres).await;
}

async fn hub_outage_and_a_killed_trainer(engine: Engine) {
    let fake = FakeHub::start().await;
    let Some(app) = TestApp::with_config(engine, |c| {
        c.training.trainer_command = vec![env!("CARGO_BIN_EXE_coach-server").into(), "trainer".into()];
        c.training.train_budget = Duration::from_secs(6);
        c.training.retry_base = Duration::from_millis(1);
        c.training.scheduler = false;
        c.training.intake_burst = 10_000;
        c.training.hf_token = Some(FakeHub::token().into());
        c.training.hf_endpoint = fake.url.clone();
        c.training.hf_repo = "org/coach".into();
    })
    .await
    else {
        return;
    };
    // 1. the Hub fails every request: the model is trained, deployed and kept local
    set(&fake, None, &[], Some(HubFault::ServerError));
    submit_records(&app, "faulty_a", 60, 11).await;
    let id = session(&app, "faults-1").await;
    let s = wait_done(&app, &id).await;
    assert_eq!(s["status"], "completed", "{s}");
    assert!(fake.hub.lock().unwrap().faulted > 0, "the push was tried");
    assert!(fake.hub.lock().unwrap().commits.is_empty());
    assert_eq!(deployed_versions(&app).await, ["v1.0.0"]);
    let weights = app.data_dir.join("models/v1.0.0/model.safetensors");
    let before = sha256(&weights);

    // 2. the Hub is back; the trainer is killed mid-run: the session retries and completes
    set(&fake, None, &[], None);
    submit_records(&app, "faulty_b", 150, 12).await;
    let id = session(&app, "faults-2").await;
    let deadline = Instant::now() + Duration::from_secs(120);
    // mid-run: the trainer has spent 0.4 s of CPU (past its start, into tokenizer and training)
    let pid = loop {
        if let Some(pid) = trainer_pid()
            && cpu_secs(pid) >= 0.4
        {
            break pid;
        }
        assert!(Instant::now() < deadline, "the trainer never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(kill9(pid), 0, "kill -9 {pid}");
    // meanwhile the deployed model serves
    let t = app.user("faulty_coach", false, false).await;
    let r = app
        .json(
            Method::POST,
            "/v1/ai/coach",
            Auth::Bearer(t),
            json!({"exerciseType": "squat", "setNumber": 2, "strainPercentage": 50, "contextTags": []}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(deployed_versions(&app).await.contains(&"v1.0.0".to_string()));
    let s = wait_done(&app, &id).await;
    assert_eq!(s["status"], "completed", "{s}");
    assert!(s["retryCount"].as_u64().unwrap() >= 1, "retried after the kill: {s}");
    let v11 = app.get("/v1/ai-training/models?version=v1.1.0", Auth::Admin).await.json();
    assert_eq!(v11["total"], 1, "{v11}");
    assert_eq!(v11["models"][0]["huggingFaceModelId"], "org/coach", "{v11}");
    assert_eq!(sha256(&weights), before, "v1.0.0's weights are untouched");
    let live = deployed_versions(&app).await;
    assert_eq!(live.len(), 1, "one live model: {live:?}");
    let h = fake.hub.lock().unwrap();
    assert!(h.violations.is_empty(), "{:?}", h.violations);
    assert_eq!(h.tags["org/coach"], ["v1.1.0"]);
}

/// SIGKILL to `pid` through the `kill` utility (no libc binding in the tests); its exit code.
fn kill9(pid: i32) -> i32 {
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .map(|s| s.code().unwrap_or(-1))
        .unwrap_or(-1)
}
