//! Authentication and authorization of every request (issue 3 item 10, decision 24).
//!
//! The request's row in `routes::ROUTES` decides who may call it: the server finds the row
//! (a path with no row is 404 and a method the table lacks for a known path is 405 before
//! anything else runs) and hands it here before calling the row's handler — so a handler
//! can never be reached without a check. Public rows need no token.
//! Otherwise the secret — `Authorization: Bearer <secret>` or, equally, the keystone
//! `X-Auth-Token: <secret>` that OpenStack clients send — is hashed (SHA-256) and compared
//! with the configured bootstrap admin digest in constant time, or looked up by digest among
//! the live tokens of the published views (a revoked token is gone from them the moment its revocation is
//! durable). The role is then checked against the row's `Scope`.
//!
//! Secrets are drawn in the API layer (`secret.rs`), from the operating system's CSPRNG: the
//! domain stays deterministic and only ever sees digests.

use ipledger_commands::{Command, Meta};
use ipledger_domain::auth::{Role, ANONYMOUS_ACTOR, BOOTSTRAP_ACTOR};
use warp::http::header::AUTHORIZATION;
use warp::http::{HeaderValue, StatusCode};

use crate::app::App;
use crate::auth::secret::{digest, generate_secret, same_digest};
use crate::fault::Fault;
use crate::kit::{Route, Scope};
use crate::request::Request;

/// Who is asking: the actor named in the events they cause, and what they may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub actor: String,
    pub role: Role,
}

/// Checks the request against its route row and sets `req.actor`; the error is the answer.
pub fn admit(app: &App, req: &mut Request, route: &Route) -> Result<(), Fault> {
    if route.scope == Scope::Public {
        return Ok(());
    }
    let principal = if app.auth.insecure_no_auth {
        Principal {
            actor: ANONYMOUS_ACTOR.into(),
            role: Role::Admin,
        }
    } else if route.scope == Scope::RegistrarOpen
        && app.auth.registrations_open
        && !carries_token(req)
    {
        // `registrations_open`: the original's clients send no token (logged loudly at start).
        Principal {
            actor: ANONYMOUS_ACTOR.into(),
            role: Role::Registrar,
        }
    } else {
        authenticate(app, req)?
    };
    authorize(&principal, route, &req.seg())?;
    if let Role::Tenant(own) = &principal.role {
        req.owner = Some(own.clone());
    }
    req.actor = principal.actor;
    Ok(())
}

fn unauthorized(detail: &str) -> Fault {
    Fault::new(StatusCode::UNAUTHORIZED, detail)
}

/// The keystone header: python-melangeclient sends its token only this way, and the Scaleway
/// SDK sends it too, so it is an equal alternative to `Authorization: Bearer` (issue 7).
const X_AUTH_TOKEN: &str = "x-auth-token";

/// The secret of one `Authorization` value; any scheme but Bearer is refused.
fn bearer_secret(value: &HeaderValue) -> Result<&str, Fault> {
    let text = value.to_str().unwrap_or_default().trim();
    match text.split_once(' ') {
        Some((scheme, secret)) if scheme.eq_ignore_ascii_case("bearer") => Ok(secret.trim()),
        _ => Err(unauthorized(
            "The Authorization header must be Bearer <token>",
        )),
    }
}

/// The secret of one `X-Auth-Token` value.
fn x_auth_secret(value: &HeaderValue) -> Result<&str, Fault> {
    match value.to_str().map(str::trim) {
        Ok(secret) if !secret.is_empty() => Ok(secret),
        _ => Err(unauthorized("The X-Auth-Token header must be a token")),
    }
}

