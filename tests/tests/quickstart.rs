//! Quickstart scenarios, tried as a new user would: a real server on a loopback port, real HTTP.

use coach_e2e::{Server, expect_error};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn admin_key_creates_a_user_whose_token_reaches_me() {
    let s = Server::start().await.unwrap();
    let health: Value = s.anon(Method::GET, "/health").send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let doc: Value = s.anon(Method::GET, "/v1/openapi.json").send().await.unwrap().json().await.unwrap();
    assert!(doc["paths"]["/v1/users/me"]["get"].is_object());

    let created = s
        .admin(Method::POST, "/v1/users")
        .json(&json!({"id": "quick_1", "email": "quick@example.com", "isPremium": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let token: Value = s
        .admin(Method::POST, "/v1/auth/token")
        .json(&json!({"userId": "quick_1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap();
    let me: Value = s.user(Method::GET, "/v1/users/me", token).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["id"], "quick_1");
    assert_eq!(me["isPremium"], true);
    s.stop().await.unwrap();
}

#[tokio::test]
async fn malformed_oversized_and_unauthenticated_requests_get_4xx_json() {
    let s = Server::start().await.unwrap();
    let t = s.new_user("quick_2", false, false).await.unwrap();

    let r = s
        .user(Method::POST, "/v1/workouts", &t)
        .header("content-type", "application/json")
        .body("{\"exerciseType\":")
        .send()
        .await
        .unwrap();
    assert_eq!(expect_error(r, 400).await["error"], "invalid_json");

    let big = format!("{{\"exerciseType\":\"{}\"}}", "x".repeat(1 << 20));
    let r = s
        .user(Method::POST, "/v1/workouts", &t)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(expect_error(r, 413).await["error"], "payload_too_large");

    let r = s.anon(Method::GET, "/v1/users/me").send().await.unwrap();
    assert_eq!(expect_error(r, 401).await["error"], "unauthorized");

    let r = s.user(Method::GET, "/v1/users/me", "forged.token.value").send().await.unwrap();
    assert_eq!(expect_error(r, 401).await["error"], "invalid_token");

    let r = s.user(Method::GET, "/v1/users/quick_2", &t).send().await.unwrap();
    assert_eq!(expect_error(r, 403).await["error"], "forbidden");

    let r = s.anon(Method::PATCH, "/v1/openapi.json").send().await.unwrap();
    expect_error(r, 405).await;

    let r = s.anon(Method::GET, "/v1/does-not-exist").send().await.unwrap();
    expect_error(r, 404).await;
    s.stop().await.unwrap();
}
