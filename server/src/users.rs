//! Users and tokens: the app's backend creates users and mints their tokens with the admin key;
//! a user reads their own record and sets their data-collection consent.
//!
//! | route | who |
//! |---|---|
//! | `POST /v1/users` | admin |
//! | `GET`/`PATCH /v1/users/{id}` | admin |
//! | `POST /v1/auth/token` | admin |
//! | `GET /v1/users/me` | user |
//! | `PUT /v1/users/me/consent` | user |

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use coach_shared::types::users::*;
use sqlx::FromRow;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Admin, AuthUser};
use crate::db::{Db, DbBool, is_unique_violation, now_ms, to_dt};
use crate::error::{ApiResult, AppError};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_user))
        .routes(routes!(get_user, update_user))
        .routes(routes!(mint_token))
        .routes(routes!(me))
        .routes(routes!(set_consent))
}

/// A `users` row.
#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    /// Id chosen by the app's backend.
    pub id: String,
    /// Email address.
    pub email: String,
    /// Display name.
    pub name: Option<String>,
    /// Premium subscription.
    pub is_premium: DbBool,
    /// Training-data consent.
    pub data_collection_consent: DbBool,
    /// Cloned voice at the provider.
    pub voice_id: Option<String>,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms.
    pub updated_at: i64,
}

impl UserRow {
    /// Premium users get voice features.
    pub fn is_premium(&self) -> bool {
        self.is_premium.0
    }

    /// Whether training data may be collected.
    pub fn consents(&self) -> bool {
        self.data_collection_consent.0
    }

    /// The strings that identify this user in free text (for PII checks).
    pub fn identifying_strings(&self) -> Vec<&str> {
        let mut v = vec![self.id.as_str(), self.email.as_str()];
        if let Some(n) = &self.name {
            v.push(n);
        }
        v
    }

    /// The wire representation.
    pub fn to_api(&self) -> User {
        User {
            id: self.id.clone(),
            email: self.email.clone(),
            name: self.name.clone(),
            is_premium: self.is_premium.0,
            data_collection_consent: self.data_collection_consent.0,
            voice_id: self.voice_id.clone(),
            created_at: to_dt(self.created_at),
            updated_at: to_dt(self.updated_at),
        }
    }
}

/// The columns of [`UserRow`], as a literal for `concat!`.
macro_rules! user_columns {
    () => {
        "id, email, name, is_premium, data_collection_consent, voice_id, created_at, updated_at"
    };
}

/// Reads a user by id.
pub async fn find(db: &Db, id: &str) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as::<_, UserRow>(concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await
}

async fn find_or_404(db: &Db, id: &str) -> ApiResult<UserRow> {
    find(db, id).await?.ok_or_else(|| AppError::not_found("User"))
}

fn conflict_on_duplicate(e: sqlx::Error) -> AppError {
    if is_unique_violation(&e) {
        AppError::Conflict { code: "user_exists", message: "A user with this id or email already exists".into() }
    } else {
        e.into()
    }
}

/// Create a user (the app's backend).
#[utoipa::path(post, path = "/v1/users", tag = "Users",
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "Created", body = User),
        (status = 400, description = "Invalid user", body = coach_shared::ErrorResponse),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 403, description = "Not an admin", body = coach_shared::ErrorResponse),
        (status = 409, description = "Id or email taken", body = coach_shared::ErrorResponse)),
    security(("ApiKeyAuth" = []), ("BearerAuth" = [])))]
async fn create_user(
    State(state): State<AppState>,
    _admin: Admin,
    ApiJson(req): ApiJson<CreateUserRequest>,
) -> ApiResult<impl IntoResponse> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO users (id, email, name, is_premium, data_collection_consent, consent_updated_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(&req.id)
    .bind(req.email.trim())
    .bind(req.name.as_deref().map(str::trim))
    .bind(req.is_premium)
    .bind(req.data_collection_consent)
    .bind(req.data_collection_consent.then_some(now))
    .bind(now)
    .execute(&state.db.pool)
    .await
    .map_err(conflict_on_duplicate)?;
    let user = find_or_404(&state.db, &req.id).await?;
    tracing::info!(user_id = %user.id, "user created");
    Ok((StatusCode::CREATED, [(header::LOCATION, format!("/v1/users/{}", user.id))], axum::Json(user.to_api())))
}

/// Read a user (admin).
#[utoipa::path(get, path = "/v1/users/{id}", tag = "Users",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 403, description = "Not an admin", body = coach_shared::ErrorResponse),
        (status = 404, description = "No such user", body = coach_shared::ErrorResponse)),
    security(("ApiKeyAuth" = []), ("BearerAuth" = [])))]
async fn get_user(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<axum::Json<User>> {
    Ok(axum::Json(find_or_404(&state.db, &id).await?.to_api()))
}

/// Change a user's email, name, premium state or consent (admin).
#[utoipa::path(patch, path = "/v1/users/{id}", tag = "Users",
    params(("id" = String, Path, description = "User id")),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "Updated", body = User),
        (status = 400, description = "Invalid change", body = coach_shared::ErrorResponse),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 403, description = "Not an admin", body = coach_shared::ErrorResponse),
        (status = 404, description = "No such user", body = coach_shared::ErrorResponse),
        (status = 409, description = "Email taken", body = coach_shared::ErrorResponse)),
    security(("ApiKeyAuth" = []), ("BearerAuth" = [])))]
