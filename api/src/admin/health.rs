//! `GET /healthz` and `GET /readyz`.
//!
//! `/healthz` (kept as it was before `/readyz`, which scripts and tests read): 200 with the
//! log position (and the shared log's head and this node's lag behind it) while the writer
//! takes commands, 503 while it is stopped after a log failure and reopening the log (with
//! why: the failure, then the last failed reopen); 200 again once the log is reopened. It
//! answers as soon as the process does, so it is also the liveness probe.
//!
//! `/readyz` (readiness, for an orchestrator's traffic): 200 only when the projections are
//! loaded (the listener opens after the fold, so any answer means they are), the writer runs,
//! the store answers a read within [`STORE_CHECK_TIMEOUT`], and this node's lag behind the
//! log's head is at most `ready_lag_max`; else 503 (with Retry-After, in the fault shape)
//! naming every failed check in its detail and in `errors.readiness`.

use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use crate::app::App;
use crate::fault::Fault;
use crate::kit::{Answer, Call, Resp};

/// How long `/readyz` waits for the store to answer one read.
pub const STORE_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// This node's applied position, the log's head (on a shared log it moves with other
/// nodes' appends; on the embedded log it is the position), and the lag between them.
pub(crate) fn progress(app: &App) -> (u64, u64, u64) {
    let position = app.writer.views().read().position();
    let head = app.store.head().max(position);
    (position, head, head - position)
}

/// What `/healthz` and `/readyz` answer when all is well.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` (`/healthz`) or `ready` (`/readyz`).
    pub status: &'static str,
    /// The log position this node has applied.
    pub events: u64,
    /// The log's head.
    pub head: u64,
    /// `head - events`.
    pub lag: u64,
}

/// `GET /healthz`: liveness (503 while the writer is stopped and reopening the log).
#[utoipa::path(get, path = "/healthz", tag = "admin",
    responses((status = 200, description = "The writer takes commands", body = Health)))]
pub async fn health(c: Call<'_>) -> Answer {
    let app = c.app;
    if let Some(why) = app.writer.stopped_because() {
        return Err(Fault::unavailable(format!(
            "the writer stopped after a log failure and is reopening the log: {why}"
        )));
    }
    let (position, head, lag) = progress(app);
    Ok(Resp::ok(json!(Health {
        status: "ok",
        events: position,
        head,
        lag,
    })))
}

/// `GET /readyz`: readiness (503 naming every failed check).
#[utoipa::path(get, path = "/readyz", tag = "admin",
    responses((status = 200, description = "Ready for traffic", body = Health)))]
pub async fn ready(c: Call<'_>) -> Answer {
    let app = c.app;
    let mut reasons = Vec::new();
    if let Some(why) = app.writer.stopped_because() {
        reasons.push(format!("the writer is stopped: {why}"));
    }
    let (position, head, lag) = progress(app);
    match tokio::time::timeout(STORE_CHECK_TIMEOUT, app.store.read_all(position, 1)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => reasons.push(format!("the store is unreachable: {e}")),
        Err(_) => reasons.push(format!(
            "the store did not answer within {} ms",
            STORE_CHECK_TIMEOUT.as_millis()
        )),
    }
    if lag > app.ready_lag_max {
        reasons.push(format!(
            "this node is {lag} events behind the log's head (ready_lag_max {})",
            app.ready_lag_max
        ));
    }
    if !reasons.is_empty() {
        // A 503 like every other (`Fault::unavailable`: Retry-After), the checks that failed
        // in its detail and, one per entry, under `errors.readiness`.
        let mut fault = Fault::unavailable(format!("not ready: {}", reasons.join("; ")));
        fault.errors = Some([("readiness".to_string(), reasons)].into_iter().collect());
        return Err(fault);
    }
    Ok(Resp::ok(json!(Health {
        status: "ready",
        events: position,
        head,
        lag,
    })))
}
