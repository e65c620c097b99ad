//! The direct (not queued) `/v1` calls of `CoachClient`: the user, workouts, voice preferences and
//! profile, synthesis (JSON or audio), the server's cache index, interactions listing, voice
//! cloning, and coaching. Request bodies are validated with the shared rules before anything is
//! sent; responses are decoded into the shared types, then handed to JS as plain objects.

use coach_shared::Validate;
use coach_shared::types::training::{CoachRequest, CoachResponse};
use coach_shared::types::users::{ConsentUpdate, CreateWorkoutRequest, User, WorkoutEntry};
use coach_shared::types::voice::{
    VoiceCacheClearRequest, VoiceCacheClearResponse, VoiceCacheList, VoiceCloneResponse, VoiceCloneStatus,
    VoiceInteractionsList, VoicePreferences, VoicePreferencesUpdate, VoiceProfile, VoiceSynthesisRequest,
    VoiceSynthesisResponse,
};
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;

use super::{CoachClient, Inner};
use crate::error::{CoachError, CoachResult};
use crate::http::{Method, Opts};
use crate::js;

fn path_segment(s: &str) -> String {
    String::from(js_sys::encode_uri_component(s))
}

fn validated<T: DeserializeOwned + Validate>(value: JsValue, what: &str) -> CoachResult<T> {
    let v: T = js::from_js(value, what)?;
    v.validate().map_err(|e| CoachError::validation(&e))?;
    Ok(v)
}

impl Inner {
    /// `GET /v1/voice/profile`, cached.
    pub async fn voice_profile(&self, refresh: bool) -> CoachResult<VoiceProfile> {
        if !refresh && let Some(p) = self.profile.borrow().clone() {
            return Ok(p);
        }
        let p: VoiceProfile = self.http.json(Method::Get, "/v1/voice/profile", None, Opts::default()).await?;
        *self.profile.borrow_mut() = Some(p.clone());
        Ok(p)
    }

    /// `POST /v1/voice/synthesize` (JSON answer).
    pub async fn synthesize(&self, req: &VoiceSynthesisRequest) -> CoachResult<VoiceSynthesisResponse> {
        self.http.call(Method::Post, "/v1/voice/synthesize", req).await
    }

    /// Downloads a clip from its `audioUrl` (the token goes only to the API's own origin).
    pub async fn fetch_audio(&self, url: &str) -> CoachResult<web_sys::Blob> {
        self.http.blob(Method::Get, url, None, "audio/mpeg, audio/*").await
    }
}

#[wasm_bindgen]
impl CoachClient {
    /// `GET /v1/users/me`.
    #[wasm_bindgen(js_name = getMe, unchecked_return_type = "User")]
    pub async fn get_me(&self) -> Result<JsValue, JsValue> {
        let u: User = self.inner.http.json(Method::Get, "/v1/users/me", None, Opts::default()).await?;
        Ok(js::to_js(&u)?)
    }

    /// `PUT /v1/users/me/consent`: whether anonymized training data may be collected.
    #[wasm_bindgen(js_name = setConsent, unchecked_return_type = "User")]
    pub async fn set_consent(&self, consent: bool) -> Result<JsValue, JsValue> {
        let body = ConsentUpdate { data_collection_consent: consent };
        let u: User = self.inner.http.call(Method::Put, "/v1/users/me/consent", &body).await?;
        Ok(js::to_js(&u)?)
    }

    /// `DELETE /v1/users/me`, then the local database (voice cache and outbox) of this user.
    /// Resolves with the server's answer (`null` for an empty one).
    #[wasm_bindgen(js_name = deleteMyData, unchecked_return_type = "any")]
    pub async fn delete_my_data(&self) -> Result<JsValue, JsValue> {
        let reply = self.inner.http.send(Method::Delete, "/v1/users/me", None, Opts::default()).await?;
        let text = reply.response.text().await.unwrap_or_default();
        let body = js_sys::JSON::parse(&text).unwrap_or(JsValue::NULL);
        let name = self.inner.db.borrow().as_ref().map(|d| d.name().to_string());
        self.close();
        crate::idb::Db::delete(&name.unwrap_or_else(|| crate::idb::db_name_for(&self.inner.user_id))).await?;
        Ok(body)
    }

