//! Training sessions: `GET`/`POST /v1/ai-training/sessions`, `GET`/`PATCH .../{sessionId}`
//! (admins). The pipeline worker ([`super::pipeline`]) drives a session through
//! `scheduled → data_collection → training → validation → completed | failed`; this module creates
//! sessions, lists them and applies an admin's `cancelled` / `retrying`.
//!
//! * Only one session is in flight at a time: a partial unique index makes a second `POST` a 409.
//! * `retrying` is allowed on a failed session while `retryCount < 5`; it increments
//!   `retryCount`. The 6th retry is refused with "Maximum retry limit (5) exceeded".
//! * `cancelled` stops a session in flight (its trainer process is killed); it ends `failed` with
//!   "Cancelled by an administrator" (the contract's status enum has no `cancelled`).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use coach_shared::limits::{MAX_TRAINING_RETRIES, RETENTION_DAYS};
use coach_shared::types::training::{
    TrainingSession, TrainingSessionAction, TrainingSessionRequest, TrainingSessionUpdate, TrainingSessionsList,
    TrainingStatus,
};
use serde::Deserialize;
use sqlx::FromRow;
use utoipa::IntoParams;

use crate::auth::Admin;
use crate::db::{Db, DbBool, is_unique_violation, new_id, now_ms, to_dt, to_dt_opt};
use crate::error::{ApiResult, AppError};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

/// A `training_sessions` row.
#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    /// Id.
    pub id: String,
    /// Unique batch id.
    pub batch_id: String,
    /// Retrain on all retained data instead of the new rows only.
    pub force_retrain: DbBool,
    /// Pipeline state (wire spelling).
    pub status: String,
    /// `manual` or `schedule`.
    pub trigger_source: String,
    /// Epoch ms.
    pub scheduled_at: i64,
    /// Epoch ms.
    pub started_at: Option<i64>,
    /// Epoch ms.
    pub completed_at: Option<i64>,
    /// Bytes of training data.
    pub data_size: i64,
    /// Records in the batch.
    pub record_count: i64,
    /// Retries so far (automatic and manual).
    pub retry_count: i64,
    /// Why it failed (or why it waits for a retry).
    pub error_message: Option<String>,
    /// Trainer run id.
    pub hugging_face_job_id: Option<String>,
    /// Where the model files went.
    pub model_output_path: Option<String>,
    /// When a scheduled retry may start (epoch ms).
    pub next_attempt_at: Option<i64>,
    /// Worker that holds the session.
    pub worker_id: Option<String>,
    /// Last sign of life of that worker (epoch ms).
    pub heartbeat_at: Option<i64>,
}

/// Columns of [`SessionRow`], for `concat!`.
macro_rules! session_columns {
    () => {
        "id, batch_id, force_retrain, status, trigger_source, scheduled_at, started_at, completed_at, data_size, \
         record_count, retry_count, error_message, hugging_face_job_id, model_output_path, next_attempt_at, \
         worker_id, heartbeat_at"
    };
}

impl SessionRow {
    /// Pipeline state.
    pub fn status(&self) -> TrainingStatus {
        TrainingStatus::parse(&self.status).unwrap_or(TrainingStatus::Failed)
    }

    /// The wire representation.
    pub fn to_api(&self) -> TrainingSession {
        TrainingSession {
            id: self.id.clone(),
            batch_id: self.batch_id.clone(),
            scheduled_at: to_dt(self.scheduled_at),
            started_at: to_dt_opt(self.started_at),
            completed_at: to_dt_opt(self.completed_at),
            status: self.status(),
            data_size: self.data_size.max(0) as u64,
            record_count: self.record_count.max(0) as u64,
            retry_count: self.retry_count.clamp(0, i64::from(MAX_TRAINING_RETRIES)) as u32,
            error_message: self.error_message.clone(),
            hugging_face_job_id: self.hugging_face_job_id.clone(),
            model_output_path: self.model_output_path.clone(),
        }
    }
}

