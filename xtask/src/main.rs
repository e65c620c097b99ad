//! `cargo xtask <command>`: the project's build automation, in Rust.
//!
//! * `run`  — install what is missing, build the wasm package and the SvelteKit app, start the
//!   server on the embedded defaults (SQLite, local speech) and say where to look.
//! * `test` — every check CI runs: formatting, clippy (warnings denied), all native tests on SQLite
//!   and PostgreSQL, the app's generated API types, the wasm32 build, the release package's size
//!   budget, the browser tests, the www end-to-end tests and the package in a fresh SvelteKit
//!   template app (SSR on).
//! * `wasm` — build only the npm package (`wasm-client/pkg`).
//! * `bench-browser` — the browser library's benchmark in Chromium (cache vs idb-keyval, latencies)
//!   and the app's first load (bytes over the wire, Lighthouse's mobile performance score).
//! * `bench [serving|economy|training|audio|all]` — the server's benchmarks (against nginx, the
//!   upstream economy, training at scale, peak memory under hostile audio); figures into
//!   `docs/performance.md`.
//! * `soak` — long API fuzzing and a sustained load with the memory curve; into `docs/reliability.md`.

mod apitypes;
mod bench;
mod bench_server;
mod cmd;
mod coachproc;
mod fuzz;
mod pkg;
mod servers;
mod soak;
mod test;
mod tools;

use std::path::PathBuf;
use std::process::ExitCode;

fn usage() -> &'static str {
    "usage: cargo xtask <command> [options]

commands:
  run [--release]        build the wasm package and www, start the server on http://127.0.0.1:8080
  test [--no-browser] [--no-www]
                         fmt, clippy, native tests (SQLite + PostgreSQL), API fuzzing, the app's
                         API types vs the OpenAPI document, wasm32 build, browser tests, the www
                         end-to-end tests, the SSR template app (--no-browser skips the browser steps)
  test --browser-only [-- <cargo test args>]
                         only the browser tests (real server + fake outage started for them)
  test --size-only        only the wasm package size budget (release build, gzip ≤ the budget)
  test --www-only [-- <scenario>...]
                         only the www end-to-end tests (signin workout phone textonly settings
                         clone offline offlinesets coldstart storage update admin)
  test --ssr-only         only the SSR template app (the package in a fresh SvelteKit project)
  api-types [--check]    regenerate www/src/lib/api-types.ts from the server's OpenAPI document
                         (--check: fail when the committed file differs, as `test` does)
  wasm [--dev]           build the npm package into wasm-client/pkg
  bench-browser [--first-load]
                         voice cache vs idb-keyval, put and playback latency in Chromium, then the
                         app's first load: bytes over the wire and Lighthouse's mobile score
                         (--first-load: only that)
  bench [serving|economy|training|audio|all] [--dev] [--secs N]
                         server benchmarks (default all): clip GETs and cached synthesis vs nginx
                         (wrk, N s per scenario, default 10), upstream calls on a Zipf trace, intake,
                         export and training at 5k/50k/500k records, the server's peak RSS under
                         the crafted-audio corpus; writes docs/performance.md
  fuzz [--examples N] [--max-secs N] [--release]
                         only the API fuzzing step of `test` (schemathesis against a fresh server)
  soak [--minutes N] [--dev]
                         long API fuzzing (schemathesis) + sustained mixed load with the memory curve
                         (default 10 minutes); writes docs/reliability.md
"
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first() else {
        eprint!("{}", usage());
        return ExitCode::from(2);
    };
    let flags: Vec<&str> = args[1..].iter().map(String::as_str).collect();
    let result = match command.as_str() {
        "run" => pkg::run(flags.contains(&"--release")),
        "test" if flags.contains(&"--browser-only") => {
            let extra = flags.iter().position(|f| *f == "--").map(|i| &flags[i + 1..]).unwrap_or(&[]);
            test::browser_only(extra)
        }
        "test" if flags.contains(&"--size-only") => pkg::size_budget(),
        "test" if flags.contains(&"--www-only") => {
            let extra = flags.iter().position(|f| *f == "--").map(|i| &flags[i + 1..]).unwrap_or(&[]);
            test::www_e2e(extra)
        }
        "test" if flags.contains(&"--ssr-only") => test::ssr_template(),
        "test" => {
            test::run(&test::Options { browser: !flags.contains(&"--no-browser"), www: !flags.contains(&"--no-www") })
        }
        "api-types" if flags.contains(&"--check") => apitypes::check(),
        "api-types" => apitypes::write(),
        "wasm" => pkg::build_wasm_package(!flags.contains(&"--dev")).map(|_| ()),
        "bench-browser" => bench::bench_browser(flags.contains(&"--first-load")),
        "bench" => bench_server::run(&bench_server::Options {
            what: flags
                .iter()
                .find(|f| !f.starts_with("--") && f.parse::<u32>().is_err())
                .unwrap_or(&"all")
                .to_string(),
            profile: profile(&flags),
            secs: flag_value(&flags, "--secs").unwrap_or(10),
        }),
        "fuzz" => fuzz::run(&fuzz::Plan {
            examples: flag_value(&flags, "--examples").unwrap_or(40),
            max_secs: flag_value(&flags, "--max-secs").unwrap_or(20),
            seed: None,
            profile: if flags.contains(&"--release") { coachproc::Profile::Release } else { coachproc::Profile::Dev },
        })
        .and_then(|s| {
            println!("\n{}", s.report());
            fuzz::record(&s, &flags)?;
            s.ok()
        }),
        "soak" => soak::run(flag_value(&flags, "--minutes").unwrap_or(10), profile(&flags)),
        "help" | "-h" | "--help" => {
            print!("{}", usage());
            Ok(())
        }
        other => {
            eprintln!("unknown command {other:?}\n\n{}", usage());
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nxtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `--dev` selects the dev profile for the server benchmarks, the release profile otherwise.
fn profile(flags: &[&str]) -> coachproc::Profile {
    if flags.contains(&"--dev") { coachproc::Profile::Dev } else { coachproc::Profile::Release }
}

/// The number after `name` in `flags`.
fn flag_value(flags: &[&str], name: &str) -> Option<u32> {
    flags.iter().position(|f| *f == name).and_then(|i| flags.get(i + 1)).and_then(|v| v.parse().ok())
}

/// The workspace root.
///
/// Read at run time (`cargo run` sets `CARGO_MANIFEST_DIR` for the binary it starts), not baked in
/// at compile time: checkouts that share one `CARGO_TARGET_DIR` (a CI clone next to a working
/// tree) share one `target/debug/xtask`, and a compile-time path would send one checkout's
/// commands to the other's files.
pub fn root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .filter(|d| d.join("Cargo.toml").is_file())
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir.parent().expect("xtask lives in the workspace").to_path_buf()
}

/// Cargo's target dir (honours `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => {
            let d = PathBuf::from(d);
            if d.is_absolute() { d } else { root().join(d) }
        }
        None => root().join("target"),
    }
}
