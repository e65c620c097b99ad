//! Upstream economy: a Zipf-distributed trace of coaching lines (many users, hundreds of phrases,
//! identical requests in flight together) against the server with the REAL ElevenLabs client and
//! a fake ElevenLabs that counts calls. Every clip must cost exactly one upstream call, however
//! many users ask for it and however many ask at once.
//!
//! Next to it, the per-user client cache (10 entries) is simulated on the same trace with the
//! product's random rotation (`coach_shared::RotationPolicy`), LRU, and Belady's optimal policy
//! (evict the clip needed farthest in the future), so the rotation's hit rate is seen against the
//! bound.
//!
//! `upstream_calls_equal_unique_clips` is the bounded check (part of `cargo test`);
//! `economy_bench` is the full trace, printed by `cargo xtask bench economy`.

mod common;
mod voice_support;

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use coach_server::voice::config::TtsProvider;
use coach_shared::{RandomSource, RotationPolicy, SplitMix64};
use common::{Engine, TestApp};
use voice_support::fake_elevenlabs::{FakeEleven, GEORGE, KEY, SARAH};
use voice_support::{phrase, synth};

/// Shape of a trace.
struct Shape {
    phrases: usize,
    users: usize,
    requests: usize,
    /// Requests sent together (duplicates among them are concurrent).
    wave: usize,
    /// Zipf exponent.
    s: f64,
    seed: u64,
}

/// `(user, phrase)` pairs in request order.
fn zipf_trace(shape: &Shape) -> Vec<(usize, usize)> {
    let weights: Vec<f64> = (1..=shape.phrases).map(|k| 1.0 / (k as f64).powf(shape.s)).collect();
    let total: f64 = weights.iter().sum();
    let mut cdf = Vec::with_capacity(weights.len());
    let mut acc = 0.0;
    for w in &weights {
        acc += w / total;
        cdf.push(acc);
    }
    let mut rng = SplitMix64::new(shape.seed);
    (0..shape.requests)
        .map(|_| {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            let p = cdf.partition_point(|c| *c < u).min(shape.phrases - 1);
            (rng.below(shape.users), p)
        })
        .collect()
}

/// Hit rates of a 10-entry cache per user, summed over users: (random rotation, LRU, Belady).
fn client_hit_rates(trace: &[(usize, usize)], users: usize, capacity: usize) -> (f64, f64, f64) {
    let mut per_user: Vec<Vec<usize>> = vec![Vec::new(); users];
    for (u, p) in trace {
        per_user[*u].push(*p);
    }
    let total = trace.len() as f64;
    let policy = RotationPolicy { max_entries: capacity };
    let seeds = 20u64;
    let mut random_hits = 0.0;
    for seed in 0..seeds {
        let mut rng = SplitMix64::new(seed);
        for seq in &per_user {
            let mut keys: Vec<usize> = Vec::new();
            for p in seq {
                if policy.apply(&mut keys, *p, &mut rng).0 {
                    random_hits += 1.0;
                }
            }
        }
    }
    let (mut lru_hits, mut opt_hits) = (0.0, 0.0);
    for seq in &per_user {
        let mut lru: VecDeque<usize> = VecDeque::new();
        for p in seq {
            if let Some(i) = lru.iter().position(|k| k == p) {
                lru.remove(i);
                lru_hits += 1.0;
            } else if lru.len() == capacity {
                lru.pop_front();
            }
            lru.push_back(*p);
        }
        // Belady: next use of each position, then evict the entry used farthest ahead
        let mut next = vec![usize::MAX; seq.len()];
        let mut last: HashMap<usize, usize> = HashMap::new();
        for i in (0..seq.len()).rev() {
            next[i] = last.get(&seq[i]).copied().unwrap_or(usize::MAX);
            last.insert(seq[i], i);
        }
        let mut cache: HashMap<usize, usize> = HashMap::new(); // phrase → its next use
        for (i, p) in seq.iter().enumerate() {
            if cache.contains_key(p) {
                opt_hits += 1.0;
            } else if cache.len() == capacity {
                let victim = *cache.iter().max_by_key(|(_, n)| **n).map(|(k, _)| k).unwrap();
                cache.remove(&victim);
            }
            cache.insert(*p, next[i]);
        }
    }
    (random_hits / seeds as f64 / total, lru_hits / total, opt_hits / total)
}

