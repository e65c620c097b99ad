//! `CoachClient.speak(text, {tone, context})`: cache-first speech.
//!
//! 1. The voice profile (`GET /v1/voice/profile`, kept in memory and in IndexedDB so it is known
//!    offline too) gives the clip's shared cache key — the key the server uses.
//! 2. IndexedDB hit → play at once. Miss → `POST /v1/voice/synthesize` → download `audioUrl` →
//!    store (random rotation) → play.
//! 3. The server cannot speak (503 `voice_unavailable`), the user is not premium (403), voice is
//!    off, the browser is offline with nothing cached, or playback is refused → resolves with
//!    `{spoken: false, text, reason}` for the app's text-only fallback. Only unexpected failures
//!    (a 400, a broken contract) reject.
//!
//! Tone: with `toneAdaptation` on (and no `forceTone`), the shared tone rule reads the context
//! label; a context that implies whisper or hype wins, otherwise the requested tone stays. The
//! request then carries `forceTone: true`, so the server synthesizes exactly the tone whose key
//! the browser looked up.

use coach_shared::types::voice::{VoiceInteractionRequest, VoiceProfile, VoiceSynthesisRequest};
use coach_shared::{Personality, Tone, ToneContext};
use rexie::TransactionMode;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use crate::cache::record::ClipInput;
use crate::client::{CoachClient, Inner};
use crate::error::{CoachError, CoachResult};
use crate::idb::schema::META;
use crate::idb::{commit, rexie_error};
use crate::js;

/// `speak`'s options.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpeakOptions {
    tone: Tone,
    #[serde(default)]
    context: String,
    #[serde(default)]
    personality: Option<Personality>,
    #[serde(default)]
    force_tone: bool,
    #[serde(default)]
    workout_entry_id: Option<String>,
    #[serde(default = "yes")]
    play: bool,
}

fn yes() -> bool {
    true
}

/// What `speak` did (see `SpeakResult` in the TypeScript declarations).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct SpeakResult {
    spoken: bool,
    text: String,
    reason: Option<String>,
    cached: bool,
    tone: Tone,
    cache_key: Option<String>,
    playback_latency: Option<f64>,
    generation_latency: Option<f64>,
    duration: Option<f64>,
}

impl SpeakResult {
    fn fallback(text: &str, tone: Tone, reason: &str, key: Option<String>) -> Self {
        SpeakResult {
            spoken: false,
            text: text.to_string(),
            reason: Some(reason.to_string()),
            cached: false,
            tone,
            cache_key: key,
            playback_latency: None,
            generation_latency: None,
            duration: None,
        }
    }
}

/// Server answers that mean "show the text instead", with the reason `speak` reports.
fn fallback_reason(e: &CoachError) -> Option<&'static str> {
    match (e.status, e.code.as_str()) {
        (_, "network_error") => Some("offline"),
        (503, _) => Some("voice_unavailable"),
        (403, "premium_required") => Some("premium_required"),
        _ => None,
    }
}

/// The tone to speak in (see the module docs).
fn effective_tone(profile: &VoiceProfile, requested: Tone, context: &str, force: bool) -> Tone {
    if !profile.tone_adaptation || force || context.is_empty() {
        return requested;
    }
    match coach_shared::choose_tone(&ToneContext { strain: None, tags: &[], label: Some(context) }) {
        Tone::Neutral => requested,
        adapted => adapted,
    }
}

const PROFILE_ID: &str = "voiceProfile";

