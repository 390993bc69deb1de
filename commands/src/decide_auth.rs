//! Access tokens: issue and revoke (issue 3 item 10). The secret is drawn by the API; the
//! command carries only its SHA-256 digest, so deciding stays pure and the log never holds a
//! usable secret. Names are unique among every token ever issued (the registry stream's
//! version guards it): a name appears as the actor of events, so reusing it would blur who
//! did what.

use ipledger_domain::auth::{self, Role, TokenIssued, TokenRecord, TokenRevoked};
use ipledger_domain::records::Reply;
use ipledger_domain::rejection::FieldErrors;
use ipledger_domain::{Event, Rejection};
use ipledger_projections::State;
use uuid::Uuid;

use crate::decide::{Context, Decision};

const ROLE_MESSAGE: &str = "role should be one of admin, agent, tenant:<tenant id>";

/// Checks the name and role together, so one 400 lists both problems.
fn validated(name: &Option<String>, role: &Option<String>) -> Result<(String, Role), Rejection> {
    let mut errors = FieldErrors::default();
    let name = match name.as_deref() {
        None => {
            errors.add("name", "name should be present");
            None
        }
        Some(n) if !auth::valid_token_name(n) => {
            errors.add(
                "name",
                "name should be 1 to 255 characters, without control characters or surrounding spaces",
            );
            None
        }
        Some(n) => Some(n.to_string()),
    };
    let role = match role.as_deref() {
        None => {
            errors.add("role", "role should be present");
            None
        }
        Some(r) => {
            let parsed = Role::parse(r);
            if parsed.is_none() {
                errors.add("role", ROLE_MESSAGE);
            }
            parsed
        }
    };
    errors.into_result()?;
    match (name, role) {
        (Some(name), Some(role)) => Ok((name, role)),
        // FieldErrors is empty only when both parsed.
        _ => Err(Rejection::BadRequest("name and role are required".into())),
    }
}

pub fn issue(
    state: &State,
    name: &Option<String>,
    role: &Option<String>,
    secret_sha256: &str,
    ctx: &mut Context,
) -> Result<Decision, Rejection> {
    let (name, role) = validated(name, role)?;
    if auth::RESERVED_TOKEN_NAMES.contains(&name.as_str()) {
        return Err(Rejection::Conflict(format!(
            "Token name {name} is reserved for a built-in actor"
        )));
    }
    if state.tokens().name_taken(&name) {
        return Err(Rejection::Conflict(format!(
            "A token named {name} already exists (names of revoked tokens are not reused)"
        )));
    }
    let e = TokenIssued {
        token_id: ctx.ids.next_id(),
        name,
        role,
        secret_sha256: secret_sha256.to_string(),
        issued_at: ctx.now,
    };
    let record = TokenRecord {
        id: e.token_id,
        name: e.name.clone(),
        role: e.role.clone(),
        secret_sha256: e.secret_sha256.clone(),
        created_at: e.issued_at,
    };
    Ok(Decision::new(
        vec![Event::TokenIssued(e)],
        Reply::Token(record),
    ))
}

pub fn revoke(state: &State, token_id: Uuid, ctx: &mut Context) -> Result<Decision, Rejection> {
    if !state.tokens().live.contains_key(&token_id) {
        return Err(Rejection::not_found("Token"));
    }
    let e = TokenRevoked {
        token_id,
        revoked_at: ctx.now,
    };
    Ok(Decision::new(vec![Event::TokenRevoked(e)], Reply::Done))
}
