//! The JSON of an access token.

use ipledger_domain::auth::TokenRecord;
use serde::Serialize;
use uuid::Uuid;

use crate::kit::wire::{collection_schema, envelope_schema, timestamp};

/// A token as the API shows it; `secret` only in the answer that issued it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Token {
    pub created_at: String,
    pub id: Uuid,
    pub name: String,
    /// `admin`, `agent`, `registrar` or `tenant:<id>`.
    pub role: String,
    /// The secret, shown once: in the answer that issued the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

pub fn token(t: &TokenRecord, secret: Option<&str>) -> Token {
    Token {
        id: t.id,
        name: t.name.clone(),
        role: t.role.to_string(),
        created_at: timestamp(&t.created_at),
        secret: secret.map(str::to_string),
    }
}

envelope_schema!(TokenOne, token, Token);
collection_schema!(Tokens, tokens, tokens_links, Token);
