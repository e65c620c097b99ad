//! Bodies of the AI-training contract: intake, sessions, models, deploy and rollback, plus the
//! coach endpoint.

use serde::{Deserialize, Serialize};

use super::common::Tone;
use chrono::{DateTime, Utc};

/// `TrainingDataSubmission`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct TrainingDataSubmission {
    /// SHA-256 (lowercase hex) of the caller's user id.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[a-f0-9]{64}$"))]
    pub hashed_user_id: String,
    /// e.g. `bench_press`.
    pub exercise_type: String,
    /// 1–20.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 20))]
    pub set_number: u32,
    /// 0–100.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100))]
    pub strain_percentage: f64,
    /// e.g. `too_tired`.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub skip_reason: Option<String>,
    /// 0–24.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 24))]
    pub sleep_hours: Option<f64>,
    /// At most 280 characters, no PII.
    #[cfg_attr(feature = "openapi", schema(max_length = 280))]
    pub ai_response: String,
    /// Tags from the context vocabulary.
    pub context_tags: Vec<String>,
    /// When the workout event happened (not in the future, not older than retention).
    pub timestamp: DateTime<Utc>,
}

/// Processing status of a training record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum TrainingDataStatus {
    /// Stored.
    Received,
    /// Checked.
    Validated,
    /// Assigned to a training batch.
    QueuedForTraining,
}

/// `TrainingDataResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct TrainingDataResponse {
    /// Record identifier.
    pub id: String,
    /// Processing status.
    pub status: TrainingDataStatus,
    /// The training batch, once assigned.
    pub batch_id: Option<String>,
}

/// One anonymized training row, as the admin listing shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct TrainingRecord {
    /// Record identifier.
    pub id: String,
    /// Keyed re-hash of `hashedUserId` (never the raw hash).
    pub subject_key: String,
    /// Exercise.
    pub exercise_type: String,
    /// Set number.
    pub set_number: u32,
    /// Strain.
    pub strain_percentage: f64,
    /// Skip reason.
    pub skip_reason: Option<String>,
    /// Sleep hours.
    pub sleep_hours: Option<f64>,
    /// Coaching response.
    pub ai_response: String,
    /// Context tags.
    pub context_tags: Vec<String>,
    /// When the workout event happened.
    pub timestamp: DateTime<Utc>,
    /// Processing status.
    pub status: TrainingDataStatus,
    /// Batch, once assigned.
    pub batch_id: Option<String>,
    /// When it was received.
    pub created_at: DateTime<Utc>,
}

/// A page of anonymized training rows (admin).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct TrainingRecordList {
    /// Rows, newest first.
    pub records: Vec<TrainingRecord>,
    /// Rows stored in all.
    pub total: u64,
    /// Rows not yet used by a session.
    pub pending: u64,
    /// Pass as `cursor` to get the next page (absent on the last page).
    pub next_cursor: Option<String>,
}

/// `TrainingSessionRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct TrainingSessionRequest {
    /// Unique batch identifier for the training cycle.
    pub batch_id: String,
    /// Train even if a recent model exists.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub force_retrain: bool,
}

/// Pipeline state of a training session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum TrainingStatus {
    /// Waiting for the worker.
    Scheduled,
    /// Exporting the batch.
    DataCollection,
    /// The trainer runs.
    Training,
    /// Held-out evaluation and the deployment gate.
    Validation,
    /// Finished; a model was produced.
    Completed,
    /// Finished without a model (see `errorMessage`).
    Failed,
}

impl TrainingStatus {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TrainingStatus::Scheduled => "scheduled",
            TrainingStatus::DataCollection => "data_collection",
            TrainingStatus::Training => "training",
            TrainingStatus::Validation => "validation",
            TrainingStatus::Completed => "completed",
            TrainingStatus::Failed => "failed",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Scheduled, Self::DataCollection, Self::Training, Self::Validation, Self::Completed, Self::Failed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }

    /// Whether the session has finished, one way or the other.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

/// `TrainingSession`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct TrainingSession {
    /// Identifier.
    pub id: String,
    /// Batch identifier.
    pub batch_id: String,
    /// When it was scheduled.
    pub scheduled_at: DateTime<Utc>,
    /// When the pipeline started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub completed_at: Option<DateTime<Utc>>,
    /// Pipeline state.
    pub status: TrainingStatus,
    /// Bytes of training data.
    pub data_size: u64,
    /// Records in the batch.
    pub record_count: u64,
    /// 0–5.
    pub retry_count: u32,
    /// Why it failed.
    pub error_message: Option<String>,
    /// External (or trainer process) job identifier.
    pub hugging_face_job_id: Option<String>,
    /// Where the model files were written.
    pub model_output_path: Option<String>,
}

/// New status requested by `PATCH .../sessions/{id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum TrainingSessionAction {
    /// Stop the session (it ends as `failed`, "Cancelled by an administrator").
    Cancelled,
    /// Run a failed session again (`retryCount` + 1, at most 5).
    Retrying,
}

