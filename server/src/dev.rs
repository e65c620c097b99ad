//! Dev mode (`COACH_DEV_MODE=1`, turned on by `cargo xtask run`): a sign-in for the demo app and
//! the browser tests that creates the user when missing and mints a token without the admin key.
//! Outside dev mode the route answers 404 to any body, exactly like an unknown route, so production
//! exposes nothing.
//!
//! Even in dev mode it cannot hand out more than it should: the server refuses dev mode on a
//! non-loopback address (`Config::check_exposure`), CORS lets no foreign page read its answers
//! (`app::cors`), and an admin token is minted only for a user that this sign-in created as an
//! admin (a brand-new user id asked for with `role: admin`, recorded in `dev_admins`). An existing
//! user who is not a dev admin — made by the admin API, or signed in here as a plain user — asking
//! for `admin` gets a 403 and nothing about the user changes: a role is never raised.

use axum::extract::State;
use coach_shared::types::users::{Role, TokenResponse};
use coach_shared::validate::{ValidationErrors, is_valid_user_id};
use coach_shared::{Validate, limits::DISPLAY_NAME_MAX_CHARS};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::db::now_ms;
use crate::error::{ApiResult, AppError};
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::users;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(dev_session))
}

/// `POST /v1/dev/session`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DevSessionRequest {
    /// The user to sign in as (created when missing).
    pub user_id: String,
    /// Display name for a new user.
    #[serde(default)]
    pub name: Option<String>,
    /// Premium state to set (default: true, so the demo shows voice features).
    #[serde(default)]
    pub is_premium: Option<bool>,
    /// Consent to set, when given.
    #[serde(default)]
    pub data_collection_consent: Option<bool>,
    /// `user` (default) or `admin` (for the training dashboard): `admin` only for a new user id,
    /// or one this sign-in created as an admin before.
    #[serde(default)]
    pub role: Role,
}

impl Validate for DevSessionRequest {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = ValidationErrors::default();
        if !is_valid_user_id(&self.user_id) {
            v.add("userId", "invalid_format", "must be 1–128 characters of A-Z a-z 0-9 . _ : @ -");
        }
        if let Some(n) = &self.name {
            v.text("name", n, DISPLAY_NAME_MAX_CHARS);
        }
        v.into_result()
    }
}

/// Dev-mode sign-in: creates or updates the user and returns a token (404 outside dev mode; 403
/// for `role: admin` on an existing user that this sign-in did not create as an admin).
#[utoipa::path(post, path = "/v1/dev/session", tag = "Users",
    request_body = DevSessionRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 400, description = "Invalid request", body = coach_shared::ErrorResponse),
        (status = 403, description = "Admin asked for an existing non-admin user", body = coach_shared::ErrorResponse),
        (status = 404, description = "Not in dev mode", body = coach_shared::ErrorResponse)))]
async fn dev_session(
    State(state): State<AppState>,
    body: Result<ApiJson<DevSessionRequest>, AppError>,
) -> ApiResult<axum::Json<TokenResponse>> {
    // Dev mode is checked before the body: outside it every request, valid or not, gets the 404 of
    // an unknown route, and in dev mode an empty `{}` (400) is a probe without side effects that
    // the app uses to say whether dev sign-in is available.
    if !state.config.dev_mode {
        return Err(AppError::NotFound("No route for POST /v1/dev/session (dev mode is off)".into()));
    }
    let ApiJson(req) = body?;
    let now = now_ms();
    let premium = req.is_premium.unwrap_or(true);
    // One transaction: the 403 below leaves nothing behind, and two sign-ins for the same new id
    // cannot both "create" it (the second sees the first's row and its dev-admin record).
    let mut tx = state.db.begin().await?;
    let created = sqlx::query(
        "INSERT INTO users (id, email, name, is_premium, data_collection_consent, created_at, updated_at)
         VALUES ($1, $2, $3, $4, FALSE, $5, $5) ON CONFLICT (id) DO NOTHING",
    )
    .bind(&req.user_id)
    .bind(format!("{}@dev.coach.invalid", uuid::Uuid::new_v4().simple()))
    .bind(req.name.as_deref())
    .bind(premium)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if req.role == Role::Admin {
        if created {
            sqlx::query("INSERT INTO dev_admins (user_id, created_at) VALUES ($1, $2)")
                .bind(&req.user_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        } else {
            let dev_admin = sqlx::query("SELECT 1 FROM dev_admins WHERE user_id = $1")
                .bind(&req.user_id)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            if !dev_admin {
                tx.rollback().await?;
                tracing::warn!(user_id = %req.user_id, "dev-mode sign-in refused: admin asked for an existing non-admin user");
                return Err(AppError::forbidden(
                    "Dev sign-in cannot make an existing user an admin: sign in as admin with a new user id",
                ));
            }
        }
    }
    sqlx::query(
        "UPDATE users SET is_premium = COALESCE($2, is_premium),
             data_collection_consent = COALESCE($3, data_collection_consent), updated_at = $4 WHERE id = $1",
    )
    .bind(&req.user_id)
    .bind(req.is_premium)
    .bind(req.data_collection_consent)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let user = users::find(&state.db, &req.user_id).await?.ok_or_else(|| AppError::not_found("User"))?;
    let (token, expires_at) = state.keys.mint(&user.id, req.role, state.config.token_ttl.as_secs() as i64)?;
    tracing::warn!(user_id = %user.id, role = req.role.as_str(), created, "dev-mode sign-in");
    Ok(axum::Json(TokenResponse { token, expires_at, token_type: "Bearer".into() }))
}
