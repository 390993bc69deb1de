//! `GET /v1/events/stream` (Server-Sent Events) and `GET /v1/events/export` (NDJSON): the
//! log followed live or copied out, read through the `EventStore` port (`read_all` pages,
//! then `follow()` for what comes next) and written as it is read.
//!
//! Each response has a task (`pump`) that reads the log and a bounded channel of
//! `StreamSettings::buffer_events` chunks to the response body: memory per consumer is
//! bounded. A consumer that leaves that buffer full for `lag_timeout` is cut off: the
//! stream ends with `event: lagging` (the client resumes with `Last-Event-ID`), the export
//! is aborted (no final chunk, so a cut export never looks complete). Every SSE event's
//! `id:` is its log position, so a reconnect with `Last-Event-ID: P` resumes at P + 1: at
//! least once, in log order, across restarts (the position is the log's, not the server's).
//!
//! These responses outlive the connection limits of `connections.rs` by design: hyper's
//! header timeout only runs while it waits for a request head, and the body deadline only
//! while the request body is read; a stream still holds one connection permit.

use std::collections::BTreeSet;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use ipledger_commands::store::EventStore;
use ipledger_domain::envelope::Envelope;
use ipledger_domain::events::EVENT_TYPES;
use tokio::sync::mpsc;
use warp::http::StatusCode;

use crate::config::StreamSettings;
use crate::fault::Fault;
use crate::kit::{Answer, Body, Call, Chunks, Resp};
use crate::request::Request;

/// Events read from the store at once.
const PAGE: usize = 256;

/// Which events a consumer asked for: one stream, and/or some event types.
/// The query of the stream and the export.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// The first log position (the stream's default: the head; the export's: 0).
    #[param(minimum = 0)]
    pub from: Option<u64>,
    /// Only this stream's events.
    pub stream: Option<String>,
    /// Only these event types (a comma list); an unknown type is 400.
    #[serde(rename = "type")]
    pub types: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    stream: Option<String>,
    types: Option<BTreeSet<&'static str>>,
}

impl Filter {
    /// `stream=S` and `type=A,B` (repeatable as a comma list); an unknown type is 400.
    pub fn of(req: &Request) -> Result<Filter, Fault> {
        let types = match req.query.get("type") {
            None => None,
            Some(list) => Some(event_types(list.split(',').map(str::trim), "type")?),
        };
        Ok(Filter {
            stream: req.query.get("stream").cloned(),
            types,
        })
    }

    pub fn admits(&self, e: &Envelope) -> bool {
        self.stream.as_ref().is_none_or(|s| *s == e.stream)
            && self
                .types
                .as_ref()
                .is_none_or(|t| t.contains(e.event.type_name()))
    }
}

/// The event type names of `names`, each checked against the log's table.
pub fn event_types<'a>(
    names: impl Iterator<Item = &'a str>,
    field: &str,
) -> Result<BTreeSet<&'static str>, Fault> {
    names
        .map(|name| {
            EVENT_TYPES
                .iter()
                .find(|(known, _)| *known == name)
                .map(|(known, _)| *known)
                .ok_or_else(|| Fault::invalid_field(field, format!("unknown event type {name:?}")))
        })
        .collect()
}

/// A query parameter that must be a position of this log (0..=head), if present.
fn position(app_head: u64, req: &Request, name: &str) -> Result<Option<u64>, Fault> {
    let Some(raw) = req.query.get(name) else {
        return Ok(None);
    };
    let p: u64 = raw.parse().map_err(|_| {
        Fault::invalid_field(name, format!("{name} should be a non-negative integer"))
    })?;
    if p > app_head {
        return Err(Fault::invalid_field(
            name,
            format!("{name} {p} is past the log's head ({app_head})"),
        ));
    }
    Ok(Some(p))
}

/// `GET /v1/events/stream?from=P&stream=S&type=T`: the log from P (default: the head, i.e.
/// only new events), then live. `Last-Event-ID: P` (a reconnect) resumes after P.
#[utoipa::path(get, path = "/v1/events/stream", tag = "admin", params(StreamQuery,
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this log position")),
    responses((status = 200, description = "Server-Sent Events, one per log event (`id:` its position), then live", content_type = "text/event-stream", body = String)))]
pub async fn stream(c: Call<'_>) -> Answer {
    let (app, req) = (c.app, c.req);
    let head = app.store.head();
    let resume = match req.header("last-event-id") {
        None => None,
        Some(id) => {
            let last: u64 = id.trim().parse().map_err(|_| {
                Fault::bad_request(format!("Last-Event-ID {id:?} is not a log position"))
            })?;
            if last >= head {
                return Err(Fault::bad_request(format!(
                    "Last-Event-ID {last} is past the log's last position"
                )));
            }
            Some(last + 1)
        }
    };
    let from = match resume {
        Some(p) => p,
        None => position(head, req, "from")?.unwrap_or(head),
    };
    let filter = Filter::of(req)?;
    let settings = app.stream;
    let (tx, rx) = mpsc::channel(settings.buffer_events);
    let cut = Arc::new(AtomicBool::new(false));
    tokio::spawn(follow(
        app.store.clone(),
        from,
        filter,
        settings,
        Sender {
            tx,
            cut: cut.clone(),
            lag_timeout: settings.lag_timeout,
        },
    ));
    let lagging = format!(
        "event: lagging\ndata: {{\"message\":\"this consumer left {} events unread for {} ms and was disconnected; reconnect with Last-Event-ID set to the last id received\"}}\n\n",
        settings.buffer_events,
        settings.lag_timeout.as_millis()
    );
    Ok(streamed(
        "text/event-stream",
        Drain {
            rx,
            cut,
            last: Some(Ok(Bytes::from(lagging))),
        },
    ))
}

