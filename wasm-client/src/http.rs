//! HTTP to the Coach server with `gloo-net` (fetch): the base URL and bearer token (both
//! updatable), the online check, `Idempotency-Key`, and the mapping of every failure to a
//! [`CoachError`] — the server's `ErrorResponse` when there is one, `network_error` when no response
//! came, `invalid_response` when the body is not what the contract promises.

use std::cell::{Cell, RefCell};

use gloo_net::http::{Request, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{CoachError, CoachResult};
use crate::js;

/// Connection settings shared by the client, the outbox and `speak`.
pub struct Http {
    /// e.g. `http://127.0.0.1:8080` (no trailing slash).
    base_url: RefCell<String>,
    /// The user's bearer token.
    token: RefCell<Option<String>>,
    /// Behave as if offline (the app's "offline mode", and tests).
    forced_offline: Cell<bool>,
}

/// A successful response.
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `Idempotent-Replayed: true`: the server answered a retry with the original response.
    pub replayed: bool,
    /// The response (body unread).
    pub response: Response,
}

/// Per-request settings.
#[derive(Default, Clone, Copy)]
pub struct Opts<'a> {
    /// `Accept` header (default `application/json`).
    pub accept: Option<&'a str>,
    /// `Idempotency-Key` header.
    pub idempotency_key: Option<&'a str>,
}

/// HTTP methods used by the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// DELETE
    Delete,
}

impl Http {
    /// New settings.
    pub fn new(base_url: &str, token: Option<String>) -> Self {
        Self {
            base_url: RefCell::new(base_url.trim_end_matches('/').to_string()),
            token: RefCell::new(token),
            forced_offline: Cell::new(false),
        }
    }

    /// The base URL.
    pub fn base_url(&self) -> String {
        self.base_url.borrow().clone()
    }

    /// Changes the base URL.
    pub fn set_base_url(&self, url: &str) {
        *self.base_url.borrow_mut() = url.trim_end_matches('/').to_string();
    }

    /// The token, if any.
    pub fn token(&self) -> Option<String> {
        self.token.borrow().clone()
    }

    /// Replaces the token (e.g. after a refresh).
    pub fn set_token(&self, token: Option<String>) {
        *self.token.borrow_mut() = token;
    }

    /// Forces offline behaviour on or off.
    pub fn set_offline(&self, offline: bool) {
        self.forced_offline.set(offline);
    }

    /// Whether requests should be attempted: not forced offline and `navigator.onLine`.
    pub fn online(&self) -> bool {
        !self.forced_offline.get() && web_sys::window().map(|w| w.navigator().on_line()).unwrap_or(true)
    }

