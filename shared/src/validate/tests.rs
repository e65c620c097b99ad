//! Boundary tests of every limit in DESIGN.md.

use super::*;
use crate::types::common::Tone;
use chrono::{Duration, Utc};

fn submission() -> TrainingDataSubmission {
    TrainingDataSubmission {
        hashed_user_id: crate::hash_user_id("user-1"),
        exercise_type: "bench_press".into(),
        set_number: 3,
        strain_percentage: 72.5,
        skip_reason: None,
        sleep_hours: Some(7.5),
        ai_response: "Great form! Try adding 5 more pounds next set.".into(),
        context_tags: vec!["high_strain".into(), "morning_workout".into()],
        timestamp: Utc::now() - Duration::hours(1),
    }
}

fn fields(r: Result<(), ValidationErrors>) -> Vec<String> {
    r.err().map(|e| e.0.into_iter().map(|f| f.field).collect()).unwrap_or_default()
}

#[test]
fn a_good_submission_passes() {
    assert_eq!(submission().validate(), Ok(()));
}

#[test]
fn set_number_limits() {
    for (n, ok) in [(0, false), (1, true), (20, true), (21, false)] {
        let s = TrainingDataSubmission { set_number: n, ..submission() };
        assert_eq!(s.validate().is_ok(), ok, "setNumber {n}");
    }
}

#[test]
fn strain_and_sleep_limits() {
    for (x, ok) in [(-0.1, false), (0.0, true), (100.0, true), (100.01, false), (f64::NAN, false)] {
        let s = TrainingDataSubmission { strain_percentage: x, ..submission() };
        assert_eq!(s.validate().is_ok(), ok, "strain {x}");
    }
    for (x, ok) in [(-1.0, false), (0.0, true), (24.0, true), (24.5, false)] {
        let s = TrainingDataSubmission { sleep_hours: Some(x), ..submission() };
        assert_eq!(s.validate().is_ok(), ok, "sleep {x}");
    }
}

#[test]
fn text_is_at_most_280_characters_counted_as_characters() {
    let ok = "é".repeat(280);
    let long = "é".repeat(281);
    assert!(TrainingDataSubmission { ai_response: ok, ..submission() }.validate().is_ok());
    assert_eq!(fields(TrainingDataSubmission { ai_response: long, ..submission() }.validate()), ["aiResponse"]);
    let synth = |text: &str| VoiceSynthesisRequest {
        text: text.into(),
        tone: Tone::Neutral,
        context: "rest".into(),
        enable_caching: true,
        personality: None,
        force_tone: false,
    };
    assert!(synth(&"a".repeat(280)).validate().is_ok());
    assert!(synth(&"a".repeat(281)).validate().is_err());
    assert!(synth("   ").validate().is_err());
}

#[test]
fn pii_is_rejected_naming_the_field() {
    let s = TrainingDataSubmission { ai_response: "call me at 555-123-4567".into(), ..submission() };
    let err = s.validate().unwrap_err();
    assert_eq!(err.0[0].field, "aiResponse");
    assert_eq!(err.0[0].code, "pii_detected");
    let s = TrainingDataSubmission { skip_reason: Some("ask jo@example.com".into()), ..submission() };
    assert_eq!(fields(s.validate()), ["skipReason"]);
    let scanner = PiiScanner::with_names(["Jordan Smith"]);
    let s = TrainingDataSubmission { ai_response: "Nice one Jordan Smith".into(), ..submission() };
    assert!(s.validate().is_ok());
    assert!(s.validate_for(&scanner, Utc::now()).is_err());
}

#[test]
fn hashed_id_tags_and_timestamp() {
    let s = TrainingDataSubmission { hashed_user_id: "user-1".into(), ..submission() };
    assert_eq!(fields(s.validate()), ["hashedUserId"]);
    let s =
        TrainingDataSubmission { context_tags: vec!["high_strain".into(), "my name is bob".into()], ..submission() };
    assert_eq!(fields(s.validate()), ["contextTags[1]"]);
    let s = TrainingDataSubmission { timestamp: Utc::now() + Duration::hours(1), ..submission() };
    assert_eq!(fields(s.validate()), ["timestamp"]);
    let s = TrainingDataSubmission { timestamp: Utc::now() - Duration::days(200), ..submission() };
    assert_eq!(fields(s.validate()), ["timestamp"]);
}

#[test]
fn every_bad_field_is_listed() {
    let s = TrainingDataSubmission {
        set_number: 0,
        strain_percentage: 101.0,
        exercise_type: "Bench Press!".into(),
        ..submission()
    };
    assert_eq!(fields(s.validate()), ["exerciseType", "setNumber", "strainPercentage"]);
}

#[test]
fn users_and_tokens() {
    let u = CreateUserRequest {
        id: "usr_1".into(),
        email: "a@example.com".into(),
        name: None,
        is_premium: false,
        data_collection_consent: false,
    };
    assert!(u.validate().is_ok());
    assert_eq!(fields(CreateUserRequest { id: "".into(), ..u.clone() }.validate()), ["id"]);
    assert_eq!(fields(CreateUserRequest { id: "a b".into(), ..u.clone() }.validate()), ["id"]);
    assert_eq!(fields(CreateUserRequest { id: "x".repeat(129), ..u.clone() }.validate()), ["id"]);
    assert_eq!(fields(CreateUserRequest { email: "nope".into(), ..u.clone() }.validate()), ["email"]);
    let t = TokenRequest { user_id: "usr_1".into(), role: Role::User, ttl_seconds: Some(10) };
    assert_eq!(fields(t.validate()), ["ttlSeconds"]);
}

#[test]
fn workouts() {
    let w = CreateWorkoutRequest {
        exercise_type: "squat".into(),
        set_number: 1,
        weight: 100.0,
        reps: 5,
        perceived_exertion: 8.5,
        strain_percentage: Some(70.0),
        sleep_hours: None,
        skip_reason: None,
    };
    assert!(w.validate().is_ok());
    assert_eq!(fields(CreateWorkoutRequest { weight: -1.0, ..w.clone() }.validate()), ["weight"]);
    assert_eq!(
        fields(CreateWorkoutRequest { perceived_exertion: 11.0, ..w.clone() }.validate()),
        ["perceivedExertion"]
    );
    assert_eq!(fields(CreateWorkoutRequest { set_number: 21, ..w.clone() }.validate()), ["setNumber"]);
}

#[test]
fn list_limit() {
    assert!(check_list_limit(0).is_err());
    assert!(check_list_limit(1).is_ok());
    assert!(check_list_limit(100).is_ok());
    assert!(check_list_limit(101).is_err());
}
