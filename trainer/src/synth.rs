//! Synthetic coaching records for development, tests and benchmarks (never mixed with user data).
//! Contexts are drawn to look like real sessions — exercises with realistic frequencies, strain
//! rising over the sets, sleep, tags from the vocabulary consistent with the numbers, occasional
//! skips and PR attempts — and responses are composed from tone-specific phrase banks: calm and
//! quiet on high strain, hype for records, neutral otherwise, with context remarks (sleep, skip,
//! warm-up, last set, injury caution). Phrases depend mostly on the prompt's fields (exercise, set
//! and strain buckets, tags), as a coach's habits would, with random alternatives: a model can
//! compose the parts for contexts it never saw, while a lookup table needs the exact context.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use coach_shared::limits::MAX_TEXT_CHARS;
use coach_shared::{RandomSource, SplitMix64, Tone};

use crate::data::{CoachContext, Example};
use crate::tokenizer::{set_bucket, sleep_bucket, strain_bucket};

/// Exercise id, how people say it, relative frequency.
const EXERCISES: &[(&str, &str, u32)] = &[
    ("bench_press", "bench", 12),
    ("squat", "squat", 12),
    ("deadlift", "deadlift", 10),
    ("overhead_press", "overhead press", 7),
    ("barbell_row", "rows", 7),
    ("pull_up", "pull-ups", 6),
    ("push_up", "push-ups", 5),
    ("romanian_deadlift", "RDLs", 5),
    ("front_squat", "front squat", 4),
    ("incline_bench_press", "incline bench", 4),
    ("leg_press", "leg press", 4),
    ("lat_pulldown", "pulldowns", 4),
    ("hip_thrust", "hip thrusts", 4),
    ("bicep_curl", "curls", 4),
    ("tricep_extension", "triceps extensions", 3),
    ("lunge", "lunges", 3),
    ("dip", "dips", 3),
    ("kettlebell_swing", "swings", 3),
    ("goblet_squat", "goblet squats", 2),
    ("chin_up", "chin-ups", 2),
    ("face_pull", "face pulls", 2),
    ("calf_raise", "calf raises", 2),
    ("farmers_walk", "carries", 2),
    ("box_jump", "box jumps", 1),
    ("rowing", "row", 2),
    ("running", "run", 2),
    ("cycling", "ride", 1),
    ("plank", "plank", 1),
    ("sled_push", "sled push", 1),
];

const SKIP_REASONS: &[(&str, &str)] = &[
    ("too_tired", "rest is part of training"),
    ("pain", "pain is a signal, not a challenge"),
    ("short_on_time", "a shorter session still counts"),
    ("equipment_busy", "we can swap it in later"),
    ("felt_off", "trust how your body feels today"),
];

const WHISPER_OPEN: &[&str] = &[
    "Breathe.",
    "Easy breath in, brace.",
    "Stay with it.",
    "Quiet focus now.",
    "Slow down.",
    "Steady.",
    "Calm and controlled.",
    "One rep at a time.",
    "Shh, just you and the bar.",
    "Settle in.",
];
const WHISPER_BODY: &[&str] = &[
    "This {ex} set is heavy, so own every inch of it.",
    "Set {set} is the hard one: smooth reps, no rushing.",
    "Keep your form tight and let the {ex} move slowly.",
    "Strain is high, so brace before each rep and breathe out at the top.",
    "Nothing fancy on this {ex}, just clean, patient reps.",
    "Heavy {ex} rewards patience, so stay tight and controlled.",
    "Keep your eyes steady and push through the floor.",
    "Grind it out with good form, quality over speed.",
    "Protect your back on this {ex}, stay braced the whole way.",
];
const WHISPER_CLOSE: &[&str] = &[
    "You have this.",
    "Quietly strong.",
    "Breathe between reps.",
    "Rack it safely if the form slips.",
    "Slow is smooth.",
];