impl Inner {
    /// The profile: in memory, else from the server (saved locally), else the saved copy.
    async fn profile_for_speech(&self) -> CoachResult<VoiceProfile> {
        if let Some(p) = self.profile.borrow().clone() {
            return Ok(p);
        }
        let cache = self.cache().await?;
        match self.voice_profile(true).await {
            Ok(p) => {
                let tx = cache.db.transaction(&[META], TransactionMode::ReadWrite).await?;
                let meta = tx.store(META).map_err(|e| rexie_error("store", &e))?;
                let mut rec = serde_json::to_value(&p).unwrap_or_default();
                rec["id"] = PROFILE_ID.into();
                meta.put(&js::to_js(&rec)?, None).await.map_err(|e| rexie_error("save profile", &e))?;
                commit(tx, "save profile").await?;
                Ok(p)
            }
            Err(e) if e.is_network() => {
                let tx = cache.db.transaction(&[META], TransactionMode::ReadOnly).await?;
                let meta = tx.store(META).map_err(|e| rexie_error("store", &e))?;
                let saved =
                    meta.get(JsValue::from_str(PROFILE_ID)).await.map_err(|e| rexie_error("read profile", &e))?;
                match saved.and_then(|v| js::decode::<VoiceProfile>(&v)) {
                    Some(p) => Ok(p),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn speak(&self, text: &str, opts: &SpeakOptions, t0: f64) -> CoachResult<SpeakResult> {
        let mut check = coach_shared::ValidationErrors::default();
        check.text("text", text, coach_shared::limits::MAX_TEXT_CHARS);
        check.into_result().map_err(|e| CoachError::validation(&e))?;

        let profile = match self.profile_for_speech().await {
            Ok(p) => p,
            Err(e) => match fallback_reason(&e) {
                Some(reason) => return Ok(SpeakResult::fallback(text, opts.tone, reason, None)),
                None => return Err(e),
            },
        };
        let tone = effective_tone(&profile, opts.tone, &opts.context, opts.force_tone);
        if !profile.voice_enabled {
            return Ok(SpeakResult::fallback(text, tone, "voice_disabled", None));
        }
        let cache = self.cache().await?;
        // another personality has another voice: its key is known only once the server answers
        let local_key = match opts.personality {
            Some(p) if p != profile.personality => None,
            _ => Some(profile.clip_key(text, tone)),
        };
        if let Some(key) = &local_key
            && let Some(hit) = cache.get(key).await?
        {
            return self
                .finish(text, opts, tone, key.clone(), hit.audio, true, None, Some(hit.record.duration), t0)
                .await;
        }
        if !self.http.online() {
            return Ok(SpeakResult::fallback(text, tone, "offline", local_key));
        }
        let req = VoiceSynthesisRequest {
            text: text.to_string(),
            tone,
            context: opts.context.clone(),
            enable_caching: true,
            personality: opts.personality,
            force_tone: true,
        };
        let synth = match self.synthesize(&req).await {
            Ok(s) => s,
            Err(e) => {
                return match fallback_reason(&e) {
                    Some(reason) => {
                        let shown =
                            e.details.as_ref().and_then(|d| d.get("text")).and_then(|t| t.as_str()).unwrap_or(text);
                        Ok(SpeakResult::fallback(shown, tone, reason, local_key))
                    }
                    None => Err(e),
                };
            }
        };
        if local_key.as_deref().is_some_and(|k| k != synth.cache_key) {
            // our profile is stale (preferences changed elsewhere): fetch it again next time
            *self.profile.borrow_mut() = None;
            if let Some(hit) = cache.peek(&synth.cache_key).await? {
                return self
                    .finish(text, opts, synth.tone, synth.cache_key, hit.audio, true, None, Some(synth.duration), t0)
                    .await;
            }
        }
        let audio = match self.fetch_audio(&synth.audio_url).await {
            Ok(a) => a,
            Err(e) if fallback_reason(&e).is_some() => {
                return Ok(SpeakResult::fallback(
                    text,
                    synth.tone,
                    fallback_reason(&e).unwrap_or("offline"),
                    Some(synth.cache_key),
                ));
            }
            Err(e) => return Err(e),
        };
        let input = ClipInput {
            text: Some(text.to_string()),
            tone: synth.tone,
            context: opts.context.clone(),
            duration: synth.duration,
            generated_at: None,
            expires_at: None,
            cache_id: synth.cache_id.clone(),
        };
        if let Err(e) = cache.put(&synth.cache_key, &audio, &input).await {
            js::web_sys_log(&format!("coach-wasm: the clip plays but could not be cached: {e}"));
        }
        let gen_latency = Some(synth.generation_latency);
        self.finish(text, opts, synth.tone, synth.cache_key, audio, false, gen_latency, Some(synth.duration), t0).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        text: &str,
        opts: &SpeakOptions,
        tone: Tone,
        key: String,
        audio: web_sys::Blob,
        cached: bool,
        generation_latency: Option<f64>,
        duration: Option<f64>,
        t0: f64,
    ) -> CoachResult<SpeakResult> {
        let mut result = SpeakResult {
            spoken: false,
            text: text.to_string(),
            reason: Some("not_played".into()),
            cached,
            tone,
            cache_key: Some(key),
            playback_latency: None,
            generation_latency,
            duration,
        };
        if opts.play {
            match self.player.play_from(&audio, t0).await {
                Ok(p) => {
                    result.spoken = true;
                    result.reason = None;
                    result.playback_latency = Some(p.playback_latency);
                    if p.duration.is_finite() {
                        result.duration = Some(p.duration);
                    }
                }
                Err(e) => {
                    js::web_sys_log(&format!("coach-wasm: {e}"));
                    result.reason = Some("playback_failed".into());
                }
            }
        }
        Ok(result)
    }
}

#[wasm_bindgen]
impl CoachClient {
    /// Speaks a coaching line, cache first; resolves with what happened (never rejects for an
    /// outage: `{spoken: false, text, reason}` is the text-only fallback).
    #[wasm_bindgen(unchecked_return_type = "SpeakResult")]
    pub async fn speak(
        &self,
        text: String,
        #[wasm_bindgen(unchecked_param_type = "SpeakOptions")] options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let t0 = js::perf_now();
        let opts: SpeakOptions = js::from_js(options, "speak options")?;
        let result = self.inner.speak(&text, &opts, t0).await?;
        if let Some(workout) = &opts.workout_entry_id {
            let interaction = VoiceInteractionRequest {
                workout_entry_id: workout.clone(),
                ai_response_text: result.text.clone(),
                voice_tone: result.tone,
                was_voice_played: result.spoken,
                was_cached: result.cached,
                generation_latency: result.generation_latency,
                playback_latency: result.playback_latency,
            };
            if let Err(e) = self.inner.record_interaction(&interaction).await {
                js::web_sys_log(&format!("coach-wasm: the voice interaction was not recorded: {e}"));
            }
        }
        Ok(js::to_js(&result)?)
    }
}
