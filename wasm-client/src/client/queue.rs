//! The queued submissions of `CoachClient`: training data (anonymized here: the client computes
//! `hashedUserId` itself) and voice interactions go through the offline outbox, with the outbox's
//! own controls (flush, listing, dead letters).

use chrono::{DateTime, Utc};
use coach_shared::Validate;
use coach_shared::pii::PiiScanner;
use coach_shared::types::training::TrainingDataSubmission;
use coach_shared::types::voice::VoiceInteractionRequest;
use serde::Deserialize;
use wasm_bindgen::prelude::*;

use super::{CoachClient, Inner};
use crate::error::{CoachError, CoachResult};
use crate::js;
use crate::outbox::item::{self, OutboxKind, Outcome};

/// A training record as the app gives it (no `hashedUserId`; `timestamp` defaults to now).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrainingDataInput {
    exercise_type: String,
    set_number: u32,
    strain_percentage: f64,
    #[serde(default)]
    skip_reason: Option<String>,
    #[serde(default)]
    sleep_hours: Option<f64>,
    ai_response: String,
    #[serde(default)]
    context_tags: Vec<String>,
    #[serde(default)]
    timestamp: Option<DateTime<Utc>>,
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(js::now_ms() as i64).unwrap_or_else(Utc::now)
}

impl Inner {
    /// Validates and queues a voice interaction.
    pub async fn record_interaction(&self, req: &VoiceInteractionRequest) -> CoachResult<Outcome> {
        req.validate().map_err(|e| CoachError::validation(&e))?;
        let body = js::to_json(req)?;
        self.outbox().await?.submit(OutboxKind::VoiceInteraction, body).await
    }
}

#[wasm_bindgen]
impl CoachClient {
    /// Anonymizes, validates (limits, tag vocabulary, no PII — the user's own names included) and
    /// queues a training record, then sends the queue. Resolves with what happened to it.
    #[wasm_bindgen(js_name = submitTrainingData, unchecked_return_type = "OutboxOutcome<TrainingDataResponse>")]
    pub async fn submit_training_data(
        &self,
        #[wasm_bindgen(unchecked_param_type = "TrainingDataInput")] input: JsValue,
    ) -> Result<JsValue, JsValue> {
        let input: TrainingDataInput = js::from_js(input, "training data")?;
        let now = now();
        let sub = TrainingDataSubmission {
            hashed_user_id: coach_shared::hash_user_id(&self.inner.user_id),
            exercise_type: input.exercise_type,
            set_number: input.set_number,
            strain_percentage: input.strain_percentage,
            skip_reason: input.skip_reason,
            sleep_hours: input.sleep_hours,
            ai_response: input.ai_response,
            context_tags: input.context_tags,
            timestamp: input.timestamp.unwrap_or(now),
        };
        let scanner = PiiScanner::with_names(self.inner.names.iter().map(String::as_str));
        sub.validate_for(&scanner, now).map_err(|e| CoachError::validation(&e))?;
        let body = js::to_json(&sub)?;
        let outcome = self.inner.outbox().await?.submit(OutboxKind::TrainingData, body).await?;
        Ok(js::to_js(&outcome)?)
    }

    /// Validates and queues a voice interaction, then sends the queue.
    #[wasm_bindgen(js_name = recordInteraction, unchecked_return_type = "OutboxOutcome<VoiceInteraction>")]
    pub async fn record_interaction(
        &self,
        #[wasm_bindgen(unchecked_param_type = "VoiceInteractionRequest")] req: JsValue,
    ) -> Result<JsValue, JsValue> {
        let req: VoiceInteractionRequest = js::from_js(req, "interaction")?;
        Ok(js::to_js(&self.inner.record_interaction(&req).await?)?)
    }

    /// Sends what is queued now (also happens on the `online` event and after each backoff).
    #[wasm_bindgen(js_name = flushOutbox, unchecked_return_type = "FlushReport")]
    pub async fn flush_outbox(&self) -> Result<JsValue, JsValue> {
        let report = self.inner.outbox().await?.flush().await?;
        Ok(js::to_js(&report)?)
    }

    /// The queued requests, oldest first.
    #[wasm_bindgen(js_name = outboxItems, unchecked_return_type = "OutboxItem[]")]
    pub async fn outbox_items(&self) -> Result<JsValue, JsValue> {
        let outbox = self.inner.outbox().await?;
        Ok(js::to_js(&item::items(outbox.db()).await?)?)
    }

    /// Requests the server refused for good, with its error.
    #[wasm_bindgen(js_name = deadLetters, unchecked_return_type = "DeadLetter[]")]
    pub async fn dead_letters(&self) -> Result<JsValue, JsValue> {
        let outbox = self.inner.outbox().await?;
        Ok(js::to_js(&item::dead_letters(outbox.db()).await?)?)
    }

    /// Puts a dead letter back in the queue (same idempotency key); whether it existed.
    #[wasm_bindgen(js_name = retryDeadLetter)]
    pub async fn retry_dead_letter(
        &self,
        #[wasm_bindgen(js_name = idempotencyKey)] key: String,
    ) -> Result<bool, JsValue> {
        Ok(self.inner.outbox().await?.requeue(&key).await?)
    }

    /// Drops a dead letter; whether it existed.
    #[wasm_bindgen(js_name = discardDeadLetter)]
    pub async fn discard_dead_letter(
        &self,
        #[wasm_bindgen(js_name = idempotencyKey)] key: String,
    ) -> Result<bool, JsValue> {
        let outbox = self.inner.outbox().await?;
        Ok(item::take_dead_letter(outbox.db(), &key, None).await?.is_some())
    }
}
