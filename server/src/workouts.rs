//! Workout entries: a user logs sets; coaching, voice interactions and (for consenting users)
//! training rows hang off them. A user reaches only their own entries; another user's id is 404.
//! `POST /v1/workouts` honours `Idempotency-Key` like the other writes the browser's outbox
//! retries ([`crate::idempotency`]): the same key and body replay the first 201 (same entry, with
//! `Idempotent-Replayed: true`), the same key with another body is 422 `idempotency_key_reused`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use coach_shared::types::users::{CreateWorkoutRequest, WorkoutEntry};
use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AuthUser;
use crate::db::{Db, DbBool, OptF64, new_id, now_ms, to_dt};
use crate::error::{ApiResult, AppError};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::idempotency::{Idempotency, request_hash};
use crate::paging::{self, Order};
use crate::state::AppState;

const ROUTE: &str = "POST /v1/workouts";

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_workout, list_workouts)).routes(routes!(get_workout))
}

/// A `workout_entries` row.
#[derive(Debug, Clone, FromRow)]
pub struct WorkoutRow {
    /// Id.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// e.g. `bench_press`.
    pub exercise_type: String,
    /// 1–20.
    pub set_number: i64,
    /// Weight.
    pub weight: f64,
    /// Reps.
    pub reps: i64,
    /// RPE.
    pub perceived_exertion: f64,
    /// Strain.
    pub strain_percentage: Option<f64>,
    /// Sleep.
    pub sleep_hours: Option<f64>,
    /// Skip reason.
    pub skip_reason: Option<String>,
    /// Turned into a training row already.
    pub exported_for_training: DbBool,
    /// Epoch ms.
    pub created_at: i64,
}

impl WorkoutRow {
    /// The wire representation.
    pub fn to_api(&self) -> WorkoutEntry {
        WorkoutEntry {
            id: self.id.clone(),
            user_id: self.user_id.clone(),
            exercise_type: self.exercise_type.clone(),
            set_number: self.set_number as u32,
            weight: self.weight,
            reps: self.reps as u32,
            perceived_exertion: self.perceived_exertion,
            strain_percentage: self.strain_percentage,
            sleep_hours: self.sleep_hours,
            skip_reason: self.skip_reason.clone(),
            exported_for_training: self.exported_for_training.0,
            created_at: to_dt(self.created_at),
        }
    }
}

/// The columns of [`WorkoutRow`], as a literal for `concat!`.
macro_rules! workout_columns {
    () => {
        "id, user_id, exercise_type, set_number, weight, reps, perceived_exertion, \
         strain_percentage, sleep_hours, skip_reason, exported_for_training, created_at"
    };
}

/// Reads one of `user_id`'s entries (None for another user's).
pub async fn find_own(db: &Db, user_id: &str, id: &str) -> Result<Option<WorkoutRow>, sqlx::Error> {
    sqlx::query_as::<_, WorkoutRow>(concat!(
        "SELECT ",
        workout_columns!(),
        " FROM workout_entries WHERE id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await
}

/// Log a set.
#[utoipa::path(post, path = "/v1/workouts", tag = "Workouts",
    request_body = CreateWorkoutRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for retries of the same body")),
    responses(
        (status = 201, description = "Logged (a replay of an earlier attempt carries `Idempotent-Replayed: true`)", body = WorkoutEntry),
        (status = 400, description = "Invalid entry", body = coach_shared::ErrorResponse),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 422, description = "Idempotency-Key reused with another body", body = coach_shared::ErrorResponse),
        (status = 429, description = "Workout logging rate limit exceeded (`COACH_WORKOUTS_PER_MINUTE` / `_BURST`)", body = coach_shared::ErrorResponse)),
    security(("BearerAuth" = [])))]
