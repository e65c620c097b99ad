//! The clip store: audio files under `<data dir>/clips/<first two hex digits>/<key>.mp3`, named by
//! the clip's content key (`coach_shared::clip_cache_key`), with one `voice_clips` row each.
//!
//! A clip is written once (temporary file, fsync, rename: a crash never leaves half a clip under a
//! key) and never changes, so everything about it may be cached forever: its metadata is kept in
//! memory after the first lookup, its bytes after the first read (up to [`MEMORY_BYTES_MAX`] in
//! all: serving a hot clip then costs no file I/O and no hop to the blocking thread pool), and its
//! URL is served with `immutable`. Users who would get the
//! same audio share one file, so a phrase is synthesized once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use sqlx::FromRow;
use tokio::io::AsyncWriteExt;

use crate::db::{Db, now_ms};

/// Metadata entries kept in memory before the map is emptied and refilled from the database.
const MEMORY_ENTRIES_MAX: usize = 100_000;
/// Bytes of clip audio kept in memory before that map is emptied and refilled from the files.
pub const MEMORY_BYTES_MAX: usize = 64 << 20;
/// Larger clips are always read from their file.
const MEMORY_CLIP_MAX: usize = 1 << 20;

/// A stored clip.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct ClipMeta {
    /// The content key (64 lowercase hex digits).
    pub cache_key: String,
    /// `audio/mpeg`.
    pub content_type: String,
    /// File size.
    pub byte_size: i64,
    /// Seconds, measured by decoding.
    pub duration: f64,
    /// The provider that made it (metrics label).
    pub provider: String,
    /// The provider voice that spoke it.
    pub voice: String,
    /// Set when the voice is a user's cloned voice: only that user (or a signed URL) may fetch it.
    pub owner_user_id: Option<String>,
    /// Epoch ms.
    pub created_at: i64,
}

