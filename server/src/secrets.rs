//! Server secrets: the JWT signing key, the admin API key, the key of the training data's
//! re-hash and the key that signs clip URLs.
//!
//! Each comes from the environment when set; otherwise it is generated on first start and kept in
//! `<data dir>/secrets.json` (mode 0600, see [`crate::private_fs`]), so restarts keep tokens, keyed hashes and signed URLs
//! valid. A generated admin key is printed once, when it is created. Values from the environment
//! are at least [`crate::config::SECRET_MIN_BYTES`] long (checked by the configuration).

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::config::Config;

/// The server's secrets.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Secrets {
    /// HS256 key of bearer tokens.
    pub jwt_secret: String,
    /// The admin `X-API-Key`.
    pub admin_api_key: String,
    /// HMAC key of the training data's keyed re-hash of `hashedUserId` (never rotates: rotating
    /// it would orphan existing rows from deletion requests).
    pub subject_pepper: String,
    /// HMAC key that signs expiring clip URLs.
    pub url_signing_key: String,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets { .. }")
    }
}

/// 32 random bytes, hex encoded.
pub fn random_secret() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// What [`load_or_create`] did, so the caller can print the admin key exactly once.
pub struct Loaded {
    /// The secrets in force.
    pub secrets: Secrets,
    /// The admin key, when it was generated just now.
    pub new_admin_key: Option<String>,
}

/// Loads `secrets.json` from the data dir (creating it with fresh values when missing) and lets
/// the environment override the JWT secret and the admin key.
pub fn load_or_create(config: &Config) -> Result<Loaded> {
    let path = config.data_dir.join("secrets.json");
    let (mut secrets, created) = if path.exists() {
        // a file written by an older version (or copied in) may be readable by others: tighten it
        if let Err(e) = crate::private_fs::set_mode(&path, crate::private_fs::FILE_MODE) {
            tracing::warn!(path = %path.display(), error = %e, "could not make the secrets file owner-only");
        }
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let s: Secrets = serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        (s, false)
    } else {
        let s = Secrets {
            jwt_secret: random_secret(),
            admin_api_key: format!("coach_admin_{}", random_secret()),
            subject_pepper: random_secret(),
            url_signing_key: random_secret(),
        };
        write_private(&path, &serde_json::to_vec_pretty(&s)?)?;
        (s, true)
    };
    let new_admin_key = (created && config.admin_api_key.is_none()).then(|| secrets.admin_api_key.clone());
    if let Some(k) = &config.jwt_secret {
        secrets.jwt_secret = k.clone();
    }
    if let Some(k) = &config.admin_api_key {
        secrets.admin_api_key = k.clone();
    }
    Ok(Loaded { secrets, new_admin_key })
}

/// Writes a file readable by its owner only (mode 0600 whatever the umask), atomically (temp file
/// + rename).
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = crate::private_fs::create_file(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_kept_private_and_overridable() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::for_data_dir(dir.path().to_path_buf(), None);
        let first = load_or_create(&config).unwrap();
        assert!(first.new_admin_key.is_some());
        let again = load_or_create(&config).unwrap();
        assert!(again.new_admin_key.is_none(), "printed only once");
        assert_eq!(first.secrets.jwt_secret, again.secrets.jwt_secret);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secrets.json")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        config.admin_api_key = Some("from-env".into());
        assert_eq!(load_or_create(&config).unwrap().secrets.admin_api_key, "from-env");
    }
}
