//! The authorization matrix: every operation of `/v1/openapi.json` × {no token, forged token, wrong
//! API key, expired token, another user, a free user, the wrong role, the rightful caller}, on both
//! database engines.
//!
//! The operations come from the served document, not from a list kept here: each must have an
//! entry in [`request_for`] (how its rightful caller calls it), so a new route fails this test until
//! someone says how it is to be called. What each caller may get follows from the document too:
//! the security requirement says public / user / admin, a 403 described as "Premium" marks premium
//! routes. Expectations:
//!
//! * no token, forged or expired token, wrong API key → 401 `ErrorResponse` on every protected route;
//! * a user token on an admin route, the admin key on a user route → 403;
//! * a free user on a premium route → 403 `premium_required`;
//! * another user (or the free user) with the owner's object ids → 404 (403 `hash_mismatch` for
//!   training data carrying the owner's hash), and the owner's objects are unchanged afterwards;
//! * the rightful caller → the operation's documented success status (or the 4xx named in the table);
//! * never a 5xx, and every status is one the document lists for the operation.

mod common;
mod voice_support;

use std::collections::BTreeSet;

use axum::http::Method;
use coach_shared::types::users::Role;
use common::{Auth, TestApp, TestResponse};
use serde_json::{Value, json};

/// The owner's objects and other ids the requests use.
struct Ids {
    workout: String,
    cache_id: String,
    clip_key: String,
    session: String,
    alice_hash: String,
}

/// A request as the rightful caller sends it.
struct Req {
    path: String,
    body: Option<(String, Vec<u8>)>,
    /// Status the rightful caller gets.
    ok: u16,
    /// Whether the request names another user's object (others get 404, or `others`).
    object: bool,
    /// What another user gets instead of 404 for an object route.
    others: u16,
}

fn json_body(v: Value) -> Option<(String, Vec<u8>)> {
    Some(("application/json".into(), serde_json::to_vec(&v).unwrap()))
}

fn req(path: impl Into<String>, body: Option<Value>, ok: u16) -> Req {
    Req { path: path.into(), body: body.and_then(json_body), ok, object: false, others: 404 }
}

fn object(mut r: Req) -> Req {
    r.object = true;
    r
}

