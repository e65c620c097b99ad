//! The voice-clone upload (`POST /v1/voice/clone`, multipart `audioSamples`×3–10, `voiceName`,
//! `personality`) through `XMLHttpRequest`, the one browser API that reports upload progress
//! (fetch, and so gloo-net, cannot). Progress reaches the app through its `onProgress` callback.

use coach_shared::limits::{CLONE_SAMPLES_MAX, CLONE_SAMPLES_MIN, VOICE_NAME_MAX_CHARS};
use coach_shared::types::voice::VoiceCloneResponse;
use coach_shared::{Personality, ValidationErrors};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{FormData, ProgressEvent, XmlHttpRequest};

use crate::error::{CoachError, CoachResult};
use crate::http::Http;
use crate::js;

fn extension(mime: &str) -> &'static str {
    match mime {
        "audio/mpeg" | "audio/mp3" => "mp3",
        "audio/wav" | "audio/x-wav" | "audio/wave" => "wav",
        "audio/ogg" => "ogg",
        "audio/webm" => "webm",
        "audio/mp4" | "audio/aac" => "m4a",
        "audio/flac" => "flac",
        _ => "bin",
    }
}

/// Checks the upload's fields against the shared limits.
fn validate(samples: &[web_sys::Blob], name: &str, personality: Option<&str>) -> Result<(), ValidationErrors> {
    let mut v = ValidationErrors::default();
    if !(CLONE_SAMPLES_MIN..=CLONE_SAMPLES_MAX).contains(&samples.len()) {
        v.add("audioSamples", "out_of_range", format!("must be {CLONE_SAMPLES_MIN}–{CLONE_SAMPLES_MAX} audio files"));
    }
    for (i, s) in samples.iter().enumerate() {
        if s.size() == 0.0 {
            v.add(format!("audioSamples[{i}]"), "required", "must not be empty");
        }
    }
    v.text("voiceName", name, VOICE_NAME_MAX_CHARS);
    if let Some(p) = personality
        && Personality::parse(p).is_none()
    {
        v.add("personality", "unknown_value", "must be Alice or Aiden");
    }
    v.into_result()
}

/// Uploads the samples; resolves with the 202 body.
pub async fn upload_clone(http: &Http, upload: &JsValue) -> CoachResult<VoiceCloneResponse> {
    let samples_js = js::get(upload, "samples");
    if !js_sys::Array::is_array(&samples_js) {
        return Err(CoachError::invalid_argument("`samples` must be an array of Blobs"));
    }
    let mut samples = Vec::new();
    for s in js_sys::Array::from(&samples_js).iter() {
        samples.push(
            s.dyn_into::<web_sys::Blob>().map_err(|_| CoachError::invalid_argument("every sample must be a Blob"))?,
        );
    }
    let name = js::opt_string(upload, "voiceName")?.unwrap_or_default();
    let personality = js::opt_string(upload, "personality")?;
    validate(&samples, &name, personality.as_deref()).map_err(|e| CoachError::validation(&e))?;
    let on_progress = js::opt_function(upload, "onProgress")?;
    if !http.online() {
        return Err(CoachError::network("offline: the voice samples cannot be uploaded now"));
    }

    let form = FormData::new().map_err(|e| CoachError::new("upload_failed", js::error_message(&e)))?;
    for (i, s) in samples.iter().enumerate() {
        let file = format!("sample-{}.{}", i + 1, extension(&s.type_()));
        form.append_with_blob_and_filename("audioSamples", s, &file)
            .map_err(|e| CoachError::new("upload_failed", js::error_message(&e)))?;
    }
    let _ = form.append_with_str("voiceName", &name);
    if let Some(p) = &personality {
        let _ = form.append_with_str("personality", p);
    }

    let url = http.url("/v1/voice/clone");
    let xhr = XmlHttpRequest::new().map_err(|e| CoachError::new("upload_failed", js::error_message(&e)))?;
    xhr.open("POST", &url).map_err(|e| CoachError::invalid_argument(js::error_message(&e)))?;
    let _ = xhr.set_request_header("Accept", "application/json");
    if let Some(t) = http.token()
        && http.same_origin(&url)
    {
        let _ = xhr.set_request_header("Authorization", &format!("Bearer {t}"));
    }
    // kept alive until the request settles (dropping it would detach the handler)
    let progress = on_progress.map(|cb| {
        Closure::<dyn FnMut(ProgressEvent)>::new(move |e: ProgressEvent| {
            let total = e.total();
            let fraction = if e.length_computable() && total > 0.0 { Some(e.loaded() / total) } else { None };
            let p = serde_json::json!({ "loaded": e.loaded(), "total": total, "fraction": fraction });
            if let Ok(v) = js::to_js(&p) {
                js::call1(&cb, &v);
            }
        })
    });
    if let (Some(p), Ok(up)) = (&progress, xhr.upload()) {
        up.set_onprogress(Some(p.as_ref().unchecked_ref()));
    }
    let done = js_sys::Promise::new(&mut |resolve, reject| {
        let ok = Closure::once_into_js(move || {
            let _ = resolve.call0(&JsValue::NULL);
        });
        xhr.set_onload(Some(ok.unchecked_ref()));
        let r = reject.clone();
        let err = Closure::once_into_js(move || {
            let _ = r.call1(&JsValue::NULL, &JsValue::from_str("network error"));
        });
        xhr.set_onerror(Some(err.unchecked_ref()));
        let abort = Closure::once_into_js(move || {
            let _ = reject.call1(&JsValue::NULL, &JsValue::from_str("aborted"));
        });
        xhr.set_onabort(Some(abort.unchecked_ref()));
    });
    xhr.send_with_opt_form_data(Some(&form)).map_err(|e| CoachError::network(js::error_message(&e)))?;
    let settled = wasm_bindgen_futures::JsFuture::from(done).await;
    drop(progress);
    if let Err(e) = settled {
        return Err(CoachError::network(format!("the voice-sample upload broke off: {}", js::error_message(&e))));
    }
    let status = xhr.status().unwrap_or(0);
    let text = xhr.response_text().ok().flatten().unwrap_or_default();
    if (200..300).contains(&status) {
        return js::parse_json(&text).map_err(|e| CoachError {
            status,
            code: "invalid_response".into(),
            message: format!("the server's answer does not match the contract: {e}"),
            details: None,
            retry_after: None,
        });
    }
    let retry_after = xhr.get_response_header("retry-after").ok().flatten().and_then(|v| js::parse_f64(v.trim()));
    Err(match js::parse_json::<coach_shared::ErrorResponse>(&text) {
        Ok(b) => CoachError { status, code: b.error, message: b.message, details: b.details, retry_after },
        Err(_) => CoachError {
            status,
            code: "upload_failed".into(),
            message: format!("HTTP {status}: {}", text.chars().take(200).collect::<String>()),
            details: None,
            retry_after,
        },
    })
}
