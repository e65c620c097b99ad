//! The database: one connection pool for SQLite (embedded default) or PostgreSQL (production),
//! numbered migrations for each engine, and the few portable conventions every repository follows.
//!
//! SQL is written once for both engines through sqlx's `Any` driver:
//! * ids are `TEXT` (UUID v7 strings, or the app's user ids);
//! * timestamps are `BIGINT` Unix epoch **milliseconds** (UTC), so range filters, retention and
//!   ordering are plain integer comparisons on both engines;
//! * booleans are `BOOLEAN` on PostgreSQL and `INTEGER` 0/1 on SQLite (sqlx's Any driver cannot
//!   map SQLite `BOOLEAN` columns): read them through [`DbBool`];
//! * lists are JSON text;
//! * placeholders are `$1, $2, ...` (SQLite accepts them too);
//! * aggregates are cast (`CAST(SUM(x) AS BIGINT)`, `CAST(AVG(x) AS DOUBLE PRECISION)`): PostgreSQL
//!   returns `NUMERIC` for them, which the `Any` driver cannot read;
//! * invariants that must hold under concurrency (one deployed model per environment, one running
//!   training session) are unique (partial) indexes, so the database enforces them.

use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, TimeZone, Utc};
use sqlx::any::{Any, AnyPoolOptions, AnyTypeInfo, AnyTypeInfoKind};
use sqlx::{AnyPool, Database, Decode, Transaction, Type};

/// Which engine the pool talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Embedded default: a file in the data dir.
    Sqlite,
    /// Production.
    Postgres,
}

/// Handle to the database, cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    /// The connection pool.
    pub pool: AnyPool,
    /// The engine behind it (transactions and a few statements differ).
    pub engine: Engine,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Db {
    /// Connects to `url` (`sqlite:` or `postgres://`).
    pub async fn connect(url: &str) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let engine = if url.starts_with("sqlite:") { Engine::Sqlite } else { Engine::Postgres };
        if engine == Engine::Sqlite {
            owner_only_sqlite_files(url)?;
        }
        let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10)).max_connections(match engine {
            Engine::Sqlite => 8,
            Engine::Postgres => 16,
        });
        let options = match engine {
            Engine::Sqlite => options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL lets readers run beside the one writer; NORMAL sync is durable against
                    // process crashes (the WAL is fsynced at checkpoints).
                    sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
                    sqlx::query("PRAGMA synchronous = NORMAL").execute(&mut *conn).await?;
                    sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *conn).await?;
                    sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
                    Ok(())
                })
            }),
            Engine::Postgres => options,
        };
        let pool =
            options.connect(url).await.with_context(|| format!("connecting to the database ({})", redact(url)))?;
        Ok(Db { pool, engine })
    }

    /// Applies the engine's pending migrations.
    pub async fn migrate(&self) -> Result<()> {
        let migrator = match self.engine {
            Engine::Sqlite => &SQLITE_MIGRATIONS,
            Engine::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await.context("running database migrations")?;
        Ok(())
    }

    /// Starts a write transaction. On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`)
    /// so concurrent writers wait on the busy timeout instead of failing on lock upgrade.
    pub async fn begin(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.engine {
            Engine::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Engine::Postgres => self.pool.begin().await,
        }
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }
}

/// Makes the SQLite database of `url` owner-only: creates the file with mode 0600 when missing and
/// tightens an existing one (and its `-wal`/`-shm`) to 0600. SQLite creates the `-wal`, `-shm` and
/// journal files with the database file's own mode (`findCreateFileMode` in its Unix VFS, which
/// `fchmod`s them whatever the umask), so the data never lands in a file others can read.
fn owner_only_sqlite_files(url: &str) -> Result<()> {
    use std::str::FromStr;
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Ok(());
    }
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .with_context(|| format!("parsing the database URL ({})", redact(url)))?;
    let db = options.get_filename().to_path_buf();
    if !db.exists() {
        crate::private_fs::create_file(&db).with_context(|| format!("creating {}", db.display()))?;
        return Ok(());
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut name = db.clone().into_os_string();
        name.push(suffix);
        let path = std::path::PathBuf::from(name);
        if path.exists()
            && let Err(e) = crate::private_fs::set_mode(&path, crate::private_fs::FILE_MODE)
        {
            tracing::warn!(path = %path.display(), error = %e, "could not make a database file owner-only");
        }
    }
    Ok(())
}

