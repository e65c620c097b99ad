//! The voice cache's rotation policy: at most N entries per user (10), and when the cache is full a
//! new clip evicts a *uniformly random* existing one.
//!
//! Random eviction needs no bookkeeping on reads (a hit changes nothing but statistics), behaves
//! well on the looping phrase sets a workout produces (LRU thrashes on loops one longer than the
//! cache), and is the same rule in IndexedDB and in the server's index. The random source is
//! injected so the policy is pure and testable: the browser passes `crypto.getRandomValues`, the
//! server its thread RNG, tests a seeded [`SplitMix64`].

/// A source of uniform random indices.
pub trait RandomSource {
    /// A uniformly distributed integer in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize;
}

/// Small, seedable PRNG (Steele, Lea & Flood's SplitMix64) for tests and reproducible traces.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl RandomSource for SplitMix64 {
    fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "below(0)");
        // Lemire's multiply-shift: maps 64 random bits onto 0..n (bias < n / 2^64).
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// What to do with a clip the cache is asked to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Already cached at this index: count a hit, store nothing.
    Hit(usize),
    /// Store it, after evicting the entries at these indices (into the slice passed to
    /// [`RotationPolicy::admit`]; sorted, usually empty or one).
    Insert {
        /// Indices to evict first.
        evict: Vec<usize>,
    },
}

/// At most `max_entries` clips; random eviction when full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    /// Capacity (10 in the product, see [`crate::limits::VOICE_CACHE_MAX_ENTRIES`]).
    pub max_entries: usize,
}

impl Default for RotationPolicy {
    fn default() -> Self {
        Self { max_entries: crate::limits::VOICE_CACHE_MAX_ENTRIES }
    }
}

impl RotationPolicy {
    /// Decides how `key` enters a cache currently holding `keys`.
    ///
    /// When the cache holds more than it may (a capacity lowered after the fact), enough random
    /// entries are evicted to make room for the new one.
    pub fn admit<K: PartialEq>(&self, keys: &[K], key: &K, rng: &mut impl RandomSource) -> Admission {
        if let Some(i) = keys.iter().position(|k| k == key) {
            return Admission::Hit(i);
        }
        let cap = self.max_entries.max(1);
        let excess = (keys.len() + 1).saturating_sub(cap);
        let mut remaining: Vec<usize> = (0..keys.len()).collect();
        // the picks, then listed in ascending order (marks rather than a sort: no sort routine in
        // the browser package for this)
        let mut picked = vec![false; keys.len()];
        for _ in 0..excess {
            let pick = rng.below(remaining.len());
            picked[remaining.swap_remove(pick)] = true;
        }
        let evict = (0..keys.len()).filter(|&i| picked[i]).collect();
        Admission::Insert { evict }
    }

    /// Applies [`Self::admit`] to an in-memory list (used by simulations and tests). Returns whether
    /// it was a hit and the keys evicted.
    pub fn apply<K: PartialEq + Clone>(
        &self,
        keys: &mut Vec<K>,
        key: K,
        rng: &mut impl RandomSource,
    ) -> (bool, Vec<K>) {
        match self.admit(keys, &key, rng) {
            Admission::Hit(_) => (true, Vec::new()),
            Admission::Insert { evict } => {
                let mut evicted = Vec::with_capacity(evict.len());
                for i in evict.into_iter().rev() {
                    evicted.push(keys.remove(i));
                }
                evicted.reverse();
                keys.push(key);
                (false, evicted)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Vector {
        seed: u64,
        first_draws: Vec<u64>,
        max_entries: usize,
        requests: Vec<String>,
        /// Per request: `"hit"`, `"insert"` or `"evict:<key>"`.
        outcomes: Vec<String>,
    }

    #[test]
    fn matches_the_shared_vectors() {
        let vectors: Vec<Vector> = serde_json::from_str(crate::vectors::ROTATION).unwrap();
        for v in vectors {
            let mut rng = SplitMix64::new(v.seed);
            for d in &v.first_draws {
                assert_eq!(rng.next_u64(), *d);
            }
            let mut rng = SplitMix64::new(v.seed);
            let policy = RotationPolicy { max_entries: v.max_entries };
            let mut keys = Vec::new();
            for (req, want) in v.requests.iter().zip(&v.outcomes) {
                let (hit, evicted) = policy.apply(&mut keys, req.clone(), &mut rng);
                let got = if hit {
                    "hit".to_string()
                } else if let Some(e) = evicted.first() {
                    format!("evict:{e}")
                } else {
                    "insert".to_string()
                };
                assert_eq!(&got, want, "request {req}");
                assert!(keys.len() <= v.max_entries);
            }
        }
    }

    #[test]
    fn eleventh_distinct_key_evicts_exactly_one() {
        let policy = RotationPolicy::default();
        let mut rng = SplitMix64::new(7);
        let mut keys: Vec<u32> = Vec::new();
        for k in 0..10 {
            let (hit, evicted) = policy.apply(&mut keys, k, &mut rng);
            assert!(!hit && evicted.is_empty());
        }
        let (hit, evicted) = policy.apply(&mut keys, 10, &mut rng);
        assert!(!hit);
        assert_eq!(evicted.len(), 1);
        assert_eq!(keys.len(), 10);
        assert!(keys.contains(&10));
    }

    #[test]
    fn eviction_is_uniform() {
        let policy = RotationPolicy { max_entries: 4 };
        let mut rng = SplitMix64::new(42);
        let mut counts = [0u32; 4];
        for _ in 0..40_000 {
            match policy.admit(&[0, 1, 2, 3], &9, &mut rng) {
                Admission::Insert { evict } => counts[evict[0]] += 1,
                Admission::Hit(_) => unreachable!(),
            }
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn shrinking_capacity_evicts_the_excess() {
        let policy = RotationPolicy { max_entries: 3 };
        let mut rng = SplitMix64::new(1);
        match policy.admit(&[1, 2, 3, 4, 5], &6, &mut rng) {
            Admission::Insert { evict } => {
                assert_eq!(evict.len(), 3);
                let mut d = evict.clone();
                d.dedup();
                assert_eq!(d.len(), 3);
            }
            other => panic!("{other:?}"),
        }
    }
}
