//! Identity: users, tokens, consent and who may reach what — on both database engines.

mod common;

use axum::http::Method;
use common::{Auth, TestApp};
use serde_json::json;

both_engines!(admin_creates_user_and_mints_a_token_that_reaches_me, |app: TestApp| async move {
    let r = app
        .json(
            Method::POST,
            "/v1/users",
            Auth::Admin,
            json!({"id": "usr_1", "email": "one@example.com", "isPremium": true}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let u = r.json();
    assert_eq!(u["id"], "usr_1");
    assert_eq!(u["isPremium"], true);
    assert_eq!(u["dataCollectionConsent"], false, "consent defaults to false");
    assert_eq!(r.headers["location"], "/v1/users/usr_1");

    let t = app.json(Method::POST, "/v1/auth/token", Auth::Admin, json!({"userId": "usr_1", "role": "user"})).await;
    assert_eq!(t.status, 200);
    let body = t.json();
    let token = body["token"].as_str().unwrap().to_string();
    assert_eq!(body["tokenType"], "Bearer");
    let exp = chrono::DateTime::parse_from_rfc3339(body["expiresAt"].as_str().unwrap()).unwrap();
    assert!(exp > chrono::Utc::now());

    let me = app.get("/v1/users/me", Auth::Bearer(token)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["id"], "usr_1");
    assert_eq!(me.json()["email"], "one@example.com");
});

both_engines!(duplicates_and_bad_users_are_refused_without_changes, |app: TestApp| async move {
    app.user("dup", false, false).await;
    let r = app.json(Method::POST, "/v1/users", Auth::Admin, json!({"id": "dup", "email": "other@example.com"})).await;
    r.assert_error(409, Some("user_exists"));
    let r = app.json(Method::POST, "/v1/users", Auth::Admin, json!({"id": "dup2", "email": "dup@example.com"})).await;
    r.assert_error(409, Some("user_exists"));
    let r = app.json(Method::POST, "/v1/users", Auth::Admin, json!({"id": "bad id", "email": "x@example.com"})).await;
    let v = r.assert_error(400, Some("validation_error"));
    assert_eq!(v["details"]["fields"][0]["field"], "id");
    let r = app.json(Method::POST, "/v1/users", Auth::Admin, json!({"id": "ok", "email": "not-an-email"})).await;
    r.assert_error(400, Some("validation_error"));
    assert_eq!(app.get("/v1/users/ok", Auth::Admin).await.status, 404, "nothing was half-written");
});

both_engines!(patch_changes_only_given_fields, |app: TestApp| async move {
    app.user("p1", false, false).await;
    let r = app.json(Method::PATCH, "/v1/users/p1", Auth::Admin, json!({"isPremium": true})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let u = r.json();
    assert_eq!(u["isPremium"], true);
    assert_eq!(u["email"], "p1@example.com");
    assert_eq!(u["dataCollectionConsent"], false);
    let r = app
        .json(Method::PATCH, "/v1/users/p1", Auth::Admin, json!({"dataCollectionConsent": true, "name": "Pat One"}))
        .await;
    assert_eq!(r.json()["dataCollectionConsent"], true);
    assert_eq!(r.json()["isPremium"], true);
    assert_eq!(r.json()["name"], "Pat One");
    app.json(Method::PATCH, "/v1/users/nobody", Auth::Admin, json!({"isPremium": true}))
        .await
        .assert_error(404, Some("not_found"));
});

both_engines!(users_set_their_own_consent, |app: TestApp| async move {
    let t = app.user("c1", false, false).await;
    let r = app
        .json(Method::PUT, "/v1/users/me/consent", Auth::Bearer(t.clone()), json!({"dataCollectionConsent": true}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["dataCollectionConsent"], true);
    let r = app
        .json(Method::PUT, "/v1/users/me/consent", Auth::Bearer(t.clone()), json!({"dataCollectionConsent": "yes"}))
        .await;
    r.assert_error(400, Some("validation_error"));
    let r = app
        .json(Method::PUT, "/v1/users/me/consent", Auth::Bearer(t.clone()), json!({"dataCollectionConsent": false}))
        .await;
    assert_eq!(r.json()["dataCollectionConsent"], false);
});

both_engines!(missing_forged_and_expired_credentials_are_401, |app: TestApp| async move {
    app.user("a1", true, true).await;
    app.get("/v1/users/me", Auth::None).await.assert_error(401, Some("unauthorized"));
    app.get("/v1/users/me", Auth::Bearer("not.a.jwt".into())).await.assert_error(401, Some("invalid_token"));
    app.get("/v1/users/me", Auth::Raw("authorization", "Basic dTpw".into()))
        .await
        .assert_error(401, Some("invalid_token"));
    // signed with another secret
    let forged = coach_server::auth::Keys::new("another-secret", "k")
        .mint("a1", coach_shared::types::users::Role::Admin, 600)
        .unwrap()
        .0;
    app.get("/v1/users/me", Auth::Bearer(forged.clone())).await.assert_error(401, Some("invalid_token"));
    app.get("/v1/users/a1", Auth::Bearer(forged)).await.assert_error(401, Some("invalid_token"));
    let expired = app.state.keys.mint("a1", coach_shared::types::users::Role::User, -300).unwrap().0;
    let r = app.get("/v1/users/me", Auth::Bearer(expired)).await;
    r.assert_error(401, Some("token_expired"));
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    app.get("/v1/users/a1", Auth::ApiKey("wrong-key".into())).await.assert_error(401, Some("invalid_api_key"));
    app.get("/v1/users/a1", Auth::None).await.assert_error(401, None);
    // a token for a user that does not exist
    let ghost = app.state.keys.mint("ghost", coach_shared::types::users::Role::User, 600).unwrap().0;
    app.get("/v1/users/me", Auth::Bearer(ghost)).await.assert_error(401, Some("invalid_token"));
});

both_engines!(wrong_role_is_403, |app: TestApp| async move {
    let user = app.user("r1", true, true).await;
    app.get("/v1/users/r1", Auth::Bearer(user.clone())).await.assert_error(403, Some("forbidden"));
    app.json(Method::POST, "/v1/users", Auth::Bearer(user.clone()), json!({"id": "x", "email": "x@example.com"}))
        .await
        .assert_error(403, Some("forbidden"));
    app.json(Method::POST, "/v1/auth/token", Auth::Bearer(user), json!({"userId": "r1", "role": "admin"}))
        .await
        .assert_error(403, Some("forbidden"));
    // the API key names no user
    app.get("/v1/users/me", Auth::Admin).await.assert_error(403, Some("forbidden"));
    // an admin token works on admin routes and acts as its user on user routes
    let admin = app.token("r1", "admin").await;
    assert_eq!(app.get("/v1/users/r1", Auth::Bearer(admin.clone())).await.status, 200);
    assert_eq!(app.get("/v1/users/me", Auth::Bearer(admin)).await.status, 200);
    // tokens for unknown users are not minted
    app.json(Method::POST, "/v1/auth/token", Auth::Admin, json!({"userId": "nobody"}))
        .await
        .assert_error(404, Some("not_found"));
    app.json(Method::POST, "/v1/auth/token", Auth::Admin, json!({"userId": "r1", "role": "root"}))
        .await
        .assert_error(400, Some("validation_error"));
    app.json(Method::POST, "/v1/auth/token", Auth::Admin, json!({"userId": "r1", "ttlSeconds": 99999999}))
        .await
        .assert_error(400, Some("validation_error"));
});

both_engines!(workouts_are_private_to_their_owner, |app: TestApp| async move {
    let a = app.user("wa", false, false).await;
    let b = app.user("wb", false, false).await;
    let set = json!({"exerciseType": "squat", "setNumber": 2, "weight": 120.5, "reps": 5, "perceivedExertion": 8.5, "strainPercentage": 81, "sleepHours": 7});
    let r = app.json(Method::POST, "/v1/workouts", Auth::Bearer(a.clone()), set).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let w = r.json();
    let id = w["id"].as_str().unwrap().to_string();
    assert_eq!(w["userId"], "wa");
    assert_eq!(w["exportedForTraining"], false);
    assert_eq!(w["weight"], 120.5);
    assert_eq!(r.headers["location"], format!("/v1/workouts/{id}"));

    let own = app.get(&format!("/v1/workouts/{id}"), Auth::Bearer(a.clone())).await;
    assert_eq!(own.status, 200);
    assert_eq!(own.json()["strainPercentage"], 81.0);
    app.get(&format!("/v1/workouts/{id}"), Auth::Bearer(b.clone())).await.assert_error(404, Some("not_found"));
    let list = app.get("/v1/workouts", Auth::Bearer(b)).await.json();
    assert_eq!(list["workouts"].as_array().unwrap().len(), 0);
    let list = app.get("/v1/workouts?limit=1", Auth::Bearer(a.clone())).await.json();
    assert_eq!(list["workouts"].as_array().unwrap().len(), 1);
    app.get("/v1/workouts?limit=0", Auth::Bearer(a.clone())).await.assert_error(400, Some("validation_error"));
    app.get("/v1/workouts?limit=abc", Auth::Bearer(a.clone())).await.assert_error(400, Some("invalid_query"));

    for bad in [
        json!({"exerciseType": "squat", "setNumber": 21, "weight": 1, "reps": 1, "perceivedExertion": 5}),
        json!({"exerciseType": "squat", "setNumber": 0, "weight": 1, "reps": 1, "perceivedExertion": 5}),
        json!({"exerciseType": "squat", "setNumber": 1, "weight": 1, "reps": 1, "perceivedExertion": 5, "strainPercentage": 101}),
        json!({"exerciseType": "squat", "setNumber": 1, "weight": 1, "reps": 1, "perceivedExertion": 5, "sleepHours": 25}),
        json!({"exerciseType": "squat", "setNumber": 1, "weight": -5, "reps": 1, "perceivedExertion": 5}),
        json!({"exerciseType": "squat", "setNumber": "one", "weight": 1, "reps": 1, "perceivedExertion": 5}),
        json!({"setNumber": 1, "weight": 1, "reps": 1, "perceivedExertion": 5}),
    ] {
        app.json(Method::POST, "/v1/workouts", Auth::Bearer(a.clone()), bad)
            .await
            .assert_error(400, Some("validation_error"));
    }
    let list = app.get("/v1/workouts", Auth::Bearer(a)).await.json();
    assert_eq!(list["workouts"].as_array().unwrap().len(), 1, "rejected entries changed nothing");
});

/// `POST /v1/workouts` with an `Idempotency-Key` (what the browser's outbox sends).
async fn post_workout(
    app: &TestApp,
    token: &str,
    key: &str,
    body: &serde_json::Value,
) -> axum::http::Response<axum::body::Body> {
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/v1/workouts")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(axum::body::Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap();
    tower::ServiceExt::oneshot(app.router.clone(), req).await.unwrap()
}

async fn body_of(resp: axum::http::Response<axum::body::Body>) -> Vec<u8> {
    http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes().to_vec()
}

both_engines!(a_retried_workout_with_the_same_key_is_logged_once, |app: TestApp| async move {
    let a = app.user("wi", false, false).await;
    let b = app.user("wj", false, false).await;
    let set = json!({"exerciseType": "deadlift", "setNumber": 1, "weight": 140, "reps": 3, "perceivedExertion": 9, "skipReason": "  grip  "});
    let first = post_workout(&app, &a, "set-1", &set).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let location = first.headers()["location"].to_str().unwrap().to_string();
    let first_body = body_of(first).await;
    let entry: serde_json::Value = serde_json::from_slice(&first_body).unwrap();
    assert_eq!(location, format!("/v1/workouts/{}", entry["id"].as_str().unwrap()));
    assert_eq!(entry["skipReason"], "grip", "stored trimmed");
    // the stored entry is what the first answer said
    let own = app.get(&location, Auth::Bearer(a.clone())).await.json();
    assert_eq!(own, entry);

    // the outbox retries after a lost response: the same entry comes back, nothing new is logged
    let again = post_workout(&app, &a, "set-1", &set).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(body_of(again).await, first_body, "the replay is the original response");
    // two tabs flushing the same queued set at once still make one entry
    let (x, y) = tokio::join!(post_workout(&app, &a, "set-2", &set), post_workout(&app, &a, "set-2", &set));
    assert_eq!((x.status(), y.status()), (axum::http::StatusCode::CREATED, axum::http::StatusCode::CREATED));
    let (x, y) = (body_of(x).await, body_of(y).await);
    assert_eq!(x, y, "both answered with the same entry");
    let list = app.get("/v1/workouts", Auth::Bearer(a.clone())).await.json();
    assert_eq!(list["workouts"].as_array().unwrap().len(), 2, "one entry per key: {list}");

    // the same key with another body is refused, and changes nothing
    let mut other = set.clone();
    other["reps"] = json!(4);
    let r = post_workout(&app, &a, "set-1", &other).await;
    assert_eq!(r.status(), 422);
    let err: serde_json::Value = serde_json::from_slice(&body_of(r).await).unwrap();
    assert_eq!(err["error"], "idempotency_key_reused");
    // keys are per user: another user's same key is a new entry of theirs
    let theirs = post_workout(&app, &b, "set-1", &set).await;
    assert_eq!(theirs.status(), 201);
    assert!(theirs.headers().get("idempotent-replayed").is_none());
    let theirs: serde_json::Value = serde_json::from_slice(&body_of(theirs).await).unwrap();
    assert_ne!(theirs["id"], entry["id"]);
    assert_eq!(theirs["userId"], "wj");
    let list = app.get("/v1/workouts", Auth::Bearer(a.clone())).await.json();
    assert_eq!(list["workouts"].as_array().unwrap().len(), 2, "the refused retry logged nothing");
    // a malformed key is a 400, not a new entry
    let bad = post_workout(&app, &a, "   ", &set).await;
    assert_eq!(bad.status(), 400);
    let err: serde_json::Value = serde_json::from_slice(&body_of(bad).await).unwrap();
    assert_eq!(err["error"], "invalid_idempotency_key");
    // the API document says so, like on the other two routes the outbox retries
    let doc = app.get("/v1/openapi.json", Auth::None).await.json();
    let params = doc["paths"]["/v1/workouts"]["post"]["parameters"].as_array().cloned().unwrap_or_default();
    assert!(params.iter().any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"), "{params:?}");
    assert!(doc["paths"]["/v1/workouts"]["post"]["responses"]["422"].is_object());
});

#[tokio::test]
async fn dev_sign_in_exists_only_in_dev_mode() {
    let app = TestApp::new(common::Engine::Sqlite).await.unwrap();
    app.json(Method::POST, "/v1/dev/session", Auth::None, json!({"userId": "demo"}))
        .await
        .assert_error(404, Some("not_found"));
    app.json(Method::POST, "/v1/dev/session", Auth::None, json!({})).await.assert_error(404, Some("not_found"));
    assert_eq!(app.get("/v1/users/demo", Auth::Admin).await.status, 404, "nothing created");

    let app = TestApp::with_config(common::Engine::Sqlite, |c| c.dev_mode = true).await.unwrap();
    // the app's side-effect-free probe: an empty body is a 400 in dev mode (404 outside it)
    app.json(Method::POST, "/v1/dev/session", Auth::None, json!({})).await.assert_error(400, None);
    let r = app.json(Method::POST, "/v1/dev/session", Auth::None, json!({"userId": "demo"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let token = r.json()["token"].as_str().unwrap().to_string();
    let me = app.get("/v1/users/me", Auth::Bearer(token)).await.json();
    assert_eq!(me["id"], "demo");
    assert_eq!(me["isPremium"], true, "the demo user is premium by default");
    // an admin token for a new user id (the dashboard's "sign in as admin"); see hostile_edge.rs
    // for the existing users it refuses
    let r = app
        .json(
            Method::POST,
            "/v1/dev/session",
            Auth::None,
            json!({"userId": "demo-admin", "isPremium": false, "role": "admin"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let admin = r.json()["token"].as_str().unwrap().to_string();
    assert_eq!(app.get("/v1/users/demo", Auth::Bearer(admin.clone())).await.json()["isPremium"], true);
    assert_eq!(app.get("/v1/users/demo-admin", Auth::Bearer(admin)).await.json()["isPremium"], false);
    app.json(Method::POST, "/v1/dev/session", Auth::None, json!({"userId": "bad id"}))
        .await
        .assert_error(400, Some("validation_error"));
}

#[tokio::test]
async fn cors_preflight_is_answered_in_dev_mode_only() {
    let preflight = |app: &TestApp| {
        let req = axum::http::Request::builder()
            .method(Method::OPTIONS)
            .uri("/v1/users/me")
            .header("origin", "http://localhost:8080")
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .body(axum::body::Body::empty())
            .unwrap();
        let router = app.router.clone();
        async move { tower::ServiceExt::oneshot(router, req).await.unwrap() }
    };
    // the server's own origin (dev mode allows no other: see hostile_edge.rs)
    let dev = TestApp::with_config(common::Engine::Sqlite, |c| {
        c.dev_mode = true;
        c.bind = "127.0.0.1:8080".parse().unwrap();
    })
    .await
    .unwrap();
    let r = preflight(&dev).await;
    assert_eq!(r.headers()["access-control-allow-origin"], "http://localhost:8080");
    let prod = TestApp::new(common::Engine::Sqlite).await.unwrap();
    let r = preflight(&prod).await;
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn listed_cors_origins_reach_the_api_and_the_clip_bytes() {
    let app = TestApp::with_config(common::Engine::Sqlite, |c| c.cors_origins = vec!["https://app.example.com".into()])
        .await
        .unwrap();
    let clip = format!("/v1/voice/clips/{}.mp3", "ab".repeat(32));
    let get = |path: String, method: Method, origin: &'static str| {
        let req = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("origin", origin)
            .body(axum::body::Body::empty())
            .unwrap();
        let router = app.router.clone();
        async move { tower::ServiceExt::oneshot(router, req).await.unwrap() }
    };
    for path in ["/health".to_string(), clip.clone()] {
        let r = get(path.clone(), Method::GET, "https://app.example.com").await;
        assert_eq!(r.headers()["access-control-allow-origin"], "https://app.example.com", "{path}");
        assert!(r.headers().contains_key("x-request-id"), "{path}: every answer carries a request id");
        let r = get(path.clone(), Method::GET, "https://evil.example").await;
        assert!(r.headers().get("access-control-allow-origin").is_none(), "{path}");
    }
    // the clip route's own (short) stack still answers errors as JSON and counts them by route
    let r = app.get(&clip, Auth::None).await;
    assert_eq!(r.assert_error(404, Some("not_found"))["message"], "Clip not found");
    app.send(Method::POST, &clip, Auth::None, None, Vec::new()).await.assert_error(405, Some("method_not_allowed"));
    let metrics = app.get("/metrics", Auth::None).await.text();
    assert!(
        metrics.contains(r#"coach_http_requests_total{method="POST",route="/v1/voice/clips/{file}",status="405"} 1"#),
        "{metrics}"
    );
}
