//! `GET /v1/audit/head`: the position and hash of the last chained record, and where the
//! chain starts, so an auditor can write them down elsewhere (a ticket, a signed note) and
//! later check with `ipledger verify` that the log still leads to them (issue 11 item 6).

use serde::Serialize;
use serde_json::json;

use crate::fault::Fault;
use crate::kit::{Answer, Call, Resp};

/// `{"position": P, "hash": "<64 hex digits>", "chained_from": P0}`: `position` and `hash`
/// are null while no record is chained yet (an empty log, or one written before the chain
/// existed and not appended to since); `chained_from` is then the position the chain will
/// start at. A store that keeps no chain (only the tests' memory store) answers 404.
#[utoipa::path(get, path = "/v1/audit/head", tag = "audit",
    responses((status = 200, description = "The chain's head", body = AuditHead)))]
pub async fn head(c: Call<'_>) -> Answer {
    let chain = c
        .app
        .store
        .chain_head()
        .await
        .map_err(|e| Fault::unavailable(e.to_string()))?
        .ok_or_else(|| Fault::not_found("this event store keeps no hash chain"))?;
    let (position, hash) = match chain.last {
        Some((p, h)) => (Some(p), Some(hex::encode(h))),
        None => (None, None),
    };
    Ok(Resp::ok(json!(AuditHead {
        position,
        hash,
        chained_from: chain.chained_from,
    })))
}

/// The hash chain's head.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditHead {
    /// The last chained record's position; null while none is chained.
    pub position: Option<u64>,
    /// Its chain hash, 64 hex digits; null while none is chained.
    pub hash: Option<String>,
    /// Where the chain starts (records before it were written before the chain existed).
    pub chained_from: u64,
}