async fn create_workout(
    State(state): State<AppState>,
    auth: AuthUser,
    idem: Idempotency,
    ApiJson(req): ApiJson<CreateWorkoutRequest>,
) -> ApiResult<Response> {
    let user = auth.id();
    // Before the replay too: a retry storm is refused like new entries (the outbox waits Retry-After).
    state.limits.workouts.check(user)?;
    let hash = request_hash(&req);
    if let Some(replay) = idem.replay(&state.db, user, ROUTE, &hash).await? {
        return Ok(replay);
    }
    let row = WorkoutRow {
        id: new_id(),
        user_id: user.to_string(),
        exercise_type: req.exercise_type.clone(),
        set_number: i64::from(req.set_number),
        weight: req.weight,
        reps: i64::from(req.reps),
        perceived_exertion: req.perceived_exertion,
        strain_percentage: req.strain_percentage,
        sleep_hours: req.sleep_hours,
        skip_reason: req.skip_reason.as_deref().map(|r| r.trim().to_string()),
        exported_for_training: DbBool(false),
        created_at: now_ms(),
    };
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO workout_entries (id, user_id, exercise_type, set_number, weight, reps, perceived_exertion,
             strain_percentage, sleep_hours, skip_reason, exported_for_training, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, FALSE, $11)",
    )
    .bind(&row.id)
    .bind(&row.user_id)
    .bind(&row.exercise_type)
    .bind(row.set_number)
    .bind(row.weight)
    .bind(row.reps)
    .bind(row.perceived_exertion)
    .bind(OptF64(row.strain_percentage))
    .bind(OptF64(row.sleep_hours))
    .bind(row.skip_reason.as_deref())
    .bind(row.created_at)
    .execute(&mut *tx)
    .await?;
    let json = serde_json::to_string(&row.to_api()).map_err(|e| AppError::Internal(e.into()))?;
    if !idem.record(&mut tx, user, ROUTE, &hash, StatusCode::CREATED, &json).await? {
        drop(tx); // a concurrent retry with the same key won: answer with its entry
        return idem
            .replay(&state.db, user, ROUTE, &hash)
            .await?
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("idempotency key vanished")));
    }
    tx.commit().await?;
    let mut resp = crate::idempotency::json_response(StatusCode::CREATED, json);
    if let Ok(location) = header::HeaderValue::from_str(&format!("/v1/workouts/{}", row.id)) {
        resp.headers_mut().insert(header::LOCATION, location);
    }
    Ok(resp)
}

/// One of the caller's logged sets.
#[utoipa::path(get, path = "/v1/workouts/{id}", tag = "Workouts",
    params(("id" = String, Path, description = "Workout entry id")),
    responses(
        (status = 200, description = "The entry", body = WorkoutEntry),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 404, description = "No such entry of the caller's", body = coach_shared::ErrorResponse)),
    security(("BearerAuth" = [])))]
async fn get_workout(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<axum::Json<WorkoutEntry>> {
    let row = find_own(&state.db, auth.id(), &id).await?.ok_or_else(|| AppError::not_found("Workout entry"))?;
    Ok(axum::Json(row.to_api()))
}

/// Paging of the caller's entries.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The previous page's `nextCursor`.
    cursor: Option<String>,
}

/// A page of entries.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct WorkoutList {
    /// Newest first.
    workouts: Vec<WorkoutEntry>,
    /// Pass as `cursor` for the next page (absent on the last page).
    next_cursor: Option<String>,
}

/// The caller's logged sets, newest first.
#[utoipa::path(get, path = "/v1/workouts", tag = "Workouts",
    params(ListQuery),
    responses(
        (status = 200, description = "A page", body = WorkoutList),
        (status = 400, description = "Invalid query", body = coach_shared::ErrorResponse),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse)),
    security(("BearerAuth" = [])))]
async fn list_workouts(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<axum::Json<WorkoutList>> {
    let page = paging::page(q.limit, q.cursor.as_deref(), Order::NewestFirst)?;
    let rows = sqlx::query_as::<_, WorkoutRow>(concat!(
        "SELECT ",
        workout_columns!(),
        " FROM workout_entries WHERE user_id = $1 AND (created_at < $2 OR (created_at = $2 AND id < $3)) \
         ORDER BY created_at DESC, id DESC LIMIT $4"
    ))
    .bind(auth.id())
    .bind(page.cursor.at)
    .bind(&page.cursor.id)
    .bind(page.sql_limit())
    .fetch_all(&state.db.pool)
    .await?;
    let next_cursor = paging::next_cursor(&rows, &page, |r| (r.created_at, &r.id));
    Ok(axum::Json(WorkoutList { workouts: rows.iter().map(WorkoutRow::to_api).collect(), next_cursor }))
}

/// The workouts' part of an account deletion, inside `tx` (after the voice interactions that hang
/// off them); returns how many logged sets went.
pub async fn delete_for_user(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user_id: &str,
) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("DELETE FROM workout_entries WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
    Ok(r.rows_affected())
}
