//! Access tokens (issue 3 item 10, decision 24): the roles a bearer token carries, the token
//! record the projections keep, and the events that issue and revoke tokens.
//!
//! Secrets never reach the domain. The API draws a secret from a CSPRNG, hands the domain
//! only its SHA-256 digest (hex), and shows the secret once in its answer; the log, the
//! projections and idempotent replies hold the digest alone, so reading the data directory
//! never yields a usable token.
//!
//! Every token event lives in one registry stream ([`TOKEN_REGISTRY_STREAM`]): a name must be
//! unique among all tokens ever issued, and a uniqueness rule can only be guarded by the
//! expected version of a single stream that sees every issue.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::payload::payload;
use crate::Timestamp;

/// The stream of every `TokenIssued` and `TokenRevoked` event.
pub const TOKEN_REGISTRY_STREAM: &str = "auth-tokens";

/// A token name, and a role's tenant id, are at most this long (a tenant id must fit in one
/// path segment).
pub const TOKEN_NAME_BYTES_MAX: usize = 255;

/// The actor of requests made with the configured bootstrap admin token (not a stored token).
pub const BOOTSTRAP_ACTOR: &str = "admin-bootstrap";
/// The actor of requests on public routes and of a server run with `--insecure-no-auth`.
pub const ANONYMOUS_ACTOR: &str = "anonymous";
/// Names no issued token may take: they already name built-in actors in the log.
pub const RESERVED_TOKEN_NAMES: &[&str] = &[BOOTSTRAP_ACTOR, ANONYMOUS_ACTOR];

/// What a token may do (decision 24).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Role {
    /// Anything.
    Admin,
    /// The IP request intake (Agent-scope routes) only.
    Agent,
    /// Only `/ipam/tenants/{this tenant}/...`.
    Tenant(String),
    /// Zone registrations only (the vitistack ipam-api routes, issue 10).
    Registrar,
}

impl Role {
    /// `admin`, `agent` or `tenant:<id>` (an id of printable characters without `/`).
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "agent" => Some(Role::Agent),
            "registrar" => Some(Role::Registrar),
            _ => {
                let tenant = text.strip_prefix("tenant:")?;
                let printable = |c: char| !c.is_control() && !c.is_whitespace() && c != '/';
                (!tenant.is_empty()
                    && tenant.len() <= TOKEN_NAME_BYTES_MAX
                    && tenant.chars().all(printable))
                .then(|| Role::Tenant(tenant.to_string()))
            }
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Admin => f.write_str("admin"),
            Role::Agent => f.write_str("agent"),
            Role::Registrar => f.write_str("registrar"),
            Role::Tenant(t) => write!(f, "tenant:{t}"),
        }
    }
}

impl From<Role> for String {
    fn from(role: Role) -> String {
        role.to_string()
    }
}

impl TryFrom<String> for Role {
    type Error = String;
    fn try_from(text: String) -> Result<Role, String> {
        Role::parse(&text).ok_or_else(|| format!("not a token role: {text:?}"))
    }
}

/// A live token as the projections keep it and a reply carries it: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    /// SHA-256 of the secret, lower-case hex.
    pub secret_sha256: String,
    #[serde(with = "crate::time_format")]
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenIssued {
    pub token_id: Uuid,
    pub name: String,
    pub role: Role,
    /// SHA-256 of the secret, lower-case hex; the secret itself is never stored.
    pub secret_sha256: String,
    #[serde(with = "crate::time_format")]
    pub issued_at: Timestamp,
}
// One registry stream for every token event: it guards name uniqueness.
payload! { TokenIssued, "TokenIssued", 1, |_| TOKEN_REGISTRY_STREAM.to_string() }

/// A revoked token stops authenticating at once; its name stays taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRevoked {
    pub token_id: Uuid,
    #[serde(with = "crate::time_format")]
    pub revoked_at: Timestamp,
}
payload! { TokenRevoked, "TokenRevoked", 1, |_| TOKEN_REGISTRY_STREAM.to_string() }

/// A valid token name: trimmed, 1 to [`TOKEN_NAME_BYTES_MAX`] bytes, no control characters.
pub fn valid_token_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= TOKEN_NAME_BYTES_MAX
        && name.trim() == name
        && !name.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_print_back() {
        for text in [
            "admin",
            "agent",
            "registrar",
            "tenant:acme",
            "tenant:a.b-c_1",
        ] {
            let role = Role::parse(text).expect("valid role");
            assert_eq!(role.to_string(), text);
        }
        assert_eq!(
            Role::parse("tenant:acme"),
            Some(Role::Tenant("acme".into()))
        );
    }

    #[test]
    fn malformed_roles_are_refused() {
        for text in [
            "",
            "Admin",
            "root",
            "tenant:",
            "tenant",
            "tenant:a/b",
            "tenant:a b",
            " admin",
        ] {
            assert_eq!(Role::parse(text), None, "{text:?}");
        }
        assert_eq!(Role::parse(&format!("tenant:{}", "x".repeat(256))), None);
    }

    #[test]
    fn token_names_are_checked() {
        assert!(valid_token_name("ci"));
        assert!(valid_token_name("deploy bot 2"));
        for bad in ["", " ci", "ci ", "a\nb", &"x".repeat(256)] {
            assert!(!valid_token_name(bad), "{bad:?}");
        }
    }
}
