//! Clip delivery: `GET`/`HEAD /v1/voice/clips/{key}.mp3`, and the byte-serving rules shared with
//! `GET /v1/voice/cache/{cacheId}`.
//!
//! * `Cache-Control: public, max-age=31536000, immutable` (clips never change: the URL is the
//!   content key), strong `ETag: "<key>"`, `If-None-Match` → 304, `Accept-Ranges: bytes`,
//!   single `Range` → 206 with `Content-Range`, unsatisfiable → 416 (JSON, `Content-Range: bytes */len`),
//!   `If-Range` honoured; a syntactically invalid `Range` is ignored (200), as RFC 9110 allows.
//! * A clip spoken with a user's cloned voice is private: it is served only to its owner's bearer
//!   token or with a signed, expiring URL (`?exp=<unix s>&sig=<hex HMAC-SHA256>`), and with
//!   `Cache-Control: private`. Anyone else gets the same 404 as for a missing clip.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;
use utoipa::IntoParams;

use super::clip_store::{ClipMeta, is_clip_key};
use crate::error::{ApiResult, AppError, error_response};
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;

/// Caching of public clips: a year, never revalidated.
pub const PUBLIC_CACHE: &str = "public, max-age=31536000, immutable";
/// Caching of private clips and of a user's cache entries: the browser only, never a shared cache.
pub const PRIVATE_CACHE: &str = "private, max-age=31536000, immutable";

/// HMAC of a clip key and an expiry.
pub fn signature(secret: &str, key: &str, exp: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(format!("clip:{key}:{exp}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `sig` signs `key` until `exp` and `exp` has not passed (constant-time comparison).
pub fn verify_signature(secret: &str, key: &str, exp: i64, sig: &str) -> bool {
    if exp < chrono::Utc::now().timestamp() {
        return false;
    }
    let Ok(sig) = hex::decode(sig) else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(format!("clip:{key}:{exp}").as_bytes());
    mac.verify_slice(&sig).is_ok()
}

/// The absolute URL of a clip: plain for shared clips, signed and expiring for private ones.
pub fn clip_url(state: &AppState, meta: &ClipMeta) -> String {
    let base = format!("{}/v1/voice/clips/{}.mp3", state.config.public_base(), meta.cache_key);
    if meta.owner_user_id.is_none() {
        return base;
    }
    let exp = chrono::Utc::now().timestamp() + state.config.voice.clip_url_ttl.as_secs() as i64;
    let sig = signature(&state.secrets.url_signing_key, &meta.cache_key, exp);
    format!("{base}?exp={exp}&sig={sig}")
}

/// Serves `bytes` with validators, ranges and the given caching policy.
pub fn serve_bytes(
    headers: &HeaderMap,
    bytes: Bytes,
    content_type: &str,
    etag_key: &str,
    cache_control: &'static str,
) -> Response {
    let etag = format!("\"{etag_key}\"");
    let mut base = HeaderMap::new();
    base.insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex etag"));
    base.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
    base.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let ct = HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));

    if let Some(inm) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok())
        && inm.split(',').map(|t| t.trim().trim_start_matches("W/")).any(|t| t == "*" || t == etag)
    {
        return (StatusCode::NOT_MODIFIED, base).into_response();
    }
    let len = bytes.len() as u64;
    let if_range_ok = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()).is_none_or(|v| v.trim() == etag);
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).filter(|_| if_range_ok);
    if let Some(parsed) = range.and_then(|r| http_range_header::parse_range_header(r.trim()).ok()) {
        match parsed.validate(len) {
            Ok(ranges) if ranges.len() == 1 && len > 0 => {
                let (start, end) = (*ranges[0].start(), *ranges[0].end());
                base.insert(header::CONTENT_TYPE, ct);
                base.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start + 1));
                base.insert(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")).expect("ascii"),
                );
                let part = bytes.slice(start as usize..=end as usize);
                return (StatusCode::PARTIAL_CONTENT, base, Body::from(part)).into_response();
            }
            // Several ranges: the whole clip (a server may ignore Range; clips are small).
            Ok(_) => {}
            Err(_) => {
                let mut resp = error_response(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "range_not_satisfiable",
                    format!("The requested range is outside the {len} bytes of this clip"),
                    Some(serde_json::json!({ "size": len })),
                );
                resp.headers_mut()
                    .insert(header::CONTENT_RANGE, HeaderValue::from_str(&format!("bytes */{len}")).expect("ascii"));
                return resp;
            }
        }
    }
    base.insert(header::CONTENT_TYPE, ct);
    base.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    (StatusCode::OK, base, Body::from(bytes)).into_response()
}

