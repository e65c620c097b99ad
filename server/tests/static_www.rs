//! Serving the built app (`COACH_WWW_DIR`): precompressed variants chosen by `Accept-Encoding`
//! (and the plain file when a variant is missing), `Vary`, `Cache-Control` per path, `HEAD` and
//! `Range`, the SPA fallback for navigations and a JSON 404 for missing assets; the API is never
//! compressed or answered with the app.

mod common;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use common::{Engine, TestApp, TestResponse};
use http_body_util::BodyExt;
use tower::ServiceExt;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A build directory: `(path, bytes)`. The variants' bytes are markers (the server never decodes
/// them), so each answer shows which file it came from.
const FILES: &[(&str, &[u8])] = &[
    ("index.html", b"<!doctype html><title>shell</title>"),
    ("index.html.gz", b"GZ(index)"),
    ("_app/immutable/x.js", b"export const x = 1;\n"),
    ("_app/immutable/x.js.br", b"BR(x.js)"),
    ("_app/immutable/x.js.gz", b"GZ(x.js)"),
    ("_app/immutable/plain.css", b"body{margin:0}"),
    ("_app/version.json", b"{\"version\":\"1\"}"),
    ("service-worker.js", b"self.addEventListener('fetch', () => {});"),
    ("service-worker.js.br", b"BR(sw)"),
    ("favicon.svg", b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
];

async fn app() -> (TestApp, tempfile::TempDir) {
    let www = tempfile::tempdir().expect("tempdir");
    for (path, bytes) in FILES {
        let p = www.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    let dir = www.path().to_path_buf();
    let app = TestApp::with_config(Engine::Sqlite, |c| c.www_dir = Some(dir)).await.expect("sqlite");
    (app, www)
}

async fn send(app: &TestApp, method: Method, path: &str, headers: &[(&str, &str)]) -> TestResponse {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app.router.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let body = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
    TestResponse { status, headers, body }
}

async fn get(app: &TestApp, path: &str, accept_encoding: Option<&str>) -> TestResponse {
    let headers: Vec<(&str, &str)> = accept_encoding.map(|ae| ("accept-encoding", ae)).into_iter().collect();
    send(app, Method::GET, path, &headers).await
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).map(|v| v.to_str().unwrap())
}

fn file(path: &str) -> &'static [u8] {
    FILES.iter().find(|(p, _)| *p == path).unwrap().1
}

#[tokio::test]
async fn the_best_accepted_variant_is_served_and_caches_are_told_it_varies() {
    let (app, _www) = app().await;
    let cases = [
        (Some("gzip, deflate, br, zstd"), Some("br"), "_app/immutable/x.js.br"),
        (Some("gzip"), Some("gzip"), "_app/immutable/x.js.gz"),
        (Some("br;q=0, gzip"), Some("gzip"), "_app/immutable/x.js.gz"),
        (Some("identity"), None, "_app/immutable/x.js"),
        (None, None, "_app/immutable/x.js"),
    ];
    for (ae, encoding, from) in cases {
        let r = get(&app, "/_app/immutable/x.js", ae).await;
        assert_eq!(r.status, StatusCode::OK, "{ae:?}");
        assert_eq!(header(&r.headers, "content-encoding"), encoding, "{ae:?}");
        assert_eq!(r.body, file(from), "{ae:?} should get {from}");
        assert_eq!(header(&r.headers, "vary"), Some("accept-encoding"), "{ae:?}");
        assert!(header(&r.headers, "content-type").unwrap().contains("javascript"), "{ae:?}");
        assert_eq!(header(&r.headers, "cache-control"), Some(IMMUTABLE), "{ae:?}");
    }
}

