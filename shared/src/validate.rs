//! Field-level validation of request bodies against [`crate::limits`].
//!
//! Every request type implements [`Validate`]; a failure lists each offending field with a code
//! and a message, which the server renders as a 400 `validation_error` (details `fields`) and the
//! browser library surfaces before anything is sent.

use serde::{Deserialize, Serialize};

use crate::anonymize::is_hashed_user_id;
use crate::limits::*;
use crate::pii::PiiScanner;
use crate::tags::is_known_tag;
use crate::types::training::*;
use crate::types::users::*;
use crate::types::voice::*;

/// One invalid field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// The field's wire name (camelCase; `contextTags[2]` for list items).
    pub field: String,
    /// Machine-readable reason: `required`, `too_long`, `out_of_range`, `invalid_format`,
    /// `unknown_value`, `pii_detected`.
    pub code: String,
    /// Human-readable reason.
    pub message: String,
}

/// All invalid fields of a request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// Records an invalid field.
    pub fn add(&mut self, field: impl Into<String>, code: &str, message: impl Into<String>) {
        self.0.push(FieldError { field: field.into(), code: code.into(), message: message.into() });
    }

    /// `Ok(())` when nothing was recorded.
    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    /// One line naming every field, for the error message.
    pub fn summary(&self) -> String {
        self.0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
    }

    /// Checks a required text: not blank, at most `max` characters, no control characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.add(field, "required", "must not be empty");
        } else {
            self.optional_text(field, value, max);
        }
    }

    /// Checks an optional text: at most `max` characters, no control characters.
    pub fn optional_text(&mut self, field: &str, value: &str, max: usize) {
        let n = value.chars().count();
        if n > max {
            self.add(field, "too_long", format!("must be at most {max} characters (got {n})"));
        } else if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            self.add(field, "invalid_format", "must not contain control characters");
        }
    }

    /// Checks a number is finite and within `min..=max`.
    pub fn range(&mut self, field: &str, value: f64, min: f64, max: f64) {
        if !value.is_finite() || value < min || value > max {
            self.add(field, "out_of_range", format!("must be between {min} and {max}"));
        }
    }

    /// Checks an integer is within `min..=max`.
    pub fn int_range(&mut self, field: &str, value: u64, min: u64, max: u64) {
        if value < min || value > max {
            self.add(field, "out_of_range", format!("must be between {min} and {max}"));
        }
    }

    /// Checks an identifier-like value: 1..=max characters of `[a-z0-9_]`.
    pub fn slug(&mut self, field: &str, value: &str, max: usize) {
        if value.is_empty()
            || value.len() > max
            || !value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            self.add(field, "invalid_format", format!("must be 1–{max} characters of a-z, 0-9 and _"));
        }
    }

    /// Checks a free-text field for PII.
    pub fn no_pii(&mut self, field: &str, value: &str, scanner: &PiiScanner) {
        if let Some(m) = scanner.find(value) {
            self.add(
                field,
                "pii_detected",
                format!("must not contain personal information (found {})", m.kind.describe()),
            );
        }
    }
}

impl std::fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.summary())
    }
}

impl std::error::Error for ValidationErrors {}

/// A request body that can check itself.
pub trait Validate {
    /// Checks every field; the error lists all invalid ones.
    fn validate(&self) -> Result<(), ValidationErrors>;
}

/// Checks a user id: 1–128 characters of `[A-Za-z0-9._:@-]`.
pub fn is_valid_user_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= USER_ID_MAX_CHARS
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:@-".contains(&b))
}

/// A pragmatic email check: one `@`, a non-empty local part, a dotted domain.
pub fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    email.len() <= EMAIL_MAX_CHARS
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn email_and_name(v: &mut ValidationErrors, email: Option<&str>, name: Option<&str>) {
    if let Some(e) = email
        && !is_valid_email(e)
    {
        v.add("email", "invalid_format", "must be a valid email address");
    }
    if let Some(n) = name {
        v.text("name", n, DISPLAY_NAME_MAX_CHARS);
    }
}

impl Validate for CreateUserRequest {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = ValidationErrors::default();
        if !is_valid_user_id(&self.id) {
            v.add("id", "invalid_format", "must be 1–128 characters of A-Z a-z 0-9 . _ : @ -");
        }
        email_and_name(&mut v, Some(&self.email), self.name.as_deref());
        v.into_result()
    }
}

