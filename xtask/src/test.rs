//! `cargo xtask test`: every check, in the order that fails fastest, with a timing summary.

use std::time::Instant;

use anyhow::Result;

use crate::cmd::cmd;
use crate::{root, servers, tools};

/// What to run.
pub struct Options {
    /// Run the tests that need Chromium.
    pub browser: bool,
    /// Run the www end-to-end tests (the SvelteKit app in Chromium against a real server).
    pub www: bool,
}

/// Runs every step; stops at the first failure.
pub fn run(opts: &Options) -> Result<()> {
    let start = Instant::now();
    let mut timings: Vec<(&str, f64)> = Vec::new();
    let mut step = |name: &'static str, f: &mut dyn FnMut() -> Result<()>| -> Result<()> {
        println!("\n=== {name}");
        let t = Instant::now();
        f()?;
        timings.push((name, t.elapsed().as_secs_f64()));
        Ok(())
    };
    let dir = root();

    step("format", &mut || cmd("cargo", &["fmt", "--all", "--check"]).dir(&dir).run())?;
    step("clippy (native)", &mut || {
        cmd("cargo", &["clippy", "--workspace", "--exclude", "coach-wasm", "--all-targets", "--", "-D", "warnings"])
            .dir(&dir)
            .run()
    })?;
    step("clippy (wasm32)", &mut || {
        tools::ensure_wasm_target()?;
        cmd(
            "cargo",
            &[
                "clippy",
                "-p",
                "coach-wasm",
                "-p",
                "coach-shared",
                "--target",
                "wasm32-unknown-unknown",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
        )
        .dir(&dir)
        .run()
    })?;
    let (pg_url, pg_ok) = tools::postgres_reachable();
    if pg_ok {
        println!("\nPostgreSQL reachable at {pg_url}: database tests run on SQLite and PostgreSQL.");
    } else {
        println!("\nPostgreSQL NOT reachable at {pg_url}: the PostgreSQL variants will print SKIPPED.");
    }
    step("native tests (SQLite + PostgreSQL)", &mut || {
        tools::ensure_espeak()?;
        cmd("cargo", &["test", "--workspace", "--exclude", "coach-wasm"]).dir(&dir).run()
    })?;
    step("API fuzzing (schemathesis, bounded; xtask/src/fuzz.rs)", &mut || crate::fuzz::test_step())?;
    step("www API types match the OpenAPI document (www/src/lib/api-types.ts)", &mut || crate::apitypes::check())?;
    step("wasm32 build", &mut || {
        cmd("cargo", &["build", "-p", "coach-wasm", "--target", "wasm32-unknown-unknown"]).dir(&dir).run()
    })?;
    step("wasm package size budget (release build, gzip of coach_wasm_bg.wasm)", &mut || crate::pkg::size_budget())?;
    if opts.browser {
        step("browser tests (wasm-bindgen-test in headless Chromium)", &mut || browser_tests())?;
    } else {
        println!("\n(browser tests skipped: --no-browser)");
    }
    if opts.browser && opts.www {
        step("www end-to-end tests (the app in headless Chromium, real server)", &mut || www_e2e(&[]))?;
    } else {
        println!("\n(www end-to-end tests skipped: {})", if opts.www { "--no-browser" } else { "--no-www" });
    }
    if opts.browser && opts.www {
        step("SSR template app (the package in a fresh SvelteKit project, SSR on)", &mut || ssr_template())?;
    } else {
        println!("\n(SSR template app skipped: {})", if opts.www { "--no-browser" } else { "--no-www" });
    }

    println!("\n=== summary");
    for (name, secs) in &timings {
        println!("  {secs:>7.1}s  {name}");
    }
    println!("  {:>7.1}s  total — all checks passed", start.elapsed().as_secs_f64());
    Ok(())
}

/// `wasm-bindgen-test` suites of the browser library, in headless Chromium through chromedriver.
///
/// The suites that need a server get, at compile time (`option_env!`), the URL of a real
/// `coach-server` started here in dev mode (`COACH_TEST_SERVER_URL`) and of the fake outage
/// (`COACH_TEST_FAKE_URL`); both are stopped when the tests end, whatever their result. Chrome's
/// extra flags (autoplay without a gesture, muted output) come from `wasm-client/webdriver.json`.
fn browser_tests() -> Result<()> {
    browser_only(&[])
}

