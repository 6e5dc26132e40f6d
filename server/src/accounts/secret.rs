//! The secrets of sessions and API tokens: 256 random bits, given to the
//! browser (in the cookie) or the token's owner, and stored only as their
//! SHA-256, so a copy of the database signs nobody in.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// A password to read out and type: 16 characters (about 79 bits) from
/// letters and digits that do not look alike, in groups of four.
pub(crate) fn readable_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut bytes = [0_u8; 16];
    OsRng.fill_bytes(&mut bytes);
    let mut password = String::with_capacity(19);
    for (at, byte) in bytes.iter().enumerate() {
        if at > 0 && at % 4 == 0 {
            password.push('-');
        }
        password.push(char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]));
    }
    password
}

/// A session's secret, as the browser presents it.
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn generate() -> Self {
        let mut bytes = [0_u8; 32];
        OsRng.fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// What a request presented; any string (an unknown one finds nothing).
    pub(crate) fn presented(raw: &str) -> Self {
        Self(raw.to_owned())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// What the store keeps and looks sessions up by.
    pub(crate) fn id(&self) -> String {
        Sha256::digest(self.0.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

/// Never printed: logs must not sign anyone in.
impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_stored_as_their_hash() {
        let one = Secret::generate();
        let two = Secret::generate();
        assert_ne!(one.expose(), two.expose());
        assert_eq!(one.expose().len(), 43);
        assert_eq!(one.id().len(), 64);
        assert_eq!(Secret::presented(one.expose()).id(), one.id());
        assert!(!format!("{one:?}").contains(one.expose()));
    }
}
