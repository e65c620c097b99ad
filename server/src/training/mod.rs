//! Training: consent-gated intake of anonymized data, training sessions driven by a worker
//! through `scheduled → data_collection → training → validation → completed | failed`, the model
//! registry (Hugging Face layout, Hub push), deployment and rollback, the coach endpoint served from
//! the deployed model, and scheduled jobs (weekly training, daily retention).
//!
//! | module | role |
//! |---|---|
//! | [`intake`], [`subject`] | `POST/GET /v1/ai-training/data`; keyed re-hash of `hashedUserId` |
//! | [`sessions`] | session API; `cancelled` / `retrying` |
//! | [`pipeline`], [`export`], [`workouts_export`], [`runner`] | the worker: batch export, trainer process, retries |
//! | [`workdir`] | session work directories: removed when an attempt ends, scrubbed of deleted rows |
//! | [`gate`], [`registry`], [`hub`] | validation gate; HF-layout registry; Hugging Face Hub push |
//! | [`deploy`], [`models`], [`serving`], [`runtime`] | deployment/rollback; model API; live models |
//! | [`coach`] | `POST /v1/ai/coach` |
//! | [`jobs`] | weekly training and retention schedules with leases; `POST /v1/admin/jobs/{job}` |

pub mod coach;
pub mod config;
pub mod deploy;
pub mod export;
pub mod gate;
pub mod hub;
pub mod intake;
pub mod jobs;
pub mod models;
pub mod pipeline;
pub mod registry;
pub mod runner;
pub mod runtime;
pub mod serving;
pub mod sessions;
pub mod subject;
pub mod workdir;
pub mod workouts_export;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus::{IntCounterVec, Opts};
use tokio::sync::{Notify, watch};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use config::TrainingConfig;

use crate::ratelimit::UserRateLimiter;
use crate::state::AppState;

/// The routes of the training area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(intake::submit, intake::list))
        .routes(routes!(sessions::start, sessions::list))
        .routes(routes!(sessions::get, sessions::update))
        .routes(routes!(models::list))
        .routes(routes!(models::get))
        .routes(routes!(models::deploy_model))
        .routes(routes!(models::rollback))
        .routes(routes!(coach::coach))
        .routes(routes!(jobs::run_now))
}

/// Prometheus collectors of the training area.
pub struct TrainingMetrics {
    /// `coach_training_records_total{source}`: rows accepted (client submissions, workouts).
    pub intake: IntCounterVec,
    /// `coach_coach_responses_total{source}`: coach lines by source (`model` or `rules`).
    pub coach: IntCounterVec,
}

impl TrainingMetrics {
    fn new(registry: &prometheus::Registry) -> Self {
        let intake = IntCounterVec::new(
            Opts::new("coach_training_records_total", "Training rows accepted, by source"),
            &["source"],
        )
        .expect("valid metric");
        let coach =
            IntCounterVec::new(Opts::new("coach_coach_responses_total", "Coach responses, by source"), &["source"])
                .expect("valid metric");
        registry.register(Box::new(intake.clone())).expect("unique metric");
        registry.register(Box::new(coach.clone())).expect("unique metric");
        Self { intake, coach }
    }
}

/// Long-lived pieces of the training area.
pub struct TrainingService {
    /// Per-user limit of intake requests (429 beyond it).
    pub intake_limiter: UserRateLimiter,
    /// Counters.
    pub metrics: TrainingMetrics,
    /// This process's identity in session claims and job leases.
    pub worker_id: String,
    /// The live model of each environment.
    pub serving: serving::Serving,
    /// Where models are published, when configured.
    pub hub: Option<Box<dyn hub::ModelHub>>,
    /// How often an idle worker looks for due sessions (it is also woken on every new session).
    pub poll_interval: Duration,
    wake: Notify,
    running: Mutex<HashMap<String, watch::Sender<bool>>>,
    seed: AtomicU64,
}

impl TrainingService {
    /// Builds the service from the configuration.
    pub fn new(config: &TrainingConfig, registry: &prometheus::Registry) -> anyhow::Result<Self> {
        let hub: Option<Box<dyn hub::ModelHub>> = match &config.hf_token {
            Some(token) => Some(Box::new(hub::HfHub::new(&config.hf_endpoint, token, &config.hf_repo)?)),
            None => None,
        };
        Ok(Self {
            intake_limiter: UserRateLimiter::new("training-data", config.intake_per_minute, config.intake_burst),
            metrics: TrainingMetrics::new(registry),
            worker_id: format!("{}-{}", hostname(), uuid::Uuid::new_v4().simple()),
            serving: serving::Serving::new(runtime::load),
            hub,
            poll_interval: Duration::from_secs(5),
            wake: Notify::new(),
            running: Mutex::new(HashMap::new()),
            seed: AtomicU64::new(rand::random()),
        })
    }

    /// Wakes the pipeline worker (a session was created or became due).
    pub fn wake_worker(&self) {
        self.wake.notify_one();
    }

    /// Waits for [`Self::wake_worker`].
    pub async fn notified(&self) {
        self.wake.notified().await;
    }

    /// Registers the cancel switch of a session this process runs.
    pub fn register_running(&self, id: &str, cancel: watch::Sender<bool>) {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_string(), cancel);
    }

    /// Forgets a session this process no longer runs.
    pub fn unregister_running(&self, id: &str) {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }

    /// Stops a session's trainer process if this process runs it.
    pub fn cancel_running(&self, id: &str) {
        if let Some(tx) = self.running.lock().unwrap_or_else(|e| e.into_inner()).get(id) {
            let _ = tx.send(true);
        }
    }

    /// A fresh generation seed.
    pub fn next_seed(&self) -> u64 {
        self.seed.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "coach".into())
}

/// How often a replica checks which model is live (deployments made through other replicas).
pub const SERVING_SYNC: Duration = Duration::from_secs(10);

/// Starts the background work of the training area: loads the live models, then runs the
/// pipeline worker and (unless disabled) the job scheduler.
pub async fn start_background(state: &AppState) {
    if let Err(e) = deploy::sync_live_models(state).await {
        tracing::error!(error = %format!("{e:#}"), "could not load the live models; the coach answers with rules until a deployment");
    }
    let sync = state.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(SERVING_SYNC).await;
            if let Err(e) = deploy::sync_live_models(&sync).await {
                tracing::warn!(error = %format!("{e:#}"), "could not sync the live models");
            }
        }
    });
    tokio::spawn(pipeline::worker(state.clone()));
    if state.config.training.scheduler {
        tokio::spawn(jobs::scheduler(state.clone(), Duration::from_secs(30)));
    }
}
