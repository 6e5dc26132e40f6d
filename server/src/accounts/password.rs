//! Passwords, hashed with argon2id.
//!
//! Parameters: 19 MiB of memory, 2 passes, 1 lane (OWASP's first choice
//! for argon2id), a random 16-byte salt per password; stored as a PHC
//! string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`), so a later change
//! of parameters still verifies older hashes. Hashing takes tens of
//! milliseconds of one core on purpose: it runs on the blocking pool, at
//! most [`AT_ONCE`] at a time, so a crowd signing in cannot take every
//! core and all the memory from the chat.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

/// Hashes computed at once.
const AT_ONCE: usize = 2;
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;

/// Why a password could not be hashed or checked (never because of the
/// password itself).
#[derive(Debug, thiserror::Error)]
#[error("cannot hash a password: {0}")]
pub(crate) struct HashError(String);

pub(crate) struct Hasher {
    at_once: Semaphore,
}

impl Hasher {
    pub(crate) fn new() -> Self {
        Self {
            at_once: Semaphore::new(AT_ONCE),
        }
    }

    /// The PHC string of `password` with a new salt.
    pub(crate) async fn hash(&self, password: String) -> Result<String, HashError> {
        self.blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2()?
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|error| HashError(error.to_string()))
        })
        .await
    }

    /// Whether `password` is the one `stored` (a PHC string) was made
    /// from; argon2 compares the hashes in constant time.
    pub(crate) async fn verify(&self, password: String, stored: String) -> Result<bool, HashError> {
        self.blocking(move || {
            let parsed =
                PasswordHash::new(&stored).map_err(|error| HashError(error.to_string()))?;
            Ok(argon2()?
                .verify_password(password.as_bytes(), &parsed)
                .is_ok())
        })
        .await
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = self
            .at_once
            .acquire()
            .await
            .map_err(|error| HashError(error.to_string()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|error| HashError(error.to_string()))?
    }
}

fn argon2() -> Result<Argon2<'static>, HashError> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None)
        .map_err(|error| HashError(error.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hasher = Hasher::new();
        let stored = hasher.hash("correct horse".into()).await.expect("hash");
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(!stored.contains("correct horse"));
        let again = hasher.hash("correct horse".into()).await.expect("hash");
        assert_ne!(stored, again, "a new salt each time");
        assert!(hasher
            .verify("correct horse".into(), stored.clone())
            .await
            .expect("verify"));
        assert!(!hasher
            .verify("correct horsf".into(), stored)
            .await
            .expect("verify"));
        assert!(hasher
            .verify("x".into(), "not a hash".into())
            .await
            .is_err());
    }
}
