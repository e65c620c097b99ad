//! Logged sets through the outbox (`CoachClient.logSet`) against the real server (started by
//! `cargo xtask test`) and the fake outage: a set logged offline is created once after going online
//! — even flushed by two tabs and retried by hand — and its interaction follows with the new
//! workout's id; a follow-up added after the set went out still names the same workout; the
//! interaction takes the set's place in the queue (order kept); deliveries nobody awaited reach the
//! listener; local and server refusals reject without keeping anything.

#![cfg(target_arch = "wasm32")]

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::*;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn set(exercise: &str, set_number: u32) -> JsValue {
    json(&format!(
        r#"{{"exerciseType":"{exercise}","setNumber":{set_number},"weight":100,"reps":5,"perceivedExertion":8}}"#
    ))
}

fn line(text: &str) -> JsValue {
    json(&format!(r#"{{"aiResponseText":"{text}","voiceTone":"whisper","wasVoicePlayed":true,"wasCached":true}}"#))
}

async fn setup(tag: &str) -> Option<(String, String, String)> {
    let base = server()?.to_string();
    let user = unique(tag);
    let token = dev_token(&base, &user, true, false, "user", None).await;
    Some((base, user, token))
}

/// The user's workouts on the server, newest first.
async fn workouts(base: &str, token: &str) -> Vec<serde_json::Value> {
    let (status, page) = get_json(&format!("{base}/v1/workouts?limit=100"), token).await;
    assert_eq!(status, 200, "{page}");
    page["workouts"].as_array().unwrap().clone()
}

/// The interactions recorded for a workout.
async fn interactions(base: &str, token: &str, workout: &str) -> Vec<serde_json::Value> {
    let (status, page) = get_json(&format!("{base}/v1/voice/interactions/workout/{workout}"), token).await;
    assert_eq!(status, 200, "{page}");
    page["interactions"].as_array().unwrap().clone()
}

fn items(v: JsValue) -> Vec<JsValue> {
    js_sys::Array::from(&v).iter().collect()
}

/// Records what the outbox listener hears.
fn listen(c: &coach_wasm::client::CoachClient) -> Rc<RefCell<Vec<JsValue>>> {
    let heard = Rc::new(RefCell::new(Vec::new()));
    let h = heard.clone();
    let f = Closure::<dyn FnMut(JsValue)>::new(move |d: JsValue| h.borrow_mut().push(d));
    c.set_outbox_listener(f.into_js_value()).unwrap();
    heard
}

#[wasm_bindgen_test]
async fn a_set_logged_offline_is_created_once_and_its_interaction_follows() {
    let Some((base, user, token)) = setup("sets-offline").await else { return };
    let cache_opts = obj(&[("dbName", unique("sets-db").into())]);
    let tab1 = Rc::new(client(&base, &user, &token, &[("cache", cache_opts.clone())]));
    tab1.set_offline(true);
    let text = format!("Easy now {}", unique("line"));
    let opts = obj(&[("interaction", line(&text))]);
    let out = tab1.log_set(set("squat", 4), opts).await.unwrap();
    assert_eq!(s(&out, "state"), "queued", "{out:?}");
    assert!(prop(&out, "error").is_null());
    let key = s(&out, "idempotencyKey");
    assert_eq!((key.len(), &key[14..15]), (36, "4"), "UUID v4: {key}");

    let queued = items(tab1.outbox_items().await.unwrap());
    assert_eq!(queued.len(), 1);
    assert_eq!(s(&queued[0], "kind"), "workout");
    assert_eq!(s(&queued[0], "idempotencyKey"), key);
    let follow = prop(&queued[0], "followUp");
    let follow_key = s(&follow, "idempotencyKey");
    assert_eq!(follow_key.len(), 36, "the interaction's key is chosen (and kept) at enqueue time");
    assert_ne!(follow_key, key);
    assert_eq!(s(&prop(&follow, "interaction"), "aiResponseText"), text);
    assert!(workouts(&base, &token).await.is_empty(), "nothing left the device while offline");

    // back online: two tabs on the same database flush at once, so the set goes out twice
    let tab2 = Rc::new(client(&base, &user, &token, &[("cache", cache_opts)]));
    tab1.set_offline(false);
    let both = js_sys::Array::new();
    for tab in [tab1.clone(), tab2.clone()] {
        both.push(&wasm_bindgen_futures::future_to_promise(async move { tab.flush_outbox().await }));
    }
    wait(js_sys::Promise::all(&both)).await.unwrap();
    for tab in [&tab1, &tab2] {
        tab.flush_outbox().await.unwrap();
        assert!(items(tab.outbox_items().await.unwrap()).is_empty());
    }

    // ...and once more by hand, as a retry after a lost response would
    let body = s(&queued[0], "body");
    let resp = replay_by_hand(&base, "/v1/workouts", &token, &key, body).await;
    let replayed: serde_json::Value = resp.json().await.unwrap();

    let on_server = workouts(&base, &token).await;
    assert_eq!(on_server.len(), 1, "exactly one workout: {on_server:?}");
    let w = &on_server[0];
    assert_eq!((w["exerciseType"].as_str(), w["setNumber"].as_u64()), (Some("squat"), Some(4)));
    assert_eq!(replayed["id"], w["id"]);
    let said = interactions(&base, &token, w["id"].as_str().unwrap()).await;
    assert_eq!(said.len(), 1, "exactly one interaction, naming the new workout: {said:?}");
    assert_eq!(said[0]["aiResponseText"], text.as_str());
    assert_eq!((said[0]["voiceTone"].as_str(), said[0]["wasCached"].as_bool()), (Some("whisper"), Some(true)));
}

#[wasm_bindgen_test]
async fn deliveries_made_before_the_listener_is_registered_are_heard_later() {
    let Some((base, user, token)) = setup("sets-listener").await else { return };
    let c = client(&base, &user, &token, &[("cache", obj(&[("dbName", unique("sets-db").into())]))]);
    c.set_offline(true);
    let meta = json(r#"{"coach":true,"contextTags":["final_set"]}"#);
    let out = c.log_set(set("lunge", 1), obj(&[("meta", meta)])).await.unwrap();
    let key = s(&out, "idempotencyKey");
    c.set_offline(false);
    c.flush_outbox().await.unwrap();
    assert!(items(c.outbox_items().await.unwrap()).is_empty());
    let heard = listen(&c);
    let got = heard.borrow().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(s(&got[0], "kind"), "workout");
    let meta = prop(&got[0], "meta");
    assert!(b(&meta, "coach"));
    assert_eq!(js_sys::Array::from(&prop(&meta, "contextTags")).get(0).as_string().as_deref(), Some("final_set"));
    assert_eq!(s(&prop(&got[0], "outcome"), "idempotencyKey"), key);
    // a set the caller awaits is answered to the caller, not to the listener
    let out = c.log_set(set("lunge", 2), JsValue::UNDEFINED).await.unwrap();
    assert_eq!(s(&out, "state"), "sent", "{out:?}");
    assert_eq!(n(&prop(&out, "response"), "setNumber"), 2.0);
    assert_eq!(heard.borrow().len(), 1);
}

#[wasm_bindgen_test]
async fn a_follow_up_added_later_names_the_same_workout() {
    let Some((base, user, token)) = setup("sets-later").await else { return };
    let c = client(&base, &user, &token, &[("cache", obj(&[("dbName", unique("sets-db").into())]))]);

    // still queued: the follow-up joins the queued set (one item)
    c.set_offline(true);
    let out = c.log_set(set("deadlift", 1), JsValue::UNDEFINED).await.unwrap();
    let key = s(&out, "idempotencyKey");
    let first = format!("Grip it {}", unique("line"));
    let again =
        c.log_set(set("deadlift", 1), obj(&[("idempotencyKey", key.clone().into()), ("interaction", line(&first))]));
    assert_eq!(s(&again.await.unwrap(), "state"), "queued");
    let queued = items(c.outbox_items().await.unwrap());
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(s(&prop(&prop(&queued[0], "followUp"), "interaction"), "aiResponseText"), first);
    c.set_offline(false);
    c.flush_outbox().await.unwrap();

    // already sent: the set goes again with its key, the server replays it, the interaction follows
    let out = c.log_set(set("deadlift", 2), JsValue::UNDEFINED).await.unwrap();
    assert_eq!(s(&out, "state"), "sent");
    let key2 = s(&out, "idempotencyKey");
    let id2 = s(&prop(&out, "response"), "id");
    let second = format!("Locked out {}", unique("line"));
    let late = c
        .log_set(set("deadlift", 2), obj(&[("idempotencyKey", key2.into()), ("interaction", line(&second))]))
        .await
        .unwrap();
    assert_eq!(s(&late, "state"), "sent");
    assert!(b(&late, "replayed"), "the server answered with the first response");
    assert_eq!(s(&prop(&late, "response"), "id"), id2);
    c.flush_outbox().await.unwrap();

    let on_server = workouts(&base, &token).await;
    assert_eq!(on_server.len(), 2, "{on_server:?}");
    for w in &on_server {
        let said = interactions(&base, &token, w["id"].as_str().unwrap()).await;
        let want = if w["setNumber"] == 1 { &first } else { &second };
        assert_eq!(said.len(), 1, "{said:?}");
        assert_eq!(said[0]["aiResponseText"], want.as_str());
    }
}

#[wasm_bindgen_test]
async fn refusals_reject_and_keep_nothing() {
    let Some((base, user, token)) = setup("sets-refused").await else { return };
    let c = client(&base, &user, &token, &[("cache", obj(&[("dbName", unique("sets-db").into())]))]);
    // local rules, before anything is queued
    let err = c.log_set(set("Bench Press!", 0), JsValue::UNDEFINED).await.unwrap_err();
    assert_eq!(code(&err), "validation_error");
    let long = "x".repeat(281);
    let err = c.log_set(set("squat", 1), obj(&[("interaction", line(&long))])).await.unwrap_err();
    assert_eq!(code(&err), "validation_error");
    let err = c.log_set(set("squat", 1), obj(&[("idempotencyKey", " ".into())])).await.unwrap_err();
    assert_eq!(code(&err), "invalid_argument");
    assert!(items(c.outbox_items().await.unwrap()).is_empty());

    // the server's refusal: the key of a logged set reused for another set (422)
    let out = c.log_set(set("squat", 1), JsValue::UNDEFINED).await.unwrap();
    let key = s(&out, "idempotencyKey");
    let err = c.log_set(set("squat", 2), obj(&[("idempotencyKey", key.into())])).await.unwrap_err();
    assert_eq!((code(&err), n(&err, "status")), ("idempotency_key_reused".to_string(), 422.0));
    assert!(items(c.outbox_items().await.unwrap()).is_empty());
    assert!(items(c.dead_letters().await.unwrap()).is_empty(), "the caller was told: no dead letter");
    assert_eq!(workouts(&base, &token).await.len(), 1);

    // an unreachable server: the set is kept, with why
    c.set_base_url("http://127.0.0.1:9".into()).unwrap();
    let out = c.log_set(set("squat", 3), JsValue::UNDEFINED).await.unwrap();
    assert_eq!(s(&out, "state"), "queued");
    assert_eq!(s(&prop(&out, "error"), "error"), "network_error");
    assert_eq!(items(c.outbox_items().await.unwrap()).len(), 1);
    c.close();
}

#[wasm_bindgen_test]
async fn the_interaction_takes_the_place_of_its_set_in_the_queue() {
    let Some(fake) = FAKE_URL else {
        console_log!("SKIPPED: COACH_TEST_FAKE_URL was not set at build time");
        return;
    };
    let user = unique("sets-order");
    let c = client(fake, &user, "t", &[("cache", obj(&[("dbName", unique("sets-db").into())]))]);
    c.set_offline(true);
    let out = c.log_set(set("squat", 1), obj(&[("interaction", line("Breathe"))])).await.unwrap();
    let key = s(&out, "idempotencyKey");
    let training =
        json(r#"{"exerciseType":"squat","setNumber":1,"strainPercentage":80,"aiResponse":"Breathe","contextTags":[]}"#);
    assert_eq!(s(&c.submit_training_data(training).await.unwrap(), "state"), "queued");
    let before = items(c.outbox_items().await.unwrap());
    let follow_key = s(&prop(&before[0], "followUp"), "idempotencyKey");
    // the fake logs the set (201) and answers the interaction 429: it waits at the head
    c.set_offline(false);
    c.flush_outbox().await.unwrap();
    let after = items(c.outbox_items().await.unwrap());
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(s(&after[0], "kind"), "voiceInteraction");
    assert_eq!(s(&after[0], "idempotencyKey"), follow_key, "sent with the key chosen at enqueue time");
    assert_ne!(follow_key, key);
    assert_eq!(n(&after[0], "seq"), n(&before[0], "seq"), "in the set's place");
    let body: serde_json::Value = serde_json::from_str(&s(&after[0], "body")).unwrap();
    assert_eq!(body["workoutEntryId"], "fake-workout-1", "names the workout the server created");
    assert_eq!(body["aiResponseText"], "Breathe");
    assert_eq!(s(&after[1], "kind"), "trainingData", "what came after the set still waits behind it");
    assert!(fake_count(fake, "POST /v1/workouts").await >= 1);
    c.close();
}