const HYPE_OPEN: &[&str] = &[
    "Let's go!",
    "YES!",
    "This is it!",
    "Huge moment!",
    "Record time!",
    "Here we go!",
    "Big energy now!",
    "Look at you!",
    "Game time!",
];
const HYPE_BODY: &[&str] = &[
    "A new best on {ex} is right there, go grab it!",
    "You built up to this {ex} for weeks, now show it!",
    "Set {set} and you are chasing a record, attack it!",
    "Every session led to this {ex}, make it count!",
    "That {ex} PR has your name on it!",
    "Explode off the bottom and finish strong!",
    "Loud and proud on this {ex}, you earned this shot!",
    "Nothing held back on this {ex}, all in!",
];
const HYPE_CLOSE: &[&str] = &["Go get it!", "Make history!", "Crush it!", "Celebrate after!", "Own this moment!"];

const NEUTRAL_OPEN: &[&str] = &[
    "Nice work.",
    "Good set.",
    "Solid.",
    "Alright.",
    "Looking good.",
    "Well done.",
    "Keep it rolling.",
    "Good pace.",
    "Nice rhythm.",
];
const NEUTRAL_BODY: &[&str] = &[
    "Set {set} of {ex} done, keep the tempo steady.",
    "Your {ex} looks consistent, same setup next set.",
    "Stay focused on form for the next set of {ex}.",
    "Take a normal rest and go again on {ex}.",
    "That {ex} moved well, keep the bar path clean.",
    "Keep the same weight on {ex} and build the volume.",
    "Controlled reps on {ex}, that is what we want.",
    "Good depth and control on that {ex}.",
    "Stay consistent on {ex}, steady work adds up.",
];
const NEUTRAL_CLOSE: &[&str] =
    &["On to the next.", "Keep going.", "Stay consistent.", "Nice and steady.", "Hydrate and reset."];

/// A stable small hash of an exercise id (the synthetic coach has habits per exercise).
fn ex_key(ex: &str) -> usize {
    ex.bytes().fold(2166136261u32, |h, b| (h ^ u32::from(b)).wrapping_mul(16777619)) as usize
}

/// Mostly the phrase this context calls for (`key`), sometimes any other: the same context maps
/// to a few lines, so a model has structure to learn and a lookup table cannot be perfect.
fn choose<'a>(rng: &mut SplitMix64, items: &[&'a str], key: usize, p_fixed: f64) -> &'a str {
    if chance(rng, p_fixed) { items[key % items.len()] } else { items[rng.below(items.len())] }
}

/// Context remarks that apply when a tag or value is present, most relevant first.
fn remarks(ctx: &CoachContext, key: usize, rng: &mut SplitMix64) -> Vec<String> {
    let has = |t: &str| ctx.context_tags.iter().any(|x| x == t);
    let mut r: Vec<String> = Vec::new();
    if let Some(reason) = ctx.skip_reason.as_deref() {
        let why = SKIP_REASONS.iter().find(|(k, _)| *k == reason).map_or("that is fine", |(_, w)| w);
        let lead = choose(rng, &["Skipping that set is okay,", "No stress about the skip,"], key, 0.8);
        r.push(format!("{lead} {why}."));
    }
    if has("injury_caution") {
        r.push("Stop if anything feels sharp.".to_string());
    }
    if has("low_sleep") || ctx.sleep_hours.is_some_and(|h| h < 6.0) {
        let short = [
            "Sleep was short, so listen to your body today.",
            "Short night, so keep the effort honest.",
            "Low sleep means we leave a rep in the tank.",
        ];
        r.push(choose(rng, &short, key, 0.8).to_string());
    } else if has("well_rested") {
        r.push(
            choose(rng, &["You are well rested, use it.", "Good sleep shows in that bar speed."], key, 0.8).to_string(),
        );
    }
    if has("final_set") {
        r.push(choose(rng, &["Last set, finish clean.", "Final set, leave it all here."], key, 0.8).to_string());
    }
    if has("warmup") {
        r.push(
            choose(rng, &["Warm-up set, just groove the pattern.", "Easy warm-up, wake the muscles up."], key, 0.8)
                .to_string(),
        );
    }
    if has("comeback") {
        r.push("Good to have you back under the bar.".to_string());
    }
    if has("fatigue") || has("sore") {
        let tired = ["Fatigue is real today, keep the reps crisp.", "A little sore, so move well first."];
        r.push(choose(rng, &tired, key, 0.8).to_string());
    }
    if has("streak") {
        r.push("That streak keeps growing!".to_string());
    }
    r
}

