//! Workouts of consenting users become training rows server-side.
//!
//! A logged set alone has no coaching response to learn from; the response is what the app said
//! about it — the latest voice interaction recorded for the workout. At each session's data
//! collection, every not-yet-exported workout of a user who consents *now* and that has such a
//! response becomes one anonymized row (subject key from the user id, context tags derived from the
//! set, strain estimated as RPE × 10 when the app did not measure it), and is marked
//! `exportedForTraining`. Rows whose texts hold PII (names from the user record included) are
//! skipped, never stored. Consent and the user's existence are checked again inside each row's
//! insert transaction, under the user's row lock, so nothing is exported after an account
//! deletion or a consent withdrawal committed.

use anyhow::Result;
use chrono::{TimeZone, Utc};
use coach_shared::limits::{HIGH_STRAIN_THRESHOLD, MAX_TEXT_CHARS, RETENTION_DAYS};
use coach_shared::pii::PiiScanner;
use coach_shared::types::training::TrainingDataSubmission;
use sqlx::FromRow;

use super::intake::{NewRow, insert_row};
use super::subject::subject_key_for_user;
use crate::db::{DbBool, now_ms};
use crate::state::AppState;
use crate::users::{self, RowLock};

#[derive(FromRow)]
struct Row {
    id: String,
    user_id: String,
    email: String,
    name: Option<String>,
    consent: DbBool,
    exercise_type: String,
    set_number: i64,
    perceived_exertion: f64,
    strain_percentage: Option<f64>,
    sleep_hours: Option<f64>,
    skip_reason: Option<String>,
    created_at: i64,
    response: Option<String>,
}

/// Context tags that follow from a logged set.
fn derived_tags(strain: f64, sleep: Option<f64>, skipped: bool) -> Vec<String> {
    let mut tags = Vec::new();
    if strain >= HIGH_STRAIN_THRESHOLD {
        tags.push("high_strain");
    } else if strain >= 50.0 {
        tags.push("moderate_strain");
    } else {
        tags.push("low_strain");
    }
    if sleep.is_some_and(|h| h < 6.0) {
        tags.push("low_sleep");
    }
    if skipped {
        tags.push("skipped_set");
    }
    tags.into_iter().map(String::from).collect()
}

/// Turns pending workouts of consenting users into training rows; returns how many.
pub async fn export_consented_workouts(state: &AppState) -> Result<u64> {
    let cutoff = now_ms() - RETENTION_DAYS * 86_400_000;
    let mut made = 0u64;
    let mut after = String::new();
    loop {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT w.id, w.user_id, u.email, u.name, u.data_collection_consent AS consent, w.exercise_type, w.set_number,
                    w.perceived_exertion, w.strain_percentage, w.sleep_hours, w.skip_reason, w.created_at,
                    (SELECT vi.ai_response_text FROM voice_interactions vi
                      WHERE vi.workout_entry_id = w.id ORDER BY vi.created_at DESC LIMIT 1) AS response
             FROM workout_entries w JOIN users u ON u.id = w.user_id
             WHERE w.id > $1 AND w.exported_for_training = FALSE AND u.data_collection_consent = TRUE AND w.created_at >= $2
             ORDER BY w.id LIMIT 500",
        )
        .bind(&after)
        .bind(cutoff)
        .fetch_all(&state.db.pool)
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.id.clone();
        for r in rows {
            let Some(response) = r.response.filter(|t| !t.trim().is_empty() && t.chars().count() <= MAX_TEXT_CHARS)
            else {
                continue; // nothing to learn from yet
            };
            if !r.consent.0 {
                continue;
            }
            let strain = r.strain_percentage.unwrap_or((r.perceived_exertion * 10.0).clamp(0.0, 100.0));
            let sub = TrainingDataSubmission {
                hashed_user_id: coach_shared::hash_user_id(&r.user_id),
                exercise_type: r.exercise_type.clone(),
                set_number: r.set_number.clamp(1, 20) as u32,
                strain_percentage: strain,
                skip_reason: r.skip_reason.clone(),
                sleep_hours: r.sleep_hours,
                ai_response: response,
                context_tags: derived_tags(strain, r.sleep_hours, r.skip_reason.is_some()),
                timestamp: Utc.timestamp_millis_opt(r.created_at).single().unwrap_or_else(Utc::now),
            };
            let mut names = vec![r.user_id.as_str(), r.email.as_str()];
            if let Some(n) = r.name.as_deref() {
                names.push(n);
            }
            let mut tx = state.db.begin().await?;
            // Consent and the user are read again under the user's row lock: the page above may
            // predate a deletion or a withdrawal that has committed since (a deletion that comes
            // later waits for this commit, then deletes the row).
            let still = users::lock_in(&mut tx, state.db.engine, &r.user_id, RowLock::Share).await?;
            if !still.is_some_and(|u| u.consents()) {
                continue; // dropping `tx` rolls it back; the workout (if any is left) waits for consent
            }
            if sub.validate_for(&PiiScanner::with_names(names), Utc::now()).is_ok() {
                let key = subject_key_for_user(&state.secrets.subject_pepper, &r.user_id);
                insert_row(&mut tx, &sub, NewRow { subject_key: &key, source: "workout" }).await?;
                made += 1;
            }
            // Marked either way: a workout is considered once (a PII-bearing one is never stored).
            sqlx::query("UPDATE workout_entries SET exported_for_training = TRUE WHERE id = $1")
                .bind(&r.id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
    }
    if made > 0 {
        state.training.metrics.intake.with_label_values(&["workout"]).inc_by(made);
    }
    Ok(made)
}
