//! Who may upload cloning samples, and how many at once — decided before a byte of the body is
//! read.
//!
//! * **Per user**: at most `COACH_CLONE_PER_HOUR` attempts an hour. [`reserve_slot`] counts the
//!   user's attempts of the last hour and writes the new one in the same transaction, serialized
//!   per user (`BEGIN IMMEDIATE` on SQLite; the user's row locked `FOR UPDATE` on PostgreSQL), so
//!   eight parallel uploads get exactly three slots. The slot stays used whatever happens next
//!   (bad audio, too large, a dropped connection); only the server's own refusal (busy) gives it
//!   back ([`release_slot`]).
//! * **Server-wide**: [`CloneGate`] bounds the uploads being received and checked at once and the
//!   samples being decoded at once (tokio semaphores). A request waits up to
//!   `COACH_CLONE_QUEUE_SECS` for its turn, then gets 503 `server_busy` with `Retry-After`.

use std::sync::Arc;
use std::time::Duration;

use sqlx::{Any, Transaction};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::config::VoiceConfig;
use crate::db::{Db, Engine, new_id, now_ms};
use crate::error::{ApiResult, AppError};

/// The window of the per-user limit.
const HOUR_MS: i64 = 3_600_000;
/// `Retry-After` of a busy answer (seconds).
const BUSY_RETRY_SECS: u64 = 5;

/// Takes one of `user`'s `per_hour` cloning slots, or answers 429 with the seconds until the
/// oldest slot of the hour frees up. Returns the attempt's id.
pub async fn reserve_slot(db: &Db, user: &str, per_hour: u32) -> ApiResult<String> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    // SQLite: BEGIN IMMEDIATE already holds the database's write lock. PostgreSQL: the user's row
    // lock orders this user's reservations; each counts after the previous one committed.
    let lock = match db.engine {
        Engine::Sqlite => "SELECT id FROM users WHERE id = $1",
        Engine::Postgres => "SELECT id FROM users WHERE id = $1 FOR UPDATE",
    };
    if sqlx::query_as::<_, (String,)>(lock).bind(user).fetch_optional(&mut *tx).await?.is_none() {
        return Err(AppError::Unauthorized {
            code: "invalid_token",
            message: "The token's user no longer exists".into(),
        });
    }
    sqlx::query("DELETE FROM voice_clone_attempts WHERE user_id = $1 AND created_at <= $2")
        .bind(user)
        .bind(now - HOUR_MS)
        .execute(&mut *tx)
        .await?;
    let (used, oldest): (i64, Option<i64>) =
        sqlx::query_as("SELECT CAST(COUNT(*) AS BIGINT), MIN(created_at) FROM voice_clone_attempts WHERE user_id = $1")
            .bind(user)
            .fetch_one(&mut *tx)
            .await?;
    if used >= i64::from(per_hour) {
        tx.commit().await?; // keeps the clean-up of expired attempts
        let wait = (oldest.unwrap_or(now) + HOUR_MS - now).max(1000) / 1000;
        return Err(AppError::TooManyRequests {
            message: format!("At most {per_hour} voice clones per hour; retry in {wait} s"),
            retry_after_secs: wait as u64,
        });
    }
    let id = new_id();
    sqlx::query("INSERT INTO voice_clone_attempts (id, user_id, created_at) VALUES ($1, $2, $3)")
        .bind(&id)
        .bind(user)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(id)
}

/// Gives a slot back (the server refused the upload for its own reasons: it was busy).
pub async fn release_slot(db: &Db, attempt: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM voice_clone_attempts WHERE id = $1").bind(attempt).execute(&db.pool).await.map(|_| ())
}

/// Removes `user`'s attempt rows inside the account deletion's transaction (the foreign key
/// removes them with the user row too); returns how many went.
pub async fn delete_for_user(tx: &mut Transaction<'static, Any>, user: &str) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM voice_clone_attempts WHERE user_id = $1").bind(user).execute(&mut **tx).await?;
    Ok(done.rows_affected())
}

/// The server-wide bounds of cloning uploads.
pub struct CloneGate {
    /// Uploads being received and checked (each holds its samples in memory).
    uploads: Arc<Semaphore>,
    /// Samples being decoded (each on a blocking thread, with its decode budget).
    checks: Arc<Semaphore>,
    /// Longest wait for either before answering 503.
    wait: Duration,
    /// The uploads bound (to tell how many are in progress).
    upload_slots: usize,
}

impl CloneGate {
    /// Bounds from the configuration.
    pub fn new(cfg: &VoiceConfig) -> Self {
        Self {
            uploads: Arc::new(Semaphore::new(cfg.clone_concurrent_uploads.max(1))),
            checks: Arc::new(Semaphore::new(cfg.clone_concurrent_checks.max(1))),
            wait: cfg.clone_queue_wait,
            upload_slots: cfg.clone_concurrent_uploads.max(1),
        }
    }

    /// Uploads holding a turn now (being received, checked, or their job running).
    pub fn uploads_in_progress(&self) -> usize {
        self.upload_slots - self.uploads.available_permits()
    }

    /// A turn to receive and check one upload, or 503 `server_busy` after the wait.
    pub async fn upload(&self) -> ApiResult<OwnedSemaphorePermit> {
        Self::turn(&self.uploads, self.wait, "voice clone uploads").await
    }

    /// A turn to decode one sample, or 503 `server_busy` after the wait.
    pub async fn check(&self) -> ApiResult<OwnedSemaphorePermit> {
        Self::turn(&self.checks, self.wait, "audio sample checks").await
    }

    async fn turn(sem: &Arc<Semaphore>, wait: Duration, what: &str) -> ApiResult<OwnedSemaphorePermit> {
        let busy = || AppError::Unavailable {
            code: "server_busy",
            message: format!("Too many {what} in progress; retry in {BUSY_RETRY_SECS} s"),
            details: None,
            retry_after_secs: Some(BUSY_RETRY_SECS),
        };
        if let Ok(p) = sem.clone().try_acquire_owned() {
            return Ok(p);
        }
        match tokio::time::timeout(wait, sem.clone().acquire_owned()).await {
            Ok(Ok(p)) => Ok(p),
            _ => Err(busy()),
        }
    }
}
