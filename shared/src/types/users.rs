//! Identity and workout types: users (created by the app's backend), tokens, consent and the
//! workout entries that coaching and training start from.

use serde::{Deserialize, Serialize};

use chrono::{DateTime, Utc};

/// Who a token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An app user: reaches only their own data.
    #[default]
    User,
    /// An operator or the app's backend: reaches admin routes.
    Admin,
}

impl Role {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }
}

/// A user of the fitness app, extended with the voice and training fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Identifier chosen by the app's backend.
    pub id: String,
    /// Email address (never leaves the server; used to detect PII in free text).
    pub email: String,
    /// Display name (used to detect names in free text).
    pub name: Option<String>,
    /// Premium users get synthesis, cloning and voice preferences.
    pub is_premium: bool,
    /// Training data is collected only while this is true (default false).
    pub data_collection_consent: bool,
    /// The user's cloned voice at the speech provider, when one exists.
    pub voice_id: Option<String>,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
    /// When the user was last changed.
    pub updated_at: DateTime<Utc>,
}

/// `POST /v1/users` (admin).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct CreateUserRequest {
    /// 1–128 characters of `[A-Za-z0-9._:@-]`.
    pub id: String,
    /// A valid email address.
    pub email: String,
    /// Optional display name.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub name: Option<String>,
    /// Defaults to false.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub is_premium: bool,
    /// Defaults to false.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub data_collection_consent: bool,
}

/// `PATCH /v1/users/{id}` (admin): only the fields present change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct UpdateUserRequest {
    /// New email address.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub email: Option<String>,
    /// New display name.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub name: Option<String>,
    /// New premium state.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub is_premium: Option<bool>,
    /// New consent state.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub data_collection_consent: Option<bool>,
}

/// `POST /v1/auth/token` (admin): mint a token for a user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct TokenRequest {
    /// The user the token speaks for (must exist).
    pub user_id: String,
    /// `user` (default) or `admin`.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<Role>", optional))]
    pub role: Role,
    /// Lifetime in seconds (default from the server's config, at most 30 days).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub ttl_seconds: Option<i64>,
}

/// A minted token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    /// HS256 JWT to send as `Authorization: Bearer <token>`.
    pub token: String,
    /// When the token stops being accepted.
    pub expires_at: DateTime<Utc>,
    /// Always `Bearer`.
    pub token_type: String,
}

/// `PUT /v1/users/me/consent`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ConsentUpdate {
    /// Whether anonymized training data may be collected from now on.
    pub data_collection_consent: bool,
}

/// One logged set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct WorkoutEntry {
    /// Identifier.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// e.g. `bench_press`.
    pub exercise_type: String,
    /// 1–20.
    pub set_number: u32,
    /// Weight lifted, 0–1000.
    pub weight: f64,
    /// Repetitions, 0–200.
    pub reps: u32,
    /// RPE, 0–10.
    pub perceived_exertion: f64,
    /// Strain 0–100, when the app measured it.
    pub strain_percentage: Option<f64>,
    /// Sleep the night before, 0–24 h.
    pub sleep_hours: Option<f64>,
    /// Why the set was skipped, if it was.
    pub skip_reason: Option<String>,
    /// Whether this entry has been turned into a training record.
    pub exported_for_training: bool,
    /// When it was logged.
    pub created_at: DateTime<Utc>,
}

/// `POST /v1/workouts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct CreateWorkoutRequest {
    /// e.g. `bench_press`: 1–64 characters of `[a-z0-9_]`.
    pub exercise_type: String,
    /// 1–20.
    pub set_number: u32,
    /// 0–1000.
    pub weight: f64,
    /// 0–200.
    pub reps: u32,
    /// RPE, 0–10.
    pub perceived_exertion: f64,
    /// 0–100.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub strain_percentage: Option<f64>,
    /// 0–24.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub sleep_hours: Option<f64>,
    /// Short reason, no PII.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub skip_reason: Option<String>,
}
