//! Server configuration, read from the environment.
//!
//! Every setting has an embedded default so `coach-server` runs with no configuration at all:
//! SQLite under `./data`, the local speech engine, secrets generated on first start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

/// Everything the server reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `COACH_BIND`: where to listen (default `127.0.0.1:8080`; `localhost:<port>` is 127.0.0.1).
    /// Must be a loopback address in dev mode ([`Config::check_exposure`]).
    pub bind: SocketAddr,
    /// `COACH_DATA_DIR`: database file, secrets, clips and models (default `./data`).
    pub data_dir: PathBuf,
    /// `COACH_DATABASE_URL`: `sqlite://...` or `postgres://...` (default: SQLite in the data dir).
    pub database_url: String,
    /// `COACH_JWT_SECRET`: HS256 key for bearer tokens (generated and kept in the data dir when
    /// unset; at least [`SECRET_MIN_BYTES`] when set).
    pub jwt_secret: Option<String>,
    /// `COACH_ADMIN_API_KEY`: the `X-API-Key` of the app's backend and operators (generated when
    /// unset; at least [`SECRET_MIN_BYTES`] when set).
    pub admin_api_key: Option<String>,
    /// `COACH_TOKEN_TTL_SECS`: lifetime of minted tokens when the request names none (default 1 h).
    pub token_ttl: Duration,
    /// `COACH_MAX_BODY_BYTES`: largest JSON body accepted (default 64 KiB).
    pub max_body_bytes: usize,
    /// `COACH_MAX_UPLOAD_BYTES`: largest multipart upload accepted (default 50 MiB, voice samples).
    pub max_upload_bytes: usize,
    /// `COACH_REQUEST_TIMEOUT_SECS`: requests taking longer are answered 503 (default 30 s).
    pub request_timeout: Duration,
    /// `COACH_DEV_MODE`: enables the dev sign-in of the demo app (default off; `cargo xtask run`
    /// turns it on). Refused unless `bind` is a loopback address.
    pub dev_mode: bool,
    /// `COACH_WWW_DIR`: built SvelteKit app served at `/` when present (default `www/build`).
    pub www_dir: Option<PathBuf>,
    /// `COACH_PUBLIC_URL`: absolute base for URLs handed to clients, e.g. the CDN in front of clip
    /// URLs (default: `http://<the address the server bound>`).
    pub public_url: Option<String>,
    /// `COACH_CORS_ORIGINS`: comma-separated origins allowed cross-origin (dev mode adds the
    /// server's own loopback origins, never any other).
    pub cors_origins: Vec<String>,
    /// `COACH_LOG_FORMAT`: `text` (default) or `json`.
    pub log_json: bool,
    /// Training intake, pipeline, schedule and registry (`COACH_INTAKE_*`, `COACH_TRAIN*`, `HF_*`).
    pub training: crate::training::TrainingConfig,
    /// Speech provider, clip URLs and cloning limits (`COACH_TTS_*`, `ELEVENLABS_*`, `COACH_CLONE_*`).
    pub voice: crate::voice::VoiceConfig,
    /// Per-user rates of the everyday write routes (`COACH_AI_COACH_*`, `COACH_WORKOUTS_*`,
    /// `COACH_INTERACTIONS_*`).
    pub rate_limits: crate::ratelimit::RateLimitConfig,
}

/// A trimmed, non-empty environment variable (also used by the areas' own settings).
pub(crate) fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// A parsed environment variable, or `default` when unset.
pub(crate) fn env_parse<T: std::str::FromStr>(name: &str, default: T) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    match env(name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|e| anyhow::anyhow!("{name}={v:?}: {e}")),
    }
}

