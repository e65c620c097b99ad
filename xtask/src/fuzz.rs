//! API fuzzing with schemathesis (PyPI) against the served `/v1/openapi.json`.
//!
//! A fresh `coach-server` (SQLite, local speech, scheduler off) gets a premium consenting user
//! and the admin key; the operations of the document are split by their security requirement and
//! fuzzed in separate runs, each with the credential it needs: admin operations with `X-API-Key`,
//! user operations with the premium user's bearer token, public ones with none, and
//! `DELETE /v1/users/me` with a throwaway user's token (it deletes its caller); two more runs call
//! the object routes with ids of objects created beforehand (see [`Seeded`]). Checks: no server
//! error, every status / content type / header / body conforms to the document, a request without
//! its required credential is refused, deleted resources are gone, created ones are reachable.
//! Afterwards the server's own metrics must show no 5xx at all.
//!
//! `cargo xtask test` runs it with a bounded number of examples per operation; `cargo xtask soak`
//! runs it longer. Not checked: `positive_data_acceptance` and `negative_data_rejection` — the
//! document cannot express the rules that make a schema-valid body still invalid (a hash that must
//! be the caller's, PII, limits between fields), and unknown query parameters are ignored by design.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::cmd::{cmd, on_path};
use crate::coachproc::{Coach, Profile, build, machine, request, update_doc};

/// The checks every run applies.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
response_headers_conformance,response_schema_conformance,ignored_auth,missing_required_header,\
use_after_free,ensure_resource_availability";

/// The per-user rate limits of the everyday write routes, raised so that one user's hundreds of
/// generated requests reach the handlers instead of stopping at 429 (which the document declares,
/// so it would pass, but test nothing). `cargo xtask soak` uses them for its load too.
pub const UNTHROTTLED: [(&str, &str); 6] = [
    ("COACH_AI_COACH_PER_MINUTE", "1000000"),
    ("COACH_AI_COACH_BURST", "1000000"),
    ("COACH_WORKOUTS_PER_MINUTE", "1000000"),
    ("COACH_WORKOUTS_BURST", "1000000"),
    ("COACH_INTERACTIONS_PER_MINUTE", "1000000"),
    ("COACH_INTERACTIONS_BURST", "1000000"),
];

/// How much to fuzz.
pub struct Plan {
    /// Examples per operation (`--max-examples`).
    pub examples: u32,
    /// Time budget of each of the runs, seconds (`--max-time`).
    pub max_secs: u32,
    /// Random seed (`--seed`), fixed for reproducible CI runs.
    pub seed: Option<u64>,
    /// Which server build.
    pub profile: Profile,
}

/// What a fuzzing session did.
pub struct Summary {
    /// Operations in the document.
    pub operations: usize,
    /// Test cases schemathesis generated, over all runs.
    pub cases: u64,
    /// Runs that reported failures (none when the session passed).
    pub failed_runs: Vec<String>,
    /// 5xx answers seen in the server's metrics.
    pub server_errors: Vec<(String, u64)>,
    /// Wall time, seconds.
    pub secs: f64,
    /// The schemathesis version.
    pub version: String,
}

/// The `schemathesis` CLI, installed with pip when missing.
pub fn ensure_schemathesis() -> Result<String> {
    if let Some(v) = cmd("schemathesis", &["--version"]).read() {
        return Ok(v);
    }
    let pip_ok = cmd("python3", &["-m", "pip", "--version"]).read().is_some();
    if !pip_ok {
        bail!(
            "schemathesis is missing and python3 -m pip is not available. Install it with:\n    python3 -m pip install 'schemathesis>=4,<5'"
        );
    }
    println!("schemathesis is missing; installing it from PyPI");
    cmd("python3", &["-m", "pip", "install", "-q", "schemathesis>=4,<5"]).run()?;
    if on_path("pyenv") {
        let _ = cmd("pyenv", &["rehash"]).read();
    }
    cmd("schemathesis", &["--version"]).read().context(
        "schemathesis was installed but is not on PATH (add pip's script directory, e.g. ~/.local/bin, to PATH)",
    )
}