    /// `POST /v1/workouts`: logs a set.
    #[wasm_bindgen(js_name = createWorkout, unchecked_return_type = "WorkoutEntry")]
    pub async fn create_workout(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CreateWorkoutRequest")] req: JsValue,
    ) -> Result<JsValue, JsValue> {
        let req: CreateWorkoutRequest = validated(req, "workout")?;
        let w: WorkoutEntry = self.inner.http.call(Method::Post, "/v1/workouts", &req).await?;
        Ok(js::to_js(&w)?)
    }

    /// `GET /v1/voice/preferences`.
    #[wasm_bindgen(js_name = getPreferences, unchecked_return_type = "VoicePreferences")]
    pub async fn get_preferences(&self) -> Result<JsValue, JsValue> {
        let p: VoicePreferences =
            self.inner.http.json(Method::Get, "/v1/voice/preferences", None, Opts::default()).await?;
        Ok(js::to_js(&p)?)
    }

    /// `PUT /v1/voice/preferences` (premium); the voice profile is fetched again afterwards.
    #[wasm_bindgen(js_name = updatePreferences, unchecked_return_type = "VoicePreferences")]
    pub async fn update_preferences(
        &self,
        #[wasm_bindgen(unchecked_param_type = "VoicePreferencesUpdate")] update: JsValue,
    ) -> Result<JsValue, JsValue> {
        let update: VoicePreferencesUpdate = validated(update, "preferences")?;
        let p: VoicePreferences = self.inner.http.call(Method::Put, "/v1/voice/preferences", &update).await?;
        *self.inner.profile.borrow_mut() = None;
        Ok(js::to_js(&p)?)
    }

    /// `GET /v1/voice/profile` (always fetched; `speak` keeps the latest).
    #[wasm_bindgen(js_name = getVoiceProfile, unchecked_return_type = "VoiceProfile")]
    pub async fn get_voice_profile(&self) -> Result<JsValue, JsValue> {
        Ok(js::to_js(&self.inner.voice_profile(true).await?)?)
    }

    /// The shared cache key of `text` in `tone` with the user's current voice profile.
    #[wasm_bindgen(js_name = cacheKey)]
    pub async fn cache_key(
        &self,
        text: String,
        #[wasm_bindgen(unchecked_param_type = "Tone")] tone: String,
    ) -> Result<String, JsValue> {
        let tone = coach_shared::Tone::parse(&tone)
            .ok_or_else(|| CoachError::invalid_argument("tone must be whisper, neutral or hype"))?;
        Ok(self.inner.voice_profile(false).await?.clip_key(&text, tone))
    }

    /// `POST /v1/voice/synthesize` (premium): the clip's URL and metadata.
    #[wasm_bindgen(unchecked_return_type = "VoiceSynthesisResponse")]
    pub async fn synthesize(
        &self,
        #[wasm_bindgen(unchecked_param_type = "VoiceSynthesisRequest")] req: JsValue,
    ) -> Result<JsValue, JsValue> {
        let req: VoiceSynthesisRequest = validated(req, "synthesis request")?;
        Ok(js::to_js(&self.inner.synthesize(&req).await?)?)
    }

    /// `POST /v1/voice/synthesize` with `Accept: audio/mpeg`: the audio itself.
    #[wasm_bindgen(js_name = synthesizeAudio)]
    pub async fn synthesize_audio(
        &self,
        #[wasm_bindgen(unchecked_param_type = "VoiceSynthesisRequest")] req: JsValue,
    ) -> Result<web_sys::Blob, JsValue> {
        let req: VoiceSynthesisRequest = validated(req, "synthesis request")?;
        let body = js::to_json(&req)?;
        Ok(self.inner.http.blob(Method::Post, "/v1/voice/synthesize", Some(&body), "audio/mpeg").await?)
    }

    /// Downloads a clip by its `audioUrl`.
    #[wasm_bindgen(js_name = fetchAudio)]
    pub async fn fetch_audio(&self, url: String) -> Result<web_sys::Blob, JsValue> {
        Ok(self.inner.fetch_audio(&url).await?)
    }

