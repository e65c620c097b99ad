//! Every limit of the product, in one place.
//!
//! Validation ([`crate::validate`]), the OpenAPI schema (server) and the browser library all read
//! these constants; changing a limit here changes it everywhere.

/// Longest coaching text that may be synthesized, stored or returned (characters).
pub const MAX_TEXT_CHARS: usize = 280;
/// Set numbers within a workout.
pub const SET_NUMBER_MIN: u32 = 1;
/// Set numbers within a workout.
pub const SET_NUMBER_MAX: u32 = 20;
/// Strain is a percentage.
pub const STRAIN_MIN: f64 = 0.0;
/// Strain is a percentage.
pub const STRAIN_MAX: f64 = 100.0;
/// Hours of sleep the night before.
pub const SLEEP_HOURS_MIN: f64 = 0.0;
/// Hours of sleep the night before.
pub const SLEEP_HOURS_MAX: f64 = 24.0;
/// Voice cloning needs at least this many samples.
pub const CLONE_SAMPLES_MIN: usize = 3;
/// Voice cloning accepts at most this many samples.
pub const CLONE_SAMPLES_MAX: usize = 10;
/// Longest name of a cloned voice (characters).
pub const VOICE_NAME_MAX_CHARS: usize = 50;
/// List endpoints: smallest `limit`.
pub const LIST_LIMIT_MIN: u32 = 1;
/// List endpoints: largest `limit`.
pub const LIST_LIMIT_MAX: u32 = 100;
/// List endpoints: `limit` when none is given.
pub const LIST_LIMIT_DEFAULT: u32 = 20;
/// Clips kept per user, in the browser and in the server's cache index.
pub const VOICE_CACHE_MAX_ENTRIES: usize = 10;
/// Training data is kept this many days (six months), then deleted by the retention job.
pub const RETENTION_DAYS: i64 = 183;
/// Strain at or above which a set counts as high strain (tone: whisper).
pub const HIGH_STRAIN_THRESHOLD: f64 = 80.0;
/// Retries of a failed training session (automatic and manual together).
pub const MAX_TRAINING_RETRIES: u32 = 5;

/// User ids are chosen by the app's backend: 1–128 characters of `[A-Za-z0-9._:@-]`.
pub const USER_ID_MAX_CHARS: usize = 128;
/// Email addresses (RFC 5321 path limit).
pub const EMAIL_MAX_CHARS: usize = 254;
/// Display names kept on the user record (used to detect names in free text).
pub const DISPLAY_NAME_MAX_CHARS: usize = 100;
/// Exercise identifiers such as `bench_press`.
pub const EXERCISE_TYPE_MAX_CHARS: usize = 64;
/// Short free-text reasons such as `too_tired`.
pub const SKIP_REASON_MAX_CHARS: usize = 120;
/// Workout context labels such as `high_strain_set`.
pub const CONTEXT_MAX_CHARS: usize = 64;
/// Context tags per training record.
pub const CONTEXT_TAGS_MAX: usize = 16;
/// Weight lifted (kg or lb, as the app records it).
pub const WEIGHT_MAX: f64 = 1000.0;
/// Repetitions in one set.
pub const REPS_MAX: u32 = 200;
/// Rate of perceived exertion (RPE), 0–10 scale.
pub const RPE_MAX: f64 = 10.0;
/// Batch identifiers of training sessions.
pub const BATCH_ID_MAX_CHARS: usize = 100;
/// Free-text reasons (rollback reason, error messages set by admins).
pub const REASON_MAX_CHARS: usize = 500;
/// Longest token lifetime an admin may mint (30 days).
pub const TOKEN_TTL_MAX_SECS: i64 = 30 * 24 * 3600;