/// How the rightful caller calls `name` (`METHOD /path`); `None` for an operation nobody has put
/// in the matrix yet.
fn request_for(name: &str, ids: &Ids, n: usize) -> Option<Req> {
    let workout =
        json!({ "exerciseType": "squat", "setNumber": 2, "weight": 100.0, "reps": 5, "perceivedExertion": 7.5 });
    Some(match name {
        "GET /health" | "GET /ready" | "GET /metrics" | "GET /v1/openapi.json" => req(&name[4..], None, 200),
        "POST /v1/dev/session" => req("/v1/dev/session", Some(json!({ "userId": "dev_x" })), 404),
        "POST /v1/users" => {
            req("/v1/users", Some(json!({ "id": format!("made_{n}"), "email": format!("made_{n}@example.com") })), 201)
        }
        "GET /v1/users/{id}" => req("/v1/users/alice", None, 200),
        "PATCH /v1/users/{id}" => req("/v1/users/alice", Some(json!({ "name": "Alice A" })), 200),
        "POST /v1/auth/token" => req("/v1/auth/token", Some(json!({ "userId": "alice" })), 200),
        "GET /v1/users/me" => req("/v1/users/me", None, 200),
        "DELETE /v1/users/me" => req("/v1/users/me", None, 200),
        "PUT /v1/users/me/consent" => req("/v1/users/me/consent", Some(json!({ "dataCollectionConsent": true })), 200),
        "GET /v1/workouts" => req("/v1/workouts", None, 200),
        "POST /v1/workouts" => req("/v1/workouts", Some(workout), 201),
        "GET /v1/workouts/{id}" => object(req(format!("/v1/workouts/{}", ids.workout), None, 200)),
        "GET /v1/voice/preferences" => req("/v1/voice/preferences", None, 200),
        "PUT /v1/voice/preferences" => req("/v1/voice/preferences", Some(json!({ "personality": "Alice" })), 200),
        "GET /v1/voice/profile" => req("/v1/voice/profile", None, 200),
        "POST /v1/voice/synthesize" => req(
            "/v1/voice/synthesize",
            Some(json!({ "text": "Strong and steady.", "tone": "neutral", "context": "rest_period" })),
            200,
        ),
        "GET /v1/voice/clips/{file}" => req(format!("/v1/voice/clips/{}.mp3", ids.clip_key), None, 200),
        "GET /v1/voice/cache" => req("/v1/voice/cache", None, 200),
        "DELETE /v1/voice/cache" => req("/v1/voice/cache", Some(json!({ "context": "never_used" })), 200),
        "GET /v1/voice/cache/{cacheId}" => object(req(format!("/v1/voice/cache/{}", ids.cache_id), None, 200)),
        "DELETE /v1/voice/cache/{cacheId}" => object(req(format!("/v1/voice/cache/{}", ids.cache_id), None, 204)),
        "POST /v1/voice/clone" => {
            use voice_support::{Part, multipart, tone_wav};
            let samples: Vec<Vec<u8>> = (0..3).map(|i| tone_wav(180.0 + 10.0 * f64::from(i), 1.5, 16000)).collect();
            let mut parts: Vec<Part> =
                samples.into_iter().map(|s| Part::File("audioSamples", "s.wav", "audio/wav", s)).collect();
            parts.push(Part::Text("voiceName", "Matrix"));
            let (ct, body) = multipart(&parts);
            Req { path: "/v1/voice/clone".into(), body: Some((ct, body)), ok: 202, object: false, others: 404 }
        }
        "GET /v1/voice/clone/status" => req("/v1/voice/clone/status", None, 200),
        "POST /v1/voice/interactions" => object(req(
            "/v1/voice/interactions",
            Some(
                json!({ "workoutEntryId": ids.workout, "aiResponseText": "Nice set.", "voiceTone": "neutral", "wasVoicePlayed": true }),
            ),
            201,
        )),
        "GET /v1/voice/interactions/workout/{workoutId}" => {
            object(req(format!("/v1/voice/interactions/workout/{}", ids.workout), None, 200))
        }
        "POST /v1/ai/coach" => object(req("/v1/ai/coach", Some(json!({ "workoutEntryId": ids.workout })), 200)),
        "POST /v1/ai-training/data" => {
            let body = json!({
                "hashedUserId": ids.alice_hash, "exerciseType": "squat", "setNumber": 2, "strainPercentage": 60.0,
                "aiResponse": "Good depth, keep it up.", "contextTags": ["working_set"],
                "timestamp": (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339(),
            });
            let mut r = object(req("/v1/ai-training/data", Some(body), 201));
            r.others = 403;
            r
        }
        "GET /v1/ai-training/data" => req("/v1/ai-training/data?limit=5", None, 200),
        "GET /v1/ai-training/sessions" => req("/v1/ai-training/sessions", None, 200),
        "POST /v1/ai-training/sessions" => {
            // the setup's session is still in flight: a second one is refused (409), after auth
            req("/v1/ai-training/sessions", Some(json!({ "batchId": format!("matrix-{n}") })), 409)
        }
        "GET /v1/ai-training/sessions/{sessionId}" => {
            req(format!("/v1/ai-training/sessions/{}", ids.session), None, 200)
        }
        "PATCH /v1/ai-training/sessions/{sessionId}" => req(
            format!("/v1/ai-training/sessions/{}", ids.session),
            Some(json!({ "errorMessage": "checked by the matrix" })),
            200,
        ),
        "GET /v1/ai-training/models" => req("/v1/ai-training/models", None, 200),
        // no model exists in this app: the rightful caller reaches the handler and gets 404
        "GET /v1/ai-training/models/{modelId}" => req("/v1/ai-training/models/no-such-model", None, 404),
        "POST /v1/ai-training/models/{modelId}/deploy" => {
            req("/v1/ai-training/models/no-such-model/deploy", Some(json!({ "deploymentEnvironment": "staging" })), 404)
        }
        "POST /v1/ai-training/models/{modelId}/rollback" => {
            req("/v1/ai-training/models/no-such-model/rollback", Some(json!({ "rollbackReason": "matrix" })), 404)
        }
        "POST /v1/admin/jobs/{job}" => req("/v1/admin/jobs/retention-cleanup", None, 200),
        _ => return None,
    })
}

/// One operation of the document and what it requires.
struct Op {
    method: Method,
    path: String,
    /// No credentials needed (`security` absent or with an empty alternative).
    public: bool,
    /// Admin credentials (the `ApiKeyAuth` scheme).
    admin: bool,
    /// Premium users only (a 403 described as such).
    premium: bool,
    /// Statuses the document lists.
    documented: BTreeSet<u16>,
}

impl Op {
    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

fn operations(doc: &Value) -> Vec<Op> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().unwrap() {
            let Ok(m) = method.to_uppercase().parse::<Method>() else { continue };
            if !matches!(m, Method::GET | Method::POST | Method::PUT | Method::PATCH | Method::DELETE) {
                continue;
            }
            let security = op["security"].as_array().cloned().unwrap_or_default();
            let public = security.is_empty() || security.iter().any(|s| s.as_object().is_some_and(|o| o.is_empty()));
            let admin = security.iter().any(|s| s.get("ApiKeyAuth").is_some());
            let premium = op["responses"]["403"]["description"].as_str().is_some_and(|d| d.contains("Premium"));
            let documented = op["responses"].as_object().unwrap().keys().filter_map(|k| k.parse().ok()).collect();
            ops.push(Op { method: m, path: path.clone(), public, admin, premium, documented });
        }
    }
    ops
}

