//! The voice side of `DELETE /v1/users/me`, on both engines: cloned voices go through the durable
//! outbox — the answer never waits for the provider (a fake ElevenLabs that hangs or fails), the
//! deletion is retried with backoff until the provider confirms, and a clone that finishes after
//! the deletion is deleted too. Clips: local cloned voices are unique per user, and a clip shared
//! by key is removed only with its last reference.

mod common;
mod voice_support;

use std::time::Duration;

use axum::http::Method;
use coach_server::config::Config;
use coach_server::db::now_ms;
use coach_server::voice::config::{ElevenLabsConfig, TtsProvider};
use coach_server::voice::outbox;
use common::{Auth, Engine, TestApp, eventually};
use serde_json::json;
use voice_support::fake_elevenlabs::FakeEleven;
use voice_support::*;

/// The server on the fake: a provider call may take a minute (the fake hangs instead), a request
/// only 3 s — so a deletion that waited for the provider would be cut off by the request timeout.
fn on_fake(c: &mut Config, fake: &FakeEleven) {
    c.voice.provider = TtsProvider::ElevenLabs;
    c.voice.elevenlabs = ElevenLabsConfig { timeout: Duration::from_secs(60), max_retries: 0, ..fake.client_config() };
    c.voice.breaker_failures = 100;
    c.request_timeout = Duration::from_secs(3);
    c.training.scheduler = false;
}

fn clone_parts() -> Vec<Part<'static>> {
    let mut parts: Vec<Part> = (0..3)
        .map(|i| {
            Part::File("audioSamples", "take.mp3", "audio/mpeg", tone_mp3(100.0 + 15.0 * f64::from(i), 1.5, 44100))
        })
        .collect();
    parts.push(Part::Text("voiceName", "Mine"));
    parts
}

/// A premium user with a cloned voice; returns the token and the voice id.
async fn cloned_user(app: &TestApp, id: &str) -> (String, String) {
    let t = app.user(id, true, true).await;
    let r = clone_upload(app, &t, &clone_parts()).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let done = wait_for_clone(app, &t).await;
    assert_eq!(done["status"], "completed", "{done}");
    (t, done["elevenLabsVoiceId"].as_str().unwrap().to_string())
}

async fn pending(app: &TestApp) -> Vec<(String, i64, Option<String>, i64)> {
    sqlx::query_as(
        "SELECT voice_id, CAST(attempts AS BIGINT), last_error, next_attempt_at FROM pending_voice_deletions ORDER BY voice_id",
    )
    .fetch_all(&app.state.db.pool)
    .await
    .unwrap()
}

