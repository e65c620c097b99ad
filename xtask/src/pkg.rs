//! Building what the browser loads — the wasm npm package and the SvelteKit app — and `run`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cmd::cmd;
use crate::{root, target_dir, tools};

/// Sizes of the package's `.wasm`, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct WasmSize {
    /// As written.
    pub raw: u64,
    /// gzip -9.
    pub gzip: u64,
}

fn wasm_size(path: &Path) -> Result<WasmSize> {
    use std::io::Write;
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&bytes)?;
    Ok(WasmSize { raw: bytes.len() as u64, gzip: gz.finish()?.len() as u64 })
}

/// The release package's budget: gzip -9 of `coach_wasm_bg.wasm` after wasm-opt, in bytes.
/// `cargo xtask test` fails above it. Issue 11 asks for 90 KB; the package is 244.3 KB today (from
/// 349 KB; it had grown back to 281.1 KB with the day's merges before the second pass), so the
/// budget is that figure plus a 2 % margin (249.2 KB), to be lowered with every cut — never raised
/// to let a change through (docs/performance.md, "Browser package size", says what weighs).
pub const WASM_GZIP_BUDGET: u64 = 255_167;

fn kb(n: u64) -> String {
    format!("{:.1} KB", n as f64 / 1024.0)
}

/// `wasm-client/tools`: wasm-opt (npm `binaryen`; Debian's wasm-opt emits wasm Chromium rejects),
/// idb-keyval and playwright-core for the benchmark. `npm ci` when missing or stale.
pub fn ensure_wasm_tools() -> Result<PathBuf> {
    npm_ci_when_stale(&root().join("wasm-client/tools"))
}

/// `www/tools`: the pinned Lighthouse (first-load benchmark), openapi-typescript (the app's API
/// types) and sv (the official SvelteKit template, for the SSR template test).
pub fn ensure_www_tools() -> Result<PathBuf> {
    npm_ci_when_stale(&root().join("www/tools"))
}

/// `npm ci` in `dir` when its `node_modules` is missing or older than its `package-lock.json`.
pub fn npm_ci_when_stale(dir: &Path) -> Result<PathBuf> {
    tools::ensure_node()?;
    let stamp = dir.join("node_modules/.package-lock.json");
    let lock = dir.join("package-lock.json");
    let stale = match (std::fs::metadata(&stamp), std::fs::metadata(&lock)) {
        (Ok(s), Ok(l)) => s.modified()? < l.modified()?,
        _ => true,
    };
    if stale {
        cmd("npm", &["ci", "--no-audit", "--no-fund"]).dir(dir).run()?;
    }
    Ok(dir.to_path_buf())
}

/// Builds `wasm-client/pkg`: wasm-bindgen `--target web` output plus `package.json` and README.
/// `release` uses the size-optimised `wasm-release` profile and then `wasm-opt`; the sizes
/// (raw and gzip, before and after wasm-opt) are printed. Returns the package dir.
pub fn build_wasm_package(release: bool) -> Result<PathBuf> {
    build_wasm_package_sized(release).map(|(dir, _)| dir)
}

/// The size budget step of `cargo xtask test` (`cargo xtask test --size-only`): builds the release
/// package and fails when its `coach_wasm_bg.wasm` is over [`WASM_GZIP_BUDGET`] gzipped. A size is
/// deterministic for a given toolchain and lockfile, so this can be a test where a timer cannot.
pub fn size_budget() -> Result<()> {
    let (_, size) = build_wasm_package_sized(true)?;
    let verdict = if size.gzip <= WASM_GZIP_BUDGET { "within" } else { "OVER" };
    println!(
        "wasm package size budget: coach_wasm_bg.wasm {} gzip ({} raw), budget {} gzip: {verdict}",
        kb(size.gzip),
        kb(size.raw),
        kb(WASM_GZIP_BUDGET)
    );
    if size.gzip > WASM_GZIP_BUDGET {
        bail!(
            "the release wasm package is {} gzip, over its budget of {} (xtask/src/pkg.rs WASM_GZIP_BUDGET); \
             `twiggy top` on a build with names shows what grew (docs/performance.md)",
            kb(size.gzip),
            kb(WASM_GZIP_BUDGET)
        );
    }
    Ok(())
}

