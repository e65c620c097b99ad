//! Batch export: the rows of a session's batch streamed into JSONL shards for the trainer, a page
//! at a time (keyset over the primary key), so memory stays flat however large the batch grows.
//! Each line is the trainer's `Example` (context + response; no ids, no subject keys). Beside the
//! shard directory, `<dir>-ids/` holds one file per shard listing the `ai_training_data` id of each
//! of its lines, in order: the shards stay free of ids for the trainer, and a deletion can still
//! find and drop a deleted user's lines ([`super::workdir::scrub`]).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use coach_shared::limits::RETENTION_DAYS;
use serde::Serialize;
use sqlx::FromRow;

use crate::db::{Db, now_ms};

/// Rows per shard file.
pub const SHARD_ROWS: usize = 10_000;
const PAGE: i64 = 2_000;

#[derive(FromRow)]
struct Row {
    id: String,
    exercise_type: String,
    set_number: i64,
    strain_percentage: f64,
    skip_reason: Option<String>,
    sleep_hours: Option<f64>,
    ai_response: String,
    context_tags: String,
    event_at: i64,
}

/// One line of a shard (the trainer's input format).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Line<'a> {
    exercise_type: &'a str,
    set_number: i64,
    strain_percentage: f64,
    skip_reason: Option<&'a str>,
    sleep_hours: Option<f64>,
    context_tags: Vec<String>,
    ai_response: &'a str,
    /// When the workout event happened (feeds the model card's date range only).
    timestamp: chrono::DateTime<chrono::Utc>,
}

/// The directory of the id lists of the shards in `dir` (`<dir>-ids`).
pub fn ids_dir(dir: &Path) -> PathBuf {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "shards".into());
    dir.with_file_name(format!("{name}-ids"))
}

/// What was exported.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The shard directory.
    pub dir: PathBuf,
    /// The id lists of the shards ([`ids_dir`]).
    pub ids_dir: PathBuf,
    /// Lines written.
    pub records: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Shard files.
    pub shards: usize,
}

/// Writes the rows of `batch_id` (or, with `all_retained`, every row within retention) as JSONL
/// shards into `dir` (recreated), and each shard's ids into [`ids_dir`]`(dir)`.
pub async fn export_batch(db: &Db, batch_id: &str, all_retained: bool, dir: &Path) -> Result<Exported> {
    let ids = ids_dir(dir);
    for d in [dir, ids.as_path()] {
        if d.exists() {
            std::fs::remove_dir_all(d).with_context(|| format!("clearing {}", d.display()))?;
        }
        crate::private_fs::create_dir(d)?; // users' text: owner-only
    }
    let cutoff = now_ms() - RETENTION_DAYS * 86_400_000;
    let mut after = String::new();
    let (mut records, mut bytes, mut shards) = (0u64, 0u64, 0usize);
    let mut writer: Option<(BufWriter<std::fs::File>, BufWriter<std::fs::File>)> = None;
    let mut in_shard = 0usize;
    loop {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, exercise_type, set_number, strain_percentage, skip_reason, sleep_hours, ai_response, context_tags,
                    event_at
             FROM ai_training_data
             WHERE id > $1 AND event_at >= $2 AND ($3 OR batch_id = $4)
             ORDER BY id LIMIT $5",
        )
        .bind(&after)
        .bind(cutoff)
        .bind(all_retained)
        .bind(batch_id)
        .bind(PAGE)
        .fetch_all(&db.pool)
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.id.clone();
        for r in &rows {
            if writer.is_none() || in_shard >= SHARD_ROWS {
                if let Some((mut w, mut i)) = writer.take() {
                    w.flush()?;
                    i.flush()?;
                }
                let path = dir.join(format!("shard-{shards:05}.jsonl"));
                let id_path = ids.join(format!("shard-{shards:05}.ids"));
                writer = Some((
                    BufWriter::new(crate::private_fs::create_file(&path)?),
                    BufWriter::new(crate::private_fs::create_file(&id_path)?),
                ));
                shards += 1;
                in_shard = 0;
            }
            let line = Line {
                exercise_type: &r.exercise_type,
                set_number: r.set_number,
                strain_percentage: r.strain_percentage,
                skip_reason: r.skip_reason.as_deref(),
                sleep_hours: r.sleep_hours,
                context_tags: serde_json::from_str(&r.context_tags).unwrap_or_default(),
                ai_response: &r.ai_response,
                timestamp: crate::db::to_dt(r.event_at),
            };
            let mut text = serde_json::to_vec(&line)?;
            text.push(b'\n');
            if let Some((w, i)) = writer.as_mut() {
                w.write_all(&text)?;
                i.write_all(r.id.as_bytes())?;
                i.write_all(b"\n")?;
            }
            bytes += text.len() as u64;
            records += 1;
            in_shard += 1;
        }
    }
    if let Some((mut w, mut i)) = writer.take() {
        w.flush()?;
        w.get_ref().sync_all()?;
        i.flush()?;
    }
    Ok(Exported { dir: dir.to_path_buf(), ids_dir: ids, records, bytes, shards })
}
