//! The frame of the generated OpenAPI document: title, servers, security schemes and tags. The
//! paths and schemas come from the `#[utoipa::path]` handlers that each module registers.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The document's frame.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Coach API",
        description = "Voice and training backbone of the Coach fitness app (AI coaches Alice and Aiden). \
                       Implements the Voice Synthesis API and the AI Training System API under /v1.",
        license(name = "MIT OR Apache-2.0")
    ),
    modifiers(&Security),
    tags(
        (name = "Users", description = "Users, tokens and consent"),
        (name = "Workouts", description = "Logged sets"),
        (name = "Operations", description = "Health, readiness, metrics, this document"),
        (name = "Training Data", description = "Operations for submitting and managing training data"),
        (name = "Training Sessions", description = "Operations for managing AI training sessions"),
        (name = "AI Models", description = "Operations for managing AI models and deployments"),
        (name = "Coach", description = "Coaching responses from the deployed model"),
        (name = "Voice Preferences", description = "Operations for managing user voice preferences"),
        (name = "Voice Clone", description = "Operations for voice cloning and personalization"),
        (name = "Voice Synthesis", description = "Operations for generating voice audio"),
        (name = "Voice Cache", description = "Operations for managing voice audio cache"),
        (name = "Voice Interactions", description = "Operations for tracking voice interactions during workouts"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "BearerAuth",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
        components
            .add_security_scheme("ApiKeyAuth", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
    }
}

/// The contracts' `operationId`s (`shared/contracts/*.openapi.yaml`) by `METHOD path`.
const CONTRACT_OPERATION_IDS: [(&str, &str, &str); 20] = [
    ("post", "/v1/ai-training/data", "submitTrainingData"),
    ("get", "/v1/ai-training/sessions", "listTrainingSessions"),
    ("post", "/v1/ai-training/sessions", "startTrainingSession"),
    ("get", "/v1/ai-training/sessions/{sessionId}", "getTrainingSession"),
    ("patch", "/v1/ai-training/sessions/{sessionId}", "updateTrainingSession"),
    ("get", "/v1/ai-training/models", "listAIModels"),
    ("get", "/v1/ai-training/models/{modelId}", "getAIModel"),
    ("post", "/v1/ai-training/models/{modelId}/deploy", "deployAIModel"),
    ("post", "/v1/ai-training/models/{modelId}/rollback", "rollbackAIModel"),
    ("get", "/v1/voice/preferences", "getVoicePreferences"),
    ("put", "/v1/voice/preferences", "updateVoicePreferences"),
    ("post", "/v1/voice/clone", "initiateVoiceClone"),
    ("get", "/v1/voice/clone/status", "getVoiceCloneStatus"),
    ("post", "/v1/voice/synthesize", "synthesizeVoice"),
    ("get", "/v1/voice/cache", "getCachedVoiceClips"),
    ("delete", "/v1/voice/cache", "clearVoiceCache"),
    ("get", "/v1/voice/cache/{cacheId}", "getCachedVoiceClip"),
    ("delete", "/v1/voice/cache/{cacheId}", "deleteCachedVoiceClip"),
    ("post", "/v1/voice/interactions", "recordVoiceInteraction"),
    ("get", "/v1/voice/interactions/workout/{workoutId}", "getWorkoutVoiceInteractions"),
];

/// Completes the merged document with what every operation can answer but handlers do not list
/// one by one, so clients and schema-driven fuzzers (schemathesis) see every status the server
/// sends: 400 (malformed JSON, bad query or path values), 413 (body over the limit) and 415 (no or
/// wrong `Content-Type`) for operations with a body, 400 for operations with query or path
/// parameters, 403 for routes that act for a user (the admin key is refused). Also gives every
/// operation a unique `operationId` (the contracts' names where they define one), as OpenAPI
/// requires.
pub fn complete(doc: &mut utoipa::openapi::OpenApi) {
    use std::collections::HashMap;
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

    let error = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorResponse"))).build(),
                )
                .build(),
        )
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, op) in operations_mut(item) {
            let Some(op) = op.as_mut() else { continue };
            let responses = &mut op.responses.responses;
            if op.request_body.is_some() {
                responses.entry("400".into()).or_insert_with(|| error("Malformed or invalid body"));
                responses.entry("413".into()).or_insert_with(|| error("Body too large (`payload_too_large`)"));
                responses
                    .entry("415".into())
                    .or_insert_with(|| error("Missing or unsupported Content-Type (`unsupported_media_type`)"));
            }
            let has_params =
                op.parameters.iter().flatten().any(
                    |p| matches!(p, RefOr::T(p) if matches!(p.parameter_in, ParameterIn::Query | ParameterIn::Path)),
                );
            if has_params {
                responses.entry("400".into()).or_insert_with(|| error("Invalid query or path parameter"));
            }
            // A route that acts for a user refuses the admin API key with 403 (the wrong role).
            let security = serde_json::to_value(&op.security).unwrap_or_default();
            let schemes: Vec<&str> = security
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_object())
                .flat_map(|o| o.keys())
                .map(String::as_str)
                .collect();
            let public = security
                .as_array()
                .is_none_or(|a| a.is_empty() || a.iter().any(|s| s.as_object().is_some_and(|o| o.is_empty())));
            if !public && schemes.contains(&"BearerAuth") && !schemes.contains(&"ApiKeyAuth") {
                responses
                    .entry("403".into())
                    .or_insert_with(|| error("The admin API key on a route that acts for a user (`forbidden`)"));
            }
            if let Some((_, _, id)) = CONTRACT_OPERATION_IDS.iter().find(|(m, p, _)| *m == method && p == path) {
                op.operation_id = Some((*id).to_string());
            }
            if let Some(id) = &op.operation_id {
                *seen.entry(id.clone()).or_default() += 1;
            }
        }
    }
    // Ids still shared by several operations get the method and path appended.
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, op) in operations_mut(item) {
            let Some(op) = op.as_mut() else { continue };
            if let Some(id) = op.operation_id.as_mut()
                && seen.get(id.as_str()).is_some_and(|n| *n > 1)
            {
                let words: Vec<&str> =
                    path.split(['/', '{', '}', '-', '.']).filter(|w| !w.is_empty() && *w != "v1").collect();
                *id = format!("{id}_{method}_{}", words.join("_"));
            }
        }
    }
}

/// The operations of a path item, by lowercase method.
fn operations_mut(
    item: &mut utoipa::openapi::path::PathItem,
) -> [(&'static str, &mut Option<utoipa::openapi::path::Operation>); 5] {
    [
        ("get", &mut item.get),
        ("put", &mut item.put),
        ("post", &mut item.post),
        ("delete", &mut item.delete),
        ("patch", &mut item.patch),
    ]
}
