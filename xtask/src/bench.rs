//! `cargo xtask bench-browser`: builds the optimized wasm package, installs the tools
//! (`wasm-client/tools`: idb-keyval, playwright-core) and runs the browser benchmark
//! (`wasm-client/bench/run.mjs`) in the system Chromium, printing: voice-cache get of a 30 KB clip
//! vs an idb-keyval get of the same Blob (and their ratio), put latency, and playback start latency.
//! Then the app's first load (issue 11, `www/tests/firstload.mjs`): www built with that release
//! package and served by a `coach-server` (dev mode, debug build), `/` loaded in Chromium with a
//! fresh profile — bytes over the wire per kind and in total — and Lighthouse's mobile
//! performance score (the pinned CLI in `www/tools`).
//! The figures are printed, never asserted (the machine's load decides them).

use anyhow::Result;

use crate::cmd::cmd;
use crate::{pkg, root, servers, tools};

/// Runs the benchmark; `first_load_only` skips the library's part.
pub fn bench_browser(first_load_only: bool) -> Result<()> {
    tools::ensure_chromium()?;
    pkg::build_wasm_package(true)?;
    if !first_load_only {
        pkg::ensure_wasm_tools()?;
        cmd("node", &["wasm-client/bench/run.mjs"]).dir(&root()).run()?;
    }
    first_load()
}

/// The app's first load: bytes over the wire and the Lighthouse score.
fn first_load() -> Result<()> {
    println!("\n=== first load of the app (www/tests/firstload.mjs)");
    pkg::build_www()?;
    let tools_dir = pkg::ensure_www_tools()?;
    let www = root().join("www");
    let server = servers::TestServer::start_with(&[("COACH_WWW_DIR", www.join("build").display().to_string())])?;
    let result = cmd("node", &["tests/firstload.mjs"])
        .dir(&www)
        .env("COACH_BASE_URL", &server.url)
        .env("CHROME_PATH", "/usr/bin/chromium")
        .env("LIGHTHOUSE", tools_dir.join("node_modules/.bin/lighthouse"))
        .run();
    if result.is_err() {
        println!("--- coach-server log (last lines)\n{}", server.log_tail());
    }
    result
}
