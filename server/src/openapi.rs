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
