//! Loads trained models for serving (the candle runtime of `coach-trainer`).

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;

use super::serving::Generator;

/// Loads the Hugging Face-layout model in `dir`.
pub fn load(dir: &Path) -> Result<Arc<dyn Generator>> {
    anyhow::bail!("no model runtime is linked into this build (cannot load {})", dir.display())
}
