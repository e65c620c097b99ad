//! The one error type every fallible export rejects with: a JavaScript `Error` named `CoachError`
//! that carries the HTTP `status` (0 when no response was involved), the machine-readable `error`
//! code (the server's `ErrorResponse.error`, or one of the client codes below), the `message` and
//! the `details`. The app tells errors apart by `error`, never by parsing messages.
//!
//! Client-side codes (status 0 unless noted):
//! `network_error` (no response: offline, unreachable, CORS), `invalid_response` (status of the
//! response: a body that is not what the contract promises), `invalid_argument` (a JS value of the
//! wrong shape), `validation_error` (status 400, `details.fields` exactly like the server's, checked
//! before sending), `storage_error` and `quota_exceeded` (IndexedDB; `details.name` is the
//! DOMException name), `database_blocked` (an older connection in another tab did not close),
//! `playback_failed` (`details.name`, e.g. `NotAllowedError` when autoplay is refused),
//! `upload_failed` (the clone upload did not complete).

use serde::Serialize;
use serde_json::Value;
use wasm_bindgen::prelude::*;

/// A failure as Rust code sees it; becomes a JS `CoachError` at the boundary.
#[derive(Debug, Clone, PartialEq)]
pub struct CoachError {
    /// HTTP status of the response, 0 when there was none.
    pub status: u16,
    /// Machine-readable code.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// Structured details (the server's `details`, field errors, the DOMException name...).
    pub details: Option<Value>,
    /// Seconds from a `Retry-After` header, when the server sent one.
    pub retry_after: Option<f64>,
}

/// `Result` with [`CoachError`].
pub type CoachResult<T> = Result<T, CoachError>;

impl CoachError {
    /// A client-side error (status 0).
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self { status: 0, code: code.into(), message: message.into(), details: None, retry_after: None }
    }

    /// Adds details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// No response arrived.
    pub fn network(message: impl Into<String>) -> Self {
        Self::new("network_error", message)
    }

    /// A JS argument of the wrong shape.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new("invalid_argument", message)
    }

    /// Local validation failed: same shape as the server's 400 `validation_error`.
    pub fn validation(errors: &coach_shared::ValidationErrors) -> Self {
        let fields = serde_json::to_value(&errors.0).unwrap_or(Value::Null);
        Self {
            status: 400,
            code: "validation_error".into(),
            message: format!("Invalid request: {}", errors.summary()),
            details: Some(serde_json::json!({ "fields": fields, "checkedBy": "client" })),
            retry_after: None,
        }
    }

    /// Whether no response was involved (the request may be retried as is).
    pub fn is_network(&self) -> bool {
        self.status == 0 && self.code == "network_error"
    }

    /// Whether a later retry of the same request may succeed: no response, 408, 429 or 5xx.
    pub fn is_retryable(&self) -> bool {
        self.is_network() || matches!(self.status, 408 | 429) || self.status >= 500
    }

    /// Converts into the JS error object.
    pub fn into_js(self) -> JsValue {
        let err = js_sys::Error::new(&self.message);
        err.set_name("CoachError");
        let obj: &JsValue = err.as_ref();
        let set = |k: &str, v: JsValue| {
            let _ = js_sys::Reflect::set(obj, &JsValue::from_str(k), &v);
        };
        set("status", JsValue::from(self.status));
        set("error", JsValue::from_str(&self.code));
        let details = match &self.details {
            Some(d) => crate::js::to_js(d).unwrap_or(JsValue::NULL),
            None => JsValue::NULL,
        };
        set("details", details);
        set("retryAfter", self.retry_after.map(JsValue::from).unwrap_or(JsValue::NULL));
        err.into()
    }

    /// The plain-data form (`{status, error, message, details}`) kept with dead letters.
    pub fn to_record(&self) -> ErrorRecord {
        ErrorRecord {
            status: self.status,
            error: self.code.clone(),
            message: self.message.clone(),
            details: self.details.clone(),
        }
    }
}

impl From<&ErrorRecord> for CoachError {
    fn from(r: &ErrorRecord) -> Self {
        Self {
            status: r.status,
            code: r.error.clone(),
            message: r.message.clone(),
            details: r.details.clone(),
            retry_after: None,
        }
    }
}

/// A [`CoachError`] as stored data.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ErrorRecord {
    /// HTTP status, 0 without a response.
    pub status: u16,
    /// Machine-readable code.
    pub error: String,
    /// Human-readable explanation.
    pub message: String,
    /// Structured details.
    pub details: Option<Value>,
}

impl std::fmt::Display for CoachError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl From<CoachError> for JsValue {
    fn from(e: CoachError) -> Self {
        e.into_js()
    }
}

/// Whether `value` is a `CoachError` thrown by this library.
#[wasm_bindgen(js_name = isCoachError, skip_typescript)]
pub fn is_coach_error(value: &JsValue) -> bool {
    value.is_instance_of::<js_sys::Error>()
        && js_sys::Reflect::get(value, &JsValue::from_str("name")).ok().and_then(|n| n.as_string()).as_deref()
            == Some("CoachError")
}

#[wasm_bindgen(typescript_custom_section)]
const TS_ERROR: &str = r#"
/** Every rejection of this library. `status` is the HTTP status, 0 when no response was involved. */
export interface CoachError extends Error {
  name: 'CoachError';
  status: number;
  /** Machine-readable code: the server's `error` (`premium_required`, `validation_error`, ...) or a
   *  client code (`network_error`, `invalid_response`, `invalid_argument`, `storage_error`,
   *  `quota_exceeded`, `database_blocked`, `playback_failed`, `upload_failed`). */
  error: string;
  message: string;
  /** The server's `details`, `{fields}` for validation errors, `{name}` for DOM errors. */
  details: any | null;
  /** Seconds from a `Retry-After` header, when the server sent one. */
  retryAfter: number | null;
}
/** Whether `value` is a {@link CoachError}. */
export function isCoachError(value: unknown): value is CoachError;
"#;