/// `GET /v1/events/export?from=P&to=Q`: events P..Q (Q exclusive, default the head at the
/// request) as JSON lines.
#[utoipa::path(get, path = "/v1/events/export", tag = "admin", params(StreamQuery),
    responses((status = 200, description = "The log from `from` to the head, one JSON envelope per line", content_type = "application/x-ndjson", body = String)))]
pub async fn export(c: Call<'_>) -> Answer {
    let (app, req) = (c.app, c.req);
    let head = app.store.head();
    let from = position(head, req, "from")?.unwrap_or(0);
    let to = position(head, req, "to")?.unwrap_or(head);
    if to < from {
        return Err(Fault::invalid_field(
            "to",
            format!("to {to} is before from {from}"),
        ));
    }
    let filter = Filter::of(req)?;
    let settings = app.stream;
    let (tx, rx) = mpsc::channel(settings.buffer_events);
    let cut = Arc::new(AtomicBool::new(false));
    let store = app.store.clone();
    let sender = Sender {
        tx,
        cut: cut.clone(),
        lag_timeout: settings.lag_timeout,
    };
    tokio::spawn(async move {
        let mut at = from;
        while at < to {
            let page = match store.read_all(at, PAGE.min((to - at) as usize)).await {
                Ok(page) if !page.is_empty() => page,
                Ok(_) => return,
                Err(e) => return sender.fail(e.to_string()).await,
            };
            for e in page {
                at = e.position + 1;
                if e.position >= to || !filter.admits(&e) {
                    continue;
                }
                let mut line = serde_json::to_vec(&e).unwrap_or_default();
                line.push(b'\n');
                if !sender.offer(Bytes::from(line)).await {
                    return;
                }
            }
        }
    });
    let aborted = std::io::Error::other("export cut off: the consumer did not read");
    Ok(streamed(
        "application/x-ndjson",
        Drain {
            rx,
            cut,
            last: Some(Err(aborted)),
        },
    ))
}

fn streamed(content_type: &'static str, drain: Drain) -> Resp {
    Resp {
        status: StatusCode::OK,
        body: Body::Stream(Chunks {
            content_type,
            chunks: Box::pin(drain),
        }),
    }
}

/// The reading side's end of a response's channel.
struct Sender {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    cut: Arc<AtomicBool>,
    lag_timeout: std::time::Duration,
}

impl Sender {
    /// Queues `chunk`; false when the consumer is gone or was cut off for not reading.
    async fn offer(&self, chunk: Bytes) -> bool {
        match tokio::time::timeout(self.lag_timeout, self.tx.send(Ok(chunk))).await {
            Ok(sent) => sent.is_ok(),
            Err(_) => {
                self.cut.store(true, Ordering::SeqCst);
                false
            }
        }
    }

    /// Ends the response with an error (a store failure): the body is aborted.
    async fn fail(self, why: String) {
        tracing::warn!(error = %why, "an event stream ended on a store failure");
        let _ = tokio::time::timeout(
            self.lag_timeout,
            self.tx.send(Err(std::io::Error::other(why))),
        )
        .await;
    }
}

/// The SSE pump: catch up from `from` page by page, then wait on `follow()` for the head
/// to move; a heartbeat comment whenever nothing was sent for a `heartbeat`.
async fn follow(
    store: Arc<dyn EventStore>,
    from: u64,
    filter: Filter,
    settings: StreamSettings,
    sender: Sender,
) {
    let mut head = store.follow();
    let mut at = from;
    let mut sent_at = Instant::now();
    // The first bytes: the response is open (a client knows it is subscribed).
    if !sender
        .offer(Bytes::from(format!(
            ": ipledger events from position {at}\n\n"
        )))
        .await
    {
        return;
    }
    loop {
        // Marked seen before the read: a head that moves after it wakes the wait below.
        head.borrow_and_update();
        let page = match store.read_all(at, PAGE).await {
            Ok(page) => page,
            Err(e) => return sender.fail(e.to_string()).await,
        };
        if page.is_empty() {
            let idle = settings.heartbeat.saturating_sub(sent_at.elapsed());
            tokio::select! {
                moved = head.changed() => if moved.is_err() { return },
                () = tokio::time::sleep(idle) => {
                    if !sender.offer(Bytes::from_static(b": heartbeat\n\n")).await {
                        return;
                    }
                    sent_at = Instant::now();
                }
                () = sender.tx.closed() => return,
            }
            continue;
        }
        for e in page {
            at = e.position + 1;
            if !filter.admits(&e) {
                continue;
            }
            let data = serde_json::to_string(&e).unwrap_or_default();
            let chunk = format!("id: {}\ndata: {data}\n\n", e.position);
            if !sender.offer(Bytes::from(chunk)).await {
                return;
            }
            sent_at = Instant::now();
        }
        // A filter that matches nothing in a busy log still shows the stream is alive.
        if sent_at.elapsed() >= settings.heartbeat {
            if !sender.offer(Bytes::from_static(b": heartbeat\n\n")).await {
                return;
            }
            sent_at = Instant::now();
        }
    }
}

/// The response body: the channel's chunks, then `last` if the consumer was cut off.
struct Drain {
    rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
    cut: Arc<AtomicBool>,
    last: Option<Result<Bytes, std::io::Error>>,
}

impl futures::Stream for Drain {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(None) if self.cut.load(Ordering::SeqCst) => Poll::Ready(self.last.take()),
            other => other,
        }
    }
}