/// The one secret the request presents, from `Authorization: Bearer <secret>` and/or
/// `X-Auth-Token: <secret>` (every occurrence of either). Two different secrets are a 400:
/// answering as either principal would be a guess about who is asking.
fn presented_secret(req: &Request) -> Result<&str, Fault> {
    let bearer = req.headers.get_all(AUTHORIZATION).iter().map(bearer_secret);
    let x_auth = req.headers.get_all(X_AUTH_TOKEN).iter().map(x_auth_secret);
    let mut secret: Option<&str> = None;
    for presented in bearer.chain(x_auth) {
        let presented = presented?;
        if secret.is_some_and(|seen| seen != presented) {
            return Err(Fault::bad_request(
                "The request carries different tokens (Authorization: Bearer and \
                 X-Auth-Token disagree): send one token, or the same one in each header",
            ));
        }
        secret = Some(presented);
    }
    secret.ok_or_else(|| {
        unauthorized(
            "Authentication required: send Authorization: Bearer <token> or X-Auth-Token: <token>",
        )
    })
}

/// Whether the request presents any token at all (a wrong one is still refused).
fn carries_token(req: &Request) -> bool {
    req.headers.contains_key(AUTHORIZATION) || req.headers.contains_key(X_AUTH_TOKEN)
}

/// The principal of the request's secret (see `presented_secret`).
fn authenticate(app: &App, req: &Request) -> Result<Principal, Fault> {
    let secret = presented_secret(req)?;
    let presented = digest(secret);
    if let Some(admin) = &app.auth.admin_sha256 {
        if same_digest(&presented, admin) {
            return Ok(Principal {
                actor: BOOTSTRAP_ACTOR.into(),
                role: Role::Admin,
            });
        }
    }
    let views = app.writer.views().read();
    let token = views
        .tokens()
        .by_secret_digest(&hex::encode(presented))
        .ok_or_else(|| unauthorized("The token is unknown or revoked"))?;
    Ok(Principal {
        actor: token.name.clone(),
        role: token.role.clone(),
    })
}

/// Decision 24: admins anything, tenants their own `{tenant}` paths, agents Agent routes;
/// `Owned` rows admit every role and leave the tenant check to the handler.
pub fn authorize(principal: &Principal, route: &Route, segments: &[&str]) -> Result<(), Fault> {
    let allowed = match (&principal.role, route.scope) {
        (_, Scope::Public) | (Role::Admin, _) => true,
        (Role::Tenant(own), Scope::Tenant) => route.tenant_of(segments) == Some(own.as_str()),
        (Role::Agent, Scope::Agent) => true,
        (Role::Registrar, Scope::Registrar | Scope::RegistrarOpen) => true,
        // The handler limits a tenant to its own objects (`Call::owner`).
        (_, Scope::Owned) => true,
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(Fault::new(
            StatusCode::FORBIDDEN,
            format!(
                "A token with role {} may not make this request",
                principal.role
            ),
        ))
    }
}

/// The name of the generated bootstrap token (`-2`, `-3`, ... if revoked ones hold it).
const BOOTSTRAP_TOKEN_NAME: &str = "bootstrap-admin";

/// At start-up with no admin token configured and auth on: if the log holds no live admin
/// token, issues one and returns its secret (to be shown once). Only its digest is stored.
pub async fn bootstrap(app: &App) -> Result<Option<String>, Fault> {
    if app.auth.insecure_no_auth || app.auth.admin_sha256.is_some() {
        return Ok(None);
    }
    let name = {
        let views = app.writer.views().read();
        if views.tokens().has_live_admin() {
            return Ok(None);
        }
        let mut n = 1;
        let mut name = BOOTSTRAP_TOKEN_NAME.to_string();
        while views.tokens().name_taken(&name) {
            n += 1;
            name = format!("{BOOTSTRAP_TOKEN_NAME}-{n}");
        }
        name
    };
    let secret = generate_secret()?;
    let command = Command::IssueToken {
        name: Some(name),
        role: Some("admin".into()),
        secret_sha256: hex::encode(digest(&secret)),
    };
    let meta = Meta {
        actor: BOOTSTRAP_ACTOR.into(),
        ..Meta::default()
    };
    // Success is all this needs: the token is durable once `submit` returns Ok, and the
    // reply's record holds nothing the secret drawn here does not already give.
    app.writer.submit(command, meta).await?;
    Ok(Some(secret))
}
