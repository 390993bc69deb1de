//! `/v1/auth/tokens`: issue, list and revoke access tokens (admins only, per the route table).
//!
//! The secret is drawn here and shown once, in the 201 answer; the command and its event carry
//! only the secret's SHA-256. An idempotent retry of an issue (same `Idempotency-Key`) is
//! answered from the recorded reply, which has no secret: it shows the token without one.

use serde::Deserialize;
use serde_json::json;
use warp::http::StatusCode;

use ipledger_commands::Command;

use crate::auth::secret::{digest, generate_secret};
use crate::auth::wire;
use crate::fault::Fault;
use crate::kit::body::{self, string_like};
use crate::kit::wire::collection;
use crate::kit::{parse_id, submit, Answer, Call, Resp};
use crate::request::PageQuery;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    #[serde(default, deserialize_with = "string_like")]
    name: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    role: Option<String>,
}

#[utoipa::path(post, path = "/v1/auth/tokens", tag = "auth", request_body = TokenBody,
    responses((status = 201, description = "Issued; the secret is shown here only", body = wire::TokenOne)))]
pub async fn issue(c: Call<'_>) -> Answer {
    let body: TokenBody = body::required(c.req, "name, role")?;
    let secret = generate_secret()?;
    let secret_sha256 = hex::encode(digest(&secret));
    let command = Command::IssueToken {
        name: body.name,
        role: body.role,
        secret_sha256: secret_sha256.clone(),
    };
    let reply = submit(c.app, c.req, command).await?;
    let record = reply
        .into_token()
        .map_err(|other| Fault::unexpected_reply("issuing a token", &other))?;
    // A replayed reply belongs to an earlier secret, which was never stored: show none.
    let shown = (record.secret_sha256 == secret_sha256).then_some(secret.as_str());
    Ok(Resp::new(
        StatusCode::CREATED,
        Some(json!({"token": wire::token(&record, shown)})),
    ))
}

#[utoipa::path(get, path = "/v1/auth/tokens", tag = "auth", params(PageQuery),
    responses((status = 200, description = "Live tokens (no secrets)", body = wire::Tokens)))]
pub async fn list(c: Call<'_>) -> Answer {
    let page = c.req.page()?;
    let views = c.views();
    let listed = views.tokens().list(page);
    Ok(Resp::ok(collection(c.req, "tokens", listed, |t| {
        wire::token(t, None)
    })))
}

#[utoipa::path(delete, path = "/v1/auth/tokens/{token}", tag = "auth",
    responses((status = 200, description = "Revoked")))]
pub async fn revoke(c: Call<'_>) -> Answer {
    let token_id = parse_id(c.param("token"), "Token")?;
    let command = Command::RevokeToken { token_id };
    submit(c.app, c.req, command).await?;
    Ok(Resp::new(StatusCode::OK, None))
}
