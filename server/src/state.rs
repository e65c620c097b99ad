//! The one state struct every handler receives.

use std::sync::Arc;

use crate::auth::Keys;
use crate::config::Config;
use crate::db::Db;
use crate::metrics::Metrics;
use crate::ratelimit::Limiters;
use crate::secrets::Secrets;
use crate::training::TrainingService;
use crate::voice::VoiceService;

/// Shared by all requests: one `Arc`, so the clones that axum makes for every extractor and
/// middleware of every request cost one reference count each (the serving benchmark showed the
/// per-request clones and drops of a struct of seven `Arc`s in its profile). Fields are reached
/// through `Deref` (`state.db`, `state.config`).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// Wraps the shared parts.
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Shared {
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
    /// Per-user rate limits of the everyday write routes (coaching lines, sets, interactions).
    pub limits: Arc<Limiters>,
}