/// Starts a server and fuzzes it according to `plan`.
pub fn run(plan: &Plan) -> Result<Summary> {
    let version = ensure_schemathesis()?;
    let t0 = Instant::now();
    let bin = build(plan.profile)?;
    let env: Vec<(&str, &str)> = [("COACH_TRAIN_BUDGET_SECS", "5")].into_iter().chain(UNTHROTTLED).collect();
    let mut coach = Coach::start(&bin, &env)?;
    let user = coach.user("fuzz_premium", true, true)?;
    let deleter = coach.user("fuzz_deleter", true, false)?;
    let (s, doc) = request(&coach.addr, "GET", "/v1/openapi.json", &[], None)?;
    if s != 200 {
        bail!("GET /v1/openapi.json answered {s}");
    }
    let doc: Value = serde_json::from_slice(&doc)?;
    let (mut admin, mut users, mut public, mut delete_me) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (path, item) in doc["paths"].as_object().context("paths")? {
        for (method, op) in item.as_object().context("path item")? {
            if !matches!(method.as_str(), "get" | "post" | "put" | "patch" | "delete") {
                continue;
            }
            let name = format!("{} {path}", method.to_uppercase());
            let sec = op["security"].as_array().cloned().unwrap_or_default();
            let is_public = sec.is_empty() || sec.iter().any(|s| s.as_object().is_some_and(|o| o.is_empty()));
            if name == "DELETE /v1/users/me" {
                delete_me.push(name);
            } else if sec.iter().any(|s| s.get("ApiKeyAuth").is_some()) {
                admin.push(name);
            } else if is_public {
                public.push(name);
            } else {
                users.push(name);
            }
        }
    }
    let operations = admin.len() + users.len() + public.len() + delete_me.len();
    let url = format!("http://{}/v1/openapi.json", coach.addr);
    let key_header = format!("X-API-Key: {}", coach.key);
    let user_header = format!("Authorization: Bearer {user}");
    let deleter_header = format!("Authorization: Bearer {deleter}");
    let seeded = seed_objects(&coach, &user)?;
    let (user_objects, admin_objects) = (seeded.config(&coach, false)?, seeded.config(&coach, true)?);
    let (user_object_ops, admin_object_ops) = (seeded.operations(false), seeded.operations(true));
    let groups = [
        Group { label: "admin operations (X-API-Key)", names: &admin, header: Some(&key_header), config: None },
        Group {
            label: "user operations (a premium user's token)",
            names: &users,
            header: Some(&user_header),
            config: None,
        },
        Group { label: "public operations (no credentials)", names: &public, header: None, config: None },
        Group {
            label: "DELETE /v1/users/me (a throwaway user's token)",
            names: &delete_me,
            header: Some(&deleter_header),
            config: None,
        },
        Group {
            label: "user object routes with the user's real ids",
            names: &user_object_ops,
            header: Some(&user_header),
            config: Some(&user_objects),
        },
        Group {
            label: "admin object routes with real ids",
            names: &admin_object_ops,
            header: Some(&key_header),
            config: Some(&admin_objects),
        },
    ];
    let mut cases = 0u64;
    let mut failed_runs = Vec::new();
    for Group { label, names, header, config } in groups {
        if names.is_empty() {
            continue;
        }
        println!("\n--- schemathesis: {label}, {} operations", names.len());
        let examples = plan.examples.to_string();
        let max_time = plan.max_secs.to_string();
        let mut args: Vec<String> =
            ["run", &url, "--max-examples", &examples, "--max-time", &max_time, "--checks", CHECKS]
                .iter()
                .map(|s| s.to_string())
                .collect();
        args.extend(["--request-timeout".into(), "30".into(), "--suppress-health-check".into(), "all".into()]);
        if let Some(seed) = plan.seed {
            args.extend(["--seed".into(), seed.to_string()]);
        }
        if let Some(h) = header {
            args.extend(["--header".into(), h.to_string()]);
        }
        for n in names {
            args.extend(["--include-name".into(), n.clone()]);
        }
        if let Some(c) = config {
            args.splice(0..0, ["--config-file".to_string(), c.display().to_string()]);
        }
        let shown: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = std::process::Command::new("schemathesis")
            .args(&shown)
            .current_dir(coach.data_dir()) // its `.schemathesis/` cache stays out of the repository
            .env("NO_COLOR", "1")
            .output()
            .context("could not run schemathesis")?;
        let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        // the summary, and the failures in full when there are any
        let keep: Vec<&str> = if out.status.success() {
            text.lines().skip_while(|l| !l.contains("SUMMARY")).collect()
        } else {
            text.lines().collect()
        };
        println!(
            "{}",
            keep.join("\n").replace(&user, "<token>").replace(&deleter, "<token>").replace(&coach.key, "<key>")
        );
        cases += text
            .lines()
            .find_map(|l| l.trim().split_once(" generated").and_then(|(n, _)| n.trim().parse::<u64>().ok()))
            .unwrap_or(0);
        if !out.status.success() {
            failed_runs.push(label.to_string());
        }
        if !coach.alive() {
            bail!("coach-server died during fuzzing:\n{}", coach.log_tail());
        }
    }
    let server_errors = coach.server_errors()?;
    if !server_errors.is_empty() {
        println!("--- coach-server log (last lines)\n{}", coach.log_tail());
    }
    Ok(Summary { operations, cases, failed_runs, server_errors, secs: t0.elapsed().as_secs_f64(), version })
}

