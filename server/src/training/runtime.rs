//! Loads trained models for serving with the candle runtime of `coach-trainer`.

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use coach_shared::Tone;
use coach_trainer::{CoachModel, GenOptions};

use super::serving::{CoachContext, Generator};

/// Sampling of served lines: some variety, and a different line per regeneration seed.
const SERVING: GenOptions = GenOptions { seed: 0, temperature: 0.7, max_tokens: 80, top_k: 40 };

impl Generator for CoachModel {
    fn generate(&self, ctx: &CoachContext, seed: u64) -> Result<(String, Tone)> {
        let g = CoachModel::generate(self, ctx, GenOptions { seed, ..SERVING })?;
        Ok((g.text, g.tone))
    }
}

/// Loads the Hugging Face-layout model in `dir`.
pub fn load(dir: &Path) -> Result<Arc<dyn Generator>> {
    Ok(Arc::new(CoachModel::load(dir)?))
}
