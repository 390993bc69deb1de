//! Webhook signing secrets, sealed. A Standard Webhooks secret must be usable to sign, so
//! unlike a token or a registration secret it cannot be hashed: it is sealed with
//! ChaCha20-Poly1305 under a key derived from the deployment's secret key (the one that
//! keys registration secrets: `registration_secret_key` or the data directory's
//! `registration.key`) before it reaches a command. The log, the projections and every
//! answer hold only the sealed form; the secret is shown once, in the answer that drew it.

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};

use crate::fault::Fault;
use crate::registrations::key::RegistrationKey;

/// The secret's form: `whsec_` + standard base64 of the key bytes.
pub const PREFIX: &str = "whsec_";
/// Key bytes: Standard Webhooks asks for 24 (192 bits) to 64 (512 bits).
pub const KEY_BYTES_MIN: usize = 24;
pub const KEY_BYTES_MAX: usize = 64;
/// Key bytes of a drawn secret.
const DRAWN_BYTES: usize = 32;
const NONCE_BYTES: usize = 12;
/// Domain separation: the sealing key is not the registration digest key itself.
const LABEL: &[u8] = b"ipledger webhook secret sealing v1";

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn cipher(key: &RegistrationKey) -> ChaCha20Poly1305 {
    ChaCha20Poly1305::new(&key.subkey(LABEL).into())
}

/// A fresh secret in the `whsec_` form.
pub fn draw() -> Result<String, Fault> {
    let mut bytes = [0u8; DRAWN_BYTES];
    getrandom::fill(&mut bytes)
        .map_err(|e| Fault::unavailable(format!("no randomness for a webhook secret: {e}")))?;
    Ok(format!("{PREFIX}{}", B64.encode(bytes)))
}

/// A client's secret checked: `whsec_` + base64 of 24 to 64 bytes.
pub fn check(secret: &str) -> Result<(), Fault> {
    let bytes = secret
        .strip_prefix(PREFIX)
        .and_then(|b64| B64.decode(b64).ok())
        .filter(|b| (KEY_BYTES_MIN..=KEY_BYTES_MAX).contains(&b.len()));
    match bytes {
        Some(_) => Ok(()),
        None => Err(Fault::invalid_field(
            "secret",
            format!("secret must be {PREFIX} followed by the standard base64 of {KEY_BYTES_MIN} to {KEY_BYTES_MAX} random bytes"),
        )),
    }
}

/// The sealed form: base64 of nonce ‖ ciphertext (with its tag).
pub fn seal(key: &RegistrationKey, secret: &str) -> Result<String, Fault> {
    let mut nonce = [0u8; NONCE_BYTES];
    getrandom::fill(&mut nonce)
        .map_err(|e| Fault::unavailable(format!("no randomness for a webhook secret: {e}")))?;
    let sealed = cipher(key)
        .encrypt(Nonce::from_slice(&nonce), secret.as_bytes())
        .map_err(|_| {
            Fault::new(
                warp::http::StatusCode::INTERNAL_SERVER_ERROR,
                "sealing a webhook secret failed",
            )
        })?;
    Ok(B64.encode([nonce.as_slice(), &sealed].concat()))
}

/// The secret back, for signing; None when it was sealed under another key (a node started
/// with a different `registration_secret_key`) or damaged.
pub fn open(key: &RegistrationKey, sealed: &str) -> Option<String> {
    let bytes = B64.decode(sealed).ok()?;
    let (nonce, body) = bytes.split_at_checked(NONCE_BYTES)?;
    let plain = cipher(key).decrypt(Nonce::from_slice(nonce), body).ok()?;
    String::from_utf8(plain).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_under_its_key_and_shows_nothing_of_it() {
        let key = RegistrationKey::from_hex(&"11".repeat(32)).unwrap();
        let other = RegistrationKey::from_hex(&"22".repeat(32)).unwrap();
        let secret = draw().unwrap();
        check(&secret).unwrap();
        let sealed = seal(&key, &secret).unwrap();
        assert!(!sealed.contains(&secret[PREFIX.len()..]));
        assert_eq!(open(&key, &sealed).as_deref(), Some(secret.as_str()));
        assert_eq!(open(&other, &sealed), None);
        // A fresh nonce each time: the same secret never seals to the same text.
        assert_ne!(seal(&key, &secret).unwrap(), sealed);
    }

    #[test]
    fn secrets_outside_the_standard_form_are_refused() {
        for bad in [
            "",
            "whsec_",
            "secret",
            "whsec_!!!!",
            "whsec_c2hvcnQ=",
            &format!("whsec_{}", B64.encode([0u8; 65])),
        ] {
            assert!(check(bad).is_err(), "{bad:?} accepted");
        }
        check(&format!("whsec_{}", B64.encode([7u8; 24]))).unwrap();
        check("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
    }
}
