//! The one state struct every handler receives.

use std::sync::Arc;

use crate::auth::Keys;
use crate::config::Config;
use crate::db::Db;
use crate::metrics::Metrics;
use crate::secrets::Secrets;
use crate::training::TrainingService;
use crate::voice::VoiceService;

/// Shared by all requests; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// Configuration read at start.
    pub config: Arc<Config>,
    /// JWT and API-key checking.
    pub keys: Arc<Keys>,
    /// Secrets (HMAC keys of anonymized rows and signed URLs).
    pub secrets: Arc<Secrets>,
    /// Prometheus registry and the product's counters.
    pub metrics: Arc<Metrics>,
    /// Training intake, pipeline, registry and serving model.
    pub training: Arc<TrainingService>,
    /// Speech provider, breaker, clip store and single-flight generation.
    pub voice: Arc<VoiceService>,
}