/// The signature of a private clip's URL.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignedQuery {
    /// Expiry, Unix seconds.
    exp: Option<i64>,
    /// Hex HMAC-SHA256 over the key and `exp`.
    sig: Option<String>,
}

/// The caller's user id from a bearer token, when one is sent and valid (clip routes work
/// without one).
async fn optional_user(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = auth.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    state.keys.verify(token.trim()).ok().map(|c| c.sub)
}

/// A synthesized clip (immutable, CDN-cacheable).
#[utoipa::path(get, path = "/v1/voice/clips/{file}", tag = "Voice Synthesis",
    params(("file" = String, Path, description = "`<cacheKey>.mp3`, as in `audioUrl`"), SignedQuery,
           ("Range" = Option<String>, Header, description = "A single byte range"),
           ("If-None-Match" = Option<String>, Header, description = "The clip's ETag")),
    responses(
        (status = 200, description = "The clip", content_type = "audio/mpeg", body = Vec<u8>),
        (status = 206, description = "The requested range", content_type = "audio/mpeg", body = Vec<u8>),
        (status = 304, description = "Not modified (ETag matched)"),
        (status = 404, description = "No such clip, or a private clip without its owner's token or a valid signature", body = coach_shared::ErrorResponse),
        (status = 416, description = "Range not satisfiable", body = coach_shared::ErrorResponse)),
    security((), ("BearerAuth" = [])))]
pub async fn get_clip(
    State(state): State<AppState>,
    ApiPath(file): ApiPath<String>,
    ApiQuery(q): ApiQuery<SignedQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let not_found = || AppError::not_found("Clip");
    let key = file.strip_suffix(".mp3").filter(|k| is_clip_key(k)).ok_or_else(not_found)?;
    let meta = state.voice.clips.find(&state.db, key).await?.ok_or_else(not_found)?;
    let cache = match &meta.owner_user_id {
        None => PUBLIC_CACHE,
        Some(owner) => {
            let signed = matches!((q.exp, q.sig.as_deref()), (Some(exp), Some(sig))
                if verify_signature(&state.secrets.url_signing_key, key, exp, sig));
            if !signed && optional_user(&state, &headers).await.as_deref() != Some(owner.as_str()) {
                return Err(not_found());
            }
            PRIVATE_CACHE
        }
    };
    let bytes = state.voice.clips.read(key).await.map_err(|_| not_found())?;
    Ok(serve_bytes(&headers, bytes, &meta.content_type, key, cache))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_key_and_expiry() {
        let exp = chrono::Utc::now().timestamp() + 60;
        let sig = signature("s", "k", exp);
        assert!(verify_signature("s", "k", exp, &sig));
        assert!(!verify_signature("s", "k", exp + 1, &sig));
        assert!(!verify_signature("s", "other", exp, &sig));
        assert!(!verify_signature("t", "k", exp, &sig));
        assert!(!verify_signature("s", "k", exp, "zz"));
        let past = chrono::Utc::now().timestamp() - 1;
        assert!(!verify_signature("s", "k", past, &signature("s", "k", past)));
    }

    fn get(headers: &[(&str, &str)]) -> Response {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        serve_bytes(&h, Bytes::from_static(b"0123456789"), "audio/mpeg", "abc", PUBLIC_CACHE)
    }

    #[test]
    fn ranges_and_validators() {
        assert_eq!(get(&[]).status(), StatusCode::OK);
        let r = get(&[("range", "bytes=2-4")]);
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes 2-4/10");
        assert_eq!(get(&[("range", "bytes=-3")]).headers()[header::CONTENT_RANGE], "bytes 7-9/10");
        assert_eq!(get(&[("range", "bytes=20-")]).status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(get(&[("range", "pages=1-2")]).status(), StatusCode::OK);
        assert_eq!(get(&[("if-none-match", "\"abc\"")]).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(get(&[("if-none-match", "W/\"abc\", \"x\"")]).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(get(&[("if-none-match", "\"x\"")]).status(), StatusCode::OK);
        assert_eq!(get(&[("range", "bytes=0-1"), ("if-range", "\"old\"")]).status(), StatusCode::OK);
        assert_eq!(get(&[("range", "bytes=0-1"), ("if-range", "\"abc\"")]).status(), StatusCode::PARTIAL_CONTENT);
    }
}
