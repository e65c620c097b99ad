//! Training-data intake: `POST /v1/ai-training/data` (users) and the anonymized listing
//! `GET /v1/ai-training/data` (admins).
//!
//! A submission is accepted only from a user who consented (403 `consent_required`), whose
//! `hashedUserId` is the SHA-256 of their own id (403 `hash_mismatch`), and whose every field passes
//! validation — limits, the context-tag vocabulary, a timestamp neither in the future nor past
//! retention, and no PII in any free-text field, names from the user's own record included (400
//! naming the field). It is stored under the keyed re-hash ([`super::subject`]), never the raw hash.
//! `Idempotency-Key` is honoured; bursts beyond the per-user rate get 429. Consent and the user's
//! existence are checked again inside the insert transaction, under the user's row lock
//! ([`crate::users::lock_in`]), so no row is written after an account deletion committed.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use coach_shared::pii::PiiScanner;
use coach_shared::types::training::{
    TrainingDataResponse, TrainingDataStatus, TrainingDataSubmission, TrainingRecord, TrainingRecordList,
};
use serde::Deserialize;
use sqlx::FromRow;
use utoipa::IntoParams;

use super::subject::{subject_key, subject_key_for_user};
use crate::auth::{Admin, AuthUser};
use crate::db::{Db, OptF64, new_id, now_ms, to_dt};
use crate::error::{ApiResult, AppError};
use crate::extract::{ApiJson, ApiQuery};
use crate::idempotency::{Idempotency, json_response, request_hash};
use crate::state::AppState;
use crate::users::{self, RowLock};

const ROUTE: &str = "POST /v1/ai-training/data";

/// What the pipeline needs of a stored row besides the fields of the submission.
pub struct NewRow<'a> {
    /// Keyed re-hash of the subject.
    pub subject_key: &'a str,
    /// `client` (submitted by the browser) or `workout` (produced from a logged set).
    pub source: &'a str,
}

/// Inserts one training row (inside `tx`) and returns its id.
pub async fn insert_row(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    sub: &TrainingDataSubmission,
    row: NewRow<'_>,
) -> Result<String, sqlx::Error> {
    let id = new_id();
    let tags = serde_json::to_string(&sub.context_tags).unwrap_or_else(|_| "[]".into());
    let size = serde_json::to_vec(sub).map(|v| v.len()).unwrap_or(0) as i64;
    sqlx::query(
        "INSERT INTO ai_training_data (id, subject_key, exercise_type, set_number, strain_percentage, skip_reason,
             sleep_hours, ai_response, context_tags, event_at, status, batch_id, source, byte_size, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'validated', NULL, $11, $12, $13)",
    )
    .bind(&id)
    .bind(row.subject_key)
    .bind(&sub.exercise_type)
    .bind(i64::from(sub.set_number))
    .bind(sub.strain_percentage)
    .bind(sub.skip_reason.as_deref())
    .bind(OptF64(sub.sleep_hours))
    .bind(&sub.ai_response)
    .bind(tags)
    .bind(sub.timestamp.timestamp_millis())
    .bind(row.source)
    .bind(size)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

fn consent_required() -> AppError {
    AppError::Forbidden {
        code: "consent_required",
        message: "Training data is collected only from users who consented (dataCollectionConsent is false)".into(),
    }
}

/// The training rows' part of an account deletion, inside `tx`. The rows are anonymized; the
/// user's are found by recomputing their subject key from the user id with the server's pepper.
pub async fn delete_for_user(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    pepper: &str,
    user_id: &str,
) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("DELETE FROM ai_training_data WHERE subject_key = $1")
        .bind(subject_key_for_user(pepper, user_id))
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected())
}

/// Submit anonymized training data (consenting users only).
#[utoipa::path(post, path = "/v1/ai-training/data", tag = "Training Data",
    request_body = TrainingDataSubmission,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for retries of the same body")),
    responses(
        (status = 201, description = "Training data successfully submitted", body = TrainingDataResponse),
        (status = 400, description = "Invalid training data format (PII names the field)", body = coach_shared::ErrorResponse),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 403, description = "User consent not provided, or hashedUserId is not the caller's", body = coach_shared::ErrorResponse),
        (status = 422, description = "Idempotency-Key reused with another body", body = coach_shared::ErrorResponse),
        (status = 429, description = "Rate limit exceeded", body = coach_shared::ErrorResponse)),
    security(("BearerAuth" = [])))]
