//! The JSON of an access token.

use ipledger_domain::auth::TokenRecord;
use serde_json::{json, Value};

use crate::kit::wire::timestamp;

/// A token as the API shows it; `secret` only in the answer that issued it.
pub fn token(t: &TokenRecord, secret: Option<&str>) -> Value {
    let mut v = json!({
        "id": t.id,
        "name": t.name,
        "role": t.role.to_string(),
        "created_at": timestamp(&t.created_at),
    });
    if let Some(secret) = secret {
        v["secret"] = json!(secret);
    }
    v
}
