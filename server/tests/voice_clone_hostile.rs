//! Hostile cloning uploads (issue 10): the crafted-audio corpus (`voice_support::corpus`: rate and
//! length lies, truncated frames, FLAC/MP3/WAV/Ogg bombs, > 2 channels, > 96 kHz) is refused
//! sample by sample with a 4xx naming the sample and nothing is stored; the per-user clone limit
//! holds under 8 parallel uploads and counts refused uploads; the server-wide upload cap answers
//! 503 with `Retry-After` and gives the slot back. On SQLite and PostgreSQL.

mod common;
mod voice_support;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request};
use bytes::Bytes;
use common::{Engine, TestApp};
use http_body_util::BodyExt;
use tower::ServiceExt;
use voice_support::corpus::corpus;
use voice_support::*;

fn good(f0: f64) -> Vec<u8> {
    tone_wav(f0, 1.2, 16000)
}

/// Three good samples and a voice name, with `bad` (when given) in the middle.
fn upload_with(bad: Option<Part<'static>>, f0: f64) -> Vec<Part<'static>> {
    let mut parts = vec![Part::File("audioSamples", "a.wav", "audio/wav", good(f0))];
    parts.extend(bad);
    parts.push(Part::File("audioSamples", "b.wav", "audio/wav", good(f0 + 7.0)));
    parts.push(Part::File("audioSamples", "c.wav", "audio/wav", good(f0 + 14.0)));
    parts.push(Part::Text("voiceName", "Mine"));
    parts
}

async fn count(app: &TestApp, sql: &str, user: &str) -> i64 {
    let (n,): (i64,) =
        sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string())).bind(user).fetch_one(&app.state.db.pool).await.unwrap();
    n
}

async fn jobs(app: &TestApp, user: &str) -> i64 {
    count(app, "SELECT CAST(COUNT(*) AS BIGINT) FROM voice_clone_jobs WHERE user_id = $1", user).await
}

async fn attempts(app: &TestApp, user: &str) -> i64 {
    count(app, "SELECT CAST(COUNT(*) AS BIGINT) FROM voice_clone_attempts WHERE user_id = $1", user).await
}

