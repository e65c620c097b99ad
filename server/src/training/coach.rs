//! `POST /v1/ai/coach`: a coaching line for a workout moment, from the model deployed to
//! production. Every generation is checked — no PII (names from the user's record included),
//! 1–280 characters, a tone that fits the context — and regenerated up to five times; when no
//! model is live or none of the five passes, a rule-based line answers (`modelVersion: "rules"`).

use axum::extract::State;
use coach_shared::limits::MAX_TEXT_CHARS;
use coach_shared::pii::PiiScanner;
use coach_shared::types::training::{CoachRequest, CoachResponse};
use coach_shared::{Tone, ToneContext, choose_tone};

use super::serving::CoachContext;
use crate::auth::AuthUser;
use crate::error::{ApiResult, AppError};
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::workouts;

/// Generations tried before the rule-based fallback.
pub const MAX_ATTEMPTS: u64 = 5;

/// Builds the generation context from the request (or the referenced workout).
async fn context_of(state: &AppState, auth: &AuthUser, req: &CoachRequest) -> ApiResult<CoachContext> {
    let mut ctx = CoachContext {
        exercise_type: req.exercise_type.clone().unwrap_or_default(),
        set_number: req.set_number.unwrap_or(1),
        strain_percentage: req.strain_percentage.unwrap_or(50.0),
        skip_reason: req.skip_reason.clone(),
        sleep_hours: req.sleep_hours,
        context_tags: req.context_tags.clone(),
    };
    if let Some(id) = &req.workout_entry_id {
        let w =
            workouts::find_own(&state.db, auth.id(), id).await?.ok_or_else(|| AppError::not_found("Workout entry"))?;
        ctx.exercise_type = w.exercise_type.clone();
        ctx.set_number = w.set_number.clamp(1, 20) as u32;
        ctx.strain_percentage =
            req.strain_percentage.or(w.strain_percentage).unwrap_or((w.perceived_exertion * 10.0).clamp(0.0, 100.0));
        ctx.skip_reason = req.skip_reason.clone().or(w.skip_reason.clone());
        ctx.sleep_hours = req.sleep_hours.or(w.sleep_hours);
    }
    Ok(ctx)
}

/// The tone the context calls for.
pub fn expected_tone(ctx: &CoachContext) -> Tone {
    choose_tone(&ToneContext { strain: Some(ctx.strain_percentage), tags: &ctx.context_tags, label: None })
}

/// Whether a generated line may be shown.
pub fn compliant(text: &str, tone: Tone, ctx: &CoachContext, scanner: &PiiScanner) -> bool {
    let n = text.trim().chars().count();
    n > 0 && n <= MAX_TEXT_CHARS && tone == expected_tone(ctx) && !scanner.contains_pii(text)
}

fn exercise_name(e: &str) -> String {
    let name = e.replace('_', " ");
    if name.trim().is_empty() { "this lift".into() } else { name }
}

/// The rule-based line for a context (deterministic, always compliant).
pub fn rule_based(ctx: &CoachContext) -> (String, Tone) {
    let tone = expected_tone(ctx);
    let ex = exercise_name(&ctx.exercise_type);
    let set = ctx.set_number;
    let skipped = ctx.skip_reason.is_some();
    let low_sleep = ctx.sleep_hours.is_some_and(|h| h < 6.0);
    let text = match tone {
        Tone::Hype => format!("This is your moment on {ex}! Set {set}, full send. Let's go!"),
        Tone::Whisper => format!("Breathe. Brace. Slow and controlled on set {set} of {ex}. You've got this."),
        Tone::Neutral if skipped => format!("Skipping is fine. Rest up, and we'll pick {ex} back up next session."),
        Tone::Neutral if low_sleep => format!("Short night. Keep {ex} crisp and leave a rep in the tank on set {set}."),
        Tone::Neutral => format!("Solid work. Set {set} of {ex}: steady tempo, full range of motion."),
    };
    (text, tone)
}

/// A coaching line for a workout moment.
#[utoipa::path(post, path = "/v1/ai/coach", tag = "Coach",
    request_body = CoachRequest,
    responses(
        (status = 200, description = "A compliant coaching line", body = CoachResponse),
        (status = 400, description = "Invalid context", body = coach_shared::ErrorResponse),
        (status = 401, description = "Unauthenticated", body = coach_shared::ErrorResponse),
        (status = 404, description = "workoutEntryId is not one of the caller's", body = coach_shared::ErrorResponse),
        (status = 429, description = "Coaching rate limit exceeded (`COACH_AI_COACH_PER_MINUTE` / `_BURST`)", body = coach_shared::ErrorResponse)),
    security(("BearerAuth" = [])))]
pub async fn coach(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(req): ApiJson<CoachRequest>,
) -> ApiResult<axum::Json<CoachResponse>> {
    state.limits.coach.check(auth.id())?;
    let ctx = context_of(&state, &auth, &req).await?;
    if let Some(live) = state.training.serving.get("production") {
        let scanner = PiiScanner::with_names(auth.user.identifying_strings());
        let seed_base = state.training.next_seed();
        let (generator, c) = (live.generator.clone(), ctx.clone());
        let found = tokio::task::spawn_blocking(move || {
            (0..MAX_ATTEMPTS).find_map(|i| match generator.generate(&c, seed_base.wrapping_add(i)) {
                Ok((text, tone)) if compliant(&text, tone, &c, &scanner) => {
                    Some((text.trim().to_string(), tone, i + 1))
                }
                Ok(_) => None,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "generation failed");
                    None
                }
            })
        })
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
        match found {
            Some((text, tone, attempts)) => {
                state.training.metrics.coach.with_label_values(&["model"]).inc();
                tracing::debug!(attempts, version = %live.version, "coach line from the model");
                return Ok(axum::Json(CoachResponse { text, tone, model_version: live.version.clone() }));
            }
            None => {
                tracing::info!(version = %live.version, "no compliant generation in {MAX_ATTEMPTS} attempts; rule-based fallback")
            }
        }
    }
    state.training.metrics.coach.with_label_values(&["rules"]).inc();
    let (text, tone) = rule_based(&ctx);
    Ok(axum::Json(CoachResponse { text, tone, model_version: "rules".into() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_based_lines_are_compliant_for_every_tone() {
        let scanner = PiiScanner::default();
        for (strain, tags) in
            [(95.0, vec![]), (40.0, vec!["pr_attempt".to_string()]), (40.0, vec![]), (10.0, vec!["skipped_set".into()])]
        {
            let ctx = CoachContext {
                exercise_type: "bench_press".into(),
                set_number: 3,
                strain_percentage: strain,
                context_tags: tags,
                ..Default::default()
            };
            let (text, tone) = rule_based(&ctx);
            assert!(compliant(&text, tone, &ctx, &scanner), "{text}");
        }
    }

    #[test]
    fn compliance_rejects_pii_length_and_wrong_tone() {
        let ctx = CoachContext { strain_percentage: 95.0, ..Default::default() };
        let scanner = PiiScanner::with_names(["Jordan Smith"]);
        assert!(compliant("Breathe and brace.", Tone::Whisper, &ctx, &scanner));
        assert!(!compliant("Breathe and brace.", Tone::Hype, &ctx, &scanner), "tone must fit");
        assert!(!compliant("Call 555-123-4567", Tone::Whisper, &ctx, &scanner));
        assert!(!compliant("Nice, Jordan Smith", Tone::Whisper, &ctx, &scanner));
        assert!(!compliant(&"a".repeat(281), Tone::Whisper, &ctx, &scanner));
        assert!(!compliant("  ", Tone::Whisper, &ctx, &scanner));
    }
}
