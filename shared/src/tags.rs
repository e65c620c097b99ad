//! The vocabulary of workout context tags.
//!
//! Training records and coach requests carry `contextTags`; only these tags are accepted, so the
//! trainer sees a closed set of prompt tokens and free text (and with it PII) cannot hide in a tag.

/// Every accepted context tag, grouped by what it describes.
pub const CONTEXT_TAGS: &[&str] = &[
    // effort
    "high_strain",
    "moderate_strain",
    "low_strain",
    "max_effort",
    "grinding",
    "failure",
    "form_breakdown",
    "easy_set",
    // achievement
    "pr_attempt",
    "personal_record",
    "achievement",
    "milestone",
    "streak",
    "comeback",
    // recovery and fatigue
    "fatigue",
    "low_sleep",
    "well_rested",
    "recovery",
    "deload",
    "sore",
    "injury_caution",
    "skipped_set",
    // phase of the session
    "warmup",
    "working_set",
    "final_set",
    "cooldown",
    "dropset",
    "superset",
    "rest_period",
    // time of day
    "morning_workout",
    "afternoon_workout",
    "evening_workout",
    // training style
    "strength",
    "hypertrophy",
    "endurance",
    "cardio",
    "mobility",
];

/// Tags that call for a hype tone.
pub const HYPE_TAGS: &[&str] = &["pr_attempt", "personal_record", "achievement", "milestone", "streak"];

/// Tags that call for a whisper tone.
pub const WHISPER_TAGS: &[&str] = &["high_strain", "max_effort", "grinding", "failure"];

/// Whether `tag` is in the vocabulary.
pub fn is_known_tag(tag: &str) -> bool {
    CONTEXT_TAGS.contains(&tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tone_tags_are_in_the_vocabulary_and_well_formed() {
        for t in HYPE_TAGS.iter().chain(WHISPER_TAGS) {
            assert!(is_known_tag(t), "{t}");
        }
        for t in CONTEXT_TAGS {
            assert!(t.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{t}");
        }
        let mut sorted = CONTEXT_TAGS.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), CONTEXT_TAGS.len(), "duplicate tag");
    }
}
