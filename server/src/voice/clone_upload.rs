//! The upload half of `POST /v1/voice/clone`: the multipart body read as a stream with a
//! per-file and a total limit (413), then every sample checked by decoding it on a budget
//! ([`audio::inspect_with`]) on a blocking thread, one [`super::clone_admission::CloneGate`]
//! check turn per sample. Problems are answered 400 naming the sample (`audioSamples[2]`), all
//! together: `invalid_audio` (not audio, nothing decodable), `unsupported_audio` (rate above
//! 96 kHz, more than 2 channels, oversized packets or codebooks), `audio_too_long` (decoding
//! stopped at `COACH_CLONE_MAX_SAMPLE_SECS × min(rate, 48 kHz)` frames), `audio_too_short`,
//! `duplicate`.

use axum::extract::multipart::{Multipart, MultipartError};
use axum::http::StatusCode;
use bytes::{Bytes, BytesMut};
use coach_shared::limits::{CLONE_SAMPLES_MAX, CLONE_SAMPLES_MIN, VOICE_NAME_MAX_CHARS};
use coach_shared::{Personality, ValidationErrors};
use sha2::{Digest, Sha256};

use super::audio::{self, AudioError, DecodeBudget};
use super::pitch;
use super::provider::{CloneRequest, CloneSample};
use crate::error::{ApiResult, AppError};
use crate::state::AppState;

/// The multipart form, as received.
#[derive(Default)]
pub struct Upload {
    /// The `audioSamples` parts: bytes, file name, media type.
    samples: Vec<(Bytes, Option<String>, Option<String>)>,
    /// `voiceName`.
    voice_name: Option<String>,
    /// `personality`.
    personality: Option<String>,
}

fn too_large(message: String) -> AppError {
    AppError::Status { status: StatusCode::PAYLOAD_TOO_LARGE, code: "payload_too_large", message }
}

fn multipart_error(e: MultipartError) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large("The upload is too large".into());
    }
    AppError::BadRequest {
        code: "invalid_multipart",
        message: format!("Malformed multipart body: {}", e.body_text()),
        details: None,
    }
}

/// Reads the form, refusing a sample above `COACH_CLONE_MAX_SAMPLE_BYTES`, a text part above
/// 4 KiB and a body above `COACH_MAX_UPLOAD_BYTES` as soon as the limit is passed.
pub async fn read_upload(state: &AppState, mut mp: Multipart) -> ApiResult<Upload> {
    let (per_file, total_max) = (state.config.voice.clone_max_sample_bytes, state.config.max_upload_bytes);
    let mut up = Upload::default();
    let mut total = 0usize;
    while let Some(mut field) = mp.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or("").to_string();
        let is_sample = matches!(name.as_str(), "audioSamples" | "audioSamples[]");
        if is_sample && up.samples.len() == CLONE_SAMPLES_MAX {
            return Err(AppError::field(
                "audioSamples",
                "out_of_range",
                format!("at most {CLONE_SAMPLES_MAX} samples"),
            ));
        }
        let index = up.samples.len();
        let (file_name, content_type) =
            (field.file_name().map(str::to_string), field.content_type().map(str::to_string));
        let limit = if is_sample { per_file } else { 4096 };
        let mut buf = BytesMut::new();
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            total += chunk.len();
            if total > total_max {
                return Err(too_large(format!("The upload is larger than {total_max} bytes")));
            }
            if buf.len() + chunk.len() > limit {
                return Err(if is_sample {
                    too_large(format!("audioSamples[{index}] is larger than {per_file} bytes"))
                } else {
                    AppError::field(&name, "too_long", "is too long")
                });
            }
            buf.extend_from_slice(&chunk);
        }
        let text = || {
            String::from_utf8(buf.to_vec()).map_err(|_| AppError::field(&name, "invalid_format", "must be UTF-8 text"))
        };
        match name.as_str() {
            _ if is_sample => up.samples.push((buf.freeze(), file_name, content_type)),
            "voiceName" => up.voice_name = Some(text()?),
            "personality" => up.personality = Some(text()?),
            _ => {} // unknown parts are ignored
        }
    }
    Ok(up)
}

fn sample_name(index: usize, given: Option<&str>) -> String {
    let clean: String = given
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(64)
        .collect();
    if clean.trim_matches('.').is_empty() { format!("sample-{}", index + 1) } else { clean }
}

