//! Helpers shared by the browser test suites: real audio (a PCM WAV tone), Blobs and their bytes,
//! property access, unique database names, and the test server's address.

#![allow(dead_code)]

use js_sys::{Array, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// The Coach server started by `cargo xtask test` (dev mode), if any.
pub const SERVER_URL: Option<&str> = option_env!("COACH_TEST_SERVER_URL");
/// The fake voice provider outage started by `cargo xtask test` (answers 503/500), if any.
pub const FAKE_URL: Option<&str> = option_env!("COACH_TEST_FAKE_URL");

/// The server URL, or a note that the test is skipped (printed in the test output).
pub fn server() -> Option<&'static str> {
    if SERVER_URL.is_none() {
        wasm_bindgen_test::console_log!(
            "SKIPPED: COACH_TEST_SERVER_URL was not set at build time (run `cargo xtask test`)"
        );
    }
    SERVER_URL
}

/// A mono 16-bit PCM WAV of `samples` samples of a 440 Hz tone at 22050 Hz: real, playable audio.
pub fn wav(samples: usize, freq: f64) -> Vec<u8> {
    let rate = 22_050u32;
    let data_len = (samples * 2) as u32;
    let mut v = Vec::with_capacity(44 + samples * 2);
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data_len).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes()); // PCM
    v.extend_from_slice(&1u16.to_le_bytes()); // mono
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&(rate * 2).to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&16u16.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..samples {
        let t = i as f64 / rate as f64;
        let s = (t * freq * std::f64::consts::TAU).sin() * 0.4 * i16::MAX as f64;
        v.extend_from_slice(&(s as i16).to_le_bytes());
    }
    v
}

/// About `bytes` bytes of WAV audio whose content depends on `seed`.
pub fn clip(bytes: usize, seed: u32) -> Vec<u8> {
    wav(bytes.saturating_sub(44) / 2, 220.0 + f64::from(seed) * 7.0)
}

/// A Blob of `bytes` with a MIME type.
pub fn blob(bytes: &[u8], mime: &str) -> web_sys::Blob {
    let parts = Array::of1(&Uint8Array::from(bytes));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &opts).unwrap()
}

/// The bytes of a Blob.
pub async fn bytes_of(blob: &web_sys::Blob) -> Vec<u8> {
    let buf = JsFuture::from(blob.array_buffer()).await.unwrap();
    Uint8Array::new(&buf).to_vec()
}

/// A property of a JS object.
pub fn prop(obj: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// A string property.
pub fn s(obj: &JsValue, key: &str) -> String {
    prop(obj, key).as_string().unwrap_or_else(|| panic!("{key} is not a string in {obj:?}"))
}

/// A number property.
pub fn n(obj: &JsValue, key: &str) -> f64 {
    prop(obj, key).as_f64().unwrap_or_else(|| panic!("{key} is not a number in {obj:?}"))
}

/// A boolean property.
pub fn b(obj: &JsValue, key: &str) -> bool {
    prop(obj, key).as_bool().unwrap_or_else(|| panic!("{key} is not a boolean in {obj:?}"))
}

/// A plain object from JSON text.
pub fn json(text: &str) -> JsValue {
    js_sys::JSON::parse(text).unwrap()
}

/// A unique name (databases, users) so suites never see each other's data.
/// Random, spelled in letters (digit d → the d-th letter) after an underscore: a long digit run in
/// a training text reads as a phone number to the PII check, and a shared part (a timestamp) of a
/// user's id and their text as that user's own identifier; both would be refused.
pub fn unique(prefix: &str) -> String {
    let n = format!("{:012}", (js_sys::Math::random() * 1e12) as u64);
    let letters: String = n.bytes().map(|d| char::from(b'a' + (d - b'0'))).collect();
    format!("{prefix}_{letters}")
}

/// The `error` code of a rejected call.
pub fn code(err: &JsValue) -> String {
    assert!(coach_wasm::error::is_coach_error(err), "not a CoachError: {err:?}");
    s(err, "error")
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: i32) {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window().unwrap().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms).unwrap();
    });
    JsFuture::from(p).await.unwrap();
}