/// The callers of the matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    NoToken,
    Forged,
    WrongKey,
    Expired,
    /// A user token on an admin route, the admin key on a user route.
    WrongRole,
    /// Bob: premium, consenting, not the owner.
    OtherUser,
    /// Carol: free, not consenting.
    FreeUser,
}

struct Tokens {
    alice: String,
    bob: String,
    carol: String,
    forged: String,
    expired: String,
    admin_jwt: String,
}

async fn send(app: &TestApp, op: &Op, r: &Req, auth: Auth) -> TestResponse {
    let (ct, body) = r.body.clone().map(|(c, b)| (Some(c), b)).unwrap_or((None, Vec::new()));
    app.send(op.method.clone(), &r.path, auth, ct.as_deref(), body).await
}

fn auth_of(caller: Caller, op: &Op, t: &Tokens) -> Auth {
    match caller {
        Caller::NoToken => Auth::None,
        Caller::Forged => Auth::Bearer(t.forged.clone()),
        Caller::WrongKey => Auth::ApiKey("coach_admin_not-the-key".into()),
        Caller::Expired => Auth::Bearer(t.expired.clone()),
        Caller::WrongRole if op.admin => Auth::Bearer(t.alice.clone()),
        Caller::WrongRole => Auth::Admin,
        Caller::OtherUser => Auth::Bearer(t.bob.clone()),
        Caller::FreeUser => Auth::Bearer(t.carol.clone()),
    }
}

/// The status `caller` must get on `op` (`None`: any non-5xx, non-401/403 answer).
fn expected(caller: Caller, op: &Op, r: &Req) -> Option<u16> {
    if op.public {
        return None;
    }
    Some(match caller {
        Caller::NoToken | Caller::Forged | Caller::WrongKey | Caller::Expired => 401,
        Caller::WrongRole => 403,
        Caller::OtherUser | Caller::FreeUser if op.admin => 403,
        Caller::FreeUser if op.premium => 403,
        Caller::OtherUser | Caller::FreeUser if r.object => r.others,
        Caller::OtherUser | Caller::FreeUser => return None,
    })
}

fn check(op: &Op, who: &str, r: &TestResponse, want: Option<u16>) {
    let name = op.name();
    let s = r.status.as_u16();
    assert!(s < 500, "{name} as {who}: {s} {}", r.text());
    assert!(op.documented.contains(&s), "{name} as {who}: {s} is not in the document's {:?}", op.documented);
    match want {
        Some(w) => assert_eq!(s, w, "{name} as {who}: {}", r.text()),
        None => assert!(s != 401 && s != 403, "{name} as {who}: {s} {}", r.text()),
    }
    if s >= 400 {
        r.assert_error(s, None);
    }
}

async fn setup(app: &TestApp) -> (Tokens, Ids) {
    let alice = app.user("alice", true, true).await;
    let bob = app.user("bob", true, true).await;
    let carol = app.user("carol", false, false).await;
    app.user("root", false, false).await;
    let admin_jwt = app.token("root", "admin").await;
    let (expired, _) = app.state.keys.mint("alice", Role::User, -3600).unwrap();
    let other_keys = coach_server::auth::Keys::new("not-the-server-secret", "x");
    let (forged, _) = other_keys.mint("alice", Role::Admin, 3600).unwrap();

    let w = app
        .json(
            Method::POST,
            "/v1/workouts",
            Auth::Bearer(alice.clone()),
            json!({ "exerciseType": "bench_press", "setNumber": 1, "weight": 60.0, "reps": 8, "perceivedExertion": 6.0 }),
        )
        .await;
    assert_eq!(w.status, 201, "{}", w.text());
    let s = voice_support::synth(app, &alice, voice_support::phrase("Matrix line for the owner.")).await;
    assert_eq!(s.status, 200, "{}", s.text());
    let s = s.json();
    let hash = coach_shared::hash_user_id("alice");
    let data = request_for(
        "POST /v1/ai-training/data",
        &Ids {
            workout: String::new(),
            cache_id: String::new(),
            clip_key: String::new(),
            session: String::new(),
            alice_hash: hash,
        },
        0,
    )
    .unwrap();
    let (ct, body) = data.body.unwrap();
    let d = app.send(Method::POST, &data.path, Auth::Bearer(alice.clone()), Some(&ct), body).await;
    assert_eq!(d.status, 201, "{}", d.text());
    let session =
        app.json(Method::POST, "/v1/ai-training/sessions", Auth::Admin, json!({ "batchId": "matrix-setup" })).await;
    assert_eq!(session.status, 201, "{}", session.text());
    let ids = Ids {
        workout: w.json()["id"].as_str().unwrap().into(),
        cache_id: s["cacheId"].as_str().unwrap().into(),
        clip_key: s["cacheKey"].as_str().unwrap().into(),
        session: session.json()["id"].as_str().unwrap().into(),
        alice_hash: coach_shared::hash_user_id("alice"),
    };
    (Tokens { alice, bob, carol, forged, expired, admin_jwt }, ids)
}

