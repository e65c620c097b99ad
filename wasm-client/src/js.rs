//! Small bridges between Rust and the browser: serde ⇄ plain JS objects, clocks, timers, option
//! bags and the global scope. Everything else in the crate goes through these.

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::error::{CoachError, CoachResult};

/// How Rust values become JS values: plain objects for maps, `null` for `None` and `()`, numbers
/// (never BigInt) for integers — the shapes a JSON round trip gave, without the JSON text.
fn serializer() -> serde_wasm_bindgen::Serializer {
    serde_wasm_bindgen::Serializer::json_compatible()
}

/// A serde value as a plain JS object (`serde-wasm-bindgen`; dates are ISO strings, `None` is
/// `null`).
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> CoachResult<JsValue> {
    value.serialize(&serializer()).map_err(to_js_error)
}

// The error paths of the generic bridges are out of line and non-generic, so each serde type adds
// only its (de)serializer to the package, not another copy of the message formatting.
#[inline(never)]
fn to_js_error(e: serde_wasm_bindgen::Error) -> CoachError {
    CoachError::new("invalid_response", format!("could not convert to JS: {e}"))
}

#[inline(never)]
fn from_js_error(what: &str, e: serde_wasm_bindgen::Error) -> CoachError {
    CoachError::invalid_argument(format!("{what}: {e}"))
}

/// A JS value as a serde type; `what` names the argument in the error. A key set to `undefined`
/// counts as absent (as it did when arguments went through `JSON.stringify`), so
/// `{ forceTone: undefined }` takes the default instead of failing.
pub fn from_js<T: DeserializeOwned>(value: JsValue, what: &str) -> CoachResult<T> {
    match serde_wasm_bindgen::from_value(without_undefined(value)) {
        Ok(v) => Ok(v),
        Err(e) => Err(from_js_error(what, e)),
    }
}

/// `value` without its `undefined`-valued own keys (one level: the option bags callers build).
fn without_undefined(value: JsValue) -> JsValue {
    if !value.is_object() || js_sys::Array::is_array(&value) {
        return value;
    }
    let entries = js_sys::Object::entries(value.unchecked_ref());
    if !entries.iter().any(|e| js_sys::Array::from(&e).get(1).is_undefined()) {
        return value;
    }
    let out = js_sys::Object::new();
    for e in entries.iter() {
        let pair = js_sys::Array::from(&e);
        let v = pair.get(1);
        if !v.is_undefined() {
            let _ = js_sys::Reflect::set(&out, &pair.get(0), &v);
        }
    }
    out.into()
}

/// A stored record as a serde type, `None` when it does not have that shape (a record written by a
/// newer version is skipped, not fatal).
pub fn decode<T: DeserializeOwned>(value: &JsValue) -> Option<T> {
    serde_wasm_bindgen::from_value(value.clone()).ok()
}

/// The JSON text of a serde value (request bodies, the outbox's stored bodies): `JSON.stringify`
/// of its JS form, so the package carries no JSON writer of its own.
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> CoachResult<String> {
    stringify(&to_js(value)?)
}

/// `JSON.stringify` of a JS value.
#[inline(never)]
fn stringify(js: &JsValue) -> CoachResult<String> {
    let text = js_sys::JSON::stringify(js).map_err(|e| CoachError::invalid_argument(error_message(&e)))?;
    Ok(text.as_string().unwrap_or_else(|| "null".into()))
}

/// Parses JSON text into a serde type (`JSON.parse`, then [`from_js`]'s conversion); the error is
/// the parser's or the shape's message.
pub fn parse_json<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    match serde_wasm_bindgen::from_value(parse(text)?) {
        Ok(v) => Ok(v),
        Err(e) => Err(error_string(e)),
    }
}

/// `JSON.parse`, the parser's message as the error.
#[inline(never)]
fn parse(text: &str) -> Result<JsValue, String> {
    js_sys::JSON::parse(text).map_err(|e| error_message(&e))
}

#[inline(never)]
fn error_string(e: serde_wasm_bindgen::Error) -> String {
    e.to_string()
}

/// Milliseconds since the epoch.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// A monotonic clock in milliseconds (`performance.now()`), for latencies.
pub fn perf_now() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or_else(now_ms)
}