#[tokio::test]
async fn a_missing_variant_falls_back_to_the_next_or_the_plain_file() {
    let (app, _www) = app().await;
    let r = get(&app, "/_app/immutable/plain.css", Some("br, gzip")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(header(&r.headers, "content-encoding"), None);
    assert_eq!(r.body, file("_app/immutable/plain.css"));
    assert_eq!(header(&r.headers, "vary"), Some("accept-encoding"));
    assert_eq!(header(&r.headers, "cache-control"), Some(IMMUTABLE));
    // the service worker has only a .br: a gzip-only client gets the plain file
    let r = get(&app, "/service-worker.js", Some("gzip")).await;
    assert_eq!((header(&r.headers, "content-encoding"), r.body.as_slice()), (None, file("service-worker.js")));
    let r = get(&app, "/service-worker.js", Some("br")).await;
    assert_eq!((header(&r.headers, "content-encoding"), r.body.as_slice()), (Some("br"), file("service-worker.js.br")));
}

#[tokio::test]
async fn only_hashed_files_are_cached_for_good() {
    let (app, _www) = app().await;
    for path in ["/", "/index.html", "/service-worker.js", "/_app/version.json", "/favicon.svg", "/settings"] {
        let r = get(&app, path, Some("br, gzip")).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(header(&r.headers, "cache-control"), Some("no-cache"), "{path}");
        assert_eq!(header(&r.headers, "vary"), Some("accept-encoding"), "{path}");
    }
}

#[tokio::test]
async fn navigations_get_the_shell_and_missing_assets_a_json_404() {
    let (app, _www) = app().await;
    for path in ["/settings", "/admin/models"] {
        let r = send(&app, Method::GET, path, &[("accept", "text/html")]).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.body, file("index.html"), "{path}");
        assert!(header(&r.headers, "content-type").unwrap().starts_with("text/html"), "{path}");
        // the shell's own variant, with the shell's caching
        let r = send(&app, Method::GET, path, &[("accept", "text/html"), ("accept-encoding", "gzip")]).await;
        assert_eq!((header(&r.headers, "content-encoding"), r.body.as_slice()), (Some("gzip"), file("index.html.gz")));
        assert_eq!(header(&r.headers, "cache-control"), Some("no-cache"));
    }
    for path in ["/_app/immutable/missing.js", "/_app/immutable/entry/app.html", "/missing.png"] {
        let r = send(&app, Method::GET, path, &[("accept", "*/*"), ("accept-encoding", "br")]).await;
        let v = r.assert_error(404, Some("not_found"));
        assert!(v["message"].as_str().unwrap().contains(path), "{v}");
        assert_eq!(header(&r.headers, "cache-control"), None, "{path}: a 404 is not cached for a year");
    }
    // the API keeps its JSON 404, and other methods never reach the files
    get(&app, "/v1/nope", Some("br")).await.assert_error(404, Some("not_found"));
    send(&app, Method::POST, "/settings", &[]).await.assert_error(404, Some("not_found"));
}

#[tokio::test]
async fn head_and_range_answer_for_the_chosen_encoding() {
    let (app, _www) = app().await;
    let r = send(&app, Method::HEAD, "/_app/immutable/x.js", &[("accept-encoding", "br")]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.is_empty());
    assert_eq!(header(&r.headers, "content-encoding"), Some("br"));
    assert_eq!(header(&r.headers, "content-length"), Some(file("_app/immutable/x.js.br").len().to_string().as_str()));
    assert_eq!(header(&r.headers, "cache-control"), Some(IMMUTABLE));

    let r = send(&app, Method::GET, "/_app/immutable/x.js", &[("range", "bytes=0-5")]).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.body, &file("_app/immutable/x.js")[..6]);
    let total = file("_app/immutable/x.js").len();
    assert_eq!(header(&r.headers, "content-range"), Some(format!("bytes 0-5/{total}").as_str()));
    let r =
        send(&app, Method::GET, "/_app/immutable/x.js", &[("range", "bytes=0-2"), ("accept-encoding", "gzip")]).await;
    assert_eq!((r.status, header(&r.headers, "content-encoding")), (StatusCode::PARTIAL_CONTENT, Some("gzip")));
    assert_eq!(r.body, &file("_app/immutable/x.js.gz")[..3]);

    let r = send(&app, Method::GET, "/_app/immutable/x.js", &[("range", "bytes=999-")]).await;
    assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&r.headers, "cache-control"), None);
}

#[tokio::test]
async fn the_api_is_never_compressed() {
    let (app, _www) = app().await;
    let r = get(&app, "/v1/openapi.json", Some("br, gzip")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(header(&r.headers, "content-encoding"), None);
    assert!(r.json()["openapi"].is_string());
    let r = get(&app, "/health", Some("br, gzip")).await;
    assert_eq!((r.status, header(&r.headers, "content-encoding")), (StatusCode::OK, None));
}
