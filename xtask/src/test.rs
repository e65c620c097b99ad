//! `cargo xtask test`: every check, in the order that fails fastest, with a timing summary.

use std::time::Instant;

use anyhow::Result;

use crate::cmd::cmd;
use crate::{root, tools};

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
fn browser_tests() -> Result<()> {
    tools::ensure_chromium()?;
    tools::ensure_wasm_target()?;
    tools::ensure_wasm_bindgen_cli()?;
    cmd("cargo", &["test", "-p", "coach-wasm", "--target", "wasm32-unknown-unknown"])
        .dir(&root())
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", "wasm-bindgen-test-runner")
        .env("CHROMEDRIVER", "/usr/bin/chromedriver")
        .env("WASM_BINDGEN_TEST_TIMEOUT", "120")
        .run()
}