/// Whether `key` has the shape of a clip key.
pub fn is_clip_key(key: &str) -> bool {
    key.len() == 64 && key.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Files plus the `voice_clips` rows.
pub struct ClipStore {
    dir: PathBuf,
    known: RwLock<HashMap<String, Arc<ClipMeta>>>,
    /// Audio of recently served clips, and the bytes it holds.
    audio: RwLock<(HashMap<String, Bytes>, usize)>,
}

impl ClipStore {
    /// A store rooted at `<data_dir>/clips` (created when missing).
    pub fn new(data_dir: &Path) -> std::io::Result<Self> {
        let dir = data_dir.join("clips");
        crate::private_fs::create_dir(&dir)?;
        Ok(Self { dir, known: RwLock::new(HashMap::new()), audio: RwLock::new((HashMap::new(), 0)) })
    }

    /// Where the clip with `key` lives.
    pub fn path(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(format!("{key}.mp3"))
    }

    /// The clip's metadata when it was seen by this process (no I/O).
    pub fn cached(&self, key: &str) -> Option<Arc<ClipMeta>> {
        self.known.read().expect("clip map").get(key).cloned()
    }

    fn remember(&self, meta: Arc<ClipMeta>) {
        let mut known = self.known.write().expect("clip map");
        if known.len() >= MEMORY_ENTRIES_MAX {
            known.clear();
        }
        known.insert(meta.cache_key.clone(), meta);
    }

    /// The clip's metadata, when the clip exists (its row and its file).
    pub async fn find(&self, db: &Db, key: &str) -> Result<Option<Arc<ClipMeta>>, sqlx::Error> {
        if !is_clip_key(key) {
            return Ok(None);
        }
        if let Some(m) = self.cached(key) {
            return Ok(Some(m));
        }
        let row = sqlx::query_as::<_, ClipMeta>(
            "SELECT cache_key, content_type, byte_size, duration, provider, voice, owner_user_id, created_at
             FROM voice_clips WHERE cache_key = $1",
        )
        .bind(key)
        .fetch_optional(&db.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        // A row whose file is gone (a wiped disk) counts as missing: the clip is made again.
        if tokio::fs::metadata(self.path(key)).await.is_err() {
            return Ok(None);
        }
        let meta = Arc::new(row);
        self.remember(meta.clone());
        Ok(Some(meta))
    }

    /// Stores a new clip: the file atomically, then its row.
    pub async fn put(&self, db: &Db, mut meta: ClipMeta, bytes: &Bytes) -> anyhow::Result<Arc<ClipMeta>> {
        anyhow::ensure!(is_clip_key(&meta.cache_key), "invalid clip key");
        let path = self.path(&meta.cache_key);
        let dir = path.parent().expect("sharded dir");
        // owner-only, like everything in the data dir (`private_fs`)
        crate::private_fs::create_dir_async(dir).await?;
        let tmp = dir.join(format!(".{}.{}.tmp", meta.cache_key, uuid::Uuid::new_v4().simple()));
        let written = async {
            let mut f = crate::private_fs::create_file_async(&tmp).await?;
            f.write_all(bytes).await?;
            f.sync_all().await?;
            tokio::fs::rename(&tmp, &path).await
        }
        .await;
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e.into());
        }
        meta.byte_size = bytes.len() as i64;
        meta.created_at = now_ms();
        sqlx::query(
            "INSERT INTO voice_clips (cache_key, content_type, byte_size, duration, provider, voice, owner_user_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (cache_key) DO UPDATE SET byte_size = excluded.byte_size, duration = excluded.duration",
        )
        .bind(&meta.cache_key)
        .bind(&meta.content_type)
        .bind(meta.byte_size)
        .bind(meta.duration)
        .bind(&meta.provider)
        .bind(&meta.voice)
        .bind(meta.owner_user_id.as_deref())
        .bind(meta.created_at)
        .execute(&db.pool)
        .await?;
        let meta = Arc::new(meta);
        self.remember(meta.clone());
        Ok(meta)
    }

    /// The clip's bytes. A file found missing (deleted with its owner's account, or a wiped
    /// disk) is forgotten, so the next request makes the clip again.
    pub async fn read(&self, key: &str) -> std::io::Result<Bytes> {
        if let Some(b) = self.audio.read().expect("clip audio").0.get(key) {
            return Ok(b.clone());
        }
        let read = tokio::fs::read(self.path(key)).await.map(Bytes::from);
        match &read {
            Ok(b) if b.len() <= MEMORY_CLIP_MAX => {
                let mut audio = self.audio.write().expect("clip audio");
                if audio.1 + b.len() > MEMORY_BYTES_MAX {
                    *audio = (HashMap::new(), 0);
                }
                if audio.0.insert(key.to_string(), b.clone()).is_none() {
                    audio.1 += b.len();
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.forget(key),
            _ => {}
        }
        read
    }

    /// Drops the clip's metadata and audio from memory (call after deleting its row and file).
    pub fn forget(&self, key: &str) {
        self.known.write().expect("clip map").remove(key);
        let mut audio = self.audio.write().expect("clip audio");
        if let Some(b) = audio.0.remove(key) {
            audio.1 -= b.len();
        }
    }
}

/// What an account deletion did to the clip store.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ClipDeletion {
    /// Clips removed (row and file).
    pub removed: Vec<String>,
    /// Clips of the user kept because another user's cache index still references them (their
    /// ownership passed to one of those users, so the clip stays private).
    pub kept_shared: u64,
}

impl ClipStore {
    /// The clip store's part of an account deletion, inside `tx` and after the user's cache
    /// entries are gone ([`super::cache_index::delete_for_user`] returns their keys as
    /// `referenced`). Clips the user owns (made with their cloned voice) and clips that were in
    /// their index are removed — row and file — unless another user's index still references
    /// them: a clip shared by key is removed only with its last reference. A clip owned by
    /// someone else is never touched.
    ///
    /// Files go before the commit: should the transaction fail, a row without its file reads
    /// as missing and the clip is made again (see [`ClipStore::find`]), whereas the other order
    /// could leave audio on disk that no row points at.
    pub async fn delete_for_user(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        engine: crate::db::Engine,
        user_id: &str,
        referenced: &[String],
    ) -> Result<ClipDeletion, sqlx::Error> {
        let owned: Vec<(String,)> = sqlx::query_as("SELECT cache_key FROM voice_clips WHERE owner_user_id = $1")
            .bind(user_id)
            .fetch_all(&mut **tx)
            .await?;
        let mut keys: Vec<String> = owned.into_iter().map(|(k,)| k).chain(referenced.iter().cloned()).collect();
        keys.sort();
        keys.dedup();
        let mut out = ClipDeletion::default();
        for key in keys {
            if engine == crate::db::Engine::Postgres {
                // Held to the commit: another user's index cannot start referencing the clip
                // between the check below and its deletion (their insert waits, then finds it gone).
                sqlx::query("SELECT cache_key FROM voice_clips WHERE cache_key = $1 FOR UPDATE")
                    .bind(&key)
                    .execute(&mut **tx)
                    .await?;
            }
            let other: Option<String> =
                sqlx::query_scalar("SELECT MIN(user_id) FROM voice_cache_entries WHERE cache_key = $1")
                    .bind(&key)
                    .fetch_one(&mut **tx)
                    .await?;
            if let Some(other) = other {
                let moved = sqlx::query(
                    "UPDATE voice_clips SET owner_user_id = $3 WHERE cache_key = $1 AND owner_user_id = $2",
                )
                .bind(&key)
                .bind(user_id)
                .bind(&other)
                .execute(&mut **tx)
                .await?;
                if moved.rows_affected() > 0 {
                    self.forget(&key);
                    out.kept_shared += 1;
                }
                continue;
            }
            let gone = sqlx::query(
                "DELETE FROM voice_clips WHERE cache_key = $1 AND (owner_user_id = $2 OR owner_user_id IS NULL)",
            )
            .bind(&key)
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
            if gone.rows_affected() > 0 {
                out.removed.push(key);
            }
        }
        for key in &out.removed {
            self.forget(key);
            match tokio::fs::remove_file(self.path(key)).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(clip = %key, error = %e, "could not remove a deleted user's clip file"),
            }
        }
        Ok(out)
    }
}
