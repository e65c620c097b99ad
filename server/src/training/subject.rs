//! The keyed re-hash of `hashedUserId` under which training rows are stored.
//!
//! The browser sends `hashedUserId` = SHA-256(user id). A plain SHA-256 can be reversed by hashing
//! guessed ids, so the server stores `subject_key` = HMAC-SHA256(server pepper, hashedUserId)
//! instead: without the pepper (kept in the data dir, or the secrets store in production) a leaked
//! table links rows to nobody. The server can still find a user's rows for a deletion request by
//! recomputing the key from the user's id.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// `subject_key` of a `hashedUserId`.
pub fn subject_key(pepper: &str, hashed_user_id: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(pepper.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(hashed_user_id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// `subject_key` of a user id (hash first, as the browser does).
pub fn subject_key_for_user(pepper: &str, user_id: &str) -> String {
    subject_key(pepper, &coach_shared::hash_user_id(user_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_and_stable() {
        let h = coach_shared::hash_user_id("u1");
        assert_eq!(subject_key("p", &h), subject_key("p", &h));
        assert_ne!(subject_key("p", &h), subject_key("q", &h), "depends on the pepper");
        assert_ne!(subject_key("p", &h), h, "never the raw hash");
        assert_eq!(subject_key_for_user("p", "u1"), subject_key("p", &h));
        // RFC 4231 test case 2
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
