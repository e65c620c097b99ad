//! Limits that hold against one hostile user (issue 10, deliverable 3), on both engines:
//! per-user rate limits of `POST /v1/ai/coach`, `POST /v1/workouts` and
//! `POST /v1/voice/interactions` (429 `rate_limited` with `Retry-After`, other users unaffected),
//! and `GET /v1/voice/interactions/workout/{id}` paged like every list.

mod common;
mod voice_support;

use std::collections::HashSet;

use axum::http::Method;
use common::{Auth, Engine, TestApp};
use serde_json::{Value, json};

/// Small bursts and a sustained rate of one a minute, so nothing refills while a test runs.
fn tight(c: &mut coach_server::config::Config) {
    c.rate_limits.coach_burst = 3;
    c.rate_limits.coach_per_minute = 1;
    c.rate_limits.workouts_burst = 4;
    c.rate_limits.workouts_per_minute = 1;
    c.rate_limits.interactions_burst = 3;
    c.rate_limits.interactions_per_minute = 1;
}

fn set(n: u32) -> Value {
    json!({ "exerciseType": "squat", "setNumber": n, "weight": 100.0, "reps": 5, "perceivedExertion": 7.0 })
}

fn interaction(workout: &str, i: usize) -> Value {
    json!({ "workoutEntryId": workout, "aiResponseText": format!("Line {i}"), "voiceTone": "neutral",
            "wasVoicePlayed": true, "wasCached": i.is_multiple_of(2), "generationLatency": 10.0 * i as f64 })
}

