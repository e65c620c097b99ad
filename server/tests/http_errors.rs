//! Bad input of every kind gets a JSON `ErrorResponse` with a 4xx status, never a 500.

mod common;

use axum::http::Method;
use common::{Auth, Engine, TestApp};
use serde_json::json;

async fn app() -> TestApp {
    TestApp::new(Engine::Sqlite).await.unwrap()
}

#[tokio::test]
async fn malformed_json_is_400_invalid_json() {
    let app = app().await;
    let r = app.send(Method::POST, "/v1/users", Auth::Admin, Some("application/json"), b"{\"id\": ".to_vec()).await;
    r.assert_error(400, Some("invalid_json"));
    let r = app.send(Method::POST, "/v1/users", Auth::Admin, Some("application/json"), b"\xff\xfe".to_vec()).await;
    r.assert_error(400, None);
}

#[tokio::test]
async fn wrong_types_and_missing_fields_are_400() {
    let app = app().await;
    app.json(Method::POST, "/v1/users", Auth::Admin, json!({"id": 5, "email": "a@b.co"}))
        .await
        .assert_error(400, Some("validation_error"));
    app.json(Method::POST, "/v1/users", Auth::Admin, json!({"email": "a@b.co"}))
        .await
        .assert_error(400, Some("validation_error"));
    app.json(Method::POST, "/v1/users", Auth::Admin, json!([1, 2])).await.assert_error(400, Some("validation_error"));
    app.json(Method::POST, "/v1/users", Auth::Admin, json!(null)).await.assert_error(400, Some("validation_error"));
}

#[tokio::test]
async fn missing_or_wrong_content_type_is_415() {
    let app = app().await;
    let body = serde_json::to_vec(&json!({"id": "x", "email": "x@example.com"})).unwrap();
    app.send(Method::POST, "/v1/users", Auth::Admin, None, body.clone())
        .await
        .assert_error(415, Some("unsupported_media_type"));
    app.send(Method::POST, "/v1/users", Auth::Admin, Some("text/plain"), body)
        .await
        .assert_error(415, Some("unsupported_media_type"));
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = app().await;
    let huge = format!("{{\"id\":\"{}\",\"email\":\"a@b.co\"}}", "a".repeat(200_000));
    let r = app.send(Method::POST, "/v1/users", Auth::Admin, Some("application/json"), huge.into_bytes()).await;
    r.assert_error(413, Some("payload_too_large"));
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_json() {
    let app = app().await;
    app.get("/v1/nope", Auth::None).await.assert_error(404, Some("not_found"));
    app.get("/nope", Auth::None).await.assert_error(404, Some("not_found"));
    let r = app.send(Method::DELETE, "/health", Auth::None, None, vec![]).await;
    r.assert_error(405, Some("method_not_allowed"));
    assert!(r.headers.get("allow").is_some());
    let r = app.send(Method::PUT, "/v1/users", Auth::Admin, Some("application/json"), b"{}".to_vec()).await;
    r.assert_error(405, Some("method_not_allowed"));
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = app().await;
    let r = app.get("/health", Auth::None).await;
    assert!(r.headers.get("x-request-id").is_some());
    let r = app.get("/v1/nope", Auth::None).await;
    assert!(r.headers.get("x-request-id").is_some());
}
