//! The app's API types by construction: `www/src/lib/api-types.ts` is generated from the server's
//! OpenAPI document (`coach-server openapi`, utoipa) by the pinned `openapi-typescript` in
//! `www/tools`. `cargo xtask api-types` writes it; the `cargo xtask test` step [`check`] fails when
//! the committed file differs from a fresh generation (a Rust type changed and the app's types did
//! not follow).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::cmd::cmd;
use crate::{pkg, root, target_dir};

/// The generated file.
fn committed() -> PathBuf {
    root().join("www/src/lib/api-types.ts")
}

/// A fresh generation of the file's text.
fn generate() -> Result<String> {
    let tools = pkg::ensure_www_tools()?;
    cmd("cargo", &["build", "-q", "-p", "coach-server"]).dir(&root()).run()?;
    let bin = target_dir().join("debug/coach-server");
    let doc = cmd(&bin.to_string_lossy(), &["openapi"]).read().context("`coach-server openapi` failed")?;
    let dir = std::env::temp_dir().join(format!("coach-api-types-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (json, ts) = (dir.join("openapi.json"), dir.join("api-types.ts"));
    std::fs::write(&json, doc)?;
    let generator = tools.join("node_modules/.bin/openapi-typescript");
    let (json_s, ts_s) = (json.to_string_lossy().to_string(), ts.to_string_lossy().to_string());
    cmd(&generator.to_string_lossy(), &[&json_s, "--output", &ts_s]).dir(&tools).run()?;
    let text = std::fs::read_to_string(&ts)?;
    std::fs::remove_dir_all(&dir)?;
    Ok(text)
}

/// `cargo xtask api-types`: writes the file.
pub fn write() -> Result<()> {
    let text = generate()?;
    std::fs::write(committed(), &text)?;
    println!("wrote {} ({} lines)", committed().display(), text.lines().count());
    Ok(())
}

/// Fails when the committed file is not what the OpenAPI document generates today.
pub fn check() -> Result<()> {
    let fresh = generate()?;
    let have = std::fs::read_to_string(committed()).unwrap_or_default();
    if have != fresh {
        let line = have.lines().zip(fresh.lines()).position(|(a, b)| a != b).map_or_else(
            || format!("{} vs {} lines", have.lines().count(), fresh.lines().count()),
            |i| format!("first difference at line {}", i + 1),
        );
        bail!(
            "{} is out of date with the server's OpenAPI document ({line}): run `cargo xtask api-types` and commit it",
            committed().display()
        );
    }
    println!("{} matches the OpenAPI document", committed().display());
    Ok(())
}