    /// An absolute URL for `path` (absolute URLs pass through).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{}", self.base_url.borrow(), path)
        }
    }

    /// Whether `url` is on the API's origin (the token is sent only there).
    pub fn same_origin(&self, url: &str) -> bool {
        let origin = |u: &str| web_sys::Url::new(u).ok().map(|u| u.origin());
        let base = self.base_url.borrow().clone();
        origin(url).is_some() && origin(url) == origin(&base)
    }

    fn builder(&self, method: Method, url: &str, opts: Opts<'_>) -> RequestBuilder {
        let b = match method {
            Method::Get => Request::get(url),
            Method::Post => Request::post(url),
            Method::Put => Request::put(url),
            Method::Delete => Request::delete(url),
        };
        let mut b = b.header("Accept", opts.accept.unwrap_or("application/json"));
        if self.same_origin(url)
            && let Some(t) = self.token.borrow().as_deref()
        {
            b = b.header("Authorization", &format!("Bearer {t}"));
        }
        if let Some(k) = opts.idempotency_key {
            b = b.header("Idempotency-Key", k);
        }
        b
    }

    /// Sends a request with an optional JSON body; non-2xx answers become errors.
    pub async fn send(&self, method: Method, path: &str, body: Option<&str>, opts: Opts<'_>) -> CoachResult<Reply> {
        if !self.online() {
            return Err(CoachError::network("offline: the browser reports no network connection"));
        }
        let url = self.url(path);
        let b = self.builder(method, &url, opts);
        let req = match body {
            Some(json) => b.header("Content-Type", "application/json").body(json.to_string()),
            None => b.build(),
        }
        .map_err(|e| CoachError::invalid_argument(format!("could not build the request to {url}: {e}")))?;
        let response = req
            .send()
            .await
            .map_err(|e| CoachError::network(format!("{} {url} got no response: {e}", method_name(method))))?;
        check(response).await
    }

    /// Sends and decodes a JSON answer into `T`.
    pub async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
        opts: Opts<'_>,
    ) -> CoachResult<T> {
        let (status, text) = self.json_text(method, path, body, opts).await?;
        decode_text(status, &text)
    }

    /// `send`, then the body's text (the non-generic part of [`Http::json`], so the request path
    /// is in the package once rather than once per response type).
    async fn json_text(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
        opts: Opts<'_>,
    ) -> CoachResult<(u16, String)> {
        let reply = self.send(method, path, body, opts).await?;
        read_text(reply).await
    }

    /// `json` with a serde body.
    pub async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> CoachResult<T> {
        let text = js::to_json(body)?;
        let (status, text) = self.json_text(method, path, Some(&text), Opts::default()).await?;
        decode_text(status, &text)
    }

    /// Downloads a body as a Blob (audio).
    pub async fn blob(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
        accept: &str,
    ) -> CoachResult<web_sys::Blob> {
        let reply = self.send(method, path, body, Opts { accept: Some(accept), ..Default::default() }).await?;
        let raw: web_sys::Response = reply.response.into();
        let promise = raw.blob().map_err(|e| CoachError::new("invalid_response", js::error_message(&e)))?;
        let blob = wasm_bindgen_futures::JsFuture::from(promise)
            .await
            .map_err(|e| CoachError::network(format!("the audio download broke off: {}", js::error_message(&e))))?;
        Ok(blob.into())
    }
}

fn method_name(m: Method) -> &'static str {
    match m {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
    }
}

/// Turns a non-2xx response into the server's error.
async fn check(response: Response) -> CoachResult<Reply> {
    let status = response.status();
    let replayed = response.headers().get("idempotent-replayed").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if (200..300).contains(&status) {
        return Ok(Reply { status, replayed, response });
    }
    let retry_after = response.headers().get("retry-after").and_then(|v| js::parse_f64(v.trim()));
    let text = response.text().await.unwrap_or_default();
    let mut err = match js::parse_json::<coach_shared::ErrorResponse>(&text) {
        Ok(body) => {
            CoachError { status, code: body.error, message: body.message, details: body.details, retry_after: None }
        }
        Err(_) => CoachError {
            status,
            code: "http_error".into(),
            message: format!("HTTP {status}: {}", text.chars().take(200).collect::<String>()),
            details: None,
            retry_after: None,
        },
    };
    err.retry_after = retry_after;
    Err(err)
}

/// Decodes a JSON body into `T`.
pub async fn decode<T: DeserializeOwned>(reply: Reply) -> CoachResult<T> {
    let (status, text) = read_text(reply).await?;
    decode_text(status, &text)
}

/// The status and body text of a reply.
async fn read_text(reply: Reply) -> CoachResult<(u16, String)> {
    let status = reply.status;
    let text = reply.response.text().await.map_err(|e| CoachError::network(format!("the response broke off: {e}")))?;
    Ok((status, text))
}

/// Decodes a body's text into `T`; only the decoding itself is per type.
fn decode_text<T: DeserializeOwned>(status: u16, text: &str) -> CoachResult<T> {
    match js::parse_json(text) {
        Ok(v) => Ok(v),
        Err(e) => Err(contract_error(status, text, &e)),
    }
}

#[inline(never)]
fn contract_error(status: u16, text: &str, e: &str) -> CoachError {
    CoachError {
        status,
        code: "invalid_response".into(),
        message: format!("the server's answer does not match the contract: {e}"),
        details: Some(serde_json::json!({ "body": text.chars().take(500).collect::<String>() })),
        retry_after: None,
    }
}
