//! Tool checks: each `ensure_*` finds a tool, installs it when it can (rustup, cargo install,
//! apt-get as root) and otherwise stops with the exact command to run.

use anyhow::{Result, bail};

use crate::cmd::{cmd, on_path};
use crate::root;

fn is_root() -> bool {
    cmd("id", &["-u"]).read().as_deref() == Some("0")
}

/// The `wasm32-unknown-unknown` standard library.
pub fn ensure_wasm_target() -> Result<()> {
    let installed = cmd("rustup", &["target", "list", "--installed"]).read().unwrap_or_default();
    if installed.lines().any(|l| l.trim() == "wasm32-unknown-unknown") {
        return Ok(());
    }
    if on_path("rustup") {
        return cmd("rustup", &["target", "add", "wasm32-unknown-unknown"]).run();
    }
    bail!(
        "the wasm32 target is missing and rustup is not on PATH: install it with `rustup target add wasm32-unknown-unknown`"
    )
}

/// The exact `wasm-bindgen` version in Cargo.lock (the CLI must match it).
pub fn wasm_bindgen_version() -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock"))?;
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l.trim() == "name = \"wasm-bindgen\""
            && let Some(v) = lines.next().and_then(|v| v.trim().strip_prefix("version = \""))
        {
            return Ok(v.trim_end_matches('"').to_string());
        }
    }
    bail!("wasm-bindgen is not in Cargo.lock")
}

/// `wasm-bindgen` (and `wasm-bindgen-test-runner`) of the locked version.
pub fn ensure_wasm_bindgen_cli() -> Result<()> {
    let want = wasm_bindgen_version()?;
    let have = cmd("wasm-bindgen", &["--version"]).read().unwrap_or_default();
    if have.split_whitespace().nth(1) == Some(want.as_str()) && on_path("wasm-bindgen-test-runner") {
        return Ok(());
    }
    println!("wasm-bindgen-cli {want} is needed (found {:?}); installing (about 4 minutes, once)", have);
    // Without --locked: with it, a locked dependency of the CLI is missing from the registry.
    cmd("cargo", &["install", "wasm-bindgen-cli", "--version", &want]).run()
}

/// Debian packages that provide `binaries`, installed with apt-get when running as root.
pub fn ensure_apt(what: &str, binaries: &[&str], packages: &[&str]) -> Result<()> {
    let missing: Vec<&&str> = binaries.iter().filter(|b| !on_path(b)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let install = format!("apt-get install -y {}", packages.join(" "));
    if is_root() && on_path("apt-get") {
        println!("{what} is missing ({missing:?}); installing with apt-get");
        cmd("apt-get", &["update", "-qq"]).run()?;
        let mut args = vec!["install", "-y", "-qq"];
        args.extend_from_slice(packages);
        return cmd("apt-get", &args).env("DEBIAN_FRONTEND", "noninteractive").run();
    }
    bail!("{what} is missing ({missing:?}). Install it with:\n    sudo {install}")
}

/// `espeak-ng`, the default (local) speech engine: the server's tests synthesize with it, and
/// `cargo xtask run` starts a server that speaks through it.
pub fn ensure_espeak() -> Result<()> {
    ensure_apt("espeak-ng (the local speech engine)", &["espeak-ng"], &["espeak-ng"])
}

/// Chromium and ChromeDriver (browser tests, the demo's end-to-end tests).
pub fn ensure_chromium() -> Result<()> {
    ensure_apt("Chromium", &["chromium", "chromedriver"], &["chromium", "chromium-driver"])
}

/// Node.js ≥ 20 and npm (the SvelteKit app).
pub fn ensure_node() -> Result<()> {
    if !on_path("node") || !on_path("npm") {
        ensure_apt("Node.js", &["node", "npm"], &["nodejs", "npm"])?;
    }
    let v = cmd("node", &["--version"]).read().unwrap_or_default();
    let major: u32 = v.trim_start_matches('v').split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    if major < 20 {
        bail!("Node.js {v} is too old: SvelteKit 2 needs Node 20 or newer (https://nodejs.org/en/download)");
    }
    Ok(())
}

/// Whether PostgreSQL answers at the test URL (for the banner; tests skip by themselves).
pub fn postgres_reachable() -> (String, bool) {
    let url =
        std::env::var("COACH_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let ok = cmd("pg_isready", &["-d", &url, "-t", "3"]).read().is_some()
        || std::net::TcpStream::connect_timeout(
            &"127.0.0.1:5432".parse().expect("addr"),
            std::time::Duration::from_secs(2),
        )
        .is_ok();
    (url, ok)
}