impl Validate for UpdateUserRequest {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = ValidationErrors::default();
        email_and_name(&mut v, self.email.as_deref(), self.name.as_deref());
        v.into_result()
    }
}

impl Validate for TokenRequest {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = ValidationErrors::default();
        if !is_valid_user_id(&self.user_id) {
            v.add("userId", "invalid_format", "must be a valid user id");
        }
        if let Some(ttl) = self.ttl_seconds
            && !(60..=TOKEN_TTL_MAX_SECS).contains(&ttl)
        {
            v.add("ttlSeconds", "out_of_range", format!("must be between 60 and {TOKEN_TTL_MAX_SECS}"));
        }
        v.into_result()
    }
}

impl Validate for ConsentUpdate {
    fn validate(&self) -> Result<(), ValidationErrors> {
        Ok(())
    }
}

impl Validate for CreateWorkoutRequest {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = ValidationErrors::default();
        v.slug("exerciseType", &self.exercise_type, EXERCISE_TYPE_MAX_CHARS);
        v.int_range("setNumber", self.set_number.into(), SET_NUMBER_MIN.into(), SET_NUMBER_MAX.into());
        v.range("weight", self.weight, 0.0, WEIGHT_MAX);
        v.int_range("reps", self.reps.into(), 0, REPS_MAX.into());
        v.range("perceivedExertion", self.perceived_exertion, 0.0, RPE_MAX);
        if let Some(s) = self.strain_percentage {
            v.range("strainPercentage", s, STRAIN_MIN, STRAIN_MAX);
        }
        if let Some(s) = self.sleep_hours {
            v.range("sleepHours", s, SLEEP_HOURS_MIN, SLEEP_HOURS_MAX);
        }
        if let Some(r) = &self.skip_reason {
            v.text("skipReason", r, SKIP_REASON_MAX_CHARS);
        }
        v.into_result()
    }
}

impl Validate for VoicePreferencesUpdate {
    fn validate(&self) -> Result<(), ValidationErrors> {
        // Every field is an enum or a bool: serde already rejected anything else.
        Ok(())
    }
}

impl Validate for VoiceSynthesisRequest {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = ValidationErrors::default();
        v.text("text", &self.text, MAX_TEXT_CHARS);
        v.optional_text("context", &self.context, CONTEXT_MAX_CHARS);
        v.into_result()
    }
}

impl Validate for VoiceCacheClearRequest {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = ValidationErrors::default();
        if let Some(ids) = &self.cache_ids
            && ids.len() > 100
        {
            v.add("cacheIds", "too_long", "must list at most 100 ids");
        }
        if let Some(c) = &self.context {
            v.optional_text("context", c, CONTEXT_MAX_CHARS);
        }
        v.into_result()
    }
}

fn non_negative_ms(v: &mut ValidationErrors, field: &str, value: Option<f64>) {
    if let Some(ms) = value {
        v.range(field, ms, 0.0, 3_600_000.0);
    }
}

impl Validate for VoiceInteractionRequest {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = ValidationErrors::default();
        if self.workout_entry_id.is_empty() || self.workout_entry_id.len() > 64 {
            v.add("workoutEntryId", "invalid_format", "must be a workout entry id");
        }
        v.text("aiResponseText", &self.ai_response_text, MAX_TEXT_CHARS);
        non_negative_ms(&mut v, "generationLatency", self.generation_latency);
        non_negative_ms(&mut v, "playbackLatency", self.playback_latency);
        v.into_result()
    }
}

