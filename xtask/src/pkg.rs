//! Building what the browser loads — the wasm npm package and the SvelteKit app — and `run`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::cmd::cmd;
use crate::{root, target_dir, tools};

/// Builds `wasm-client/pkg`: wasm-bindgen `--target web` output plus `package.json` and README.
/// `release` uses the size-optimised `wasm-release` profile. Returns the package dir.
pub fn build_wasm_package(release: bool) -> Result<PathBuf> {
    tools::ensure_wasm_target()?;
    tools::ensure_wasm_bindgen_cli()?;
    let profile = if release { "wasm-release" } else { "dev" };
    cmd("cargo", &["build", "-p", "coach-wasm", "--target", "wasm32-unknown-unknown", "--profile", profile]).run()?;
    let dir = if release { "wasm-release" } else { "debug" };
    let wasm = target_dir().join("wasm32-unknown-unknown").join(dir).join("coach_wasm.wasm");
    let out = root().join("wasm-client/pkg");
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
    let out_s = out.to_string_lossy().to_string();
    cmd("wasm-bindgen", &["--target", "web", "--out-dir", &out_s, "--out-name", "coach_wasm", &wasm.to_string_lossy()])
        .run()?;
    write_package_json(&out)?;
    std::fs::copy(root().join("wasm-client/README.md"), out.join("README.md")).context("copying the package README")?;
    let size = std::fs::metadata(out.join("coach_wasm_bg.wasm"))?.len();
    println!("wasm package: {} ({} KB wasm)", out.display(), size / 1024);
    Ok(out)
}

fn write_package_json(out: &std::path::Path) -> Result<()> {
    let version = env!("CARGO_PKG_VERSION");
    let json = format!(
        r#"{{
  "name": "coach-wasm",
  "version": "{version}",
  "description": "Coach's browser library: voice cache, anonymizer, API client, offline outbox, playback",
  "license": "MIT OR Apache-2.0",
  "type": "module",
  "main": "coach_wasm.js",
  "module": "coach_wasm.js",
  "types": "coach_wasm.d.ts",
  "files": ["coach_wasm_bg.wasm", "coach_wasm_bg.wasm.d.ts", "coach_wasm.js", "coach_wasm.d.ts", "README.md"],
  "sideEffects": ["./snippets/*"]
}}
"#
    );
    std::fs::write(out.join("package.json"), json)?;
    Ok(())
}

/// Builds the SvelteKit app into `www/build` (installing its npm dependencies when needed).
pub fn build_www() -> Result<()> {
    tools::ensure_node()?;
    let www = root().join("www");
    let stamp = www.join("node_modules/.package-lock.json");
    let lock = www.join("package-lock.json");
    let stale = match (std::fs::metadata(&stamp), std::fs::metadata(&lock)) {
        (Ok(s), Ok(l)) => s.modified()? < l.modified()?,
        _ => true,
    };
    if stale {
        cmd("npm", &["ci", "--no-audit", "--no-fund"]).dir(&www).run()?;
    } else {
        // the wasm package is a file: dependency; refresh its copy
        cmd("npm", &["install", "--no-audit", "--no-fund", "--no-save", "../wasm-client/pkg"]).dir(&www).run()?;
    }
    cmd("npm", &["run", "build"]).dir(&www).run()?;
    if !www.join("build/index.html").is_file() {
        bail!("www build produced no build/index.html");
    }
    Ok(())
}

/// `cargo xtask run`.
pub fn run(release: bool) -> Result<()> {
    build_wasm_package(true)?;
    build_www()?;
    let mut args = vec!["build", "-p", "coach-server"];
    if release {
        args.push("--release");
    }
    cmd("cargo", &args).run()?;
    let bin = target_dir().join(if release { "release" } else { "debug" }).join("coach-server");
    let bind = std::env::var("COACH_BIND").unwrap_or_else(|_| "127.0.0.1:8080".into());
    println!();
    println!("Starting Coach on http://{bind}  (Ctrl-C to stop)");
    println!("  the app:       http://{bind}/   (dev sign-in is on: COACH_DEV_MODE=1)");
    println!("  API contract:  http://{bind}/v1/openapi.json");
    let data = std::env::var("COACH_DATA_DIR").unwrap_or_else(|_| root().join("data").display().to_string());
    println!("  data:          {data} (SQLite, secrets, clips, models)");
    println!();
    cmd(&bin.to_string_lossy(), &[])
        .dir(&root())
        .env("COACH_BIND", &bind)
        .env("COACH_DEV_MODE", std::env::var("COACH_DEV_MODE").unwrap_or_else(|_| "1".into()))
        .env("COACH_WWW_DIR", root().join("www/build"))
        .run()
}
