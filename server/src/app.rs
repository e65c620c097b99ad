//! Assembles the HTTP application: every module's router, the OpenAPI document, the layers that
//! every request passes through, and the fallback (the SvelteKit app, or a JSON 404).

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::edge::EdgeLayer;
use crate::error::error_response;
use crate::openapi::ApiDoc;
use crate::ops::OpenApiJson;
use crate::state::AppState;
use crate::{deletion, dev, ops, training, users, voice, workouts};

/// The API's routes, the clip route (each to get its own layer stack), and the complete OpenAPI
/// document of both.
fn parts() -> (Router<AppState>, Router<AppState>, utoipa::openapi::OpenApi) {
    let (api, mut doc) = area_routes().split_for_parts();
    let (clips, clip_doc) = voice::clip_router().split_for_parts();
    doc.merge(clip_doc);
    crate::openapi::complete(&mut doc);
    (api, clips, doc)
}

/// The API's routes, all but the clip bytes.
fn area_routes() -> OpenApiRouter<AppState> {
    // Each area owns its router; add new areas here.
    let areas = [
        ops::router(),
        users::router(),
        workouts::router(),
        dev::router(),
        training::router(),
        voice::router(),
        deletion::router(),
    ];
    areas.into_iter().fold(OpenApiRouter::with_openapi(ApiDoc::openapi()), OpenApiRouter::merge)
}

/// The generated OpenAPI document (also served at `/v1/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    parts().2
}

/// The complete application for `state`.
///
/// The API's routes get the whole stack. The clip bytes (immutable, public, a CDN's job in
/// production) get only what a static file server needs — metrics and JSON errors, CORS, the
/// request id and the panic guard — and no span, timeout, body limit or OpenAPI extension: in the
/// serving benchmark those cost a sixth of a clip GET.
pub fn build_router(state: AppState) -> Router {
    let (api, clips, doc) = parts();
    let doc = OpenApiJson(Arc::new(doc.to_pretty_json().expect("the OpenAPI document serializes")));
    let api = api
        .fallback(fallback)
        .layer(EdgeLayer::new(state.clone()))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, state.config.request_timeout))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(Extension(doc))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }));
    let clips = clips.layer(EdgeLayer::new(state.clone()));
    let x_request_id = header::HeaderName::from_static("x-request-id");
    api.merge(clips)
        .layer(tower::util::option_layer(cors(&state.config)))
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
        .layer(CatchPanicLayer::custom(|_| {
            error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "An internal error occurred", None)
        }))
        .with_state(state)
}

/// Cross-origin access: the origins listed in `COACH_CORS_ORIGINS`, and in dev mode also the
/// server's own origins ([`own_origins`]). A foreign `Origin` is never echoed: dev mode signs
/// anyone in without credentials, so a page on another site must not be able to read its answers
/// (`npm run dev` proxies `/v1` through its own origin and needs no CORS). With no origin to allow
/// there is no CORS layer at all (it would answer nothing, at a cost on every request).
fn cors(config: &crate::config::Config) -> Option<CorsLayer> {
    let mut allowed: Vec<String> = config.cors_origins.clone();
    if config.dev_mode {
        allowed.extend(own_origins(config.bind));
    }
    let origins: Vec<HeaderValue> = allowed.iter().filter_map(|o| o.parse().ok()).collect();
    if origins.is_empty() {
        return None;
    }
    let base = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::RANGE,
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            header::ETAG,
            header::CONTENT_RANGE,
            header::RETRY_AFTER,
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("idempotent-replayed"),
            HeaderName::from_static("x-cache-key"),
            HeaderName::from_static("x-cache-id"),
            HeaderName::from_static("x-voice-cached"),
            HeaderName::from_static("x-voice-tone"),
            HeaderName::from_static("x-audio-duration"),
            HeaderName::from_static("x-generation-latency"),
        ])
        .max_age(Duration::from_secs(600));
    Some(base.allow_origin(AllowOrigin::list(origins)))
}

/// The origins a browser gives pages the server itself serves at `bind` (a loopback address in
/// dev mode, see `Config`): `http://<bind>`, and the loopback names for the same port.
pub fn own_origins(bind: std::net::SocketAddr) -> Vec<String> {
    let port = bind.port();
    let mut origins = vec![format!("http://{bind}")];
    for host in ["127.0.0.1", "localhost", "[::1]"] {
        let o = format!("http://{host}:{port}");
        if !origins.contains(&o) {
            origins.push(o);
        }
    }
    origins
}

/// Unknown routes: the SvelteKit app when it is built ([`crate::www`]: its files, or `index.html` for
/// a navigation), a JSON 404 otherwise.
async fn fallback(State(state): State<AppState>, req: Request) -> Response {
    let path = req.uri().path();
    let api_path = path == "/v1" || path.starts_with("/v1/");
    let browser = matches!(*req.method(), Method::GET | Method::HEAD);
    // Named by its label (a standard method or OTHER) and a bounded path: an error message is
    // no place to echo kilobytes of whatever was sent.
    let shown: String = path.chars().take(200).collect();
    let more = if shown.len() < path.len() { "…" } else { "" };
    let msg = format!("No route for {} {shown}{more}", crate::metrics::method_label(req.method()));
    if let (Some(dir), false, true) = (state.config.www_dir.as_ref(), api_path, browser)
        && let Some(resp) = crate::www::serve(dir, req).await
    {
        return resp;
    }
    error_response(StatusCode::NOT_FOUND, "not_found", msg, None)
}
