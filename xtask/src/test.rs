//! `cargo xtask test`: every check, in the order that fails fastest, with a timing summary.

use std::time::Instant;

use anyhow::Result;

use crate::cmd::cmd;
use crate::{root, servers, tools};

/// What to run.
pub struct Options {
    /// Run the tests that need Chromium.
    pub browser: bool,
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
        cmd("cargo", &["test", "--workspace", "--exclude", "coach-wasm"]).dir(&dir).run()
    })?;
    step("wasm32 build", &mut || {
        cmd("cargo", &["build", "-p", "coach-wasm", "--target", "wasm32-unknown-unknown"]).dir(&dir).run()
    })?;
    if opts.browser {
        step("browser tests (wasm-bindgen-test in headless Chromium)", &mut || browser_tests())?;
    } else {
        println!("\n(browser tests skipped: --no-browser)");
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
    let server = servers::TestServer::start()?;
    let fake = servers::FakeOutage::start()?;
    let mut args = vec!["test", "-p", "coach-wasm", "--target", "wasm32-unknown-unknown"];
    args.extend_from_slice(extra);
    let result = cmd("cargo", &args)
        .dir(&root())
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", "wasm-bindgen-test-runner")
        .env("CHROMEDRIVER", "/usr/bin/chromedriver")
        .env("WASM_BINDGEN_TEST_TIMEOUT", "180")
        .env("WASM_BINDGEN_TEST_WEBDRIVER_JSON", root().join("wasm-client/webdriver.json"))
        .env("COACH_TEST_SERVER_URL", &server.url)
        .env("COACH_TEST_FAKE_URL", &fake.url)
        .run();
    if result.is_err() {
        println!("--- coach-server log (last lines)\n{}", server.log_tail());
    }
    result
}