async fn update_user(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<UpdateUserRequest>,
) -> ApiResult<axum::Json<User>> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE users SET
            email = COALESCE($2, email),
            name = COALESCE($3, name),
            is_premium = COALESCE($4, is_premium),
            consent_updated_at = CASE WHEN $5 IS NULL THEN consent_updated_at ELSE $6 END,
            data_collection_consent = COALESCE($5, data_collection_consent),
            updated_at = $6
         WHERE id = $1",
    )
    .bind(&id)
    .bind(req.email.as_deref().map(str::trim))
    .bind(req.name.as_deref().map(str::trim))
    .bind(req.is_premium)
    .bind(req.data_collection_consent)
    .bind(now)
    .execute(&state.db.pool)
    .await
    .map_err(conflict_on_duplicate)?;
    if done.rows_affected() == 0 {
        return Err(AppError::not_found("User"));
    }
    Ok(axum::Json(find_or_404(&state.db, &id).await?.to_api()))
}

/// Mint a bearer token for an existing user (admin).
#[utoipa::path(post, path = "/v1/auth/token", tag = "Users",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "Token", body = TokenResponse),
        (status = 400, description = "Invalid request", body = coach_shared::ErrorResponse),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 403, description = "Not an admin", body = coach_shared::ErrorResponse),
        (status = 404, description = "No such user", body = coach_shared::ErrorResponse)),
    security(("ApiKeyAuth" = []), ("BearerAuth" = [])))]
async fn mint_token(
    State(state): State<AppState>,
    admin: Admin,
    ApiJson(req): ApiJson<TokenRequest>,
) -> ApiResult<axum::Json<TokenResponse>> {
    let user = find_or_404(&state.db, &req.user_id).await?;
    let ttl = req.ttl_seconds.unwrap_or(state.config.token_ttl.as_secs() as i64);
    let (token, expires_at) = state.keys.mint(&user.id, req.role, ttl)?;
    tracing::info!(user_id = %user.id, role = req.role.as_str(), actor = %admin.actor, "token minted");
    Ok(axum::Json(TokenResponse { token, expires_at, token_type: "Bearer".into() }))
}

/// The caller's own record.
#[utoipa::path(get, path = "/v1/users/me", tag = "Users",
    responses(
        (status = 200, description = "The caller", body = User),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse)),
    security(("BearerAuth" = [])))]
async fn me(auth: AuthUser) -> axum::Json<User> {
    axum::Json(auth.user.to_api())
}

/// Give or withdraw consent to anonymized training-data collection.
#[utoipa::path(put, path = "/v1/users/me/consent", tag = "Users",
    request_body = ConsentUpdate,
    responses(
        (status = 200, description = "Updated", body = User),
        (status = 400, description = "Invalid body", body = coach_shared::ErrorResponse),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse)),
    security(("BearerAuth" = [])))]
async fn set_consent(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(req): ApiJson<ConsentUpdate>,
) -> ApiResult<axum::Json<User>> {
    let now = now_ms();
    sqlx::query(
        "UPDATE users SET data_collection_consent = $2, consent_updated_at = $3, updated_at = $3 WHERE id = $1",
    )
    .bind(auth.id())
    .bind(req.data_collection_consent)
    .bind(now)
    .execute(&state.db.pool)
    .await?;
    tracing::info!(user_id = %auth.id(), consent = req.data_collection_consent, "consent changed");
    Ok(axum::Json(find_or_404(&state.db, auth.id()).await?.to_api()))
}

/// How [`lock_in`] holds the user's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowLock {
    /// Writers that insert rows for the user (intake, the workout export, a clone job's
    /// bookkeeping): they exclude a deletion, not each other.
    Share,
    /// The account deletion: excludes all of them.
    Exclusive,
}

/// Reads the user's row inside `tx` and holds it until the end of `tx`, so that whatever `tx`
/// writes for this user and an account deletion are serialized: PostgreSQL locks the row
/// (`FOR SHARE` / `FOR UPDATE`); on SQLite the write transaction (`BEGIN IMMEDIATE`, see
/// [`Db::begin`]) already excludes every other writer. `None` when the user no longer exists —
/// a deletion committed first, and nothing may be written for them.
pub async fn lock_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    engine: crate::db::Engine,
    id: &str,
    lock: RowLock,
) -> Result<Option<UserRow>, sqlx::Error> {
    use crate::db::Engine;
    let sql = match (engine, lock) {
        (Engine::Sqlite, _) => concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1"),
        (Engine::Postgres, RowLock::Share) => {
            concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1 FOR SHARE")
        }
        (Engine::Postgres, RowLock::Exclusive) => {
            concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1 FOR UPDATE")
        }
    };
    sqlx::query_as::<_, UserRow>(sql).bind(id).fetch_optional(&mut **tx).await
}

/// The users table's part of an account deletion, inside `tx` and last (every other area's rows
/// reference it); returns 1 when the row went.
pub async fn delete_for_user(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user_id: &str,
) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("DELETE FROM users WHERE id = $1").bind(user_id).execute(&mut **tx).await?;
    Ok(r.rows_affected())
}