/// The owner's objects are all still there and unchanged in number.
async fn owner_intact(app: &TestApp, t: &Tokens, ids: &Ids, cache_entries: usize) {
    let a = Auth::Bearer(t.alice.clone());
    assert_eq!(app.get(&format!("/v1/workouts/{}", ids.workout), a.clone()).await.status, 200);
    assert_eq!(app.get(&format!("/v1/voice/cache/{}", ids.cache_id), a.clone()).await.status, 200);
    let cache = app.get("/v1/voice/cache", a.clone()).await.json();
    assert_eq!(cache["totalEntries"], cache_entries, "{cache}");
    let me = app.get("/v1/users/me", a).await.json();
    assert_eq!((me["isPremium"].clone(), me["dataCollectionConsent"].clone()), (json!(true), json!(true)));
}

both_engines!(every_route_times_every_caller, |app: TestApp| async move {
    let engine = app.engine;
    drop(app);
    let Some(app) = TestApp::with_config(engine, |c| {
        c.training.scheduler = false;
        // the setup's session must stay in flight: its trainer sleeps past the test
        c.training.trainer_command = ["sh", "-c", "exec sleep 600", "trainer"].map(String::from).to_vec();
    })
    .await
    else {
        return;
    };
    let doc = app.get("/v1/openapi.json", Auth::None).await.json();
    let ops = operations(&doc);
    assert!(ops.len() >= 40, "the document lists {} operations", ops.len());
    let ids: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values().filter_map(|op| op["operationId"].as_str()))
        .collect();
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len(), "operationIds are unique: {ids:?}");
    assert!(ids.contains(&"synthesizeVoice") && ids.contains(&"submitTrainingData"), "the contracts' ids");
    let (tokens, ids) = setup(&app).await;
    let missing: Vec<String> = ops.iter().map(Op::name).filter(|n| request_for(n, &ids, 0).is_none()).collect();
    assert!(missing.is_empty(), "operations without an entry in the authorization matrix: {missing:?}");
    // the owner's deletion comes last, in each phase
    let mut order: Vec<&Op> = ops.iter().collect();
    order.sort_by_key(|op| (op.name() == "DELETE /v1/users/me", op.method == Method::DELETE));

    // 1. everyone but the rightful caller: nothing of Alice's is reached or changed
    let callers = [
        Caller::NoToken,
        Caller::Forged,
        Caller::WrongKey,
        Caller::Expired,
        Caller::WrongRole,
        Caller::OtherUser,
        Caller::FreeUser,
    ];
    let mut n = 0;
    for op in &order {
        for caller in callers {
            if op.public && matches!(caller, Caller::WrongRole) {
                continue;
            }
            n += 1;
            let r = request_for(&op.name(), &ids, n).unwrap();
            let resp = send(&app, op, &r, auth_of(caller, op, &tokens)).await;
            check(op, &format!("{caller:?}"), &resp, expected(caller, op, &r));
            if caller == Caller::FreeUser && op.premium && !op.admin {
                resp.assert_error(403, Some("premium_required"));
            }
        }
    }
    owner_intact(&app, &tokens, &ids, 1).await;

    // 2. the rightful caller (the admin key, an admin token; Alice) gets the documented answer
    for op in &order {
        n += 1;
        let r = request_for(&op.name(), &ids, n).unwrap();
        let auth = if op.admin { Auth::Admin } else { Auth::Bearer(tokens.alice.clone()) };
        let resp = send(&app, op, &r, auth).await;
        check(op, "the rightful caller", &resp, Some(r.ok));
        if op.admin && op.method == Method::GET {
            let again = send(&app, op, &r, Auth::Bearer(tokens.admin_jwt.clone())).await;
            check(op, "an admin token", &again, Some(r.ok));
        }
    }
    // Alice deleted herself last: her token is now refused
    let gone = app.get("/v1/users/me", Auth::Bearer(tokens.alice.clone())).await;
    gone.assert_error(401, None);
    println!("authorization matrix ({:?}): {} operations, {n} requests checked", app.engine, ops.len());
});