/// Opens `name` at `version` with a raw request (no `versionchange` handler: like an old tab that
/// never closes), running `upgrade` on upgrade.
pub async fn open_raw(
    name: &str,
    version: u32,
    upgrade: impl FnOnce(&web_sys::IdbDatabase) + 'static,
) -> web_sys::IdbDatabase {
    let factory = web_sys::window().unwrap().indexed_db().unwrap().unwrap();
    let req = factory.open_with_u32(name, version).unwrap();
    let r = req.clone();
    let on_upgrade = Closure::once_into_js(move || {
        let db: web_sys::IdbDatabase = r.result().unwrap().unchecked_into();
        upgrade(&db);
    });
    req.set_onupgradeneeded(Some(on_upgrade.unchecked_ref()));
    let r = req.clone();
    let p = js_sys::Promise::new(&mut |resolve, reject| {
        let r2 = r.clone();
        let ok = Closure::once_into_js(move || {
            let _ = resolve.call1(&JsValue::NULL, &r2.result().unwrap());
        });
        r.set_onsuccess(Some(ok.unchecked_ref()));
        let err = Closure::once_into_js(move || {
            let _ = reject.call1(&JsValue::NULL, &JsValue::from_str("open failed"));
        });
        r.set_onerror(Some(err.unchecked_ref()));
    });
    JsFuture::from(p).await.unwrap().unchecked_into()
}

/// A JS options object from key/value pairs.
pub fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        js_sys::Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    o.into()
}

/// Signs in through the server's dev-mode route (creates the user); returns the bearer token.
pub async fn dev_token(base: &str, user: &str, premium: bool, consent: bool, role: &str, name: Option<&str>) -> String {
    let body = serde_json::json!({
        "userId": user, "isPremium": premium, "dataCollectionConsent": consent, "role": role, "name": name,
    });
    let resp = gloo_net::http::Request::post(&format!("{base}/v1/dev/session"))
        .json(&body)
        .unwrap()
        .send()
        .await
        .expect("the test server answers");
    assert_eq!(resp.status(), 200, "dev session: {}", resp.text().await.unwrap_or_default());
    let v: serde_json::Value = resp.json().await.unwrap();
    v["token"].as_str().unwrap().to_string()
}

/// A `CoachClient` for `user` on `base` with its own database.
pub fn client(base: &str, user: &str, token: &str, extra: &[(&str, JsValue)]) -> coach_wasm::client::CoachClient {
    let mut pairs: Vec<(&str, JsValue)> = vec![
        ("baseUrl", base.into()),
        ("token", token.into()),
        ("userId", user.into()),
        ("retryBaseMs", 50.into()),
        ("retryMaxMs", 400.into()),
    ];
    pairs.extend(extra.iter().cloned());
    coach_wasm::client::CoachClient::new(obj(&pairs)).unwrap()
}

/// GET with a bearer token; (status, JSON body).
pub async fn get_json(url: &str, token: &str) -> (u16, serde_json::Value) {
    let resp =
        gloo_net::http::Request::get(url).header("Authorization", &format!("Bearer {token}")).send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

/// Whether the server has the voice routes (they arrive with the voice server); prints SKIPPED
/// when not, so the suites that need them say so instead of failing on a missing route.
pub async fn voice_routes(base: &str, token: &str) -> bool {
    let (status, _) = get_json(&format!("{base}/v1/voice/profile"), token).await;
    if status == 404 {
        wasm_bindgen_test::console_log!("SKIPPED: the server has no /v1/voice/profile yet");
        return false;
    }
    true
}

/// How many requests the fake outage saw for `METHOD path`.
pub async fn fake_count(fake: &str, what: &str) -> u32 {
    let url = format!("{fake}/__count?{}", what.replace(' ', "%20"));
    let resp = gloo_net::http::Request::get(&url).send().await.unwrap();
    resp.text().await.unwrap().trim().parse().unwrap()
}

/// Awaits a JS promise.
pub async fn wait(p: js_sys::Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(p).await
}

/// POSTs an outbox item's `body` to `path` once more by hand with its `Idempotency-Key`, as a
/// retry after a lost response would; asserts the server replayed the first answer and returns it.
pub async fn replay_by_hand(base: &str, path: &str, token: &str, key: &str, body: String) -> gloo_net::http::Response {
    let resp = gloo_net::http::Request::post(&format!("{base}{path}"))
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", key)
        .body(body)
        .unwrap()
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers().get("idempotent-replayed").as_deref(), Some("true"));
    resp
}