impl TrainingDataSubmission {
    /// All checks of [`Validate`], with PII detection that also knows the caller's names, and the
    /// timestamp checked against `now` (not in the future beyond 5 minutes of clock skew, not
    /// older than the retention period).
    pub fn validate_for(
        &self,
        scanner: &PiiScanner,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ValidationErrors> {
        let mut v = ValidationErrors::default();
        if !is_hashed_user_id(&self.hashed_user_id) {
            v.add("hashedUserId", "invalid_format", "must be 64 lowercase hex characters (SHA-256)");
        }
        v.slug("exerciseType", &self.exercise_type, EXERCISE_TYPE_MAX_CHARS);
        v.int_range("setNumber", self.set_number.into(), SET_NUMBER_MIN.into(), SET_NUMBER_MAX.into());
        v.range("strainPercentage", self.strain_percentage, STRAIN_MIN, STRAIN_MAX);
        if let Some(s) = self.sleep_hours {
            v.range("sleepHours", s, SLEEP_HOURS_MIN, SLEEP_HOURS_MAX);
        }
        if let Some(r) = &self.skip_reason {
            v.text("skipReason", r, SKIP_REASON_MAX_CHARS);
            v.no_pii("skipReason", r, scanner);
        }
        v.text("aiResponse", &self.ai_response, MAX_TEXT_CHARS);
        v.no_pii("aiResponse", &self.ai_response, scanner);
        if self.context_tags.len() > CONTEXT_TAGS_MAX {
            v.add("contextTags", "too_long", format!("must list at most {CONTEXT_TAGS_MAX} tags"));
        }
        for (i, tag) in self.context_tags.iter().enumerate() {
            if !is_known_tag(tag) {
                v.add(format!("contextTags[{i}]"), "unknown_value", "must be a tag from the context vocabulary");
            }
        }
        if self.timestamp > now + chrono::Duration::minutes(5) {
            v.add("timestamp", "out_of_range", "must not be in the future");
        } else if self.timestamp < now - chrono::Duration::days(RETENTION_DAYS) {
            v.add("timestamp", "out_of_range", format!("must be within the last {RETENTION_DAYS} days (retention)"));
        }
        v.into_result()
    }
}

impl Validate for TrainingDataSubmission {
    fn validate(&self) -> Result<(), ValidationErrors> {
        self.validate_for(&PiiScanner::default(), chrono::Utc::now())
    }
}

fn batch_id_ok(v: &mut ValidationErrors, batch_id: &str) {
    if batch_id.is_empty()
        || batch_id.len() > BATCH_ID_MAX_CHARS
        || !batch_id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
    {
        v.add("batchId", "invalid_format", format!("must be 1–{BATCH_ID_MAX_CHARS} characters of A-Z a-z 0-9 . _ : -"));
    }
}

impl Validate for TrainingSessionRequest {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = ValidationErrors::default();
        batch_id_ok(&mut v, &self.batch_id);
        v.into_result()
    }
}

impl Validate for TrainingSessionUpdate {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = ValidationErrors::default();
        if self.status.is_none() && self.error_message.is_none() {
            v.add("status", "required", "give a status (cancelled or retrying) or an errorMessage");
        }
        if let Some(m) = &self.error_message {
            v.optional_text("errorMessage", m, REASON_MAX_CHARS);
        }
        v.into_result()
    }
}

impl Validate for ModelDeploymentRequest {
    fn validate(&self) -> Result<(), ValidationErrors> {
        Ok(())
    }
}

impl Validate for ModelRollbackRequest {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = ValidationErrors::default();
        v.text("rollbackReason", &self.rollback_reason, REASON_MAX_CHARS);
        v.into_result()
    }
}

impl Validate for CoachRequest {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = ValidationErrors::default();
        match (&self.workout_entry_id, &self.exercise_type) {
            (None, None) => v.add("exerciseType", "required", "give exerciseType or workoutEntryId"),
            (_, Some(e)) => v.slug("exerciseType", e, EXERCISE_TYPE_MAX_CHARS),
            _ => {}
        }
        if let Some(s) = self.set_number {
            v.int_range("setNumber", s.into(), SET_NUMBER_MIN.into(), SET_NUMBER_MAX.into());
        }
        if let Some(s) = self.strain_percentage {
            v.range("strainPercentage", s, STRAIN_MIN, STRAIN_MAX);
        }
        if let Some(s) = self.sleep_hours {
            v.range("sleepHours", s, SLEEP_HOURS_MIN, SLEEP_HOURS_MAX);
        }
        if let Some(r) = &self.skip_reason {
            v.text("skipReason", r, SKIP_REASON_MAX_CHARS);
        }
        for (i, tag) in self.context_tags.iter().enumerate() {
            if !is_known_tag(tag) {
                v.add(format!("contextTags[{i}]"), "unknown_value", "must be a tag from the context vocabulary");
            }
        }
        v.into_result()
    }
}

/// Checks a list `limit` query parameter.
pub fn check_list_limit(limit: u32) -> Result<(), ValidationErrors> {
    let mut v = ValidationErrors::default();
    v.int_range("limit", limit.into(), LIST_LIMIT_MIN.into(), LIST_LIMIT_MAX.into());
    v.into_result()
}

#[cfg(test)]
mod tests;