/// The validation error of a sample the decoder refused.
fn refusal(v: &mut ValidationErrors, field: &str, e: &AudioError) {
    let (code, message) = match e {
        AudioError::Unrecognised | AudioError::NoAudio(_) => ("invalid_audio", format!("is not usable audio: {e}")),
        AudioError::Unsupported(why) => ("unsupported_audio", format!("is not accepted: it {why}")),
        AudioError::TooLong { .. } => ("audio_too_long", format!("is too long: it {e}")),
    };
    v.add(field, code, message);
}

/// Checks the form and every sample; all problems are reported together.
pub async fn validate(state: &AppState, up: Upload) -> ApiResult<CloneRequest> {
    let mut v = ValidationErrors::default();
    let name = up.voice_name.unwrap_or_default().trim().to_string();
    v.text("voiceName", &name, VOICE_NAME_MAX_CHARS);
    let personality = match up.personality.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        None => None,
        Some(p) => {
            let parsed = Personality::parse(p);
            if parsed.is_none() {
                v.add("personality", "unknown_value", "must be Alice or Aiden");
            }
            parsed
        }
    };
    let n = up.samples.len();
    if !(CLONE_SAMPLES_MIN..=CLONE_SAMPLES_MAX).contains(&n) {
        v.add(
            "audioSamples",
            "out_of_range",
            format!("must be {CLONE_SAMPLES_MIN}–{CLONE_SAMPLES_MAX} audio files (got {n})"),
        );
        return Err(v.into());
    }
    let cfg = &state.config.voice;
    let min_secs = cfg.clone_min_sample_secs;
    // The local provider matches the speaker's pitch (30 s of mono per sample); ElevenLabs gets
    // the files themselves and needs no decoded samples kept.
    let keep_mono_secs = if state.voice.provider.name() == "local" { pitch::MAX_SECS as f64 } else { 0.0 };
    let budget =
        DecodeBudget { max_secs: cfg.clone_max_sample_secs, keep_mono_secs, mono_rate_floor: pitch::ANALYSIS_RATE };
    let mut seen: Vec<[u8; 32]> = Vec::new();
    let mut samples = Vec::with_capacity(n);
    for (i, (bytes, file_name, content_type)) in up.samples.into_iter().enumerate() {
        let field = format!("audioSamples[{i}]");
        let digest: [u8; 32] = Sha256::digest(&bytes).into();
        if seen.contains(&digest) {
            v.add(&field, "duplicate", "is the same file as an earlier sample");
            continue;
        }
        seen.push(digest);
        let ext = file_name.as_deref().and_then(|f| f.rsplit_once('.')).map(|(_, e)| e.to_ascii_lowercase());
        let probe = bytes.clone();
        let turn = state.voice.clone_gate.check().await?;
        let checked = tokio::task::spawn_blocking(move || {
            let _turn = turn;
            let info = audio::inspect_with(probe, ext.as_deref(), budget)?;
            let f0 = info.mono.as_deref().and_then(|m| pitch::median_f0(m, info.mono_rate));
            Ok::<_, AudioError>((info.duration, f0))
        })
        .await
        .unwrap_or_else(|e| {
            // A decoder that panics on crafted input refuses that input; the thread is gone,
            // the server is not.
            tracing::warn!(sample = %field, error = %e, "the audio decoder failed on a sample");
            Err(AudioError::NoAudio("the decoder could not read it".into()))
        });
        match checked {
            Err(e) => refusal(&mut v, &field, &e),
            Ok((secs, _)) if secs < min_secs => v.add(
                &field,
                "audio_too_short",
                format!("is {secs:.2} s long; at least {min_secs} s of audio is needed"),
            ),
            Ok((duration, median_f0)) => samples.push(CloneSample {
                file_name: sample_name(i, file_name.as_deref()),
                content_type: content_type
                    .filter(|c| c.starts_with("audio/"))
                    .unwrap_or("application/octet-stream".into()),
                bytes,
                duration,
                median_f0,
            }),
        }
    }
    v.into_result()?;
    Ok(CloneRequest {
        description: format!("Coach voice clone ({} samples)", samples.len()),
        name,
        personality,
        samples,
    })
}
