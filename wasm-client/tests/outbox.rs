//! The offline outbox against the real server (started by `cargo xtask test`) and the fake outage:
//! an offline submission arrives exactly once after going online even when sent twice, order is
//! kept, poison items are set aside with their error, retryable failures back off, an expired
//! token pauses without losing anything.

#![cfg(target_arch = "wasm32")]

mod common;

use std::rc::Rc;

use common::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn training(text: &str) -> JsValue {
    json(&format!(
        r#"{{"exerciseType":"bench_press","setNumber":3,"strainPercentage":85,"sleepHours":7.5,
            "aiResponse":"{text}","contextTags":["high_strain"]}}"#
    ))
}

/// Training rows whose `aiResponse` is `text` (admin listing, newest first).
async fn rows_with(base: &str, admin: &str, text: &str) -> Vec<serde_json::Value> {
    let (status, page) = get_json(&format!("{base}/v1/ai-training/data?limit=100"), admin).await;
    assert_eq!(status, 200, "{page}");
    page["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["aiResponse"].as_str().unwrap_or("").starts_with(text))
        .cloned()
        .collect()
}

async fn setup(tag: &str, consent: bool, name: Option<&str>) -> Option<(String, String, String, String)> {
    let base = server()?.to_string();
    let user = unique(tag);
    let token = dev_token(&base, &user, true, consent, "user", name).await;
    let admin = dev_token(&base, &unique("admin"), false, false, "admin", None).await;
    Some((base, user, token, admin))
}

#[wasm_bindgen_test]
async fn an_offline_submission_arrives_once_after_going_online_even_when_sent_twice() {
    let Some((base, user, token, admin)) = setup("outbox-once", true, None).await else { return };
    let db = unique("outbox-db");
    let cache_opts = obj(&[("dbName", db.clone().into())]);
    let tab1 = Rc::new(client(&base, &user, &token, &[("cache", cache_opts.clone())]));
    tab1.set_offline(true);
    let text = format!("Strong set {}", unique("once"));
    let out = tab1.submit_training_data(training(&text)).await.unwrap();
    assert_eq!(s(&out, "state"), "queued");
    assert!(prop(&out, "error").is_null());
    let key = s(&out, "idempotencyKey");
    assert_eq!(key.len(), 36);
    assert_eq!(&key[14..15], "4", "UUID v4: {key}");
    let items = js_sys::Array::from(&tab1.outbox_items().await.unwrap());
    assert_eq!(items.length(), 1);
    let item = items.get(0);
    assert_eq!(s(&item, "idempotencyKey"), key);
    assert!(s(&item, "body").contains(&coach_shared::hash_user_id(&user)), "hashedUserId computed by the client");
    assert!(rows_with(&base, &admin, &text).await.is_empty(), "nothing left the device while offline");

    // back online: two tabs on the same database flush at once → the item goes out twice
    let tab2 = Rc::new(client(&base, &user, &token, &[("cache", cache_opts)]));
    tab1.set_offline(false);
    let both = js_sys::Array::new();
    for tab in [tab1.clone(), tab2.clone()] {
        both.push(&wasm_bindgen_futures::future_to_promise(async move { tab.flush_outbox().await }));
    }
    // (each tab also flushes by itself on start and when going online: which sends first varies)
    let reports = js_sys::Array::from(&wait(js_sys::Promise::all(&both)).await.unwrap());
    assert!(reports.iter().all(|r| n(&r, "remaining") == 0.0), "{reports:?}");

    // ...and a third time by hand, as a retry after a lost response would
    let body = s(&item, "body");
    replay_by_hand(&base, "/v1/ai-training/data", &token, &key, body).await;

    assert_eq!(rows_with(&base, &admin, &text).await.len(), 1, "exactly one record on the server");
    assert_eq!(js_sys::Array::from(&tab1.outbox_items().await.unwrap()).length(), 0);
    assert_eq!(js_sys::Array::from(&tab2.outbox_items().await.unwrap()).length(), 0);
}

#[wasm_bindgen_test]
async fn an_unreachable_server_queues_and_a_flush_delivers_in_order() {
    let Some((base, user, token, admin)) = setup("outbox-order", true, None).await else { return };
    let c = client("http://127.0.0.1:9", &user, &token, &[("cache", obj(&[("dbName", unique("outbox-db").into())]))]);
    let prefix = unique("order");
    for i in 0..3 {
        let out = c.submit_training_data(training(&format!("{prefix} set {i}"))).await.unwrap();
        assert_eq!(s(&out, "state"), "queued", "{out:?}");
    }
    let first = js_sys::Array::from(&c.outbox_items().await.unwrap());
    assert_eq!(first.length(), 3);
    let err = prop(&first.get(0), "lastError");
    assert_eq!(s(&err, "error"), "network_error");
    assert!(n(&first.get(0), "attempts") >= 1.0);

    c.set_base_url(base.clone()).unwrap();
    sleep(450).await; // past the (short) backoff
    let report = c.flush_outbox().await.unwrap();
    assert_eq!(n(&report, "remaining"), 0.0, "{report:?}");
    let rows = rows_with(&base, &admin, &prefix).await;
    let texts: Vec<&str> = rows.iter().rev().map(|r| r["aiResponse"].as_str().unwrap()).collect();
    assert_eq!(
        texts,
        [format!("{prefix} set 0"), format!("{prefix} set 1"), format!("{prefix} set 2")],
        "sent in order"
    );
}

#[wasm_bindgen_test]
async fn poison_items_are_set_aside_and_the_queue_moves_on() {
    // the server knows the user's display name; the client was not told it, so only the server's
    // PII check refuses the first item: a 400 that no retry can fix
    let Some((base, user, token, admin)) = setup("outbox-poison", true, Some("Jordan Smith")).await else { return };
    let c = client(&base, &user, &token, &[("cache", obj(&[("dbName", unique("outbox-db").into())]))]);
    c.set_offline(true);
    let good = format!("Clean set {}", unique("poison"));
    c.submit_training_data(training("Great work Jordan Smith")).await.unwrap();
    c.submit_training_data(training(&good)).await.unwrap();
    c.set_offline(false); // flushes in the background; ours waits for that one, then runs
    let report = c.flush_outbox().await.unwrap();
    assert_eq!(n(&report, "remaining"), 0.0, "{report:?}");
    assert_eq!(rows_with(&base, &admin, &good).await.len(), 1, "the item behind the poison went out");

    let dead = js_sys::Array::from(&c.dead_letters().await.unwrap());
    assert_eq!(dead.length(), 1);
    let letter = dead.get(0);
    let error = prop(&letter, "error");
    assert_eq!(n(&error, "status"), 400.0);
    assert_eq!(s(&error, "error"), "validation_error");
    let key = s(&letter, "idempotencyKey");

    // re-queued, refused again (not retried forever), then discarded
    assert!(c.retry_dead_letter(key.clone()).await.unwrap());
    c.flush_outbox().await.unwrap();
    assert_eq!(js_sys::Array::from(&c.outbox_items().await.unwrap()).length(), 0);
    let dead = js_sys::Array::from(&c.dead_letters().await.unwrap());
    assert_eq!(dead.length(), 1, "refused again, set aside again");
    assert_eq!(n(&dead.get(0), "attempts"), 1.0);
    assert!(c.discard_dead_letter(key.clone()).await.unwrap());
    assert!(!c.discard_dead_letter(key).await.unwrap());
    assert_eq!(js_sys::Array::from(&c.dead_letters().await.unwrap()).length(), 0);

    // a direct submission that the server refuses resolves as `rejected`
    let out = c.submit_training_data(training("Well done Jordan Smith")).await.unwrap();
    assert_eq!(s(&out, "state"), "rejected");
    assert_eq!(s(&prop(&out, "error"), "error"), "validation_error");
}

#[wasm_bindgen_test]
async fn a_consent_refusal_is_poison_and_a_sent_item_returns_the_record() {
    let Some((base, user, token, _admin)) = setup("outbox-consent", false, None).await else { return };
    let c = client(&base, &user, &token, &[("cache", obj(&[("dbName", unique("outbox-db").into())]))]);
    let out = c.submit_training_data(training("Nice pace")).await.unwrap();
    assert_eq!(s(&out, "state"), "rejected");
    assert_eq!(s(&prop(&out, "error"), "error"), "consent_required");
    let me = c.set_consent(true).await.unwrap();
    assert!(b(&me, "dataCollectionConsent"));
    let out = c.submit_training_data(training("Nice pace again")).await.unwrap();
    assert_eq!(s(&out, "state"), "sent", "{out:?}");
    assert!(!b(&out, "replayed"));
    let record = prop(&out, "response");
    assert_eq!(s(&record, "status"), "validated");
    assert!(!s(&record, "id").is_empty());
}

#[wasm_bindgen_test]
async fn local_validation_refuses_before_anything_is_queued() {
    let Some((base, user, token, _)) = setup("outbox-local", true, None).await else { return };
    let c = client(
        &base,
        &user,
        &token,
        &[("cache", obj(&[("dbName", unique("outbox-db").into())])), ("names", json(r#"["Casey Doe"]"#))],
    );
    for bad in [
        training("mail me at casey@example.com"),
        training("Good job Casey Doe"),
        json(
            r#"{"exerciseType":"bench_press","setNumber":0,"strainPercentage":50,"aiResponse":"ok","contextTags":[]}"#,
        ),
        json(
            r#"{"exerciseType":"bench_press","setNumber":2,"strainPercentage":50,"aiResponse":"ok","contextTags":["no_such_tag"]}"#,
        ),
    ] {
        let err = c.submit_training_data(bad).await.unwrap_err();
        assert_eq!(code(&err), "validation_error");
        assert_eq!(n(&err, "status"), 400.0);
        let fields = js_sys::Array::from(&prop(&prop(&err, "details"), "fields"));
        assert!(fields.length() >= 1);
    }
    let err = c.submit_training_data(json(r#"{"setNumber":"three"}"#)).await.unwrap_err();
    assert_eq!(code(&err), "invalid_argument");
    assert_eq!(js_sys::Array::from(&c.outbox_items().await.unwrap()).length(), 0);
}

#[wasm_bindgen_test]
async fn an_expired_token_pauses_the_outbox_and_a_new_one_resumes_it() {
    let Some((base, user, token, admin)) = setup("outbox-401", true, None).await else { return };
    let c = client(&base, &user, "not-a-valid-token", &[("cache", obj(&[("dbName", unique("outbox-db").into())]))]);
    let text = format!("Paused {}", unique("auth"));
    let out = c.submit_training_data(training(&text)).await.unwrap();
    assert_eq!(s(&out, "state"), "queued");
    assert_eq!(n(&prop(&out, "error"), "status"), 401.0);
    let report = c.flush_outbox().await.unwrap();
    assert_eq!(s(&report, "stopped"), "unauthorized");
    assert_eq!(n(&report, "remaining"), 1.0);
    assert_eq!(js_sys::Array::from(&c.dead_letters().await.unwrap()).length(), 0, "not poison");

    c.set_token(Some(token)); // flushes in the background
    for _ in 0..50 {
        if js_sys::Array::from(&c.outbox_items().await.unwrap()).length() == 0 {
            break;
        }
        sleep(50).await;
    }
    assert_eq!(rows_with(&base, &admin, &text).await.len(), 1);
}

#[wasm_bindgen_test]
async fn retryable_failures_back_off_instead_of_hammering() {
    let Some(fake) = FAKE_URL else {
        console_log!("SKIPPED: COACH_TEST_FAKE_URL was not set at build time");
        return;
    };
    let user = unique("outbox-backoff");
    let c = client(fake, &user, "t", &[("cache", obj(&[("dbName", unique("outbox-db").into())]))]);
    let before = fake_count(fake, "POST /v1/ai-training/data").await;
    let out = c.submit_training_data(training("Retry me")).await.unwrap();
    assert_eq!(s(&out, "state"), "queued");
    assert_eq!(n(&prop(&out, "error"), "status"), 503.0);
    let item = js_sys::Array::from(&c.outbox_items().await.unwrap()).get(0);
    assert_eq!(n(&item, "attempts"), 1.0);
    let wait_ms = n(&item, "nextAttemptAt") - js_sys::Date::now();
    assert!(wait_ms > 800.0, "Retry-After: 1 honoured ({wait_ms} ms)");

    // flushing again at once sends nothing (still backing off)
    let report = c.flush_outbox().await.unwrap();
    assert_eq!(s(&report, "stopped"), "backoff");
    assert_eq!(fake_count(fake, "POST /v1/ai-training/data").await, before + 1);

    // the scheduled retry fires by itself
    sleep(1600).await;
    assert!(fake_count(fake, "POST /v1/ai-training/data").await >= before + 2);
    let item = js_sys::Array::from(&c.outbox_items().await.unwrap()).get(0);
    assert!(n(&item, "attempts") >= 2.0, "still queued, never dead-lettered: {item:?}");

    // 429 on interactions is retryable too
    let out = c
        .record_interaction(json(
            r#"{"workoutEntryId":"w1","aiResponseText":"Go!","voiceTone":"hype","wasVoicePlayed":true}"#,
        ))
        .await
        .unwrap();
    assert_eq!(s(&out, "state"), "queued");
    assert_eq!(js_sys::Array::from(&c.dead_letters().await.unwrap()).length(), 0);
    c.close();
}

#[wasm_bindgen_test]
async fn what_a_closed_tab_queued_goes_out_when_the_app_starts_again() {
    let Some((base, user, token, admin)) = setup("outbox-restart", true, None).await else { return };
    let cache_opts = obj(&[("dbName", unique("outbox-db").into())]);
    let first = client(&base, &user, &token, &[("cache", cache_opts.clone())]);
    first.set_offline(true);
    let text = format!("Queued before closing {}", unique("restart"));
    assert_eq!(s(&first.submit_training_data(training(&text)).await.unwrap(), "state"), "queued");
    first.close();
    drop(first);

    // the next start constructs a client and does nothing else
    let next = client(&base, &user, &token, &[("cache", cache_opts)]);
    let mut rows = Vec::new();
    for _ in 0..60 {
        rows = rows_with(&base, &admin, &text).await;
        if !rows.is_empty() {
            break;
        }
        sleep(50).await;
    }
    assert_eq!(rows.len(), 1, "sent by the new session on its own");
    assert_eq!(js_sys::Array::from(&next.outbox_items().await.unwrap()).length(), 0);
}
