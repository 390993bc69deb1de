//! The per-deployment key registration secrets are hashed with, and the hash.
//!
//! A registration secret is turned into HMAC-SHA256(key, secret), hex, before it reaches a
//! command: the log, the projections and every reply hold only that digest, so nothing can
//! print a secret back (the original encrypted them reversibly and printed them with
//! `show-secret`). The digest is deterministic, so a registration is still found by its
//! secret; the key keeps a stolen log from being brute-forced offline against guessed
//! secrets. The key comes from the config (`registration_secret_key`, 64 hex digits) or from
//! `registration.key` in the data directory, created at first start with mode 0600. Losing
//! the key means no secret opens its registration any more: back it up with the log. On a
//! shared log (PostgreSQL) every node must hash with the same key, so there the key must be
//! configured: without it the registration routes answer 503 and say so.

use std::path::Path;

use anyhow::Context;
use sha2::Sha256;

/// The key's file in the data directory.
pub const KEY_FILE: &str = "registration.key";
const KEY_BYTES: usize = 32;

#[derive(Clone, Default, PartialEq, Eq)]
pub struct RegistrationKey([u8; KEY_BYTES]);

/// Never prints the key (configs and auth settings are `Debug`).
impl std::fmt::Debug for RegistrationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RegistrationKey(<redacted>)")
    }
}

impl RegistrationKey {
    /// A key from 64 hex digits.
    pub fn from_hex(text: &str) -> anyhow::Result<Self> {
        let bytes = hex::decode(text.trim())
            .ok()
            .filter(|b| b.len() == KEY_BYTES)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "registration_secret_key must be {} hex digits",
                    KEY_BYTES * 2
                )
            })?;
        let mut key = [0u8; KEY_BYTES];
        key.copy_from_slice(&bytes);
        Ok(RegistrationKey(key))
    }

    /// The data directory's key, created (random, mode 0600) when there is none.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                return Self::from_hex(&text).with_context(|| format!("reading {}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
        let mut key = [0u8; KEY_BYTES];
        getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no randomness for the key: {e}"))?;
        write_private(&path, &hex::encode(key))
            .with_context(|| format!("creating {}", path.display()))?;
        tracing::info!(path = %path.display(), "registration secret key created; back it up with the log");
        Ok(RegistrationKey(key))
    }

    /// A key for another purpose (sealing webhook secrets), derived so that neither key
    /// tells anything of the other: HMAC-SHA256(key, label).
    pub fn subkey(&self, label: &[u8]) -> [u8; 32] {
        use hmac::Mac;
        let mut mac =
            hmac::Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(label);
        mac.finalize().into_bytes().into()
    }

    /// HMAC-SHA256 (RFC 2104) of the secret under the key, hex.
    pub fn digest(&self, secret: &str) -> String {
        use hmac::Mac;
        let mut mac =
            hmac::Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(secret.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// The deployment's key, or the 503 of a shared log started without one.
pub fn of(key: &Option<RegistrationKey>) -> Result<&RegistrationKey, crate::fault::Fault> {
    needed_by(key, "registrations")
}

/// The deployment's key for `what` (registrations hash their secrets with it, webhooks seal
/// theirs), or the 503 saying `what` is off on a shared log started without one.
pub fn needed_by<'a>(
    key: &'a Option<RegistrationKey>,
    what: &str,
) -> Result<&'a RegistrationKey, crate::fault::Fault> {
    key.as_ref().ok_or_else(|| {
        crate::fault::Fault::unavailable(format!(
            "{what} are off: this node shares its log (PostgreSQL) and has no \
             registration_secret_key (IPLEDGER_REGISTRATION_SECRET_KEY); every node needs the same one"
        ))
    })
}

/// Creates the file with mode 0600 (never readable by others, not even for a moment).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2 has a 4-byte key; with a 32-byte key, check against a known
        // value computed independently (python: hmac.new(bytes(range(32)), b"SuperSecret",
        // hashlib.sha256).hexdigest()).
        let key = RegistrationKey((0u8..32).collect::<Vec<_>>().try_into().unwrap());
        assert_eq!(key.digest("SuperSecret"), EXPECTED);
        assert_ne!(key.digest("SuperSecret"), key.digest("SuperSecreT"));
        assert!(!format!("{key:?}").contains("00"));
    }

    const EXPECTED: &str = "578554a455aef3d363ee617cdabe3fb702523849e5b6f36bfcc02a1bd33788a3";

    #[test]
    fn the_key_file_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let a = RegistrationKey::load_or_create(dir.path()).unwrap();
        let b = RegistrationKey::load_or_create(dir.path()).unwrap();
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
