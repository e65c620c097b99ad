//! Settings of the training area, from the environment.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

use crate::config::{env, env_parse};

/// Training intake, pipeline, schedule and registry settings.
#[derive(Debug, Clone)]
pub struct TrainingConfig {
    /// `COACH_INTAKE_PER_MINUTE`: sustained training-data submissions per user per minute (default 60).
    pub intake_per_minute: u32,
    /// `COACH_INTAKE_BURST`: submissions a user may send at once, e.g. an outbox flush (default 120).
    pub intake_burst: u32,
    /// `COACH_TRAINER_CMD`: the command that runs the trainer (space-separated; default: this
    /// server binary's `trainer` subcommand). The pipeline appends `train ...` / `eval ...`.
    pub trainer_command: Vec<String>,
    /// `COACH_TRAIN_BUDGET_SECS`: wall-clock budget of one training run (default 240).
    pub train_budget: Duration,
    /// `COACH_TRAIN_RETRY_BASE_SECS`: first automatic retry delay, doubled each retry (default 60).
    pub retry_base: Duration,
    /// `COACH_TRAINING_CRON`: when the weekly run starts, UTC (default `0 2 * * SUN`).
    pub training_cron: String,
    /// `COACH_RETENTION_CRON`: when the daily retention cleanup runs, UTC (default `30 3 * * *`).
    pub retention_cron: String,
    /// `COACH_SCHEDULER`: run the scheduled jobs in this process (default on).
    pub scheduler: bool,
    /// `HF_TOKEN`: push models to the Hugging Face Hub when set.
    pub hf_token: Option<String>,
    /// `HF_ENDPOINT`: the Hub (default `https://huggingface.co`).
    pub hf_endpoint: String,
    /// `COACH_HF_REPO`: `namespace/name` or `name` (namespace of the token's user); default `coach-model`.
    pub hf_repo: String,
}

fn default_trainer_command() -> Vec<String> {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("coach-server"));
    vec![exe.display().to_string(), "trainer".into()]
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            intake_per_minute: 60,
            intake_burst: 120,
            trainer_command: default_trainer_command(),
            train_budget: Duration::from_secs(240),
            retry_base: Duration::from_secs(60),
            training_cron: "0 2 * * SUN".into(),
            retention_cron: "30 3 * * *".into(),
            scheduler: true,
            hf_token: None,
            hf_endpoint: "https://huggingface.co".into(),
            hf_repo: "coach-model".into(),
        }
    }
}

impl TrainingConfig {
    /// Reads the settings; invalid cron expressions are refused at start.
    pub fn from_env() -> Result<Self> {
        let d = Self::default();
        let c = Self {
            intake_per_minute: env_parse("COACH_INTAKE_PER_MINUTE", d.intake_per_minute)?,
            intake_burst: env_parse("COACH_INTAKE_BURST", d.intake_burst)?,
            trainer_command: env("COACH_TRAINER_CMD")
                .map(|c| c.split_whitespace().map(str::to_string).collect())
                .unwrap_or(d.trainer_command),
            train_budget: Duration::from_secs(env_parse("COACH_TRAIN_BUDGET_SECS", 240u64)?),
            retry_base: Duration::from_secs(env_parse("COACH_TRAIN_RETRY_BASE_SECS", 60u64)?),
            training_cron: env("COACH_TRAINING_CRON").unwrap_or(d.training_cron),
            retention_cron: env("COACH_RETENTION_CRON").unwrap_or(d.retention_cron),
            scheduler: env("COACH_SCHEDULER")
                .is_none_or(|v| !matches!(v.to_ascii_lowercase().as_str(), "0" | "false" | "off" | "no")),
            hf_token: env("HF_TOKEN"),
            hf_endpoint: env("HF_ENDPOINT").unwrap_or(d.hf_endpoint),
            hf_repo: env("COACH_HF_REPO").unwrap_or(d.hf_repo),
        };
        super::jobs::parse_cron(&c.training_cron)?;
        super::jobs::parse_cron(&c.retention_cron)?;
        Ok(c)
    }
}