/// Hides the password of a database URL for logs.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("****"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Now, in the database's time unit (Unix epoch milliseconds).
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Epoch milliseconds to a UTC timestamp.
pub fn to_dt(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// Optional epoch milliseconds to an optional UTC timestamp.
pub fn to_dt_opt(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.map(to_dt)
}

/// A boolean column: `BOOLEAN` on PostgreSQL, 0/1 on SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbBool(pub bool);

impl Type<Any> for DbBool {
    fn type_info() -> AnyTypeInfo {
        <bool as Type<Any>>::type_info()
    }
    fn compatible(ty: &AnyTypeInfo) -> bool {
        matches!(ty.kind(), AnyTypeInfoKind::Bool) || ty.kind().is_integer()
    }
}

impl<'r> Decode<'r, Any> for DbBool {
    fn decode(value: <Any as Database>::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        match <bool as Decode<Any>>::decode(value.clone()) {
            Ok(b) => Ok(DbBool(b)),
            Err(_) => Ok(DbBool(<i64 as Decode<Any>>::decode(value)? != 0)),
        }
    }
}

/// A floating-point result that SQLite may hand back as an integer (e.g. `SUM` of whole numbers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DbF64(pub f64);

impl Type<Any> for DbF64 {
    fn type_info() -> AnyTypeInfo {
        <f64 as Type<Any>>::type_info()
    }
    fn compatible(ty: &AnyTypeInfo) -> bool {
        matches!(ty.kind(), AnyTypeInfoKind::Real | AnyTypeInfoKind::Double) || ty.kind().is_integer()
    }
}

impl<'r> Decode<'r, Any> for DbF64 {
    fn decode(value: <Any as Database>::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        match <f64 as Decode<Any>>::decode(value.clone()) {
            Ok(f) => Ok(DbF64(f)),
            Err(_) => Ok(DbF64(<i64 as Decode<Any>>::decode(value)? as f64)),
        }
    }
}

/// An optional float to *bind*. sqlx 0.9's `Any` driver sends `None::<f64>` to PostgreSQL typed as
/// `float4` (its `Null(Double)` maps to `Option<f32>`), so a statement first prepared with a NULL
/// there later rejects an 8-byte value with "incorrect binary data format" (a 500). This binds
/// NULL as `float8`, like the values. Bind every `Option<f64>` through it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptF64(pub Option<f64>);

impl Type<Any> for OptF64 {
    fn type_info() -> AnyTypeInfo {
        <f64 as Type<Any>>::type_info()
    }
}

impl sqlx::Encode<'_, Any> for OptF64 {
    fn encode_by_ref(
        &self,
        buf: &mut <Any as Database>::ArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        match self.0 {
            Some(v) => <f64 as sqlx::Encode<Any>>::encode_by_ref(&v, buf),
            // the driver's float4-kind NULL becomes `Option<f64>::None`, i.e. a float8 NULL
            None => <Option<f32> as sqlx::Encode<Any>>::encode_by_ref(&None, buf),
        }
    }
}

/// Whether an error is a unique-constraint violation (both engines).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            d.is_unique_violation()
                || d.code().as_deref() == Some("23505")
                || d.message().contains("UNIQUE constraint failed")
        }
        _ => false,
    }
}

/// Whether an error is a foreign-key violation (both engines; the `Any` driver does not always
/// carry the error kind, so the SQLSTATE and SQLite's message are checked too).
pub fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            d.is_foreign_key_violation()
                || d.code().as_deref() == Some("23503")
                || d.message().contains("FOREIGN KEY constraint failed")
        }
        _ => false,
    }
}

/// A new time-ordered identifier (UUID v7).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Keyset-pagination cursor over `(created_at, id)`, newest first: the next page holds rows with
/// `(created_at, id) < (at, id)`. Timestamps alone cannot page through rows written in the same
/// millisecond; the id breaks the tie. Rendered as `<ms>.<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// `created_at` of the last row of the page.
    pub at: i64,
    /// `id` of the last row of the page.
    pub id: String,
}

impl Cursor {
    /// Parses `<ms>.<id>`; `None` when malformed.
    pub fn parse(s: &str) -> Option<Cursor> {
        let (at, id) = s.split_once('.')?;
        let at = at.parse().ok()?;
        (!id.is_empty() && id.len() <= 64).then(|| Cursor { at, id: id.to_string() })
    }

    /// The start: after every row.
    pub fn start() -> Cursor {
        Cursor { at: i64::MAX, id: String::new() }
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.at, self.id)
    }
}