/// Reads a session.
pub async fn find(db: &Db, id: &str) -> Result<Option<SessionRow>, sqlx::Error> {
    sqlx::query_as::<_, SessionRow>(concat!("SELECT ", session_columns!(), " FROM training_sessions WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await
}

/// Rows a new session would train on now: (count, bytes).
pub async fn pending_data(db: &Db, force_retrain: bool) -> Result<(i64, i64), sqlx::Error> {
    let cutoff = now_ms() - RETENTION_DAYS * 86_400_000;
    sqlx::query_as(
        "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(byte_size), 0) AS BIGINT) FROM ai_training_data
         WHERE event_at >= $1 AND ($2 OR batch_id IS NULL)",
    )
    .bind(cutoff)
    .bind(force_retrain)
    .fetch_one(&db.pool)
    .await
}

/// Creates a scheduled session; 409 when one is in flight or the batch id is taken.
pub async fn create(state: &AppState, req: &TrainingSessionRequest, trigger: &str) -> ApiResult<SessionRow> {
    let (count, size) = pending_data(&state.db, req.force_retrain).await?;
    let now = now_ms();
    let id = new_id();
    let res = sqlx::query(
        "INSERT INTO training_sessions (id, batch_id, force_retrain, status, trigger_source, scheduled_at, data_size,
             record_count, retry_count, created_at, updated_at)
         VALUES ($1, $2, $3, 'scheduled', $4, $5, $6, $7, 0, $5, $5)",
    )
    .bind(&id)
    .bind(&req.batch_id)
    .bind(req.force_retrain)
    .bind(trigger)
    .bind(now)
    .bind(size)
    .bind(count)
    .execute(&state.db.pool)
    .await;
    match res {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            let taken: Option<(String,)> = sqlx::query_as("SELECT id FROM training_sessions WHERE batch_id = $1")
                .bind(&req.batch_id)
                .fetch_optional(&state.db.pool)
                .await?;
            return Err(if taken.is_some() {
                AppError::Conflict {
                    code: "batch_exists",
                    message: format!("Batch {} already has a session", req.batch_id),
                }
            } else {
                AppError::Conflict {
                    code: "session_in_progress",
                    message: "A training session is already in progress".into(),
                }
            });
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(session = %id, batch = %req.batch_id, records = count, trigger, "training session scheduled");
    // The row as created (the worker may claim it the moment it is woken).
    let row = SessionRow {
        id,
        batch_id: req.batch_id.clone(),
        force_retrain: DbBool(req.force_retrain),
        status: "scheduled".into(),
        trigger_source: trigger.into(),
        scheduled_at: now,
        started_at: None,
        completed_at: None,
        data_size: size,
        record_count: count,
        retry_count: 0,
        error_message: None,
        hugging_face_job_id: None,
        model_output_path: None,
        next_attempt_at: None,
        worker_id: None,
        heartbeat_at: None,
    };
    state.training.wake_worker();
    Ok(row)
}

/// Start a new training session (admin).
#[utoipa::path(post, path = "/v1/ai-training/sessions", tag = "Training Sessions",
    request_body = TrainingSessionRequest,
    responses(
        (status = 201, description = "Training session started successfully", body = TrainingSession),
        (status = 400, description = "Invalid training session request", body = coach_shared::ErrorResponse),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 403, description = "Not an admin", body = coach_shared::ErrorResponse),
        (status = 409, description = "Training session already in progress (or batch id taken)", body = coach_shared::ErrorResponse)),
    security(("ApiKeyAuth" = []), ("BearerAuth" = [])))]
pub async fn start(
    State(state): State<AppState>,
    admin: Admin,
    ApiJson(req): ApiJson<TrainingSessionRequest>,
) -> ApiResult<impl IntoResponse> {
    let row = create(&state, &req, "manual").await?;
    tracing::info!(actor = %admin.actor, session = %row.id, "session started by admin");
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/v1/ai-training/sessions/{}", row.id))],
        axum::Json(row.to_api()),
    ))
}

