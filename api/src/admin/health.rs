//! `GET /healthz` (readiness): 200 with the log position (and the shared log's head and
//! this node's lag behind it) while the writer takes commands,
//! 503 while it is stopped after a log failure and reopening the log (with why: the
//! failure, then the last failed reopen); 200 again once the log is reopened.

use serde_json::json;

use crate::fault::Fault;
use crate::kit::{Answer, Call, Resp};

pub async fn health(c: Call<'_>) -> Answer {
    let app = c.app;
    if let Some(why) = app.writer.stopped_because() {
        return Err(Fault::unavailable(format!(
            "the writer stopped after a log failure and is reopening the log: {why}"
        )));
    }
    let position = app.writer.views().read().position();
    // On a shared log the head moves with other nodes' appends: the lag is what this node
    // has yet to apply (always 0 on the embedded log, which only this node appends to).
    let head = app.store.head().max(position);
    Ok(Resp::ok(json!({
        "status": "ok",
        "events": position,
        "head": head,
        "lag": head - position,
    })))
}
