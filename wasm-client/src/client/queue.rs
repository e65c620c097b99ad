//! The queued submissions of `CoachClient`: logged sets (with the interaction to record once the
//! set exists), training data (anonymized here: the client computes `hashedUserId` itself) and voice
//! interactions go through the offline outbox, with the outbox's own controls (flush, listing, dead
//! letters, the listener of deliveries nobody awaited).

use chrono::{DateTime, Utc};
use coach_shared::Validate;
use coach_shared::pii::PiiScanner;
use coach_shared::types::training::TrainingDataSubmission;
use coach_shared::types::users::CreateWorkoutRequest;
use coach_shared::types::voice::VoiceInteractionRequest;
use serde::Deserialize;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use super::{CoachClient, Inner};
use crate::error::{CoachError, CoachResult};
use crate::js;
use crate::outbox::item::{self, FollowUp, InteractionTemplate, OutboxItem, OutboxKind, Outcome};

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

/// The options of `logSet`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogSetOptions {
    /// The key an earlier `logSet` of the same set answered with (to add a follow-up or meta).
    #[serde(default)]
    idempotency_key: Option<String>,
    /// The voice interaction to record once the set exists.
    #[serde(default)]
    interaction: Option<InteractionTemplate>,
    /// App data handed back with the delivery.
    #[serde(default)]
    meta: Option<serde_json::Value>,
}

/// The server's rule for `Idempotency-Key`: 1–255 visible ASCII characters.
fn valid_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic())
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

    /// Logs a set (`POST /v1/workouts`) through the outbox: sent at once when online (resolves
    /// `sent` with the new `WorkoutEntry`), kept when offline or when the server cannot be reached
    /// (`queued`, with the idempotency key it will be sent with). `interaction` is recorded once
    /// the set exists, with its id. Calling again with the `idempotencyKey` of a queued set adds
    /// its interaction (or meta) afterwards; if the set went out meanwhile it is sent again with
    /// the same key, the server answers with the same entry, and the interaction follows. A set
    /// the server refuses (a 4xx) rejects with its error and is not kept.
    #[wasm_bindgen(js_name = logSet, unchecked_return_type = "OutboxOutcome<WorkoutEntry>")]
    pub async fn log_set(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CreateWorkoutRequest")] req: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "LogSetOptions")] options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let req: CreateWorkoutRequest = js::from_js(req, "workout")?;
        req.validate().map_err(|e| CoachError::validation(&e))?;
        let opts: LogSetOptions = if options.is_undefined() || options.is_null() {
            LogSetOptions::default()
        } else {
            js::from_js(options, "options")?
        };
        if let Some(k) = &opts.idempotency_key
            && !valid_key(k)
        {
            return Err(CoachError::invalid_argument("`idempotencyKey` must be 1–255 visible ASCII characters").into());
        }
        if let Some(t) = &opts.interaction {
            t.validate()?;
        }
        let body = serde_json::to_string(&req).map_err(|e| CoachError::invalid_argument(e.to_string()))?;
        let upsert = opts.idempotency_key.is_some();
        let mut item = OutboxItem::new(OutboxKind::Workout, body, opts.idempotency_key, js::now_ms());
        item.follow_up =
            opts.interaction.map(|interaction| FollowUp { idempotency_key: crate::rand::uuid_v4(), interaction });
        item.meta = opts.meta;
        let outbox = self.inner.outbox().await?;
        let outcome = if upsert { outbox.upsert(item).await? } else { outbox.submit_item(item).await? };
        if let Outcome::Rejected { idempotency_key, error } = &outcome {
            // the caller hears of the refusal now: nothing to keep in the dead letters
            item::take_dead_letter(outbox.db(), idempotency_key, None).await?;
            return Err(CoachError::from(error).into());
        }
        Ok(js::to_js(&outcome)?)
    }

    /// Registers the function that hears of queued items delivered (or refused) by a flush no call
    /// was waiting for — a set logged offline and sent after a reconnect or a reload. Deliveries
    /// made before it was registered are handed to it first. `null` removes it.
    #[wasm_bindgen(js_name = setOutboxListener)]
    pub fn set_outbox_listener(
        &self,
        #[wasm_bindgen(unchecked_param_type = "((delivery: OutboxDelivery) => void) | null")] listener: JsValue,
    ) -> Result<(), JsValue> {
        let f = if listener.is_undefined() || listener.is_null() {
            None
        } else {
            Some(
                listener
                    .dyn_into::<js_sys::Function>()
                    .map_err(|_| CoachError::invalid_argument("the listener must be a function"))?,
            )
        };
        self.inner.notices.set_listener(f);
        Ok(())
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