/// `TrainingSessionUpdate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct TrainingSessionUpdate {
    /// Requested change.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub status: Option<TrainingSessionAction>,
    /// Note to keep with the session.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub error_message: Option<String>,
}

/// `TrainingSessionsList`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct TrainingSessionsList {
    /// Newest first.
    pub sessions: Vec<TrainingSession>,
    /// Sessions matching the filter.
    pub total: u64,
    /// More after this page.
    pub has_more: bool,
}

/// Lifecycle of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ModelStatus {
    /// Being trained.
    Training,
    /// Trained; evaluated, not serving.
    Validating,
    /// Serving in an environment.
    Deployed,
    /// Retired.
    Archived,
}

/// `ModelMetrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ModelMetrics {
    /// exp(validation loss).
    pub perplexity: f64,
    /// Corpus BLEU-4 on the held-out split, 0–1.
    pub bleu_score: f64,
    /// Mean cross-entropy on the held-out split.
    pub validation_loss: f64,
    /// Mean cross-entropy over the last training steps.
    pub training_loss: f64,
    /// Share of generations whose tone fits the context, 0–1.
    pub responsiveness: f64,
}

/// `RollbackData`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct RollbackData {
    /// The model serving before this one.
    pub previous_model_id: String,
    /// Its version.
    pub previous_version: String,
    /// Why this model was rolled back, if it was.
    pub rollback_reason: Option<String>,
}

/// Where a model serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum DeploymentEnvironment {
    /// Pre-production.
    Staging,
    /// What users get.
    Production,
}

impl DeploymentEnvironment {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }
}

/// `AIModel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct AiModel {
    /// Identifier.
    pub id: String,
    /// `vX.Y.Z`.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^v\d+\.\d+\.\d+$"))]
    pub version: String,
    /// Hub repository (`namespace/name`), or the local registry name.
    pub hugging_face_model_id: String,
    /// Model it continued from (or the architecture it started from).
    pub base_model: String,
    /// Training batch.
    pub training_data_batch: String,
    /// When training began.
    pub training_started_at: DateTime<Utc>,
    /// When training finished.
    pub training_completed_at: Option<DateTime<Utc>>,
    /// When it was last deployed.
    pub deployed_at: Option<DateTime<Utc>>,
    /// Lifecycle state.
    pub status: ModelStatus,
    /// Held-out metrics.
    pub performance_metrics: Option<ModelMetrics>,
    /// The model it replaced.
    pub rollback_data: Option<RollbackData>,
    /// Environments where it serves now (extension).
    pub deployed_environments: Vec<DeploymentEnvironment>,
}

/// `AIModelsList`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct AiModelsList {
    /// Newest first.
    pub models: Vec<AiModel>,
    /// How many.
    pub total: u64,
}

/// Rollback strategy of a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum RollbackStrategy {
    /// Roll back at the first failed health check.
    Immediate,
    /// Default.
    #[default]
    Gradual,
    /// Only an admin rolls back.
    Manual,
}

/// `ModelDeploymentRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ModelDeploymentRequest {
    /// Target environment.
    pub deployment_environment: DeploymentEnvironment,
    /// Strategy if the deployment misbehaves.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<RollbackStrategy>", optional))]
    pub rollback_strategy: RollbackStrategy,
}

/// Status of a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum DeploymentStatus {
    /// In progress.
    Deploying,
    /// Serving.
    Deployed,
    /// Did not happen.
    Failed,
}

/// `ModelDeploymentResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ModelDeploymentResponse {
    /// Identifier.
    pub deployment_id: String,
    /// Status.
    pub status: DeploymentStatus,
    /// When.
    pub deployed_at: DateTime<Utc>,
    /// A previous model exists to roll back to.
    pub rollback_available: bool,
}

/// `ModelRollbackRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ModelRollbackRequest {
    /// Why.
    pub rollback_reason: String,
    /// Specific model to go back to (default: the previous one).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub target_model_id: Option<String>,
}

/// `ModelRollbackResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ModelRollbackResponse {
    /// Identifier.
    pub rollback_id: String,
    /// Model now serving.
    pub rolled_back_to: String,
    /// When.
    pub rolled_back_at: DateTime<Utc>,
}

/// `POST /v1/ai/coach`: the workout context to coach on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct CoachRequest {
    /// Take the context from this logged set (own workouts only).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub workout_entry_id: Option<String>,
    /// e.g. `bench_press` (required without `workoutEntryId`).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub exercise_type: Option<String>,
    /// 1–20.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub set_number: Option<u32>,
    /// 0–100.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub strain_percentage: Option<f64>,
    /// Why the set was skipped.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub skip_reason: Option<String>,
    /// 0–24.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub sleep_hours: Option<f64>,
    /// Context tags.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<String>>", optional))]
    pub context_tags: Vec<String>,
}

/// The coach's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct CoachResponse {
    /// At most 280 characters, no PII.
    pub text: String,
    /// Tone that fits the context.
    pub tone: Tone,
    /// Version of the model that wrote it, or `rules` for the rule-based fallback.
    pub model_version: String,
}
