//! `GET /v1/events?from=POSITION&stream=S&limit=N`: the log for auditors, oldest first.

use serde_json::{json, Value};

use crate::fault::Fault;
use crate::kit::{Answer, Call, Resp};

pub use ipledger_domain::limits::EVENTS_PAGE_MAX;

/// The query of `GET /v1/events`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// The first log position (default 0).
    #[param(minimum = 0)]
    pub from: Option<u64>,
    /// At most this many events (1 to the page maximum).
    #[param(minimum = 0)]
    pub limit: Option<u64>,
    /// Only this stream's events.
    pub stream: Option<String>,
}

/// `{"events": [...]}`: each event's envelope as the log holds it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Events {
    pub events: Vec<Value>,
}

/// `GET /v1/events?from=POSITION&stream=S&limit=N`.
#[utoipa::path(get, path = "/v1/events", tag = "admin", params(EventsQuery),
    responses((status = 200, description = "Events, oldest first", body = Events)))]
pub async fn list(c: Call<'_>) -> Answer {
    let (app, req) = (c.app, c.req);
    let from = req.number("from", 0)?;
    let limit = (req.number("limit", EVENTS_PAGE_MAX as u64)? as usize).clamp(1, EVENTS_PAGE_MAX);
    let listed = match req.query.get("stream") {
        Some(stream) => app.store.read_stream(stream, from, limit).await,
        None => app.store.read_all(from, limit).await,
    }
    .map_err(|e| Fault::unavailable(e.to_string()))?;
    // With `as_of`, the log as it was then: nothing after the state's last event.
    let end = req.as_of.as_ref().map_or(u64::MAX, |s| s.position());
    let events: Vec<Value> = listed
        .iter()
        .filter(|e| e.position < end)
        .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
        .collect();
    Ok(Resp::ok(json!(Events { events })))
}
