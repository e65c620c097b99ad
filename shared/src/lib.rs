//! # coach-shared
//!
//! The rules that *are* the product, written once and used by both sides: the axum server
//! (`coach-server`) and the browser library (`coach-wasm`). Nothing in here performs I/O, so the
//! crate builds for native targets and for `wasm32-unknown-unknown` alike.
//!
//! | module | rule |
//! |---|---|
//! | [`limits`] | every numeric and length limit of the product |
//! | [`types`] | serde types for every entity and request/response body (camelCase on the wire) |
//! | [`validate`] | field-level validation of request bodies against [`limits`] |
//! | [`anonymize`] | `hashedUserId` = lowercase hex SHA-256 of the user id |
//! | [`pii`] | detection of emails, phones, cards, SSN-like numbers, IBANs, IP addresses and known names in free text, after undoing obfuscation |
//! | [`tone`] | whisper / neutral / hype chosen from the workout context |
//! | [`cache_key`] | the content key of a synthesized clip |
//! | [`rotation`] | the 10-entry random-rotation policy of the voice cache |
//! | [`tags`] | the vocabulary of workout context tags |
//! | [`ts`] | TypeScript declarations of the API bodies (feature `ts`, ts-rs; build/test time only) |
//! | [`unicode`] | NFC / NFKD from `unicode-normalization`, or from the browser (`browser-normalize`) |
//!
//! Test vectors in `shared/vectors/*.json` are loaded by the tests of this crate, of the server
//! and of the wasm client (in Chromium), so the two sides cannot drift apart.

pub mod anonymize;
pub mod cache_key;
pub mod limits;
pub mod pii;
pub mod rotation;
pub mod tags;
pub mod tone;
#[cfg(feature = "ts")]
pub mod ts;
pub mod types;
pub mod unicode;
pub mod validate;

pub use anonymize::{hash_user_id, is_hashed_user_id};
pub use cache_key::{ClipKeyParts, clip_cache_key, normalize_text};
pub use pii::{PiiKind, PiiMatch, find_pii};
pub use rotation::{Admission, RandomSource, RotationPolicy, SplitMix64};
pub use tone::{ToneContext, choose_tone};
pub use types::common::{ErrorResponse, Personality, Tone};
pub use validate::{FieldError, Validate, ValidationErrors};

/// The JSON test vectors, embedded so every consumer (native tests, the server, the browser
/// tests) reads the very same bytes.
pub mod vectors {
    /// `[{ "input": "...", "sha256": "..." }]`: user-id hashes.
    pub const HASHES: &str = include_str!("../vectors/hashes.json");
    /// Cache keys for given [`crate::ClipKeyParts`].
    pub const CACHE_KEYS: &str = include_str!("../vectors/cache_keys.json");
    /// Tone choices for given contexts.
    pub const TONES: &str = include_str!("../vectors/tones.json");
    /// PII positives (must be found, with their kind) and near-misses (must pass).
    pub const PII: &str = include_str!("../vectors/pii.json");
    /// `{names, refused: [{text, kind}], accepted: [text]}`: obfuscated PII variants that must be
    /// refused (with their kind) and ordinary coaching lines that must pass, for a user with
    /// these names.
    pub const PII_CORPUS: &str = include_str!("../vectors/pii_corpus.json");
    /// `[{input, folded}]`: the text the PII recognisers read ([`crate::pii::folded`]), over
    /// compatibility forms, marks, invisibles, other scripts' digits and look-alikes — the cases
    /// where the browser's `String.prototype.normalize` must agree with `unicode-normalization`.
    pub const FOLDS: &str = include_str!("../vectors/folds.json");
    /// Rotation decisions for a seeded random source.
    pub const ROTATION: &str = include_str!("../vectors/rotation.json");
}
