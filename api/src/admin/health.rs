//! `GET /healthz`: 200 with the log position while the writer runs, 503 once it has stopped.

use serde_json::json;

use crate::fault::Fault;
use crate::kit::{Answer, Call, Resp};

pub async fn health(c: Call<'_>) -> Answer {
    let app = c.app;
    if app.writer.is_stopped() {
        return Err(Fault::unavailable(
            "the writer has stopped after a log failure",
        ));
    }
    let position = app.writer.views().read().position();
    Ok(Resp::ok(json!({"status": "ok", "events": position})))
}
