//! Access tokens: issue and revoke (issue 3 item 10, decision 24).

use ipledger_domain::auth::{Role, TokenIssued, TokenRecord, TokenRevoked};
use ipledger_domain::records::Reply;
use ipledger_domain::{Event, Rejection};

use super::given::*;
use crate::command::Command;

const DIGEST: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn issue(name: &str, role: &str) -> Command {
    Command::IssueToken {
        name: some(name),
        role: some(role),
        secret_sha256: DIGEST.into(),
    }
}

#[test]
fn a_token_is_issued_with_the_digest_only() {
    let then = given(&[]).when(issue("ci", "tenant:acme"));
    let issued = TokenIssued {
        token_id: id(1),
        name: "ci".into(),
        role: Role::Tenant("acme".into()),
        secret_sha256: DIGEST.into(),
        issued_at: now(),
    };
    then.then_events(&[Event::TokenIssued(issued)]);
    let record = TokenRecord {
        id: id(1),
        name: "ci".into(),
        role: Role::Tenant("acme".into()),
        secret_sha256: DIGEST.into(),
        created_at: now(),
    };
    assert_eq!(then.decision().reply, Reply::Token(record));
}

#[test]
fn a_taken_name_is_a_conflict_even_after_revocation() {
    let scenario = given(&[issue("ci", "admin")]);
    let taken = || {
        Rejection::Conflict(
            "A token named ci already exists (names of revoked tokens are not reused)".into(),
        )
    };
    scenario.when(issue("ci", "agent")).then_rejected(taken());
    let revoked = scenario.and(&[Command::RevokeToken { token_id: id(1) }]);
    revoked.when(issue("ci", "agent")).then_rejected(taken());
}

#[test]
fn built_in_actor_names_are_reserved() {
    for name in ["admin-bootstrap", "anonymous"] {
        given(&[])
            .when(issue(name, "admin"))
            .then_rejected(Rejection::Conflict(format!(
                "Token name {name} is reserved for a built-in actor"
            )));
    }
}

#[test]
fn a_bad_role_and_a_missing_name_are_listed_together() {
    let command = Command::IssueToken {
        name: None,
        role: some("root"),
        secret_sha256: DIGEST.into(),
    };
    given(&[]).when(command).then_rejected(invalid(&[
        ("name", &["name should be present"]),
        (
            "role",
            &["role should be one of admin, agent, tenant:<tenant id>"],
        ),
    ]));
}

#[test]
fn a_token_is_revoked_once() {
    let scenario = given(&[issue("ci", "agent")]);
    let revoke = Command::RevokeToken { token_id: id(1) };
    scenario
        .when(revoke.clone())
        .then_events(&[Event::TokenRevoked(TokenRevoked {
            token_id: id(1),
            revoked_at: now(),
        })]);
    let after = scenario.and(&[revoke.clone()]);
    after
        .when(revoke)
        .then_rejected(Rejection::NotFound("Token Not Found".into()));
    assert!(after.state.tokens().by_secret_digest(DIGEST).is_none());
}

#[test]
fn an_unknown_token_cannot_be_revoked() {
    given(&[])
        .when(Command::RevokeToken { token_id: id(9) })
        .then_rejected(Rejection::NotFound("Token Not Found".into()));
}