async fn delete_me(app: &TestApp, token: &str) -> serde_json::Value {
    let r = app.send(Method::DELETE, "/v1/users/me", Auth::Bearer(token.to_string()), None, vec![]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

engines!(a_hanging_provider_does_not_hold_up_the_deletion, |engine: Engine| async move {
    let fake = FakeEleven::start().await;
    let Some(app) = TestApp::with_config(engine, |c| on_fake(c, &fake)).await else { return };
    let (token, voice) = cloned_user(&app, "hang_me").await;
    fake.hold_deletes(true);
    let v = delete_me(&app, &token).await;
    assert_eq!(v["deleted"]["providerVoicesQueued"], 1, "{v}");
    assert_eq!(v["deleted"]["providerVoicesDeleted"], 0, "{v}");
    // The answer came while the provider hung: the user is gone, the voice waits in the outbox.
    app.get("/v1/users/hang_me", Auth::Admin).await.assert_error(404, None);
    let queued = pending(&app).await;
    assert_eq!(queued.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), [voice.as_str()]);
    assert!(fake.deleted().is_empty(), "the provider has deleted nothing yet");
    // Once the provider answers, the background delivery completes by itself.
    fake.hold_deletes(false);
    eventually("the voice is deleted at the provider", || async { fake.deleted() == [voice.clone()] }).await;
    eventually("the outbox is empty", || async { pending(&app).await.is_empty() }).await;
    assert_eq!(fake.problems(), Vec::<String>::new());
});

engines!(failed_provider_deletions_are_retried_with_backoff, |engine: Engine| async move {
    let fake = FakeEleven::start().await;
    let Some(app) = TestApp::with_config(engine, |c| on_fake(c, &fake)).await else { return };
    let (token, voice) = cloned_user(&app, "retry_me").await;
    fake.fail_deletes(true);
    delete_me(&app, &token).await;
    eventually("the first attempt fails and is recorded", || async {
        pending(&app).await.first().is_some_and(|r| r.1 == 1)
    })
    .await;
    let (id, attempts, error, next) = pending(&app).await.remove(0);
    assert_eq!((id.as_str(), attempts), (voice.as_str(), 1));
    assert!(error.as_deref().is_some_and(|e| e.contains("500")), "{error:?}");
    assert!(next >= now_ms() + 20_000, "the next attempt waits for the backoff");
    // Not due yet: nothing is sent.
    let hits = fake.delete_hits();
    assert_eq!(outbox::deliver_due(&app.state, now_ms()).await.unwrap(), outbox::Delivery::default());
    assert_eq!(fake.delete_hits(), hits);
    // Due (a day later) and the provider is back: delivered, the row goes.
    fake.fail_deletes(false);
    let day = now_ms() + 86_400_000;
    assert_eq!(outbox::deliver_due(&app.state, day).await.unwrap(), outbox::Delivery { deleted: 1, failed: 0 });
    assert!(pending(&app).await.is_empty());
    assert_eq!(fake.deleted(), [voice]);
    // The retention job reports the outbox too.
    let r = app.json(Method::POST, "/v1/admin/jobs/retention-cleanup", Auth::Admin, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["result"]["providerVoiceDeletionsPending"], 0);
});

engines!(a_clone_finishing_after_the_deletion_is_deleted_at_the_provider, |engine: Engine| async move {
    let fake = FakeEleven::start().await;
    let Some(app) = TestApp::with_config(engine, |c| on_fake(c, &fake)).await else { return };
    let t = app.user("late_clone", true, true).await;
    fake.hold_adds(true);
    let r = clone_upload(&app, &t, &clone_parts()).await;
    assert_eq!(r.status, 202, "{}", r.text());
    eventually("the provider call is in flight", || async { fake.add_hits() == 1 }).await;
    let v = delete_me(&app, &t).await;
    assert_eq!(v["deleted"]["cloneJobs"], 1);
    assert_eq!(v["deleted"]["providerVoicesQueued"], 0, "no voice exists yet");
    // The provider now makes the voice: the job finds its user gone and has it deleted.
    fake.hold_adds(false);
    eventually("the orphan voice is deleted at the provider", || async { fake.deleted().len() == 1 }).await;
    assert!(fake.deleted()[0].starts_with("cloned"), "{:?}", fake.deleted());
    eventually("the outbox is empty", || async { pending(&app).await.is_empty() }).await;
    let jobs: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM voice_clone_jobs")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(jobs, 0, "nothing was recorded for the deleted user");
});

both_engines!(local_cloned_voices_are_unique_per_user, |app: TestApp| async move {
    // Two users whose samples are the same speaker match the same pitch.
    let samples: Vec<Vec<u8>> = (0..3).map(|i| tone_wav(120.0 + 2.0 * f64::from(i), 1.5, 22050)).collect();
    let mut voices = Vec::new();
    let mut tokens = Vec::new();
    for user in ["twin_a", "twin_b"] {
        let t = app.user(user, true, false).await;
        let mut parts: Vec<Part> =
            samples.iter().map(|s| Part::File("audioSamples", "s.wav", "audio/wav", s.clone())).collect();
        parts.push(Part::Text("voiceName", "Twin"));
        assert_eq!(clone_upload(&app, &t, &parts).await.status, 202);
        let done = wait_for_clone(&app, &t).await;
        assert_eq!(done["status"], "completed", "{done}");
        voices.push(done["elevenLabsVoiceId"].as_str().unwrap().to_string());
        tokens.push(t);
    }
    assert_ne!(voices[0], voices[1], "each user's cloned voice has its own id");
    assert_eq!(voices[0].split('~').next(), voices[1].split('~').next(), "the same engine voice");
    // Their clips of one phrase are two private clips, not one shared between them.
    let a = synth(&app, &tokens[0], phrase("Same words, two owners.")).await.json();
    let b = synth(&app, &tokens[1], phrase("Same words, two owners.")).await.json();
    assert_ne!(a["cacheKey"], b["cacheKey"]);
    // Deleting one user leaves the other's clip and index entry intact.
    delete_me(&app, &tokens[0]).await;
    let bare = format!("/v1/voice/clips/{}.mp3", b["cacheKey"].as_str().unwrap());
    assert_eq!(request(&app, Method::GET, &bare, Some(&tokens[1]), &[], vec![]).await.status, 200);
    let bare_a = format!("/v1/voice/clips/{}.mp3", a["cacheKey"].as_str().unwrap());
    request(&app, Method::GET, &bare_a, Some(&tokens[1]), &[], vec![]).await.assert_error(404, None);
    let list = request(&app, Method::GET, "/v1/voice/cache", Some(&tokens[1]), &[], vec![]).await.json();
    assert_eq!(list["cacheEntries"].as_array().map(Vec::len), Some(1), "{list}");
});

fn clip_file(app: &TestApp, key: &str) -> std::path::PathBuf {
    app.data_dir.join("clips").join(&key[..2]).join(format!("{key}.mp3"))
}

both_engines!(a_shared_clip_goes_only_with_its_last_reference, |app: TestApp| async move {
    let a = app.user("clip_a", true, false).await;
    let b = app.user("clip_b", true, false).await;
    // A public clip in both users' indexes, and one in A's only.
    let shared =
        synth(&app, &a, phrase("Both of us hear this.")).await.json()["cacheKey"].as_str().unwrap().to_string();
    assert_eq!(synth(&app, &b, phrase("Both of us hear this.")).await.json()["cacheKey"], shared.as_str());
    let only_a =
        synth(&app, &a, phrase("Only I asked for this one.")).await.json()["cacheKey"].as_str().unwrap().to_string();
    // A private clip of A's that B's index also references (a clip shared by key, as colliding
    // voice ids used to make).
    let private = "ab".repeat(32);
    std::fs::create_dir_all(clip_file(&app, &private).parent().unwrap()).unwrap();
    std::fs::copy(clip_file(&app, &shared), clip_file(&app, &private)).unwrap();
    let db = &app.state.db.pool;
    sqlx::query(
        "INSERT INTO voice_clips (cache_key, content_type, byte_size, duration, provider, voice, owner_user_id, created_at)
         VALUES ($1, 'audio/mpeg', 1, 1.0, 'local', 'en-us+f3@60', 'clip_a', 0)",
    )
    .bind(&private)
    .execute(db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO voice_cache_entries (id, user_id, cache_key, tone, context, generated_at, last_used_at, usage_count,
             duration, byte_size, expires_at)
         VALUES ('e-shared-private', 'clip_b', $1, 'neutral', 'rest_period', 0, 0, 1, 1.0, 1, NULL)",
    )
    .bind(&private)
    .execute(db)
    .await
    .unwrap();

    delete_me(&app, &a).await;
    assert!(!clip_file(&app, &only_a).exists(), "a clip only the deleted user referenced is removed");
    assert!(clip_file(&app, &shared).exists(), "a clip another user references stays");
    assert!(clip_file(&app, &private).exists(), "a private clip another user references stays");
    let owners: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT cache_key, owner_user_id FROM voice_clips ORDER BY cache_key")
            .fetch_all(db)
            .await
            .unwrap();
    let owner = |k: &str| owners.iter().find(|(key, _)| key == k).map(|(_, o)| o.clone());
    assert_eq!(owner(&only_a), None, "its row is gone");
    assert_eq!(owner(&shared), Some(None));
    assert_eq!(owner(&private), Some(Some("clip_b".to_string())), "passed to the user who still references it");
    let list = request(&app, Method::GET, "/v1/voice/cache", Some(&b), &[], vec![]).await.json();
    assert_eq!(list["cacheEntries"].as_array().map(Vec::len), Some(2), "B's index is untouched: {list}");
    let bare = format!("/v1/voice/clips/{private}.mp3");
    assert_eq!(request(&app, Method::GET, &bare, Some(&b), &[], vec![]).await.status, 200);
});
