//! Identity: HS256 bearer tokens for users and admins, and the admin `X-API-Key`.
//!
//! * [`AuthUser`] — a route that acts for one user: needs `Authorization: Bearer <JWT>` whose
//!   `sub` is an existing user (any role). An API key alone is refused with 403 (it names no user).
//! * [`Admin`] — an admin route: the `X-API-Key`, or a bearer token with `role = admin`.
//!
//! Missing, malformed, forged or expired credentials → 401; the wrong role → 403; both as JSON.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use coach_shared::types::users::Role;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::AppError;
use crate::state::AppState;
use crate::users::{self, UserRow};

/// Claims of our bearer tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// `user` or `admin`.
    pub role: Role,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Token id, for audit logs.
    pub jti: String,
}

/// Signing material, built once from the secrets.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// SHA-256 of the admin key: compared in constant time, and never kept in plain form here.
    admin_key_digest: [u8; 32],
}

impl Keys {
    /// Keys for a JWT secret and an admin API key.
    pub fn new(jwt_secret: &str, admin_api_key: &str) -> Arc<Self> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Arc::new(Self {
            encoding: EncodingKey::from_secret(jwt_secret.as_bytes()),
            decoding: DecodingKey::from_secret(jwt_secret.as_bytes()),
            validation,
            admin_key_digest: Sha256::digest(admin_api_key.as_bytes()).into(),
        })
    }

    /// Mints a token for `user_id` with `role`, valid for `ttl_secs`.
    pub fn mint(&self, user_id: &str, role: Role, ttl_secs: i64) -> anyhow::Result<(String, DateTime<Utc>)> {
        let now = Utc::now();
        let exp = now + chrono::Duration::seconds(ttl_secs);
        let claims = Claims {
            sub: user_id.to_string(),
            role,
            exp: exp.timestamp(),
            iat: now.timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, exp))
    }

    /// Verifies a token's signature, algorithm and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, AppError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map(|d| d.claims).map_err(|e| {
            match e.kind() {
                ErrorKind::ExpiredSignature => unauthorized("token_expired", "The token has expired"),
                _ => unauthorized("invalid_token", "The token is invalid"),
            }
        })
    }

    /// Whether `key` is the admin API key (constant time).
    pub fn is_admin_key(&self, key: &str) -> bool {
        let d: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        bool::from(d.ct_eq(&self.admin_key_digest))
    }
}

fn unauthorized(code: &'static str, message: &str) -> AppError {
    AppError::Unauthorized { code, message: message.into() }
}

/// The credentials a request carries.
enum Credentials {
    None,
    ApiKey(String),
    Bearer(String),
}

fn credentials(headers: &HeaderMap) -> Result<Credentials, AppError> {
    if let Some(v) = headers.get(axum::http::header::AUTHORIZATION) {
        let v = v.to_str().map_err(|_| unauthorized("invalid_token", "Malformed Authorization header"))?;
        let (scheme, token) = v.split_once(' ').unwrap_or((v, ""));
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(unauthorized("invalid_token", "Expected Authorization: Bearer <token>"));
        }
        return Ok(Credentials::Bearer(token.trim().to_string()));
    }
    if let Some(v) = headers.get("x-api-key") {
        let v = v.to_str().map_err(|_| unauthorized("invalid_api_key", "Malformed X-API-Key header"))?;
        return Ok(Credentials::ApiKey(v.trim().to_string()));
    }
    Ok(Credentials::None)
}

/// The user a request acts for.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The user's record, read at the start of the request.
    pub user: UserRow,
    /// The token's role.
    pub role: Role,
}

impl AuthUser {
    /// The user's id.
    pub fn id(&self) -> &str {
        &self.user.id
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match credentials(&parts.headers)? {
            Credentials::None => {
                Err(unauthorized("unauthorized", "Authentication required: send Authorization: Bearer <token>"))
            }
            Credentials::ApiKey(k) if state.keys.is_admin_key(&k) => {
                Err(AppError::forbidden("This route acts for a user: use a user's bearer token, not the API key"))
            }
            Credentials::ApiKey(_) => Err(unauthorized("invalid_api_key", "The API key is invalid")),
            Credentials::Bearer(t) => {
                let claims = state.keys.verify(&t)?;
                let user = users::find(&state.db, &claims.sub)
                    .await?
                    .ok_or_else(|| unauthorized("invalid_token", "The token's user no longer exists"))?;
                Ok(AuthUser { user, role: claims.role })
            }
        }
    }
}

/// An administrator: the app's backend (API key) or an operator (admin token).
#[derive(Debug, Clone)]
pub struct Admin {
    /// `api-key` or the admin user's id, for audit logs.
    pub actor: String,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match credentials(&parts.headers)? {
            Credentials::None => {
                Err(unauthorized("unauthorized", "Authentication required: send X-API-Key or an admin bearer token"))
            }
            Credentials::ApiKey(k) if state.keys.is_admin_key(&k) => Ok(Admin { actor: "api-key".into() }),
            Credentials::ApiKey(_) => Err(unauthorized("invalid_api_key", "The API key is invalid")),
            Credentials::Bearer(t) => {
                let claims = state.keys.verify(&t)?;
                if claims.role != Role::Admin {
                    return Err(AppError::forbidden("This route needs the admin role"));
                }
                if users::find(&state.db, &claims.sub).await?.is_none() {
                    return Err(unauthorized("invalid_token", "The token's user no longer exists"));
                }
                Ok(Admin { actor: claims.sub })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_forgeries_fail() {
        let keys = Keys::new("secret-a", "admin-key");
        let (t, _) = keys.mint("u1", Role::User, 60).unwrap();
        let c = keys.verify(&t).unwrap();
        assert_eq!(c.sub, "u1");
        assert_eq!(c.role, Role::User);
        let other = Keys::new("secret-b", "admin-key");
        assert!(matches!(other.verify(&t), Err(AppError::Unauthorized { code: "invalid_token", .. })));
        let (expired, _) = keys.mint("u1", Role::User, -120).unwrap();
        assert!(matches!(keys.verify(&expired), Err(AppError::Unauthorized { code: "token_expired", .. })));
        assert!(keys.is_admin_key("admin-key"));
        assert!(!keys.is_admin_key("admin-kez"));
    }

    #[test]
    fn alg_none_is_refused() {
        let keys = Keys::new("secret-a", "k");
        // header {"alg":"none","typ":"JWT"} . payload {"sub":"u1","role":"admin","exp":9999999999,"iat":0,"jti":"x"}
        let forged = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1MSIsInJvbGUiOiJhZG1pbiIsImV4cCI6OTk5OTk5OTk5OSwiaWF0IjowLCJqdGkiOiJ4In0.";
        assert!(keys.verify(forged).is_err());
    }
}