/// [`build_wasm_package`], also returning the final size of `coach_wasm_bg.wasm`.
pub fn build_wasm_package_sized(release: bool) -> Result<(PathBuf, WasmSize)> {
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
    let wasm_s = wasm.to_string_lossy().to_string();
    let mut bindgen = vec!["--target", "web", "--out-dir", &out_s, "--out-name", "coach_wasm"];
    // COACH_WASM_KEEP_NAMES=1 keeps the function names, for `twiggy` (the sizes printed then are
    // not the shipped ones)
    let keep_names = std::env::var_os("COACH_WASM_KEEP_NAMES").is_some();
    if release && !keep_names {
        // function names only help debugging; the release package ships without them
        bindgen.extend_from_slice(&["--remove-name-section", "--remove-producers-section"]);
    }
    bindgen.push(&wasm_s);
    cmd("wasm-bindgen", &bindgen).run()?;
    let bg = out.join("coach_wasm_bg.wasm");
    let before = wasm_size(&bg)?;
    let mut after = None;
    if release {
        let tools_dir = ensure_wasm_tools()?;
        let wasm_opt = tools_dir.join("node_modules/.bin/wasm-opt");
        let tmp = out.join("coach_wasm_bg.opt.wasm");
        let (bg_s, tmp_s) = (bg.to_string_lossy().to_string(), tmp.to_string_lossy().to_string());
        // the features rustc's wasm32 target enables by default, so wasm-opt keeps (and may use) them
        let features = [
            "--enable-bulk-memory",
            "--enable-nontrapping-float-to-int",
            "--enable-sign-ext",
            "--enable-reference-types",
            "--enable-multivalue",
            "--enable-mutable-globals",
        ];
        // Measured on this crate (see wasm-client/README.md): -Oz shrinks the raw file most but the
        // result compresses worse (gzip and brotli grow ~5 %); -O1 with dead-argument elimination
        // shrinks both, and repeating it until nothing changes (--converge) a little more
        // (docs/performance.md, "Second pass"). COACH_WASM_OPT overrides, e.g. COACH_WASM_OPT=-Oz.
        let level = std::env::var("COACH_WASM_OPT").unwrap_or_else(|_| "-O1 --dae-optimizing --converge".into());
        let mut args: Vec<&str> = level.split_whitespace().collect();
        if keep_names {
            // wasm-opt drops the name section unless asked to keep it
            args.push("-g");
        } else {
            args.push("--strip-debug");
            args.push("--strip-producers");
        }
        args.extend_from_slice(&features);
        args.extend_from_slice(&[&bg_s, "-o", &tmp_s]);
        cmd(&wasm_opt.to_string_lossy(), &args).run()?;
        std::fs::rename(&tmp, &bg)?;
        after = Some(wasm_size(&bg)?);
    }
    write_package_json(&out)?;
    std::fs::copy(root().join("wasm-client/README.md"), out.join("README.md")).context("copying the package README")?;
    println!("wasm package: {}", out.display());
    println!("  coach_wasm_bg.wasm  wasm-bindgen output: {} raw, {} gzip", kb(before.raw), kb(before.gzip));
    if let Some(a) = after {
        println!("  coach_wasm_bg.wasm  after wasm-opt:      {} raw, {} gzip", kb(a.raw), kb(a.gzip));
    }
    let js = wasm_size(&out.join("coach_wasm.js"))?;
    println!("  coach_wasm.js       glue:                {} raw, {} gzip", kb(js.raw), kb(js.gzip));
    Ok((out, after.unwrap_or(before)))
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
    tools::ensure_espeak()?;
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