async fn workout(app: &TestApp, token: &str) -> String {
    let r = app.json(Method::POST, "/v1/workouts", Auth::Bearer(token.into()), set(1)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

/// A 429 `rate_limited` with a whole-second `Retry-After` of at least 1.
fn assert_limited(r: &common::TestResponse) {
    let v = r.assert_error(429, Some("rate_limited"));
    let after: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(after >= 1, "Retry-After {after}");
    assert!(v["message"].as_str().unwrap().contains("retry in"), "{v}");
}

engines!(bursts_beyond_the_limits_get_429_per_user, |engine: Engine| async move {
    let Some(app) = TestApp::with_config(engine, tight).await else { return };
    let (alice, bob) = (app.user("alice", false, false).await, app.user("bob", false, false).await);

    // POST /v1/workouts: a burst of 4, then 429; bob still logs.
    let mut sets = Vec::new();
    for n in 1..=4 {
        let r = app.json(Method::POST, "/v1/workouts", Auth::Bearer(alice.clone()), set(n)).await;
        assert_eq!(r.status, 201, "set {n}: {}", r.text());
        sets.push(r.json()["id"].as_str().unwrap().to_string());
    }
    let refused = app.json(Method::POST, "/v1/workouts", Auth::Bearer(alice.clone()), set(5)).await;
    assert_limited(&refused);
    let listed = app.get("/v1/workouts", Auth::Bearer(alice.clone())).await.json();
    assert_eq!(listed["workouts"].as_array().unwrap().len(), 4, "the refused set was not stored");
    let bobs = workout(&app, &bob).await;

    // POST /v1/ai/coach: a burst of 3, then 429; bob unaffected.
    let ask = |t: &str| {
        let t = t.to_string();
        let app = &app;
        async move {
            let body = json!({ "exerciseType": "squat", "setNumber": 2, "strainPercentage": 50, "contextTags": [] });
            app.json(Method::POST, "/v1/ai/coach", Auth::Bearer(t), body).await
        }
    };
    for i in 0..3 {
        let r = ask(&alice).await;
        assert_eq!(r.status, 200, "coach {i}: {}", r.text());
    }
    assert_limited(&ask(&alice).await);
    assert_eq!(ask(&bob).await.status, 200, "another user's bucket is untouched");

    // POST /v1/voice/interactions: a burst of 3, then 429 — replays of a key included; bob unaffected.
    let record = |t: &str, body: Value, key: Option<&'static str>| {
        let t = t.to_string();
        let app = &app;
        async move {
            let mut headers = vec![("content-type", "application/json")];
            if let Some(k) = key {
                headers.push(("idempotency-key", k));
            }
            let bytes = serde_json::to_vec(&body).unwrap();
            voice_support::request(app, Method::POST, "/v1/voice/interactions", Some(&t), &headers, bytes).await
        }
    };
    for i in 0..3 {
        let r = record(&alice, interaction(&sets[0], 0), Some("k1")).await;
        assert_eq!(r.status, 201, "interaction {i}: {}", r.text());
    }
    assert_limited(&record(&alice, interaction(&sets[0], 0), Some("k1")).await);
    assert_limited(&record(&alice, interaction(&sets[0], 9), None).await);
    assert_eq!(record(&bob, interaction(&bobs, 0), None).await.status, 201);
    let list = app.get(&format!("/v1/voice/interactions/workout/{}", sets[0]), Auth::Bearer(alice.clone())).await;
    assert_eq!(list.json()["totalInteractions"], 1, "one record (two replays), nothing from the refused ones");

    // Bad input is still 400/404 (checked before or after the limit, never a 500).
    let bad = app.json(Method::POST, "/v1/workouts", Auth::Bearer(bob.clone()), json!({ "setNumber": 0 })).await;
    assert_eq!(bad.status, 400, "{}", bad.text());
});

/// `n` interactions on one of `token`'s workouts; returns the workout id.
async fn workout_with_interactions(app: &TestApp, token: &str, n: usize) -> String {
    let w = workout(app, token).await;
    for i in 0..n {
        let bytes = serde_json::to_vec(&interaction(&w, i)).unwrap();
        let r = voice_support::request(
            app,
            Method::POST,
            "/v1/voice/interactions",
            Some(token),
            &[("content-type", "application/json")],
            bytes,
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    w
}

both_engines!(workout_interactions_are_paged_like_every_list, |app: TestApp| async move {
    let alice = app.user("alice", false, false).await;
    let w = workout_with_interactions(&app, &alice, 7).await;
    let path = format!("/v1/voice/interactions/workout/{w}");
    let get = |q: String| {
        let (app, alice, path) = (&app, alice.clone(), path.clone());
        async move { app.get(&format!("{path}{q}"), Auth::Bearer(alice)).await }
    };

    // limit bounds: the rules of the other lists.
    for (bad, code) in
        [("0", "validation_error"), ("101", "validation_error"), ("-1", "invalid_query"), ("x", "invalid_query")]
    {
        get(format!("?limit={bad}")).await.assert_error(400, Some(code));
        app.get(&format!("/v1/workouts?limit={bad}"), Auth::Bearer(alice.clone())).await.assert_error(400, Some(code));
    }
    get("?cursor=garbage".into()).await.assert_error(400, Some("validation_error"));
    assert_eq!(get("?limit=1".into()).await.status, 200);
    assert_eq!(get("?limit=100".into()).await.status, 200);

    // A cursor walk, 3 at a time: every interaction exactly once, oldest first; the totals and
    // averages cover the whole workout on every page.
    let all = get(String::new()).await.json();
    assert_eq!(all["interactions"].as_array().unwrap().len(), 7);
    assert!(all.get("nextCursor").is_none(), "a page shorter than the limit is the last: {all}");
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &cursor {
            None => "?limit=3".to_string(),
            Some(c) => format!("?limit=3&cursor={c}"),
        };
        let page = get(q).await;
        assert_eq!(page.status, 200, "{}", page.text());
        let v = page.json();
        pages += 1;
        assert!(v["interactions"].as_array().unwrap().len() <= 3);
        assert_eq!(v["totalInteractions"], 7, "whole workout on every page");
        assert_eq!(
            (v["averageGenerationLatency"].clone(), v["cacheHitRate"].clone()),
            (json!(30.0), json!(400.0 / 7.0))
        );
        seen.extend(v["interactions"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()));
        match v["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(pages < 10, "the walk ends");
    }
    assert_eq!(pages, 3);
    let ids: Vec<String> =
        all["interactions"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().into()).collect();
    assert_eq!(seen, ids, "every item exactly once, in the list's order");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 7);
    let texts: Vec<&str> =
        all["interactions"].as_array().unwrap().iter().map(|i| i["aiResponseText"].as_str().unwrap()).collect();
    assert_eq!(texts, (0..7).map(|i| format!("Line {i}")).collect::<Vec<_>>(), "oldest first");

    // An exact multiple: the full last page hands a cursor whose page is empty (the lists' rule).
    let last = get("?limit=7".into()).await.json();
    let c = last["nextCursor"].as_str().expect("a full page carries a cursor").to_string();
    let empty = get(format!("?limit=7&cursor={c}")).await.json();
    assert_eq!((empty["interactions"].clone(), empty.get("nextCursor").is_none()), (json!([]), true));

    // Another user's workout id: 404 as before, whatever the paging parameters.
    let bob = app.user("bob", false, false).await;
    for q in ["", "?limit=3", format!("?limit=3&cursor={c}").as_str()] {
        app.get(&format!("{path}{q}"), Auth::Bearer(bob.clone())).await.assert_error(404, Some("not_found"));
    }
    // A workout without interactions: an empty page, null averages.
    let empty_w = workout(&app, &alice).await;
    let none = app.get(&format!("/v1/voice/interactions/workout/{empty_w}"), Auth::Bearer(alice.clone())).await.json();
    assert_eq!(
        none,
        json!({ "interactions": [], "totalInteractions": 0, "averageGenerationLatency": null,
                "averagePlaybackLatency": null, "cacheHitRate": null })
    );
});