fn pick<T: Clone>(rng: &mut SplitMix64, items: &[T]) -> T {
    items[rng.below(items.len())].clone()
}

fn chance(rng: &mut SplitMix64, p: f64) -> bool {
    ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
}

fn gauss(rng: &mut SplitMix64) -> f64 {
    (0..6).map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64).sum::<f64>() - 3.0
}

/// A random, realistic workout context.
pub fn synth_context(rng: &mut SplitMix64) -> CoachContext {
    let total: u32 = EXERCISES.iter().map(|e| e.2).sum();
    let mut x = rng.below(total as usize) as u32;
    let ex = EXERCISES
        .iter()
        .find(|e| {
            if x < e.2 {
                true
            } else {
                x -= e.2;
                false
            }
        })
        .expect("weighted");
    let set_number = if chance(rng, 0.9) { 1 + rng.below(5) as u32 } else { 6 + rng.below(5) as u32 };
    let strain = (40.0 + set_number as f64 * 7.0 + gauss(rng) * 14.0).clamp(5.0, 100.0);
    let strain = (strain * 2.0).round() / 2.0;
    let sleep_hours = chance(rng, 0.85).then(|| ((7.2 + gauss(rng) * 1.3).clamp(3.0, 11.0) * 2.0).round() / 2.0);
    let mut tags: Vec<&str> = Vec::new();
    if strain >= 80.0 {
        tags.push(if chance(rng, 0.7) { "high_strain" } else { pick(rng, &["max_effort", "grinding", "failure"]) });
    } else if strain >= 55.0 {
        if chance(rng, 0.7) {
            tags.push("moderate_strain");
        }
    } else {
        tags.push(if chance(rng, 0.5) { "low_strain" } else { "easy_set" });
    }
    if chance(rng, 0.09) {
        tags.push("pr_attempt");
    } else if chance(rng, 0.03) {
        tags.push(pick(rng, &["personal_record", "milestone", "achievement"]));
    }
    if chance(rng, 0.02) {
        tags.push("streak");
    }
    if chance(rng, 0.03) {
        tags.push("comeback");
    }
    tags.push(if set_number == 1 && chance(rng, 0.6) { "warmup" } else { "working_set" });
    if set_number >= 3 && chance(rng, 0.2) {
        tags.push("final_set");
    }
    match sleep_hours {
        Some(h) if h < 6.0 && chance(rng, 0.8) => tags.push("low_sleep"),
        Some(h) if h >= 8.0 && chance(rng, 0.5) => tags.push("well_rested"),
        _ => {}
    }
    if chance(rng, 0.6) {
        tags.push(pick(rng, &["morning_workout", "afternoon_workout", "evening_workout"]));
    }
    if chance(rng, 0.4) {
        tags.push(pick(rng, &["strength", "hypertrophy", "endurance"]));
    }
    for (t, p) in [("fatigue", 0.05), ("sore", 0.04), ("injury_caution", 0.02), ("deload", 0.02)] {
        if chance(rng, p) {
            tags.push(t);
        }
    }
    let skip_reason = chance(rng, 0.04).then(|| pick(rng, SKIP_REASONS).0.to_string());
    if skip_reason.is_some() {
        tags.push("skipped_set");
    }
    CoachContext {
        exercise_type: ex.0.into(),
        set_number,
        strain_percentage: strain,
        skip_reason,
        sleep_hours,
        context_tags: tags.into_iter().map(str::to_string).collect(),
    }
}