/// One schemathesis run: which operations, with which credential and config file.
struct Group<'a> {
    /// Shown in the output and in the summary when the run fails.
    label: &'a str,
    /// The operations (`METHOD /path`) the run includes.
    names: &'a [String],
    /// The credential header sent with every request, if any.
    header: Option<&'a str>,
    /// A schemathesis config file (fixed path parameters), if any.
    config: Option<&'a std::path::Path>,
}

/// Objects that exist while fuzzing, so the object routes are also called with real ids (and their
/// success answers checked against the document), not only with ids that give 404.
struct Seeded {
    workout: String,
    cache_id: String,
    clip_key: String,
    session: String,
}

fn json_call(coach: &Coach, auth: (&str, &str), method: &str, path: &str, body: &Value) -> Result<Value> {
    let bytes = serde_json::to_vec(body)?;
    let headers = [auth, ("content-type", "application/json")];
    let (s, b) = request(&coach.addr, method, path, &headers, Some(&bytes))?;
    if !(200..300).contains(&s) {
        bail!("seeding {method} {path}: {s} {}", String::from_utf8_lossy(&b));
    }
    Ok(serde_json::from_slice(&b)?)
}

fn seed_objects(coach: &Coach, token: &str) -> Result<Seeded> {
    let bearer = format!("Bearer {token}");
    let user = ("authorization", bearer.as_str());
    let w = json_call(
        coach,
        user,
        "POST",
        "/v1/workouts",
        &serde_json::json!({ "exerciseType": "squat", "setNumber": 2, "weight": 100.0, "reps": 5, "perceivedExertion": 7.0 }),
    )?;
    let workout = w["id"].as_str().context("workout id")?.to_string();
    let s = json_call(
        coach,
        user,
        "POST",
        "/v1/voice/synthesize",
        &serde_json::json!({ "text": "Seeded line for the fuzzer.", "tone": "neutral", "context": "rest_period" }),
    )?;
    json_call(
        coach,
        user,
        "POST",
        "/v1/voice/interactions",
        &serde_json::json!({ "workoutEntryId": workout, "aiResponseText": "Seeded.", "voiceTone": "neutral", "wasVoicePlayed": true }),
    )?;
    coach.user("fuzz_patched", false, false)?;
    let admin = ("x-api-key", coach.key.as_str());
    let session =
        json_call(coach, admin, "POST", "/v1/ai-training/sessions", &serde_json::json!({ "batchId": "fuzz-seeded" }))?;
    Ok(Seeded {
        workout,
        cache_id: s["cacheId"].as_str().context("cacheId")?.to_string(),
        clip_key: s["cacheKey"].as_str().context("cacheKey")?.to_string(),
        session: session["id"].as_str().context("session id")?.to_string(),
    })
}

