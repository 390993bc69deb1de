//! The shapes the history routes answer, for the OpenAPI document. The handlers build them
//! as JSON (a holding's `holder` and an entry's `data` differ by surface and event type);
//! these mirror them field by field, and Schemathesis checks real answers against them.

#![allow(dead_code)] // schemas: what `addresses.rs` and `objects.rs` render

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// A moment of a timeline: an event's time, position and actor.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Mark {
    pub time: String,
    pub position: u64,
    pub actor: String,
}

/// One holding of an address: who held it, from when to when, through what, and why it ended.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Holding {
    pub tenant_id: String,
    pub block_id: Uuid,
    pub block_cidr: Option<String>,
    /// allocation, request hold, request approval, Scaleway booking, pool allocation or
    /// registration.
    pub via: String,
    /// The holder's ids, by surface (interface and device; request; Scaleway IP; pool
    /// allocation; registration).
    pub holder: Value,
    pub from: Mark,
    pub to: Option<Mark>,
    /// deallocated, released, expired, approved, rejected, purged or block deleted; null
    /// while held.
    pub ended_because: Option<String>,
    pub purged: Option<Mark>,
}

/// `GET /v1/history/addresses/{address}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AddressTimeline {
    pub address: String,
    pub holdings: Vec<Holding>,
}

/// One event of an object's history.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Entry {
    pub position: u64,
    pub stream: String,
    pub version: u64,
    pub time: String,
    pub actor: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub summary: String,
    /// The event's payload, without secrets or digests.
    pub data: Value,
}

/// `GET /v1/history/{kind}/{id}`: one object's events in order, a page from `from`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ObjectHistory {
    pub kind: String,
    pub id: String,
    pub tenant_id: String,
    pub stream: String,
    pub events: Vec<Entry>,
    /// The stream version to ask `from` for the next page; null at the end.
    pub next_from: Option<u64>,
}

/// The query of the object histories.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// The first stream version (default 0).
    #[param(minimum = 0)]
    pub from: Option<u64>,
    /// At most this many events (1 to the page maximum).
    #[param(minimum = 0)]
    pub limit: Option<u64>,
}
