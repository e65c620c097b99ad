//! Client-side anonymization of user ids.
//!
//! `hashedUserId` is the lowercase hex SHA-256 (64 characters) of the user id's UTF-8 bytes,
//! computed in the browser before anything leaves the device. The server checks that a submitted
//! hash equals the hash of the caller's own id and then stores a *keyed* re-hash of it (see the
//! server's training intake), so that a leaked table cannot be reversed by hashing guessed ids.

use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of `user_id` (exactly 64 characters).
pub fn hash_user_id(user_id: &str) -> String {
    hex::encode(Sha256::digest(user_id.as_bytes()))
}

/// Whether `s` has the shape of a [`hash_user_id`] output: 64 lowercase hex digits.
pub fn is_hashed_user_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Vector {
        input: String,
        sha256: String,
    }

    #[test]
    fn matches_the_shared_vectors() {
        let vectors: Vec<Vector> = serde_json::from_str(crate::vectors::HASHES).unwrap();
        assert!(vectors.len() >= 5);
        for v in vectors {
            assert_eq!(hash_user_id(&v.input), v.sha256, "input {:?}", v.input);
            assert!(is_hashed_user_id(&v.sha256));
        }
    }

    #[test]
    fn shape_check_rejects_near_misses() {
        let good = hash_user_id("user-1");
        assert!(is_hashed_user_id(&good));
        assert!(!is_hashed_user_id(&good.to_uppercase()));
        assert!(!is_hashed_user_id(&good[..63]));
        assert!(!is_hashed_user_id(&format!("{good}0")));
        assert!(!is_hashed_user_id(&good.replace(|c: char| c.is_ascii_digit(), "g")));
    }
}
