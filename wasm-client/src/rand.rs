//! Randomness from `crypto.getRandomValues` (through `getrandom`): the voice cache's random
//! eviction and the outbox's idempotency keys (UUID v4).

use coach_shared::RandomSource;

/// [`RandomSource`] backed by the browser's CSPRNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct CryptoRandom;

impl RandomSource for CryptoRandom {
    fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "below(0)");
        let bits = getrandom::u64().expect("crypto.getRandomValues is available in every supported browser");
        // Lemire's multiply-shift, as in the shared SplitMix64 source.
        ((u128::from(bits) * n as u128) >> 64) as usize
    }
}

/// A random number in `[0, 1)` (backoff jitter).
pub fn unit() -> f64 {
    let bits = getrandom::u64().unwrap_or(0) >> 11;
    bits as f64 / (1u64 << 53) as f64
}

/// A random (version 4) UUID in its hyphenated lowercase form.
pub fn uuid_v4() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("crypto.getRandomValues is available in every supported browser");
    uuid::Builder::from_random_bytes(bytes).into_uuid().hyphenated().to_string()
}
