//! The serving models: what `/v1/ai/coach` generates with, per environment. Deploying or rolling
//! back loads the model's artifacts first and then swaps the live model atomically, without a
//! restart; a model that cannot be loaded is never made live.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use anyhow::Result;
use coach_shared::Tone;

/// The context a coaching line is generated for (the trainer's prompt fields).
pub use coach_trainer::CoachContext;

/// A loaded model that writes coaching lines.
pub trait Generator: Send + Sync {
    /// One coaching line and the tone the model chose for it; `seed` varies regenerations.
    fn generate(&self, ctx: &CoachContext, seed: u64) -> Result<(String, Tone)>;
}

/// Loads a model directory (Hugging Face layout) into a [`Generator`].
pub type Loader = fn(&Path) -> Result<Arc<dyn Generator>>;

/// A model that serves in an environment.
pub struct LiveModel {
    /// `ai_models.id`.
    pub model_id: String,
    /// `vX.Y.Z`.
    pub version: String,
    /// The loaded weights.
    pub generator: Arc<dyn Generator>,
}

/// The live model of each environment.
pub struct Serving {
    loader: Loader,
    live: RwLock<HashMap<String, Arc<LiveModel>>>,
}

impl Serving {
    /// Serving that loads models with `loader`.
    pub fn new(loader: Loader) -> Self {
        Self { loader, live: RwLock::new(HashMap::new()) }
    }

    /// Loads a model without making it live (a deployment checks this first).
    pub fn load(&self, dir: &Path) -> Result<Arc<dyn Generator>> {
        (self.loader)(dir)
    }

    /// Makes `model` the live model of `environment`.
    pub fn swap(&self, environment: &str, model: LiveModel) {
        let mut live = self.live.write().unwrap_or_else(|e| e.into_inner());
        tracing::info!(environment, version = %model.version, "serving model swapped");
        live.insert(environment.to_string(), Arc::new(model));
    }

    /// Stops serving a model in `environment` (the rule-based fallback answers).
    pub fn clear(&self, environment: &str) {
        self.live.write().unwrap_or_else(|e| e.into_inner()).remove(environment);
    }

    /// The live model of `environment`.
    pub fn get(&self, environment: &str) -> Option<Arc<LiveModel>> {
        self.live.read().unwrap_or_else(|e| e.into_inner()).get(environment).cloned()
    }
}