/// Only the browser step (`cargo xtask test --browser-only [-- <cargo test args>]`), e.g. one
/// suite: `cargo xtask test --browser-only -- --test outbox`.
pub fn browser_only(extra: &[&str]) -> Result<()> {
    tools::ensure_chromium()?;
    tools::ensure_wasm_target()?;
    tools::ensure_wasm_bindgen_cli()?;
    // The test pages come from wasm-bindgen-test-runner's own server, another origin than the
    // coach-server's: fix its address so the server's CORS can list exactly that origin (dev mode
    // never mirrors a foreign Origin).
    let runner = format!("127.0.0.1:{}", servers::free_port()?);
    let server = servers::TestServer::start_with(&[("COACH_CORS_ORIGINS", format!("http://{runner}"))])?;
    let fake = servers::FakeOutage::start()?;
    let mut args = vec!["test", "-p", "coach-wasm", "--target", "wasm32-unknown-unknown"];
    args.extend_from_slice(extra);
    let result = cmd("cargo", &args)
        .dir(&root())
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", "wasm-bindgen-test-runner")
        .env("CHROMEDRIVER", "/usr/bin/chromedriver")
        .env("WASM_BINDGEN_TEST_TIMEOUT", "180")
        .env("WASM_BINDGEN_TEST_ADDRESS", &runner)
        .env("WASM_BINDGEN_TEST_WEBDRIVER_JSON", root().join("wasm-client/webdriver.json"))
        .env("COACH_TEST_SERVER_URL", &server.url)
        .env("COACH_TEST_FAKE_URL", &fake.url)
        .run();
    if result.is_err() {
        println!("--- coach-server log (last lines)\n{}", server.log_tail());
    }
    result
}

/// The www end-to-end tests (`www/tests/e2e.mjs`, `playwright-core` driving the system Chromium):
/// builds the wasm package (dev profile: the wasm32 step already compiled it) and the SvelteKit
/// app, starts a real `coach-server` serving the app at `/` (dev mode, SQLite in a temp dir, a
/// short training budget so the dashboard scenario trains a real model in seconds), runs the
/// scenarios against it and stops it. `scenarios` picks some (`cargo xtask test --www-only -- offline`).
pub fn www_e2e(scenarios: &[&str]) -> Result<()> {
    tools::ensure_chromium()?;
    crate::pkg::build_wasm_package(false)?;
    crate::pkg::build_www()?;
    let www = root().join("www");
    let server = servers::TestServer::start_with(&[
        ("COACH_WWW_DIR", www.join("build").display().to_string()),
        ("COACH_TRAIN_BUDGET_SECS", "20".into()),
        ("COACH_TRAIN_RETRY_BASE_SECS", "5".into()),
    ])?;
    let mut args = vec!["tests/e2e.mjs"];
    args.extend_from_slice(scenarios);
    let result = cmd("node", &args).dir(&www).env("COACH_BASE_URL", &server.url).run();
    if result.is_err() {
        println!("--- coach-server log (last lines)\n{}", server.log_tail());
    }
    result
}

/// The package in an app nobody here wrote (`www/tests/ssr-template/run.mjs`, `cargo xtask test
/// --ssr-only`): a fresh project from the official SvelteKit template (pinned `sv` in `www/tools`,
/// its dependencies from a committed lockfile) in a temp dir, the package installed from its
/// `npm pack` tarball, a page using `CoachClient`, `VoiceCache` and `speak()`; built with SSR on,
/// served by `vite preview`, fetched (the server-side render must import the package) and loaded
/// in Chromium against a real `coach-server` whose CORS lists the preview's origin.
pub fn ssr_template() -> Result<()> {
    tools::ensure_chromium()?;
    let pkg = crate::pkg::build_wasm_package(false)?;
    let tools_dir = crate::pkg::ensure_www_tools()?;
    let www = root().join("www");
    crate::pkg::npm_ci_when_stale(&www)?; // playwright-core
    let port = servers::free_port()?;
    let server = servers::TestServer::start_with(&[("COACH_CORS_ORIGINS", format!("http://127.0.0.1:{port}"))])?;
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos();
    let work = std::env::temp_dir().join(format!("coach-ssr-template-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let result = cmd("node", &["tests/ssr-template/run.mjs"])
        .dir(&www)
        .env("COACH_API_URL", &server.url)
        .env("APP_PORT", port.to_string())
        .env("COACH_WASM_PKG", &pkg)
        .env("SV", tools_dir.join("node_modules/.bin/sv"))
        .env("WORK_DIR", &work)
        .run();
    match &result {
        Ok(()) => std::fs::remove_dir_all(&work)?,
        Err(_) => println!(
            "--- the project is kept in {}\n--- coach-server log (last lines)\n{}",
            work.display(),
            server.log_tail()
        ),
    }
    result
}
