//! `/v1/auth/tokens`: issue, list and revoke access tokens (admins only, per the route table).
//!
//! The secret is drawn here and shown once, in the 201 answer; the command and its event carry
//! only the secret's SHA-256. An idempotent retry of an issue (same `Idempotency-Key`) is
//! answered from the recorded reply, which has no secret: it shows the token without one.

use serde::Deserialize;
use serde_json::{json, Value};
use warp::http::{Method, StatusCode};

use ipledger_commands::Command;
use ipledger_domain::auth::TokenRecord;

use crate::app::App;
use crate::auth::{digest, generate_secret};
use crate::body::{self, string_like};
use crate::fault::Fault;
use crate::melange::{meta, method_not_allowed, parse_id, Answer, Resp};
use crate::request::Request;
use crate::wire;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    #[serde(default, deserialize_with = "string_like")]
    name: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    role: Option<String>,
}

pub async fn route(app: &App, req: &Request, rest: &[&str]) -> Answer {
    match (rest, &req.method) {
        ([], &Method::POST) => issue(app, req).await,
        ([], &Method::GET) => list(app, req),
        ([id], &Method::DELETE) => revoke(app, req, id).await,
        ([] | [_], _) => Err(method_not_allowed()),
        _ => Err(Fault::not_found("The resource could not be found.")),
    }
}

/// A token as the API shows it; `secret` only in the answer that issued it.
pub fn render(t: &TokenRecord, secret: Option<&str>) -> Value {
    let mut v = json!({
        "id": t.id,
        "name": t.name,
        "role": t.role.to_string(),
        "created_at": wire::timestamp(&t.created_at),
    });
    if let Some(secret) = secret {
        v["secret"] = json!(secret);
    }
    v
}

async fn issue(app: &App, req: &Request) -> Answer {
    let body: TokenBody = body::required(req, "name, role")?;
    let secret = generate_secret()?;
    let secret_sha256 = hex::encode(digest(&secret));
    let command = Command::IssueToken {
        name: body.name,
        role: body.role,
        secret_sha256: secret_sha256.clone(),
    };
    let reply = app.writer.submit(command, meta(req, &req.actor)?).await?;
    let record = reply
        .into_token()
        .map_err(|other| Fault::unexpected_reply("issuing a token", &other))?;
    // A replayed reply belongs to an earlier secret, which was never stored: show none.
    let shown = (record.secret_sha256 == secret_sha256).then_some(secret.as_str());
    Ok(Resp {
        status: StatusCode::CREATED,
        body: Some(json!({"token": render(&record, shown)})),
    })
}

fn list(app: &App, req: &Request) -> Answer {
    let page = req.page()?;
    let views = app.writer.views().read();
    let listed = views.tokens.list(page);
    Ok(Resp::ok(wire::collection(req, "tokens", listed, |t| {
        render(t, None)
    })))
}

async fn revoke(app: &App, req: &Request, id: &str) -> Answer {
    let token_id = parse_id(id, "Token")?;
    let command = Command::RevokeToken { token_id };
    app.writer.submit(command, meta(req, &req.actor)?).await?;
    Ok(Resp {
        status: StatusCode::OK,
        body: None,
    })
}