    /// `GET /v1/voice/cache`: the server's index of the user's clips.
    #[wasm_bindgen(js_name = listCachedClips, unchecked_return_type = "VoiceCacheList")]
    pub async fn list_cached_clips(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "{ context?: string; tone?: Tone }")] filter: JsValue,
    ) -> Result<JsValue, JsValue> {
        let mut query = Vec::new();
        for key in ["context", "tone"] {
            if let Some(v) = js::opt_string(&filter, key)? {
                query.push(format!("{key}={}", path_segment(&v)));
            }
        }
        let path = if query.is_empty() {
            "/v1/voice/cache".to_string()
        } else {
            format!("/v1/voice/cache?{}", query.join("&"))
        };
        let list: VoiceCacheList = self.inner.http.json(Method::Get, &path, None, Opts::default()).await?;
        Ok(js::to_js(&list)?)
    }

    /// `DELETE /v1/voice/cache`: clears entries of the server's index (criteria combine with OR).
    #[wasm_bindgen(js_name = clearCachedClips, unchecked_return_type = "VoiceCacheClearResponse")]
    pub async fn clear_cached_clips(
        &self,
        #[wasm_bindgen(unchecked_param_type = "VoiceCacheClearRequest")] req: JsValue,
    ) -> Result<JsValue, JsValue> {
        let req: VoiceCacheClearRequest = validated(req, "clear request")?;
        let body = js::to_json(&req)?;
        let r: VoiceCacheClearResponse =
            self.inner.http.json(Method::Delete, "/v1/voice/cache", Some(&body), Opts::default()).await?;
        Ok(js::to_js(&r)?)
    }

    /// `GET /v1/voice/cache/{cacheId}`: a cached clip's audio.
    #[wasm_bindgen(js_name = getCachedClip)]
    pub async fn get_cached_clip(
        &self,
        #[wasm_bindgen(js_name = cacheId)] cache_id: String,
    ) -> Result<web_sys::Blob, JsValue> {
        let path = format!("/v1/voice/cache/{}", path_segment(&cache_id));
        Ok(self.inner.http.blob(Method::Get, &path, None, "audio/mpeg, audio/*").await?)
    }

    /// `DELETE /v1/voice/cache/{cacheId}`.
    #[wasm_bindgen(js_name = deleteCachedClip)]
    pub async fn delete_cached_clip(&self, #[wasm_bindgen(js_name = cacheId)] cache_id: String) -> Result<(), JsValue> {
        let path = format!("/v1/voice/cache/{}", path_segment(&cache_id));
        self.inner.http.send(Method::Delete, &path, None, Opts::default()).await?;
        Ok(())
    }

    /// `GET /v1/voice/interactions/workout/{workoutId}`.
    #[wasm_bindgen(js_name = listInteractions, unchecked_return_type = "VoiceInteractionsList")]
    pub async fn list_interactions(
        &self,
        #[wasm_bindgen(js_name = workoutId)] workout_id: String,
    ) -> Result<JsValue, JsValue> {
        let path = format!("/v1/voice/interactions/workout/{}", path_segment(&workout_id));
        let list: VoiceInteractionsList = self.inner.http.json(Method::Get, &path, None, Opts::default()).await?;
        Ok(js::to_js(&list)?)
    }

    /// `POST /v1/voice/clone` (premium, multipart): uploads 3–10 samples, reporting progress.
    #[wasm_bindgen(js_name = uploadVoiceClone, unchecked_return_type = "VoiceCloneResponse")]
    pub async fn upload_voice_clone(
        &self,
        #[wasm_bindgen(unchecked_param_type = "VoiceCloneUpload")] upload: JsValue,
    ) -> Result<JsValue, JsValue> {
        let r: VoiceCloneResponse = crate::upload::upload_clone(&self.inner.http, &upload).await?;
        Ok(js::to_js(&r)?)
    }

    /// `GET /v1/voice/clone/status`.
    #[wasm_bindgen(js_name = getCloneStatus, unchecked_return_type = "VoiceCloneStatus")]
    pub async fn get_clone_status(&self) -> Result<JsValue, JsValue> {
        let s: VoiceCloneStatus =
            self.inner.http.json(Method::Get, "/v1/voice/clone/status", None, Opts::default()).await?;
        Ok(js::to_js(&s)?)
    }

    /// `POST /v1/ai/coach`: the coach's line for a workout context.
    #[wasm_bindgen(unchecked_return_type = "CoachResponse")]
    pub async fn coach(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CoachRequest")] req: JsValue,
    ) -> Result<JsValue, JsValue> {
        let req: CoachRequest = validated(req, "coach request")?;
        let r: CoachResponse = self.inner.http.call(Method::Post, "/v1/ai/coach", &req).await?;
        Ok(js::to_js(&r)?)
    }
}
