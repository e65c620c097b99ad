//! Training: consent-gated intake of anonymized data, training sessions driven by a worker
//! through `scheduled → data_collection → training → validation → completed | failed`, the model
//! registry (Hugging Face layout, Hub push), deployment and rollback, the coach endpoint served from
//! the deployed model, scheduled jobs (weekly training, daily retention) and deletion.
//!
//! | module | role |
//! |---|---|
//! | [`intake`] | `POST/GET /v1/ai-training/data` |
//! | [`subject`] | keyed re-hash of `hashedUserId` |

pub mod intake;
pub mod subject;

use prometheus::{IntCounterVec, Opts};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::Config;
use crate::ratelimit::UserRateLimiter;
use crate::state::AppState;

/// The routes of the training area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(intake::submit, intake::list))
}

/// Prometheus collectors of the training area.
pub struct TrainingMetrics {
    /// `coach_training_records_total{source}`: rows accepted (client submissions, workouts).
    pub intake: IntCounterVec,
}

impl TrainingMetrics {
    fn new(registry: &prometheus::Registry) -> Self {
        let intake = IntCounterVec::new(
            Opts::new("coach_training_records_total", "Training rows accepted, by source"),
            &["source"],
        )
        .expect("valid metric");
        registry.register(Box::new(intake.clone())).expect("unique metric");
        Self { intake }
    }
}

/// Long-lived pieces of the training area.
pub struct TrainingService {
    /// Per-user limit of intake requests (429 beyond it).
    pub intake_limiter: UserRateLimiter,
    /// Counters.
    pub metrics: TrainingMetrics,
}

impl TrainingService {
    /// Builds the service from the configuration.
    pub fn new(config: &Config, registry: &prometheus::Registry) -> Self {
        Self {
            intake_limiter: UserRateLimiter::new("training-data", config.intake_per_minute, config.intake_burst),
            metrics: TrainingMetrics::new(registry),
        }
    }
}
