//! `cargo xtask bench-browser`: builds the optimized wasm package, installs the tools
//! (`wasm-client/tools`: idb-keyval, playwright-core) and runs the browser benchmark
//! (`wasm-client/bench/run.mjs`) in the system Chromium, printing: voice-cache get of a 30 KB clip
//! vs an idb-keyval get of the same Blob (and their ratio), put latency, and playback start latency.
//! The figures are printed, never asserted (the machine's load decides them).

use anyhow::Result;

use crate::cmd::cmd;
use crate::{pkg, root, tools};

/// Runs the benchmark.
pub fn bench_browser() -> Result<()> {
    tools::ensure_chromium()?;
    pkg::build_wasm_package(true)?;
    pkg::ensure_wasm_tools()?;
    cmd("node", &["wasm-client/bench/run.mjs"]).dir(&root()).run()
}
