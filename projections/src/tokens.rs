//! The access-token registry folded from `TokenIssued`/`TokenRevoked`: live tokens by id (the
//! paginated list) and by secret digest (authentication on every request), and every name
//! ever issued (names stay taken after revocation, because they name actors in the log).

use imbl::{OrdMap, OrdSet};

use ipledger_domain::auth::{Role, TokenIssued, TokenRecord, TokenRevoked};
use uuid::Uuid;

use crate::page::{Page, PageRequest};

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tokens {
    /// Live tokens in id order (UUID v7: issue order).
    pub live: OrdMap<Uuid, TokenRecord>,
    /// Live token ids by the SHA-256 digest (hex) of their secret.
    pub by_digest: OrdMap<String, Uuid>,
    /// Every name ever issued, revoked or not.
    pub names: OrdSet<String>,
}

impl Tokens {
    pub fn issued(&mut self, e: &TokenIssued) {
        let record = TokenRecord {
            id: e.token_id,
            name: e.name.clone(),
            role: e.role.clone(),
            secret_sha256: e.secret_sha256.clone(),
            created_at: e.issued_at,
        };
        self.names.insert(e.name.clone());
        self.by_digest.insert(e.secret_sha256.clone(), e.token_id);
        self.live.insert(e.token_id, record);
    }

    pub fn revoked(&mut self, e: &TokenRevoked) {
        if let Some(record) = self.live.remove(&e.token_id) {
            self.by_digest.remove(&record.secret_sha256);
        }
    }

    /// The live token whose secret has this SHA-256 digest (lower-case hex).
    pub fn by_secret_digest(&self, digest: &str) -> Option<&TokenRecord> {
        self.by_digest.get(digest).and_then(|id| self.live.get(id))
    }

    pub fn list(&self, page: PageRequest) -> Page<&TokenRecord> {
        page.take(self.live.iter().map(|(id, t)| (*id, t)))
    }

    /// Whether a name was ever issued (revoked names are not reused).
    pub fn name_taken(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// Whether any live token has the admin role (the bootstrap looks for one).
    pub fn has_live_admin(&self) -> bool {
        self.live.values().any(|t| t.role == Role::Admin)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn issued(n: u128, name: &str, digest: &str) -> TokenIssued {
        TokenIssued {
            token_id: Uuid::from_u128(n),
            name: name.into(),
            role: Role::Admin,
            secret_sha256: digest.into(),
            issued_at: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
        }
    }

    #[test]
    fn a_revoked_token_no_longer_authenticates_but_keeps_its_name() {
        let mut tokens = Tokens::default();
        tokens.issued(&issued(1, "ci", "aa"));
        assert_eq!(
            tokens.by_secret_digest("aa").map(|t| t.name.as_str()),
            Some("ci")
        );
        assert!(tokens.has_live_admin());
        tokens.revoked(&TokenRevoked {
            token_id: Uuid::from_u128(1),
            revoked_at: Utc.with_ymd_and_hms(2024, 1, 2, 0, 0, 0).unwrap(),
        });
        assert!(tokens.by_secret_digest("aa").is_none());
        assert!(tokens.live.is_empty());
        assert!(!tokens.has_live_admin());
        assert!(tokens.name_taken("ci"));
    }
}