pub async fn submit(
    State(state): State<AppState>,
    auth: AuthUser,
    idem: Idempotency,
    ApiJson(sub): ApiJson<TrainingDataSubmission>,
) -> ApiResult<Response> {
    let user = &auth.user;
    let hash = request_hash(&sub);
    if let Some(replay) = idem.replay(&state.db, &user.id, ROUTE, &hash).await? {
        return Ok(replay);
    }
    state.training.intake_limiter.check(&user.id)?;
    if !user.consents() {
        return Err(consent_required());
    }
    if sub.hashed_user_id != coach_shared::hash_user_id(&user.id) {
        return Err(AppError::Forbidden {
            code: "hash_mismatch",
            message: "hashedUserId must be the SHA-256 of your own user id".into(),
        });
    }
    let scanner = PiiScanner::with_names(user.identifying_strings());
    sub.validate_for(&scanner, Utc::now())?;

    let key = subject_key(&state.secrets.subject_pepper, &sub.hashed_user_id);
    let mut tx = state.db.begin().await?;
    // Checked again under the user's row lock: an account deletion or a consent withdrawal that
    // committed since the request was authenticated wins, and one that comes later waits for this
    // commit (and then finds, and deletes, this row).
    match users::lock_in(&mut tx, state.db.engine, &user.id, RowLock::Share).await? {
        None => {
            return Err(AppError::Unauthorized {
                code: "invalid_token",
                message: "The account no longer exists".into(),
            });
        }
        Some(current) if !current.consents() => return Err(consent_required()),
        Some(_) => {}
    }
    let id = insert_row(&mut tx, &sub, NewRow { subject_key: &key, source: "client" }).await?;
    let body = TrainingDataResponse { id, status: TrainingDataStatus::Validated, batch_id: None };
    let json = serde_json::to_string(&body).map_err(|e| AppError::Internal(e.into()))?;
    if !idem.record(&mut tx, &user.id, ROUTE, &hash, StatusCode::CREATED, &json).await? {
        drop(tx);
        return idem
            .replay(&state.db, &user.id, ROUTE, &hash)
            .await?
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("idempotency key vanished")));
    }
    tx.commit().await?;
    state.training.metrics.intake.with_label_values(&["client"]).inc();
    Ok(json_response(StatusCode::CREATED, json))
}

/// Paging of the anonymized listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only rows received before this time.
    before: Option<DateTime<Utc>>,
    /// The previous page's `nextCursor`.
    cursor: Option<String>,
    /// 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

#[derive(FromRow)]
struct Row {
    id: String,
    subject_key: String,
    exercise_type: String,
    set_number: i64,
    strain_percentage: f64,
    skip_reason: Option<String>,
    sleep_hours: Option<f64>,
    ai_response: String,
    context_tags: String,
    event_at: i64,
    status: String,
    batch_id: Option<String>,
    created_at: i64,
}

fn status_of(s: &str) -> TrainingDataStatus {
    match s {
        "received" => TrainingDataStatus::Received,
        "queued_for_training" => TrainingDataStatus::QueuedForTraining,
        _ => TrainingDataStatus::Validated,
    }
}

/// Counts of stored and not-yet-batched rows.
pub async fn counts(db: &Db) -> Result<(u64, u64), sqlx::Error> {
    let (total, pending): (i64, i64) = sqlx::query_as(
        "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN batch_id IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT)
         FROM ai_training_data",
    )
    .fetch_one(&db.pool)
    .await?;
    Ok((total as u64, pending as u64))
}

/// Anonymized training rows, newest first (admin dashboard).
#[utoipa::path(get, path = "/v1/ai-training/data", tag = "Training Data",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of anonymized rows", body = TrainingRecordList),
        (status = 400, description = "Invalid query", body = coach_shared::ErrorResponse),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 403, description = "Not an admin", body = coach_shared::ErrorResponse)),
    security(("ApiKeyAuth" = []), ("BearerAuth" = [])))]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<axum::Json<TrainingRecordList>> {
    let page = crate::paging::page(q.limit, q.cursor.as_deref(), crate::paging::Order::NewestFirst)?;
    let before = q.before.map(|b| b.timestamp_millis()).unwrap_or(i64::MAX);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, subject_key, exercise_type, set_number, strain_percentage, skip_reason, sleep_hours, ai_response,
                context_tags, event_at, status, batch_id, created_at
         FROM ai_training_data
         WHERE created_at < $1 AND (created_at < $2 OR (created_at = $2 AND id < $3))
         ORDER BY created_at DESC, id DESC LIMIT $4",
    )
    .bind(before)
    .bind(page.cursor.at)
    .bind(&page.cursor.id)
    .bind(page.sql_limit())
    .fetch_all(&state.db.pool)
    .await?;
    let (total, pending) = counts(&state.db).await?;
    let next_cursor = crate::paging::next_cursor(&rows, &page, |r| (r.created_at, &r.id));
    let records = rows
        .into_iter()
        .map(|r| TrainingRecord {
            id: r.id,
            subject_key: r.subject_key,
            exercise_type: r.exercise_type,
            set_number: r.set_number as u32,
            strain_percentage: r.strain_percentage,
            skip_reason: r.skip_reason,
            sleep_hours: r.sleep_hours,
            ai_response: r.ai_response,
            context_tags: serde_json::from_str(&r.context_tags).unwrap_or_default(),
            timestamp: to_dt(r.event_at),
            status: status_of(&r.status),
            batch_id: r.batch_id,
            created_at: to_dt(r.created_at),
        })
        .collect();
    Ok(axum::Json(TrainingRecordList { records, total, pending, next_cursor }))
}