impl Seeded {
    /// (operation, path parameter, value) for the user's or the admin's object routes.
    fn bindings(&self, admin: bool) -> Vec<(&'static str, &'static str, String)> {
        if admin {
            vec![
                ("GET /v1/ai-training/sessions/{sessionId}", "sessionId", self.session.clone()),
                ("PATCH /v1/ai-training/sessions/{sessionId}", "sessionId", self.session.clone()),
                ("GET /v1/users/{id}", "id", "fuzz_patched".into()),
                ("PATCH /v1/users/{id}", "id", "fuzz_patched".into()),
            ]
        } else {
            vec![
                ("GET /v1/workouts/{id}", "id", self.workout.clone()),
                ("GET /v1/voice/interactions/workout/{workoutId}", "workoutId", self.workout.clone()),
                ("GET /v1/voice/clips/{file}", "file", format!("{}.mp3", self.clip_key)),
                ("GET /v1/voice/cache/{cacheId}", "cacheId", self.cache_id.clone()),
                ("DELETE /v1/voice/cache/{cacheId}", "cacheId", self.cache_id.clone()),
            ]
        }
    }

    fn operations(&self, admin: bool) -> Vec<String> {
        self.bindings(admin).into_iter().map(|(op, _, _)| op.to_string()).collect()
    }

    /// A schemathesis config file fixing each operation's path parameter to the real id.
    fn config(&self, coach: &Coach, admin: bool) -> Result<std::path::PathBuf> {
        let mut toml = String::new();
        for (op, param, value) in self.bindings(admin) {
            toml.push_str(&format!(
                "[[operations]]\ninclude-name = \"{op}\"\nparameters = {{ \"path.{param}\" = \"{value}\" }}\n\n"
            ));
        }
        let path = coach.data_dir().join(if admin { "fuzz-admin-objects.toml" } else { "fuzz-user-objects.toml" });
        std::fs::write(&path, toml)?;
        Ok(path)
    }
}

impl Summary {
    /// A one-paragraph report.
    pub fn report(&self) -> String {
        format!(
            "{}: {} operations, {} generated test cases in {:.0} s; failing runs: {}; 5xx answers in the server's metrics: {}",
            self.version,
            self.operations,
            self.cases,
            self.secs,
            if self.failed_runs.is_empty() { "none".into() } else { self.failed_runs.join(", ") },
            if self.server_errors.is_empty() {
                "0".into()
            } else {
                self.server_errors.iter().map(|(s, n)| format!("{s} = {n}")).collect::<Vec<_>>().join(", ")
            }
        )
    }

    /// Fails when schemathesis found something or the server answered a 5xx.
    pub fn ok(&self) -> Result<()> {
        if self.failed_runs.is_empty() && self.server_errors.is_empty() {
            return Ok(());
        }
        bail!("API fuzzing failed: {}", self.report())
    }
}

/// Writes the outcome of `cargo xtask fuzz` into `docs/reliability.md` (block `fuzz`).
pub fn record(s: &Summary, flags: &[&str]) -> Result<()> {
    let date = cmd("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).read().unwrap_or_default();
    let args = flags.join(" ");
    let line = if args.is_empty() { "cargo xtask fuzz".to_string() } else { format!("cargo xtask fuzz {args}") };
    update_doc(
        "docs/reliability.md",
        "fuzz",
        &format!(
            "Latest run: `{line}`, {date}; {}.

{}",
            machine(),
            s.report()
        ),
    )
}

/// The bounded step of `cargo xtask test` (six runs of at most 20 s each).
pub fn test_step() -> Result<()> {
    let summary = run(&Plan { examples: 40, max_secs: 20, seed: Some(20_261_125), profile: Profile::Dev })?;
    println!("\n{}", summary.report());
    summary.ok()
}