/// Filters of the session list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `scheduled`, `running` (data collection, training or validation), `completed` or `failed`.
    status: Option<String>,
    /// 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// Sessions to skip (default 0).
    #[param(minimum = 0)]
    offset: Option<u32>,
}

/// List training sessions, newest first (admin).
#[utoipa::path(get, path = "/v1/ai-training/sessions", tag = "Training Sessions",
    params(ListQuery),
    responses(
        (status = 200, description = "List of training sessions", body = TrainingSessionsList),
        (status = 400, description = "Invalid query", body = coach_shared::ErrorResponse),
        (status = 401, description = "Unauthorized access", body = coach_shared::ErrorResponse),
        (status = 403, description = "Not an admin", body = coach_shared::ErrorResponse)),
    security(("ApiKeyAuth" = []), ("BearerAuth" = [])))]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<axum::Json<TrainingSessionsList>> {
    let limit = crate::paging::limit(q.limit)?;
    let offset = q.offset.unwrap_or(0);
    let statuses: &[&str] = match q.status.as_deref() {
        None => &["scheduled", "data_collection", "training", "validation", "completed", "failed"],
        Some("scheduled") => &["scheduled"],
        Some("running") => &["data_collection", "training", "validation"],
        Some("completed") => &["completed"],
        Some("failed") => &["failed"],
        Some(_) => {
            return Err(AppError::field("status", "unknown_value", "must be scheduled, running, completed or failed"));
        }
    };
    // Up to three statuses: pad the IN list with the first one.
    let s = |i: usize| statuses.get(i).copied().unwrap_or(statuses[0]);
    let filter6 = (s(0), s(1), s(2), s(3), s(4), s(5));
    let rows: Vec<SessionRow> = sqlx::query_as(concat!(
        "SELECT ",
        session_columns!(),
        " FROM training_sessions WHERE status IN ($1, $2, $3, $4, $5, $6)
          ORDER BY scheduled_at DESC, id DESC LIMIT $7 OFFSET $8"
    ))
    .bind(filter6.0)
    .bind(filter6.1)
    .bind(filter6.2)
    .bind(filter6.3)
    .bind(filter6.4)
    .bind(filter6.5)
    .bind(i64::from(limit))
    .bind(i64::from(offset))
    .fetch_all(&state.db.pool)
    .await?;
    let total: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM training_sessions WHERE status IN ($1, $2, $3, $4, $5, $6)",
    )
    .bind(filter6.0)
    .bind(filter6.1)
    .bind(filter6.2)
    .bind(filter6.3)
    .bind(filter6.4)
    .bind(filter6.5)
    .fetch_one(&state.db.pool)
    .await?;
    let total = total.max(0) as u64;
    let has_more = u64::from(offset) + (rows.len() as u64) < total;
    Ok(axum::Json(TrainingSessionsList { sessions: rows.iter().map(SessionRow::to_api).collect(), total, has_more }))
}

/// Get a training session (admin).
#[utoipa::path(get, path = "/v1/ai-training/sessions/{sessionId}", tag = "Training Sessions",
    params(("sessionId" = String, Path, description = "Training session identifier")),
    responses(
        (status = 200, description = "Training session details", body = TrainingSession),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 403, description = "Not an admin", body = coach_shared::ErrorResponse),
        (status = 404, description = "Training session not found", body = coach_shared::ErrorResponse)),
    security(("ApiKeyAuth" = []), ("BearerAuth" = [])))]
pub async fn get(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<axum::Json<TrainingSession>> {
    let row = find(&state.db, &id).await?.ok_or_else(|| AppError::not_found("Training session"))?;
    Ok(axum::Json(row.to_api()))
}

/// Cancel a session in flight or retry a failed one (admin).
#[utoipa::path(patch, path = "/v1/ai-training/sessions/{sessionId}", tag = "Training Sessions",
    params(("sessionId" = String, Path, description = "Training session identifier")),
    request_body = TrainingSessionUpdate,
    responses(
        (status = 200, description = "Training session updated successfully", body = TrainingSession),
        (status = 400, description = "Invalid update request (e.g. Maximum retry limit (5) exceeded)", body = coach_shared::ErrorResponse),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 403, description = "Not an admin", body = coach_shared::ErrorResponse),
        (status = 404, description = "Training session not found", body = coach_shared::ErrorResponse),
        (status = 409, description = "The session's state does not allow it", body = coach_shared::ErrorResponse)),
    security(("ApiKeyAuth" = []), ("BearerAuth" = [])))]
