//! Serving the built SvelteKit app (`COACH_WWW_DIR`, adapter-static output) at `/`.
//!
//! * **Compression**: the build writes `.br` and `.gz` next to every compressible file
//!   (`precompress: true` in `www/svelte.config.js`); [`ServeDir`]'s precompressed variants answer
//!   with the best one the request's `Accept-Encoding` allows, fall back to the plain file when a
//!   variant is missing, and always say `Vary: Accept-Encoding`. Nothing is compressed at request
//!   time, and the API and the clips (MP3/WAV) never pass through here.
//! * **Caching**: files under `/_app/immutable/` carry a content hash in their name and are
//!   `public, max-age=31536000, immutable`; everything else (`index.html`, the SPA fallback,
//!   `/service-worker.js`, `/_app/version.json`, the manifest, icons) is `no-cache`, so a deploy
//!   is seen on the next visit (revalidated with `Last-Modified` → 304).
//! * **SPA fallback**: a missing path that is a navigation (see [`is_navigation`]) gets
//!   `index.html`; a missing asset stays a 404 (an HTML page with status 200 under a `.js` name
//!   would be run as a script, or cached for a year).
//! * `HEAD`, `Range` (on the encoding chosen) and `If-Modified-Since` are [`ServeDir`]'s.

use std::path::Path;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

/// Where content-hashed files live (SvelteKit's `_app/immutable/`).
const IMMUTABLE_PREFIX: &str = "/_app/immutable/";

/// `Cache-Control` for a successful answer to `path`.
pub fn cache_control(path: &str) -> &'static str {
    if path.starts_with(IMMUTABLE_PREFIX) { "public, max-age=31536000, immutable" } else { "no-cache" }
}

/// Whether a request for a missing `path` is a browser navigation that the SPA answers: a
/// `GET`/`HEAD` outside `/_app/` whose `Accept` names `text/html` or whose last segment has no
/// file extension (`/settings`, `/admin/models`). `/_app/x.js` or `/logo.png` are assets.
pub fn is_navigation(method: &Method, path: &str, accept: Option<&str>) -> bool {
    if !matches!(*method, Method::GET | Method::HEAD) || path.starts_with("/_app/") {
        return false;
    }
    let last = path.rsplit('/').next().unwrap_or("");
    accept.is_some_and(|a| a.contains("text/html")) || !last.contains('.')
}

/// Answers `req` from `dir` (see the module docs). `None` when the path is missing and not a
/// navigation: the caller answers its JSON 404.
pub async fn serve(dir: &Path, req: Request) -> Option<Response> {
    let path = req.uri().path().to_string();
    let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let navigation = is_navigation(req.method(), &path, accept.as_deref());
    // the parts a second (fallback) request needs; GET and HEAD have no body
    let (method, uri, headers) = (req.method().clone(), req.uri().clone(), req.headers().clone());
    let files = ServeDir::new(dir).append_index_html_on_directories(true).precompressed_br().precompressed_gzip();
    let mut resp = files.oneshot(req).await.unwrap_or_else(|e| match e {}).map(Body::new);
    let mut served = path.as_str();
    if resp.status() == StatusCode::NOT_FOUND {
        if !navigation {
            return None;
        }
        let mut again = Request::builder().method(method).uri(uri).body(Body::empty()).expect("valid parts");
        *again.headers_mut() = headers;
        let index = ServeFile::new(dir.join("index.html")).precompressed_br().precompressed_gzip();
        resp = index.oneshot(again).await.unwrap_or_else(|e| match e {}).map(Body::new);
        served = "/index.html";
    }
    if resp.status().is_success() || resp.status() == StatusCode::NOT_MODIFIED {
        resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control(served)));
    }
    Some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_assets_are_immutable_and_the_rest_revalidates() {
        assert_eq!(cache_control("/_app/immutable/entry/start.Ab12.js"), "public, max-age=31536000, immutable");
        for p in ["/", "/index.html", "/service-worker.js", "/_app/version.json", "/manifest.webmanifest"] {
            assert_eq!(cache_control(p), "no-cache", "{p}");
        }
    }

    #[test]
    fn navigations_are_told_from_assets() {
        let html = Some("text/html,application/xhtml+xml");
        assert!(is_navigation(&Method::GET, "/settings", None));
        assert!(is_navigation(&Method::HEAD, "/admin/models", Some("*/*")));
        assert!(is_navigation(&Method::GET, "/u/jane.doe", html));
        assert!(!is_navigation(&Method::GET, "/_app/immutable/x.js", html));
        assert!(!is_navigation(&Method::GET, "/logo.png", Some("image/*")));
        assert!(!is_navigation(&Method::POST, "/settings", html));
    }
}
