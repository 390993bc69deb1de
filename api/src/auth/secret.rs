//! Token secrets: drawn here, in the API layer, from the operating system's CSPRNG (the
//! domain stays deterministic and only ever sees digests), their SHA-256 digest, and a
//! comparison of digests that takes the same time wherever they differ.

use sha2::{Digest, Sha256};

use crate::fault::Fault;

/// Random bytes in a secret: 256 bits, far beyond guessing.
const SECRET_BYTES: usize = 32;
/// Secrets start with this, so that secret scanners and people recognise them.
pub const SECRET_PREFIX: &str = "ipl_";

/// A fresh secret from the operating system's CSPRNG.
pub fn generate_secret() -> Result<String, Fault> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| {
        Fault::unavailable(format!("no randomness available for a token secret: {e}"))
    })?;
    Ok(format!("{SECRET_PREFIX}{}", hex::encode(bytes)))
}

pub fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Compares two digests without an early exit, so timing says nothing about where they differ.
pub fn same_digest(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_prefixed() {
        let a = generate_secret().expect("secret");
        let b = generate_secret().expect("secret");
        assert_ne!(a, b);
        assert!(a.starts_with(SECRET_PREFIX));
        assert_eq!(a.len(), SECRET_PREFIX.len() + 2 * SECRET_BYTES);
        assert!(same_digest(&digest(&a), &digest(&a)));
        assert!(!same_digest(&digest(&a), &digest(&b)));
    }
}
