//! Session work directories, `<data dir>/training/sessions/<session id>/`: the batch's JSONL
//! shards (`data/`, the trainer's input), their row ids (`data-ids/`, see
//! [`super::export::ids_dir`]) and the trainer's output (`model/`, moved into the registry when the
//! session completes).
//!
//! Training data on disk is as deletable as the rows it came from:
//! * a session's directory is removed when its attempt ends — completed, failed, cancelled, or
//!   put back for an automatic retry (a retry exports again) — by the pipeline ([`remove`]);
//! * leftovers of a crash are swept when the worker starts and by the daily retention job
//!   ([`sweep`]); directories of sessions still in flight are kept;
//! * [`scrub`] rewrites shards without the rows that no longer exist in the database. The account
//!   deletion runs it over every directory right after its commit ([`scrub_all`]); the pipeline
//!   runs it after the export (a deletion that committed while the batch was being read) and again
//!   before validation (a deletion made through another replica, whose disk this is not). A
//!   deleted user's lines therefore do not outlive the deletion in any shard file of this replica,
//!   and not past the next phase change on another one.
//!
//! Writing shards (the export) and rewriting them (a scrub, a sweep) hold one lock ([`lock`]), so
//! a scrub never reads a shard that is half written.

use std::collections::HashSet;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tokio::sync::{Mutex, MutexGuard};

use super::export::ids_dir;
use crate::db::Db;
use crate::state::AppState;

/// Ids checked against the database per query.
const PAGE: i64 = 5_000;

static SHARDS: Mutex<()> = Mutex::const_new(());

/// Serializes the writing and the rewriting of shards in this process.
pub async fn lock() -> MutexGuard<'static, ()> {
    SHARDS.lock().await
}

/// `<data dir>/training/sessions`.
pub fn root(data_dir: &Path) -> PathBuf {
    data_dir.join("training").join("sessions")
}

/// The work directory of `session_id`.
pub fn dir(data_dir: &Path, session_id: &str) -> PathBuf {
    root(data_dir).join(session_id)
}

/// Removes a session's work directory (missing is fine; other errors are logged).
pub fn remove(data_dir: &Path, session_id: &str) {
    let d = dir(data_dir, session_id);
    match std::fs::remove_dir_all(&d) {
        Ok(()) => tracing::debug!(session = %session_id, "session work directory removed"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(dir = %d.display(), error = %e, "could not remove a session work directory"),
    }
}

fn session_dirs(data_dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(root(data_dir)) else { return Vec::new() };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
        .collect()
}

/// Removes the work directories of sessions that are not in flight (finished, waiting for a
/// retry, or unknown); returns how many went.
pub async fn sweep(state: &AppState) -> Result<u64> {
    let _guard = lock().await;
    let mut removed = 0;
    for (id, path) in session_dirs(&state.config.data_dir) {
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM training_sessions WHERE id = $1")
            .bind(&id)
            .fetch_optional(&state.db.pool)
            .await?;
        if matches!(status.as_deref(), Some("data_collection" | "training" | "validation")) {
            continue;
        }
        match std::fs::remove_dir_all(&path) {
            Ok(()) => removed += 1,
            Err(e) => tracing::warn!(dir = %path.display(), error = %e, "could not sweep a session work directory"),
        }
    }
    if removed > 0 {
        tracing::info!(removed, "stale session work directories removed");
    }
    Ok(removed)
}

/// Scrubs every session work directory of this replica (see [`scrub`]); returns the lines removed.
pub async fn scrub_all(state: &AppState) -> Result<u64> {
    let _guard = lock().await;
    let mut lines = 0;
    for (_, path) in session_dirs(&state.config.data_dir) {
        lines += scrub_locked(&state.db, &path.join("data")).await?;
    }
    Ok(lines)
}

/// Rewrites the shards in `shards` (a session's `data/`) without the lines whose rows no longer
/// exist; a shard left empty, or whose id list does not match it, is removed. Returns the lines
/// removed. Takes [`lock`].
pub async fn scrub(db: &Db, shards: &Path) -> Result<u64> {
    let _guard = lock().await;
    scrub_locked(db, shards).await
}

/// [`scrub`] for a caller that holds [`lock`].
pub async fn scrub_locked(db: &Db, shards: &Path) -> Result<u64> {
    let ids = ids_dir(shards);
    let Ok(entries) = std::fs::read_dir(shards) else { return Ok(0) };
    let mut files: Vec<PathBuf> =
        entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "jsonl")).collect();
    files.sort();
    let mut removed = 0;
    for shard in files {
        let stem = shard.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let id_file = ids.join(format!("{stem}.ids"));
        removed += scrub_shard(db, &shard, &id_file).await.with_context(|| format!("scrubbing {}", shard.display()))?;
    }
    Ok(removed)
}

fn read_lines(path: &Path) -> std::io::Result<Vec<String>> {
    std::io::BufReader::new(std::fs::File::open(path)?).lines().collect()
}

fn write_lines(path: &Path, lines: &[&String]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
    let written = (|| {
        let mut w = BufWriter::new(std::fs::File::create(&tmp)?);
        for l in lines {
            w.write_all(l.as_bytes())?;
            w.write_all(b"\n")?;
        }
        w.flush()?;
        w.get_ref().sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn remove_file(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The ids of `wanted` that still exist, read over the id range of `wanted` a page at a time.
async fn existing(db: &Db, wanted: &HashSet<&str>) -> Result<HashSet<String>, sqlx::Error> {
    let (Some(lo), Some(hi)) = (wanted.iter().min(), wanted.iter().max()) else { return Ok(HashSet::new()) };
    let mut found = HashSet::new();
    let mut after = String::new();
    loop {
        let page: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM ai_training_data WHERE id > $1 AND id >= $2 AND id <= $3 ORDER BY id LIMIT $4",
        )
        .bind(&after)
        .bind(*lo)
        .bind(*hi)
        .bind(PAGE)
        .fetch_all(&db.pool)
        .await?;
        let Some((last,)) = page.last() else { break };
        after = last.clone();
        let full = page.len() as i64 == PAGE;
        found.extend(page.into_iter().map(|(id,)| id).filter(|id| wanted.contains(id.as_str())));
        if !full {
            break;
        }
    }
    Ok(found)
}

async fn scrub_shard(db: &Db, shard: &Path, id_file: &Path) -> Result<u64> {
    let lines = read_lines(shard)?;
    let ids = match read_lines(id_file) {
        Ok(ids) if ids.len() == lines.len() => ids,
        _ => {
            // Without a matching id list the shard's rows cannot be checked: it goes.
            tracing::warn!(shard = %shard.display(), "shard without a matching id list removed");
            remove_file(shard)?;
            remove_file(id_file)?;
            return Ok(lines.len() as u64);
        }
    };
    let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let alive = existing(db, &wanted).await?;
    let keep: Vec<usize> = (0..ids.len()).filter(|&i| alive.contains(&ids[i])).collect();
    let dropped = (lines.len() - keep.len()) as u64;
    if dropped == 0 {
        return Ok(0);
    }
    if keep.is_empty() {
        remove_file(shard)?;
        remove_file(id_file)?;
    } else {
        // The shard first: should the id list's rewrite fail, the next scrub finds the counts
        // differ and removes the shard rather than keep a line it cannot check.
        write_lines(shard, &keep.iter().map(|&i| &lines[i]).collect::<Vec<_>>())?;
        write_lines(id_file, &keep.iter().map(|&i| &ids[i]).collect::<Vec<_>>())?;
    }
    tracing::info!(shard = %shard.display(), dropped, "deleted rows removed from an exported shard");
    Ok(dropped)
}
