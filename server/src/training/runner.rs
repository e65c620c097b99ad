//! Runs the trainer as its own process, so a crash (or an out-of-memory kill) of the trainer cannot
//! take the API down. The trainer prints one JSON object per line (`progress`, then `done` with the
//! report, or `error`); this module follows those lines, forwards progress, honours cancellation
//! and a wall-clock limit, and turns every way a process can end into a [`RunError`].

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::watch;

/// How a trainer run can fail.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The process could not start (misconfigured command): retrying will not help.
    #[error("could not start the trainer ({command}): {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The trainer reported an error or exited unsuccessfully (possibly transient: killed, OOM).
    #[error("trainer failed: {0}")]
    Failed(String),
    /// It ran past its limit and was killed.
    #[error("trainer exceeded its time limit of {0:?} and was killed")]
    TimedOut(Duration),
    /// An administrator cancelled the session.
    #[error("cancelled")]
    Cancelled,
}

/// Runs `command + args`, calling `on_progress` for every `progress` line, and returns the `report`
/// of the final `done` line.
pub async fn run(
    command: &[String],
    args: &[String],
    limit: Duration,
    mut cancel: watch::Receiver<bool>,
    mut on_progress: impl FnMut(&Value),
) -> Result<(Value, Option<u32>), RunError> {
    let shown = command.iter().chain(args).cloned().collect::<Vec<_>>().join(" ");
    let (program, prefix) = command.split_first().ok_or_else(|| RunError::Spawn {
        command: shown.clone(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty trainer command"),
    })?;
    let mut child = Command::new(program)
        .args(prefix)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| RunError::Spawn { command: shown.clone(), source })?;
    let pid = child.id();
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut stderr = child.stderr.take().expect("piped");
    let stderr_task = tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf).await;
        let text = String::from_utf8_lossy(&buf).to_string();
        // keep the tail: the last lines say why
        text.lines().rev().take(8).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
    });

    let mut report: Option<Value> = None;
    let mut reported_error: Option<String> = None;
    let deadline = tokio::time::sleep(limit);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            line = lines.next_line() => match line {
                Ok(Some(line)) => {
                    let Ok(v) = serde_json::from_str::<Value>(&line) else { continue };
                    match v.get("event").and_then(Value::as_str) {
                        Some("progress") => on_progress(&v),
                        Some("done") => report = v.get("report").cloned(),
                        Some("error") => reported_error = v.get("message").and_then(Value::as_str).map(str::to_string),
                        _ => {}
                    }
                }
                Ok(None) | Err(_) => break,
            },
            _ = &mut deadline => {
                let _ = child.kill().await;
                return Err(RunError::TimedOut(limit));
            }
            changed = cancel.changed() => {
                if changed.is_err() || *cancel.borrow() {
                    let _ = child.kill().await;
                    return Err(RunError::Cancelled);
                }
            }
        }
    }
    let status = tokio::select! {
        s = child.wait() => s.map_err(|e| RunError::Failed(e.to_string()))?,
        _ = tokio::time::sleep(Duration::from_secs(30)) => {
            let _ = child.kill().await;
            return Err(RunError::Failed("the trainer closed its output but did not exit".into()));
        }
    };
    let tail = stderr_task.await.unwrap_or_default();
    match (status.success(), report) {
        (true, Some(r)) => Ok((r, pid)),
        (true, None) => Err(RunError::Failed("the trainer exited without a report".into())),
        (false, _) => {
            let why = reported_error.unwrap_or_else(|| if tail.is_empty() { "no output".into() } else { tail });
            Err(RunError::Failed(format!("{status}: {why}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    fn no_cancel() -> watch::Receiver<bool> {
        let (tx, rx) = watch::channel(false);
        std::mem::forget(tx);
        rx
    }

    #[tokio::test]
    async fn follows_progress_and_returns_the_report() {
        let script = r#"echo '{"event":"progress","step":1}'; echo 'noise'; echo '{"event":"progress","step":2}'; echo '{"event":"done","report":{"ok":true}}'"#;
        let mut steps = 0;
        let (r, _) = run(&sh(script), &[], Duration::from_secs(10), no_cancel(), |_| steps += 1).await.unwrap();
        assert_eq!(r["ok"], true);
        assert_eq!(steps, 2);
    }

    #[tokio::test]
    async fn failures_timeouts_cancellation_and_bad_commands() {
        let e = run(&sh("echo boom >&2; exit 3"), &[], Duration::from_secs(10), no_cancel(), |_| {}).await.unwrap_err();
        assert!(matches!(&e, RunError::Failed(m) if m.contains("boom")), "{e}");
        let e = run(
            &sh(r#"echo '{"event":"error","message":"no data"}'; exit 1"#),
            &[],
            Duration::from_secs(10),
            no_cancel(),
            |_| {},
        )
        .await
        .unwrap_err();
        assert!(matches!(&e, RunError::Failed(m) if m.contains("no data")), "{e}");
        let e = run(&sh("sleep 30"), &[], Duration::from_millis(300), no_cancel(), |_| {}).await.unwrap_err();
        assert!(matches!(e, RunError::TimedOut(_)));
        let (tx, rx) = watch::channel(false);
        let handle = tokio::spawn(async move { run(&sh("sleep 30"), &[], Duration::from_secs(60), rx, |_| {}).await });
        tokio::time::sleep(Duration::from_millis(200)).await;
        tx.send(true).unwrap();
        assert!(matches!(handle.await.unwrap(), Err(RunError::Cancelled)));
        let e = run(&["/nonexistent/trainer".to_string()], &[], Duration::from_secs(5), no_cancel(), |_| {})
            .await
            .unwrap_err();
        assert!(matches!(e, RunError::Spawn { .. }));
        let e = run(&sh("exit 0"), &[], Duration::from_secs(5), no_cancel(), |_| {}).await.unwrap_err();
        assert!(matches!(e, RunError::Failed(_)));
    }
}
