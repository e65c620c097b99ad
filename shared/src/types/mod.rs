//! Serde types of every entity and every request/response body of the two API contracts
//! (`voice-synthesis-api`, `ai-training-api`) and of the identity/workout routes around them.
//!
//! Names are camelCase on the wire and enums are spelled exactly as in the contracts. Response
//! fields the contracts mark `nullable` are always present (as `null` when empty); optional request
//! fields may be omitted.

pub mod common;
pub mod training;
pub mod users;
pub mod voice;

/// Timestamps on the wire: RFC 3339 in UTC.
pub type Timestamp = chrono::DateTime<chrono::Utc>;