/// A coaching line whose wording fits the tone of `ctx`. The phrasing depends on the prompt's
/// fields (exercise, set and strain buckets, tags) with some randomness.
pub fn synth_response(ctx: &CoachContext, rng: &mut SplitMix64) -> String {
    let spoken = EXERCISES.iter().find(|e| e.0 == ctx.exercise_type).map_or("lift", |e| e.1);
    let (open, body, close) = match ctx.expected_tone() {
        Tone::Whisper => (WHISPER_OPEN, WHISPER_BODY, WHISPER_CLOSE),
        Tone::Hype => (HYPE_OPEN, HYPE_BODY, HYPE_CLOSE),
        Tone::Neutral => (NEUTRAL_OPEN, NEUTRAL_BODY, NEUTRAL_CLOSE),
    };
    let (ek, sb, kb) = (ex_key(&ctx.exercise_type), set_bucket(ctx.set_number), strain_bucket(ctx.strain_percentage));
    let fill = |s: &str| s.replace("{ex}", spoken).replace("{set}", &ctx.set_number.to_string());
    let mut parts = vec![fill(choose(rng, open, ek + sb, 0.7)), fill(choose(rng, body, ek / 7 + 3 * kb + sb, 0.7))];
    let mut extra = remarks(ctx, ek + sleep_bucket(ctx.sleep_hours), rng);
    extra.truncate(2);
    parts.extend(extra);
    let closing = ctx.context_tags.iter().any(|t| t == "final_set") || sb >= 3;
    if chance(rng, if closing { 0.85 } else { 0.15 }) {
        parts.push(choose(rng, close, ek / 3 + kb, 0.7).to_string());
    }
    let mut text = parts.join(" ");
    while text.chars().count() > MAX_TEXT_CHARS && parts.len() > 2 {
        parts.remove(2);
        text = parts.join(" ");
    }
    text
}

/// A synthetic record.
pub fn synth_example(rng: &mut SplitMix64) -> Example {
    let context = synth_context(rng);
    let ai_response = synth_response(&context, rng);
    Example { context, ai_response, timestamp: None }
}

/// Writes `records` synthetic records as `shard-NNNNN.jsonl` files of `shard_size` lines into
/// `dir` (created), streaming: memory does not depend on the number of records.
pub fn write_synthetic(dir: &Path, records: u64, shard_size: u64, seed: u64) -> Result<usize> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut rng = SplitMix64::new(seed);
    let shard_size = shard_size.max(1);
    let mut shards = 0usize;
    let mut written = 0u64;
    while written < records {
        let path = dir.join(format!("shard-{shards:05}.jsonl"));
        let mut w =
            BufWriter::new(std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?);
        let n = shard_size.min(records - written);
        for _ in 0..n {
            serde_json::to_writer(&mut w, &synth_example(&mut rng))?;
            w.write_all(b"\n")?;
        }
        w.flush()?;
        written += n;
        shards += 1;
    }
    Ok(shards)
}

#[cfg(test)]
mod tests {
    use super::*;
    use coach_shared::find_pii;

    #[test]
    fn synthetic_records_are_valid_varied_and_tone_fitting() {
        let mut rng = SplitMix64::new(3);
        let mut tones = [0usize; 3];
        let mut texts = std::collections::HashSet::new();
        for _ in 0..2000 {
            let ex = synth_example(&mut rng);
            ex.validate().unwrap();
            assert!(find_pii(&ex.ai_response).is_none(), "{}", ex.ai_response);
            for t in &ex.context.context_tags {
                assert!(coach_shared::tags::is_known_tag(t), "{t}");
            }
            let tone = ex.context.expected_tone();
            tones[Tone::ALL.iter().position(|t| *t == tone).unwrap()] += 1;
            if tone == Tone::Hype {
                assert!(HYPE_OPEN.iter().any(|o| ex.ai_response.starts_with(o)), "{}", ex.ai_response);
            }
            texts.insert(ex.ai_response);
        }
        assert!(tones.iter().all(|n| *n > 100), "{tones:?}");
        assert!(texts.len() > 1000, "only {} distinct lines", texts.len());
    }
}
