//! Batch export: the rows of a session's batch streamed into JSONL shards for the trainer, a page
//! at a time (keyset over the primary key), so memory stays flat however large the batch grows.
//! Each line is the trainer's `Example` (context + response; no ids, no subject keys).

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

/// What was exported.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The shard directory.
    pub dir: PathBuf,
    /// Lines written.
    pub records: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Shard files.
    pub shards: usize,
}

/// Writes the rows of `batch_id` (or, with `all_retained`, every row within retention) as JSONL
/// shards into `dir` (recreated).
pub async fn export_batch(db: &Db, batch_id: &str, all_retained: bool, dir: &Path) -> Result<Exported> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    crate::private_fs::create_dir(dir)?; // users' text: owner-only
    let cutoff = now_ms() - RETENTION_DAYS * 86_400_000;
    let mut after = String::new();
    let (mut records, mut bytes, mut shards) = (0u64, 0u64, 0usize);
    let mut writer: Option<BufWriter<std::fs::File>> = None;
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
                if let Some(mut w) = writer.take() {
                    w.flush()?;
                }
                let path = dir.join(format!("shard-{shards:05}.jsonl"));
                writer = Some(BufWriter::new(crate::private_fs::create_file(&path)?));
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
            if let Some(w) = writer.as_mut() {
                w.write_all(&text)?;
            }
            bytes += text.len() as u64;
            records += 1;
            in_shard += 1;
        }
    }
    if let Some(mut w) = writer.take() {
        w.flush()?;
        w.get_ref().sync_all()?;
    }
    Ok(Exported { dir: dir.to_path_buf(), records, bytes, shards })
}