pub async fn update(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<TrainingSessionUpdate>,
) -> ApiResult<axum::Json<TrainingSession>> {
    let row = find(&state.db, &id).await?.ok_or_else(|| AppError::not_found("Training session"))?;
    let now = now_ms();
    match req.status {
        Some(TrainingSessionAction::Cancelled) => {
            if row.status().is_terminal() {
                return Err(AppError::Conflict {
                    code: "invalid_state",
                    message: format!("The session is already {}", row.status),
                });
            }
            let note = req.error_message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
            let done = sqlx::query(
                "UPDATE training_sessions SET status = 'failed', error_message = $2, completed_at = $3, next_attempt_at = NULL,
                     worker_id = NULL, updated_at = $3
                 WHERE id = $1 AND status NOT IN ('completed', 'failed')",
            )
            .bind(&id)
            .bind(format!("Cancelled by an administrator{note}"))
            .bind(now)
            .execute(&state.db.pool)
            .await?;
            if done.rows_affected() == 0 {
                return Err(AppError::Conflict {
                    code: "invalid_state",
                    message: "The session finished meanwhile".into(),
                });
            }
            state.training.cancel_running(&id);
            tracing::info!(session = %id, actor = %admin.actor, "session cancelled");
        }
        Some(TrainingSessionAction::Retrying) => {
            if row.status() != TrainingStatus::Failed {
                return Err(AppError::Conflict {
                    code: "invalid_state",
                    message: format!("Only failed sessions can be retried (this one is {})", row.status),
                });
            }
            if row.retry_count >= i64::from(MAX_TRAINING_RETRIES) {
                return Err(AppError::BadRequest {
                    code: "retry_limit_exceeded",
                    message: format!("Maximum retry limit ({MAX_TRAINING_RETRIES}) exceeded"),
                    details: Some(serde_json::json!({ "retryCount": row.retry_count })),
                });
            }
            let res = sqlx::query(
                "UPDATE training_sessions SET status = 'scheduled', retry_count = retry_count + 1, completed_at = NULL,
                     next_attempt_at = NULL, worker_id = NULL, error_message = $2, updated_at = $3
                 WHERE id = $1 AND status = 'failed' AND retry_count = $4",
            )
            .bind(&id)
            .bind(req.error_message.clone().or_else(|| row.error_message.clone()))
            .bind(now)
            .bind(row.retry_count)
            .execute(&state.db.pool)
            .await;
            match res {
                Ok(r) if r.rows_affected() == 1 => {}
                Ok(_) => {
                    return Err(AppError::Conflict {
                        code: "invalid_state",
                        message: "The session changed meanwhile".into(),
                    });
                }
                Err(e) if is_unique_violation(&e) => {
                    return Err(AppError::Conflict {
                        code: "session_in_progress",
                        message: "Another training session is in progress; retry when it ends".into(),
                    });
                }
                Err(e) => return Err(e.into()),
            }
            state.training.wake_worker();
            tracing::info!(session = %id, actor = %admin.actor, retry = row.retry_count + 1, "session retry requested");
        }
        None => {
            sqlx::query("UPDATE training_sessions SET error_message = $2, updated_at = $3 WHERE id = $1")
                .bind(&id)
                .bind(req.error_message.as_deref())
                .bind(now)
                .execute(&state.db.pool)
                .await?;
        }
    }
    let row = find(&state.db, &id).await?.ok_or_else(|| AppError::not_found("Training session"))?;
    Ok(axum::Json(row.to_api()))
}
