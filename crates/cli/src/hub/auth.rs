//! Connection auth: the JWT a client sends in its CONNECT's auth payload
//! (`{"token": "..."}`), checked with HS256 (`--jwt-secret`) or RS256 and
//! `EdDSA` (`--jwt-public-key`), and the rooms its `rooms` claim grants.

use std::path::Path;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// What a valid token says.
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
pub(crate) struct Claims {
    /// The subject; a refreshed token must carry the same.
    #[serde(default)]
    pub(crate) sub: Option<String>,
    /// Expiry, seconds since the Unix epoch; required.
    pub(crate) exp: u64,
    /// The rooms the client may join: exact names, or `prefix*` for every
    /// room starting with `prefix` (`*` alone: every room).
    #[serde(default)]
    pub(crate) rooms: Vec<String>,
}

impl Claims {
    /// Whether these claims let the client into `room`.
    pub(crate) fn allows(&self, room: &str) -> bool {
        self.rooms.iter().any(|pattern| room_matches(pattern, room))
    }
}

/// Whether `room` fits `pattern`: equal, or starting with what comes
/// before a trailing `*`.
pub(crate) fn room_matches(pattern: &str, room: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => room.starts_with(prefix),
        None => pattern == room,
    }
}

/// Checks tokens against the configured key.
#[derive(Clone)]
pub(crate) struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// HS256 tokens signed with `secret`.
    pub(crate) fn hs256(secret: &str) -> Verifier {
        Verifier::new(
            DecodingKey::from_secret(secret.as_bytes()),
            Algorithm::HS256,
        )
    }

    /// RS256 or `EdDSA` tokens, after the kind of the PEM public key in
    /// `path`.
    pub(crate) fn public_key(path: &Path) -> Result<Verifier, String> {
        let pem =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if let Ok(key) = DecodingKey::from_rsa_pem(&pem) {
            return Ok(Verifier::new(key, Algorithm::RS256));
        }
        DecodingKey::from_ed_pem(&pem)
            .map(|key| Verifier::new(key, Algorithm::EdDSA))
            .map_err(|e| {
                format!(
                    "{}: neither an RSA nor an Ed25519 public key in PEM: {e}",
                    path.display()
                )
            })
    }

    fn new(key: DecodingKey, algorithm: Algorithm) -> Verifier {
        let mut validation = Validation::new(algorithm);
        // Expiry is checked to the second, with no grace: the hub
        // disconnects at `exp` too.
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp"]);
        validation.validate_aud = false;
        Verifier { key, validation }
    }

    /// The claims of `token`, or why it is refused (the `CONNECT_ERROR`'s
    /// message).
    pub(crate) fn verify(&self, token: &str) -> Result<Claims, String> {
        use jsonwebtoken::errors::ErrorKind;
        match jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation) {
            Ok(data) => Ok(data.claims),
            Err(e) => Err(match e.kind() {
                ErrorKind::ExpiredSignature => "token expired".into(),
                ErrorKind::InvalidSignature => "invalid token signature".into(),
                ErrorKind::InvalidAlgorithm => "token algorithm not accepted".into(),
                ErrorKind::MissingRequiredClaim(claim) => format!("token has no {claim} claim"),
                _ => format!("invalid token: {e}"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};

    use super::*;

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    fn token(secret: &str, claims: &Claims) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    #[test]
    fn patterns_match_exact_names_and_prefixes() {
        assert!(room_matches("news", "news"));
        assert!(!room_matches("news", "news2"));
        assert!(room_matches("user:7:*", "user:7:inbox"));
        assert!(!room_matches("user:7:*", "user:8:inbox"));
        assert!(room_matches("*", "anything"));
    }

    #[test]
    fn tokens_are_checked_for_signature_and_expiry() {
        let verifier = Verifier::hs256("s3cret");
        let claims = Claims {
            sub: Some("ann".into()),
            exp: now() + 60,
            rooms: vec!["a".into()],
        };
        assert_eq!(verifier.verify(&token("s3cret", &claims)).unwrap(), claims);
        assert_eq!(
            verifier.verify(&token("other", &claims)).unwrap_err(),
            "invalid token signature"
        );
        let old = Claims {
            exp: now() - 5,
            ..claims
        };
        assert_eq!(
            verifier.verify(&token("s3cret", &old)).unwrap_err(),
            "token expired"
        );
    }
}
