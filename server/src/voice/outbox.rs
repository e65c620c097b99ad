//! The provider-voice deletion outbox (`pending_voice_deletions`): cloned voices that must be
//! removed at the speech provider.
//!
//! A voice id is written here *inside* the transaction that makes it unwanted — the account
//! deletion, a clone job that finds its user gone, a clone that replaces an older voice — so the
//! intent is exactly as durable as that transaction. Nothing waits for the provider: after the
//! commit [`kick`] starts a background delivery, and the scheduler's outbox tick
//! ([`crate::training::jobs`]) retries what is still due, so a slow, hanging or failing provider
//! delays the deletion but never the request, and a restart loses nothing.
//!
//! Each attempt first *claims* its row by moving `next_attempt_at` past the claim window
//! ([`CLAIM_MS`]), so concurrent deliveries (the kick, the tick, another replica) never call the
//! provider twice for one voice at once. A failure records `attempts`, `last_error` and the next
//! attempt after an exponential, jittered backoff (`backon`'s builder: 30 s doubling to 6 h). A
//! provider answer "no such voice" counts as done (the provider client maps it to success).

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

use crate::db::now_ms;
use crate::state::AppState;

/// How long a claimed row is left alone by other deliveries (longer than a provider call with
/// its own retries).
pub const CLAIM_MS: i64 = 5 * 60 * 1000;
/// Rows delivered per pass.
const BATCH: i64 = 100;
/// The first retry waits this long; each next one twice as long (with jitter) up to [`MAX_DELAY`].
const MIN_DELAY: Duration = Duration::from_secs(30);
const MAX_DELAY: Duration = Duration::from_secs(6 * 3600);

/// Queues `voice_ids` for deletion at the provider, inside `tx` (ids already queued stay queued
/// once). Returns how many rows were added.
pub async fn enqueue(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    voice_ids: &[String],
    reason: &str,
) -> Result<u64, sqlx::Error> {
    let now = now_ms();
    let mut added = 0;
    for v in voice_ids {
        added += sqlx::query(
            "INSERT INTO pending_voice_deletions (voice_id, attempts, last_error, created_at, next_attempt_at)
             VALUES ($1, 0, $2, $3, $3) ON CONFLICT (voice_id) DO NOTHING",
        )
        .bind(v)
        .bind(format!("queued: {reason}"))
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    }
    Ok(added)
}

/// The wait before attempt `attempts + 1` (after `attempts` failures).
pub fn backoff(attempts: i64) -> Duration {
    let n = attempts.clamp(0, 40) as usize;
    let mut delays = ExponentialBuilder::default()
        .with_min_delay(MIN_DELAY)
        .with_max_delay(MAX_DELAY)
        .with_jitter()
        .without_max_times()
        .build();
    delays.nth(n).unwrap_or(MAX_DELAY).min(MAX_DELAY * 2)
}

/// What one delivery pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// Voices confirmed deleted at the provider (rows removed).
    pub deleted: u64,
    /// Attempts that failed and were rescheduled.
    pub failed: u64,
}

/// Delivers every row due at `now` (tests pass a time far ahead to ignore the backoff).
pub async fn deliver_due(state: &AppState, now: i64) -> anyhow::Result<Delivery> {
    let due: Vec<(String, i64)> = sqlx::query_as(
        "SELECT voice_id, CAST(attempts AS BIGINT) FROM pending_voice_deletions WHERE next_attempt_at <= $1
         ORDER BY next_attempt_at, voice_id LIMIT $2",
    )
    .bind(now)
    .bind(BATCH)
    .fetch_all(&state.db.pool)
    .await?;
    let mut out = Delivery::default();
    for (voice, attempts) in due {
        let claimed = sqlx::query(
            "UPDATE pending_voice_deletions SET next_attempt_at = $2 WHERE voice_id = $1 AND next_attempt_at <= $3",
        )
        .bind(&voice)
        .bind(now_ms().max(now).saturating_add(CLAIM_MS))
        .bind(now)
        .execute(&state.db.pool)
        .await?
        .rows_affected();
        if claimed == 0 {
            continue; // another delivery has it
        }
        let svc = &state.voice;
        let result = if svc.provider.owns_voice(&voice) {
            svc.call("delete", svc.provider.delete_voice(&voice)).await.map_err(|e| e.to_string())
        } else {
            // A voice of another provider (the configuration changed): kept until that provider is
            // configured again, checked rarely.
            Err(format!("not a voice of the configured provider ({})", svc.provider.name()))
        };
        match result {
            Ok(()) => {
                sqlx::query("DELETE FROM pending_voice_deletions WHERE voice_id = $1")
                    .bind(&voice)
                    .execute(&state.db.pool)
                    .await?;
                out.deleted += 1;
            }
            Err(error) => {
                let next = now_ms() + backoff(attempts).as_millis() as i64;
                tracing::warn!(voice = %voice, attempts = attempts + 1, %error, "provider voice deletion failed; rescheduled");
                sqlx::query(
                    "UPDATE pending_voice_deletions SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3
                     WHERE voice_id = $1",
                )
                .bind(&voice)
                .bind(&error)
                .bind(next)
                .execute(&state.db.pool)
                .await?;
                out.failed += 1;
            }
        }
    }
    Ok(out)
}

/// Starts a delivery pass in the background (right after a commit that queued voices); the
/// caller does not wait for the provider.
pub fn kick(state: &AppState) {
    let state = state.clone();
    tokio::spawn(async move {
        match deliver_due(&state, now_ms()).await {
            Ok(d) if d.deleted + d.failed > 0 => {
                tracing::info!(deleted = d.deleted, failed = d.failed, "provider voice deletions delivered")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "provider voice deletion outbox"),
        }
    });
}

/// Rows still waiting (for tests and the retention report).
pub async fn pending(state: &AppState) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM pending_voice_deletions").fetch_one(&state.db.pool).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(0) >= MIN_DELAY && backoff(0) <= MIN_DELAY * 2);
        assert!(backoff(3) >= MIN_DELAY * 8);
        assert!(backoff(40) <= MAX_DELAY * 2);
        assert!(backoff(-5) <= MIN_DELAY * 2);
    }
}
