//! The Hugging Face Hub client against a fake Hub that checks the wire format.

mod common;
mod training_support;

use coach_server::training::hub::{HfHub, ModelHub};
use training_support::fake_hub::FakeHub;

fn model_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), br#"{"d_model": 64}"#).unwrap();
    std::fs::write(dir.path().join("README.md"), "---\nlicense: apache-2.0\n---\n# Coach model\n").unwrap();
    let weights: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(dir.path().join("model.safetensors"), weights).unwrap();
    dir
}

#[tokio::test]
async fn pushes_a_model_with_lfs_commit_and_tag() {
    let fake = FakeHub::start().await;
    let dir = model_dir();
    let hub = HfHub::new(&fake.url, FakeHub::token(), "coach-model").unwrap();
    let repo = hub.push(dir.path(), "v1.0.0").await.unwrap();
    assert_eq!(repo, "coach-bot/coach-model", "namespace from whoami-v2");
    {
        let h = fake.hub.lock().unwrap();
        assert!(h.violations.is_empty(), "{:?}", h.violations);
        let files = &h.files["coach-bot/coach-model"];
        for name in ["config.json", "README.md", "model.safetensors"] {
            assert_eq!(files[name], std::fs::read(dir.path().join(name)).unwrap(), "{name} arrived byte-identical");
        }
        assert_eq!(h.lfs.len(), 1, "the weights went through LFS");
        assert_eq!(h.tags["coach-bot/coach-model"], vec!["v1.0.0".to_string()]);
    }

    // a second version: the repo exists (409 is fine), a new tag
    hub.push(dir.path(), "v1.1.0").await.unwrap();
    let h = fake.hub.lock().unwrap();
    assert!(h.violations.is_empty(), "{:?}", h.violations);
    assert_eq!(h.tags["coach-bot/coach-model"], vec!["v1.0.0".to_string(), "v1.1.0".into()]);
    assert_eq!(h.commits.len(), 2);
}

#[tokio::test]
async fn retries_rate_limits_and_reports_auth_errors() {
    let fake = FakeHub::start().await;
    fake.hub.lock().unwrap().throttle = 2;
    let dir = model_dir();
    let hub = HfHub::new(&fake.url, FakeHub::token(), "org/coach").unwrap();
    assert_eq!(hub.push(dir.path(), "v2.0.0").await.unwrap(), "org/coach");
    assert_eq!(fake.hub.lock().unwrap().throttled, 2, "429s were retried");

    let bad = HfHub::new(&fake.url, "hf_wrong", "org/coach").unwrap().with_max_retries(0);
    let e = bad.push(dir.path(), "v2.1.0").await.unwrap_err();
    assert!(format!("{e:#}").contains("Invalid credentials"), "{e:#}");
}
