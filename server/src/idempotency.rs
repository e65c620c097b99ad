//! `Idempotency-Key` support for the POSTs that clients retry (the browser's offline outbox sends
//! training-data submissions and voice interactions again after a reconnect).
//!
//! A key is scoped to (user, route). The first request that carries it stores its response in
//! `idempotency_keys` *in the same transaction* as the record it created, so two concurrent retries
//! cannot both create a record: the loser's insert of the key fails on the primary key, it rolls
//! back and replays the winner's response. A replay carries `Idempotent-Replayed: true`. The same
//! key with a different body is refused with 422 `idempotency_key_reused`. Keys are kept 24 hours
//! (the retention job deletes older ones).
//!
//! Handler pattern:
//! ```ignore
//! let hash = request_hash(&req);
//! if let Some(resp) = idem.replay(&db, user, ROUTE, &hash).await? { return Ok(resp) }
//! let mut tx = db.begin().await?;
//! /* insert the record */
//! let body = serde_json::to_string(&response)?;
//! if !idem.record(&mut tx, user, ROUTE, &hash, StatusCode::CREATED, &body).await? {
//!     drop(tx); // a concurrent request won
//!     return idem.replay(&db, user, ROUTE, &hash).await?.ok_or(...);
//! }
//! tx.commit().await?;
//! return Ok(json_response(StatusCode::CREATED, body));
//! ```

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Any;

use crate::db::{Db, is_unique_violation, now_ms};
use crate::error::AppError;

/// How long a key is remembered.
pub const KEY_TTL_MS: i64 = 24 * 3600 * 1000;

/// The `Idempotency-Key` header of a request, if any (1–255 visible ASCII characters).
#[derive(Debug, Clone, Default)]
pub struct Idempotency {
    /// The client's key.
    pub key: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Idempotency {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(v) = parts.headers.get("idempotency-key") else { return Ok(Idempotency::default()) };
        let key = v
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|k| !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()));
        match key {
            Some(k) => Ok(Idempotency { key: Some(k.to_string()) }),
            None => Err(AppError::BadRequest {
                code: "invalid_idempotency_key",
                message: "Idempotency-Key must be 1–255 visible ASCII characters".into(),
                details: None,
            }),
        }
    }
}

/// A stable hash of the request body (of its parsed form, so whitespace does not matter).
pub fn request_hash<T: Serialize>(req: &T) -> String {
    hex::encode(Sha256::digest(serde_json::to_vec(req).unwrap_or_default()))
}

/// A JSON response from already-serialized bytes (so a replay is byte-identical to the original).
pub fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}

/// A response replayed from the store.
pub fn replayed(status: StatusCode, body: String) -> Response {
    let mut resp = json_response(status, body);
    resp.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    resp
}

impl Idempotency {
    /// The stored response for this key, if the key was used before with the same body; 422 when
    /// it was used with a different body. `None` without a key or for a fresh key.
    pub async fn replay(&self, db: &Db, user_id: &str, route: &str, hash: &str) -> Result<Option<Response>, AppError> {
        let Some(key) = &self.key else { return Ok(None) };
        let row: Option<(String, i64, String)> = sqlx::query_as(
            "SELECT request_hash, status_code, response_body FROM idempotency_keys
             WHERE user_id = $1 AND route = $2 AND idem_key = $3 AND created_at > $4",
        )
        .bind(user_id)
        .bind(route)
        .bind(key)
        .bind(now_ms() - KEY_TTL_MS)
        .fetch_optional(&db.pool)
        .await?;
        let Some((stored_hash, status, body)) = row else { return Ok(None) };
        if stored_hash != hash {
            return Err(AppError::Status {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "idempotency_key_reused",
                message: "This Idempotency-Key was already used with a different request body".into(),
            });
        }
        let status = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
        Ok(Some(replayed(status, body)))
    }

    /// Claims the key inside the transaction that creates the record. `Ok(false)` when another
    /// request claimed it first (roll back and [`Self::replay`]). Always `Ok(true)` without a key.
    pub async fn record(
        &self,
        tx: &mut sqlx::Transaction<'static, Any>,
        user_id: &str,
        route: &str,
        hash: &str,
        status: StatusCode,
        body: &str,
    ) -> Result<bool, sqlx::Error> {
        let Some(key) = &self.key else { return Ok(true) };
        // An expired row for the same key is replaced.
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE user_id = $1 AND route = $2 AND idem_key = $3 AND created_at <= $4",
        )
        .bind(user_id)
        .bind(route)
        .bind(key)
        .bind(now_ms() - KEY_TTL_MS)
        .execute(&mut **tx)
        .await?;
        let res = sqlx::query(
            "INSERT INTO idempotency_keys (user_id, route, idem_key, request_hash, status_code, response_body, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(user_id)
        .bind(route)
        .bind(key)
        .bind(hash)
        .bind(i64::from(status.as_u16()))
        .bind(body)
        .bind(now_ms())
        .execute(&mut **tx)
        .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Deletes keys older than [`KEY_TTL_MS`]; returns how many.
pub async fn purge_expired(db: &Db) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("DELETE FROM idempotency_keys WHERE created_at <= $1")
        .bind(now_ms() - KEY_TTL_MS)
        .execute(&db.pool)
        .await?;
    Ok(r.rows_affected())
}

/// The idempotency store's part of an account deletion, inside `tx` (the stored responses echo
/// what the user sent); returns how many records went.
pub async fn delete_for_user(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user_id: &str,
) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
    Ok(r.rows_affected())
}