engines!(crafted_corpus_is_refused_naming_each_sample, |engine: Engine| async move {
    let Some(app) = TestApp::with_config(engine, |c| c.voice.clones_per_hour = 10_000).await else { return };
    let alice = app.user("alice", true, false).await;
    let mut wrong = Vec::new();
    for (i, crafted) in corpus().into_iter().enumerate() {
        let part = Part::File("audioSamples", crafted.file_name, crafted.content_type, crafted.bytes);
        let r = clone_upload(&app, &alice, &upload_with(Some(part), 100.0 + i as f64)).await;
        let v = r.assert_error(400, Some("validation_error"));
        let fields = v["details"]["fields"].as_array().cloned().unwrap_or_default();
        let named: Vec<(String, String)> = fields
            .iter()
            .map(|f| (f["field"].as_str().unwrap_or("").into(), f["code"].as_str().unwrap_or("").into()))
            .collect();
        if named != [("audioSamples[1]".to_string(), crafted.expect.to_string())] {
            wrong.push(format!(
                "{} ({}): expected audioSamples[1] {}, got {named:?}",
                crafted.file_name, crafted.lie, crafted.expect
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // nothing was stored or started
    assert_eq!(jobs(&app, "alice").await, 0);
    request(&app, Method::GET, "/v1/voice/clone/status", Some(&alice), &[], vec![]).await.assert_error(404, None);
    // and a good upload still goes through
    assert_eq!(clone_upload(&app, &alice, &upload_with(None, 140.0)).await.status, 202);
});

both_engines!(eight_parallel_clones_get_exactly_three_slots, |app: TestApp| async move {
    let alice = app.user("alice", true, false).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (ct, body) = multipart(&upload_with(None, 100.0 + 20.0 * f64::from(i)));
        let (router, token) = (app.router.clone(), alice.clone());
        tasks.push(tokio::spawn(async move {
            let req = Request::builder()
                .method(Method::POST)
                .uri("/v1/voice/clone")
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", ct)
                .body(Body::from(body))
                .unwrap();
            let resp = router.oneshot(req).await.unwrap();
            let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
            let status = resp.status().as_u16();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            (status, retry, body)
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        let (status, retry, body) = t.await.unwrap();
        if status == 429 {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(v["error"], "rate_limited", "{v}");
            assert!(retry.is_some_and(|s| (3000..=3600).contains(&s)), "Retry-After {retry:?}");
        }
        statuses.push(status);
    }
    statuses.sort();
    assert_eq!(statuses, [202, 202, 202, 429, 429, 429, 429, 429], "{statuses:?}");
    assert_eq!(jobs(&app, "alice").await, 3);
    assert_eq!(attempts(&app, "alice").await, 3);
});

both_engines!(refused_uploads_use_up_the_hourly_slots, |app: TestApp| async move {
    let alice = app.user("alice", true, false).await;
    let bomb = corpus().into_iter().find(|c| c.file_name == "flac-655350hz-constant.flac").unwrap();
    let part = Part::File("audioSamples", bomb.file_name, bomb.content_type, bomb.bytes);
    clone_upload(&app, &alice, &upload_with(Some(part), 100.0)).await.assert_error(400, Some("validation_error"));
    let notes = Part::File("audioSamples", "notes.txt", "text/plain", b"not audio".to_vec());
    clone_upload(&app, &alice, &upload_with(Some(notes), 110.0)).await.assert_error(400, Some("validation_error"));
    let big = Part::File("audioSamples", "big.wav", "audio/wav", tone_wav(120.0, 400.0, 22050)); // > 10 MiB
    clone_upload(&app, &alice, &upload_with(Some(big), 120.0)).await.assert_error(413, Some("payload_too_large"));
    // three attempts this hour, none accepted: the fourth, a good one, is refused before its body is read
    let r = clone_upload(&app, &alice, &upload_with(None, 130.0)).await;
    r.assert_error(429, Some("rate_limited"));
    assert!(r.headers.contains_key("retry-after"));
    assert_eq!(jobs(&app, "alice").await, 0);
    // a free user is refused before any slot is taken
    let free = app.user("free", false, false).await;
    clone_upload(&app, &free, &upload_with(None, 140.0)).await.assert_error(403, Some("premium_required"));
    assert_eq!(attempts(&app, "free").await, 0);
});

engines!(uploads_beyond_the_server_cap_get_503_and_keep_their_slot, |engine: Engine| async move {
    let Some(app) = TestApp::with_config(engine, |c| {
        c.voice.clone_concurrent_uploads = 1;
        c.voice.clone_queue_wait = Duration::from_millis(200);
    })
    .await
    else {
        return;
    };
    let (alice, bob) = (app.user("alice", true, false).await, app.user("bob", true, false).await);
    // alice's upload takes the only turn and then stalls mid-body
    let (ct, body) = multipart(&upload_with(None, 100.0));
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    tx.send(Ok(Bytes::copy_from_slice(&body[..body.len() / 2]))).await.unwrap();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/voice/clone")
        .header("authorization", format!("Bearer {alice}"))
        .header("content-type", ct)
        .body(Body::from_stream(stream))
        .unwrap();
    let stalled = tokio::spawn(app.router.clone().oneshot(req));
    while attempts(&app, "alice").await == 0 || app.state.voice.clone_gate.uploads_in_progress() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let busy = clone_upload(&app, &bob, &upload_with(None, 150.0)).await;
    busy.assert_error(503, Some("server_busy"));
    assert!(busy.headers.contains_key("retry-after"), "{:?}", busy.headers);
    assert_eq!(attempts(&app, "bob").await, 0, "the server's refusal gives the slot back");
    // alice's body completes: her upload goes through, then bob's does
    tx.send(Ok(Bytes::copy_from_slice(&body[body.len() / 2..]))).await.unwrap();
    drop(tx);
    assert_eq!(stalled.await.unwrap().unwrap().status(), 202);
    wait_for_clone(&app, &alice).await;
    while app.state.voice.clone_gate.uploads_in_progress() > 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(clone_upload(&app, &bob, &upload_with(None, 150.0)).await.status, 202);
});