/// The window; every part of this library runs on the main thread.
pub fn window() -> CoachResult<web_sys::Window> {
    web_sys::window().ok_or_else(|| CoachError::new("unsupported", "this library needs a browser window"))
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: f64) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms.max(0.0) as i32);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Reads `key` of an options object (`undefined` when `obj` is not an object).
pub fn get(obj: &JsValue, key: &str) -> JsValue {
    if obj.is_object() {
        js_sys::Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

/// An optional string option.
pub fn opt_string(obj: &JsValue, key: &str) -> CoachResult<Option<String>> {
    let v = get(obj, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.as_string().map(Some).ok_or_else(|| CoachError::invalid_argument(format!("`{key}` must be a string")))
}

/// An optional number option.
pub fn opt_f64(obj: &JsValue, key: &str) -> CoachResult<Option<f64>> {
    let v = get(obj, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.as_f64()
        .filter(|n| n.is_finite())
        .map(Some)
        .ok_or_else(|| CoachError::invalid_argument(format!("`{key}` must be a number")))
}

/// An optional boolean option.
pub fn opt_bool(obj: &JsValue, key: &str) -> CoachResult<Option<bool>> {
    let v = get(obj, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.as_bool().map(Some).ok_or_else(|| CoachError::invalid_argument(format!("`{key}` must be a boolean")))
}

/// An optional function option.
pub fn opt_function(obj: &JsValue, key: &str) -> CoachResult<Option<js_sys::Function>> {
    let v = get(obj, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.dyn_into::<js_sys::Function>()
        .map(Some)
        .map_err(|_| CoachError::invalid_argument(format!("`{key}` must be a function")))
}

/// Calls a user callback, swallowing (and logging) what it throws: a broken callback must not break
/// the library's own work.
pub fn call1(f: &js_sys::Function, arg: &JsValue) {
    if let Err(e) = f.call1(&JsValue::NULL, arg) {
        web_sys_log(&format!("coach-wasm: a callback threw: {e:?}"));
    }
}

/// `console.warn`.
pub fn web_sys_log(msg: &str) {
    let console = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("console")).unwrap_or(JsValue::UNDEFINED);
    if let Ok(warn) = js_sys::Reflect::get(&console, &JsValue::from_str("warn"))
        && let Ok(f) = warn.dyn_into::<js_sys::Function>()
    {
        let _ = f.call1(&console, &JsValue::from_str(msg));
    }
}

/// The name of a DOMException/Error value (`NotAllowedError`, `QuotaExceededError`...).
pub fn error_name(e: &JsValue) -> String {
    js_sys::Reflect::get(e, &JsValue::from_str("name"))
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_else(|| "Error".into())
}

/// The message of an Error value, or its string form.
pub fn error_message(e: &JsValue) -> String {
    js_sys::Reflect::get(e, &JsValue::from_str("message"))
        .ok()
        .and_then(|n| n.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

/// A string property of an object, if present.
pub fn string_field(obj: &JsValue, key: &str) -> Option<String> {
    get(obj, key).as_string()
}

/// `s.parse::<f64>()` without Rust's float parser in the package: the same grammar (an optional
/// sign, then `inf`, `infinity`, `nan` in any case, or digits with an optional `.` and exponent),
/// checked here, and the conversion by `parseFloat` (correctly rounded, as Rust's). Used for
/// `Retry-After`.
pub fn parse_f64(s: &str) -> Option<f64> {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let negative = s.starts_with('-');
    let special = |v: f64| Some(if negative { -v } else { v });
    if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
        return special(f64::INFINITY);
    }
    if unsigned.eq_ignore_ascii_case("nan") {
        return special(f64::NAN);
    }
    let b = unsigned.as_bytes();
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let int = digits(0);
    let mut i = int;
    let mut frac = 0;
    if b.get(i) == Some(&b'.') {
        frac = digits(i + 1);
        i += 1 + frac;
    }
    if int + frac == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp = digits(i);
        if exp == 0 {
            return None;
        }
        i += exp;
    }
    (i == b.len()).then(|| js_sys::Number::parse_float(s))
}