fn env_bool(name: &str) -> Result<bool> {
    match env(name).as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("0" | "false" | "no" | "off") => Ok(false),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some(other) => anyhow::bail!("{name}={other:?}: expected true or false"),
    }
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self> {
        let bind = match env("COACH_BIND") {
            None => "127.0.0.1:8080".parse().expect("valid default"),
            Some(v) => parse_bind(&v).map_err(|e| anyhow::anyhow!("COACH_BIND={v:?}: {e}"))?,
        };
        let data_dir = PathBuf::from(env("COACH_DATA_DIR").unwrap_or_else(|| "./data".into()));
        let database_url = match env("COACH_DATABASE_URL") {
            Some(url) => url,
            None => sqlite_url(&data_dir.join("coach.db")),
        };
        let www_dir = match env("COACH_WWW_DIR") {
            Some(d) => Some(PathBuf::from(d)),
            None => Some(PathBuf::from("www/build")).filter(|p| p.join("index.html").is_file()),
        };
        let public_url = env("COACH_PUBLIC_URL").map(|u| u.trim_end_matches('/').to_string());
        Ok(Self {
            bind,
            data_dir,
            database_url,
            jwt_secret: env("COACH_JWT_SECRET"),
            admin_api_key: env("COACH_ADMIN_API_KEY"),
            token_ttl: Duration::from_secs(env_parse("COACH_TOKEN_TTL_SECS", 3600u64)?),
            max_body_bytes: env_parse("COACH_MAX_BODY_BYTES", 64 * 1024usize)?,
            max_upload_bytes: env_parse("COACH_MAX_UPLOAD_BYTES", 50 * 1024 * 1024usize)?,
            request_timeout: Duration::from_secs(env_parse("COACH_REQUEST_TIMEOUT_SECS", 30u64)?),
            dev_mode: env_bool("COACH_DEV_MODE")?,
            www_dir,
            public_url,
            cors_origins: env("COACH_CORS_ORIGINS")
                .map(|v| v.split(',').map(|o| o.trim().to_string()).filter(|o| !o.is_empty()).collect())
                .unwrap_or_default(),
            log_json: env("COACH_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json")),
            training: crate::training::TrainingConfig::from_env()?,
            voice: crate::voice::VoiceConfig::from_env()?,
            rate_limits: crate::ratelimit::RateLimitConfig::from_env()?,
        })
        .and_then(|c: Config| c.check())
    }

    /// A configuration for tests and tools: everything under `data_dir`, the given database.
    pub fn for_data_dir(data_dir: PathBuf, database_url: Option<String>) -> Self {
        let database_url = database_url.unwrap_or_else(|| sqlite_url(&data_dir.join("coach.db")));
        Self {
            bind: "127.0.0.1:0".parse().expect("valid"),
            data_dir,
            database_url,
            jwt_secret: None,
            admin_api_key: None,
            token_ttl: Duration::from_secs(3600),
            max_body_bytes: 64 * 1024,
            max_upload_bytes: 50 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            dev_mode: false,
            www_dir: None,
            public_url: None,
            cors_origins: Vec::new(),
            log_json: false,
            training: crate::training::TrainingConfig::default(),
            voice: crate::voice::VoiceConfig::default(),
            rate_limits: crate::ratelimit::RateLimitConfig::default(),
        }
    }

    /// The base of absolute URLs handed to clients.
    pub fn public_base(&self) -> &str {
        self.public_url.as_deref().unwrap_or("http://127.0.0.1")
    }

    fn check(self) -> Result<Self> {
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            anyhow::bail!("COACH_DATABASE_URL must start with sqlite:, postgres:// or postgresql://");
        }
        if self.max_body_bytes < 1024 {
            anyhow::bail!("COACH_MAX_BODY_BYTES must be at least 1024");
        }
        for (name, value) in [("COACH_JWT_SECRET", &self.jwt_secret), ("COACH_ADMIN_API_KEY", &self.admin_api_key)] {
            if let Some(v) = value
                && v.len() < SECRET_MIN_BYTES
            {
                anyhow::bail!(
                    "{name} is {} bytes long; it must be at least {SECRET_MIN_BYTES} bytes (e.g. `openssl rand -hex 32`), \
                     or unset it to use the one generated in the data dir",
                    v.len()
                );
            }
        }
        self.check_exposure()?;
        crate::private_fs::create_dir(&self.data_dir)
            .with_context(|| format!("creating data dir {}", self.data_dir.display()))?;
        Ok(self)
    }

    /// Refuses dev mode on an address other machines can reach: its sign-in mints tokens (an
    /// admin token for a new user id) without any credential, which is only safe on loopback.
    pub fn check_exposure(&self) -> Result<()> {
        if self.dev_mode && !is_loopback(self.bind) {
            anyhow::bail!(
                "COACH_DEV_MODE=1 needs a loopback COACH_BIND (127.0.0.0/8, ::1 or localhost), but COACH_BIND is {}: \
                 dev mode signs anyone in without credentials. Unset COACH_DEV_MODE to serve on this address, \
                 or bind 127.0.0.1.",
                self.bind
            );
        }
        Ok(())
    }
}

/// The shortest `COACH_JWT_SECRET` / `COACH_ADMIN_API_KEY` accepted: 32 bytes, the HS256 key size
/// (RFC 7518 §3.2) and out of reach of guessing (generated ones are 32 random bytes, hex encoded).
pub const SECRET_MIN_BYTES: usize = 32;

/// `COACH_BIND`: an IP socket address, or `localhost:<port>` (the IPv4 loopback).
fn parse_bind(v: &str) -> Result<SocketAddr> {
    if let Some(port) = v.strip_prefix("localhost:") {
        let port: u16 = port.parse().map_err(|e| anyhow::anyhow!("invalid port: {e}"))?;
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    v.parse().map_err(|e| anyhow::anyhow!("{e} (expected e.g. 127.0.0.1:8080, [::1]:8080 or localhost:8080)"))
}

/// Whether only this machine can reach `addr` (127.0.0.0/8, `::1`, or IPv4-mapped loopback).
pub fn is_loopback(addr: SocketAddr) -> bool {
    addr.ip().to_canonical().is_loopback()
}

/// `sqlite://` URL for a file, created when missing.
pub fn sqlite_url(path: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}