/// Runs the trace against a server backed by the counting fake; returns (unique clips, upstream
/// calls, coalesced requests, seconds).
async fn run_trace(engine: Engine, shape: &Shape, trace: &[(usize, usize)]) -> Option<(usize, usize, f64, f64)> {
    let fake = FakeEleven::start().await;
    *fake.state.delay.lock().unwrap() = Duration::from_millis(40);
    let app = TestApp::with_config(engine, |c| {
        c.voice.provider = TtsProvider::ElevenLabs;
        c.voice.elevenlabs.api_key = Some(KEY.into());
        c.voice.elevenlabs.base_url = fake.url.clone();
        c.voice.elevenlabs.voice_alice = SARAH.into();
        c.voice.elevenlabs.voice_aiden = GEORGE.into();
        c.voice.synth_burst = 100_000;
        c.voice.synth_per_minute = 100_000;
    })
    .await?;
    let mut tokens = Vec::new();
    for u in 0..shape.users {
        tokens.push(app.user(&format!("econ_{u}"), true, false).await);
    }
    let start = Instant::now();
    for wave in trace.chunks(shape.wave) {
        let calls = wave.iter().map(|(u, p)| {
            let text = format!("Phrase number {p}: keep the bar path straight and breathe.");
            let token = tokens[*u].clone();
            let app = &app;
            async move { synth(app, &token, phrase(&text)).await }
        });
        for r in futures_util::future::join_all(calls).await {
            assert_eq!(r.status, 200, "{}", r.text());
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let unique = trace.iter().map(|(_, p)| *p).collect::<HashSet<_>>().len();
    let coalesced = voice_support::metric(
        &app,
        "coach_voice_cache_requests_total",
        &[("provider", "elevenlabs"), ("result", "coalesced")],
    );
    assert_eq!(fake.problems(), Vec::<String>::new());
    Some((unique, fake.tts_hits(), coalesced, secs))
}

async fn economy(engine: Engine, shape: Shape, print: bool) {
    let trace = zipf_trace(&shape);
    let Some((unique, calls, coalesced, secs)) = run_trace(engine, &shape, &trace).await else { return };
    assert_eq!(calls, unique, "one upstream call per unique clip");
    let (random, lru, opt) = client_hit_rates(&trace, shape.users, 10);
    assert!(opt + 1e-9 >= random && opt + 1e-9 >= lru, "Belady is an upper bound: {opt} vs {random}, {lru}");
    if print {
        println!(
            "\nupstream economy ({engine:?}): {} requests, {} users, {} phrases (Zipf s={}), waves of {}",
            shape.requests, shape.users, shape.phrases, shape.s, shape.wave
        );
        println!(
            "  unique clips {unique}, upstream calls {calls}, coalesced (waited for a call in flight) {coalesced}"
        );
        println!("  server clip store hit rate {:.1} %", 100.0 * (1.0 - unique as f64 / shape.requests as f64));
        println!("  {:.0} requests/s through the in-process stack ({secs:.1} s)", shape.requests as f64 / secs);
        println!("  per-user client cache (10 entries) hit rate on the same trace:");
        println!("    random rotation (product) {:>5.1} %", 100.0 * random);
        println!("    LRU                       {:>5.1} %", 100.0 * lru);
        println!("    Belady (optimal bound)    {:>5.1} %", 100.0 * opt);
    }
}

engines!(upstream_calls_equal_unique_clips, |engine: Engine| async move {
    let shape = Shape { phrases: 200, users: 20, requests: 400, wave: 32, s: 1.0, seed: 7 };
    economy(engine, shape, false).await;
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: cargo xtask bench economy"]
async fn economy_bench() {
    for engine in [Engine::Sqlite, Engine::Postgres] {
        // many users with short histories, then a few users with long ones (the client cache's
        // hit rate depends on how much of the trace one user sees)
        let shape = Shape { phrases: 500, users: 100, requests: 6000, wave: 64, s: 1.0, seed: 42 };
        economy(engine, shape, true).await;
        let shape = Shape { phrases: 300, users: 10, requests: 6000, wave: 32, s: 1.0, seed: 43 };
        economy(engine, shape, true).await;
    }
}

#[test]
fn belady_beats_or_ties_every_policy_on_a_loop() {
    // a loop one longer than the cache: LRU never hits, Belady keeps most of it
    let trace: Vec<(usize, usize)> = (0..1100).map(|i| (0, i % 11)).collect();
    let (random, lru, opt) = client_hit_rates(&trace, 1, 10);
    assert_eq!(lru, 0.0);
    assert!(opt > 0.85 && random > 0.5 && random < opt, "{random} {lru} {opt}");
}
