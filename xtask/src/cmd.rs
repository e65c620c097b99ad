//! Running commands: each is echoed before it runs, and a failure names the command.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// A command line under construction.
pub struct Cmd {
    inner: Command,
    shown: String,
}

/// Starts a command.
pub fn cmd(program: &str, args: &[&str]) -> Cmd {
    let mut inner = Command::new(program);
    inner.args(args);
    Cmd { inner, shown: std::iter::once(program).chain(args.iter().copied()).collect::<Vec<_>>().join(" ") }
}

impl Cmd {
    /// Runs in `dir`.
    pub fn dir(mut self, dir: &Path) -> Self {
        self.inner.current_dir(dir);
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, k: &str, v: impl AsRef<std::ffi::OsStr>) -> Self {
        self.inner.env(k, v);
        self
    }

    /// Runs to completion with inherited output; fails on a non-zero exit.
    pub fn run(mut self) -> Result<()> {
        println!("$ {}", self.shown);
        let start = Instant::now();
        let status = self.inner.status().with_context(|| format!("could not start `{}`", self.shown))?;
        if !status.success() {
            bail!("`{}` failed ({status}) after {:.1}s", self.shown, start.elapsed().as_secs_f64());
        }
        Ok(())
    }

    /// Runs quietly and returns stdout (trimmed); `None` when it cannot start or fails.
    pub fn read(mut self) -> Option<String> {
        let out = self.inner.stderr(Stdio::null()).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

/// Whether `program` can be found on PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}
