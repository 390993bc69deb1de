//! The warp server: one filter takes every request (method, path, query, headers and a body
//! read up to `body_bytes_max`), the router dispatches it, and every outcome — including
//! warp's own rejections — is encoded here, so malformed input never meets warp's default
//! 500 or an HTML page.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use serde_json::{json, Value};
use warp::http::{HeaderMap, HeaderValue, Method, StatusCode};
use warp::Filter;

use crate::app::App;
use crate::fault::Fault;
use crate::melange::{self, get_only, Answer, Resp};
use crate::request::{Format, Request};

/// No request body may be larger than this.
pub const BODY_BYTES_MAX: usize = 1 << 20;

type Reply = warp::reply::Response;

/// Every route of the service as one warp filter.
pub fn routes(app: App) -> impl Filter<Extract = (Reply,), Error = Infallible> + Clone {
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    warp::method()
        .and(warp::path::full())
        .and(query)
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .then(move |method: Method, path: warp::path::FullPath, query: String, headers: HeaderMap, body| {
            let app = app.clone();
            async move { handle(app, method, path.as_str().to_string(), query, headers, body).await }
        })
        .recover(|_r: warp::Rejection| async { Ok::<_, Infallible>(encode(Format::Json, Err(Fault::bad_request("Malformed request")))) })
        .unify()
}

async fn read_body<S, B>(body: S) -> Result<Bytes, Fault>
where
    S: Stream<Item = Result<B, warp::Error>> + Unpin,
    B: bytes::Buf,
{
    let mut body = body;
    let mut buf = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|_| Fault::bad_request("Could not read the request body"))?;
        if buf.len() + chunk.remaining() > BODY_BYTES_MAX {
            return Err(Fault::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Request body exceeds {BODY_BYTES_MAX} bytes"),
            ));
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            buf.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Ok(buf.freeze())
}

async fn handle<S, B>(
    app: App,
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
    body: S,
) -> Reply
where
    S: Stream<Item = Result<B, warp::Error>> + Unpin,
    B: bytes::Buf,
{
    let started = Instant::now();
    let body = match read_body(body).await {
        Ok(b) => b,
        // The fault (413) still answers in the format the path or Accept asked for.
        Err(fault) => {
            let format = Request::new(method, &path, query, headers, Bytes::new()).format;
            return encode(format, Err(fault));
        }
    };
    let mut req = Request::new(method, &path, query, headers, body);
    // Authentication and authorization first (`auth.rs`): no handler runs unchecked.
    let answer = match crate::auth::admit(&app, &mut req) {
        // The console's static files are not JSON: they are answered as they are.
        Ok(()) => match crate::console::asset(&req) {
            Some(reply) => return reply,
            None => dispatch(&app, &req).await,
        },
        Err(fault) => Err(fault),
    };
    let status = match &answer {
        Ok(r) => r.status,
        Err(f) => f.status,
    };
    tracing::debug!(method = %req.method, path = %req.path, status = status.as_u16(), micros = started.elapsed().as_micros() as u64, "request");
    let mut reply = encode(req.format, answer);
    if reply.status() == StatusCode::UNAUTHORIZED {
        // RFC 6750: a 401 names the scheme the client should use.
        reply.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_static("Bearer realm=\"ipledger\""),
        );
    }
    reply
}

/// No path segment (a tenant id, an address, ...) may be longer than this.
pub const SEGMENT_BYTES_MAX: usize = 255;

async fn dispatch(app: &App, req: &Request) -> Answer {
    let segments = req.seg();
    if segments.iter().any(|s| s.len() > SEGMENT_BYTES_MAX) {
        return Err(Fault::bad_request(format!(
            "A path segment is longer than {SEGMENT_BYTES_MAX} bytes"
        )));
    }
    match segments.as_slice() {
        [] => get_only(&req.method, || Ok(Resp::ok(versions(req)))),
        ["healthz"] => get_only(&req.method, || health(app)),
        ["v0.1"] => get_only(&req.method, || {
            Ok(Resp::ok(json!({"version": version(req)})))
        }),
        ["v0.1", "extensions"] => get_only(&req.method, || Ok(Resp::ok(json!({"extensions": []})))),
        ["v0.1", "extensions", alias] => get_only(&req.method, || {
            Err(Fault::not_found(format!(
                "Extension with alias {alias} does not exist"
            )))
        }),
        ["v0.1", "ipam", rest @ ..] => melange::ipam(app, req, rest).await,
        ["v1", "events"] if req.method == Method::GET => events(app, req).await,
        ["v1", "events"] => Err(melange::method_not_allowed()),
        ["v1", "admin", "purge"] => crate::retention::route(app, req).await,
        ["v1", "auth", "tokens", rest @ ..] => crate::auth_tokens::route(app, req, rest).await,
        ["v1", "agent", "ipam", "request"] => crate::ipam_requests::intake(app, req).await,
        ["v1", "ipam", "requests", rest @ ..] => crate::ipam_requests::review(app, req, rest).await,
        _ => Err(Fault::not_found("The resource could not be found.")),
    }
}

/// Events are listed at most this many per page.
pub const EVENTS_PAGE_MAX: usize = 1000;

/// `GET /v1/events?from=POSITION&stream=S&limit=N`: the log for auditors, oldest first.
async fn events(app: &App, req: &Request) -> Answer {
    let number = |name: &str, default: u64| -> Result<u64, Fault> {
        req.query.get(name).map_or(Ok(default), |v| {
            v.parse().map_err(|_| {
                Fault::invalid_field(name, format!("{name} should be a non-negative integer"))
            })
        })
    };
    let from = number("from", 0)?;
    let limit = (number("limit", EVENTS_PAGE_MAX as u64)? as usize).clamp(1, EVENTS_PAGE_MAX);
    let listed = match req.query.get("stream") {
        Some(stream) => app.store.read_stream(stream, from, limit).await,
        None => app.store.read_all(from, limit).await,
    }
    .map_err(|e| Fault::unavailable(e.to_string()))?;
    let events: Vec<Value> = listed
        .iter()
        .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
        .collect();
    Ok(Resp::ok(json!({ "events": events })))
}

fn version(req: &Request) -> Value {
    let host = req.header("host").unwrap_or("localhost");
    json!({"name": "v0.1", "status": "CURRENT", "links": [{"rel": "self", "href": format!("http://{host}/v0.1")}]})
}

fn versions(req: &Request) -> Value {
    json!({"versions": [version(req)]})
}

fn health(app: &App) -> Answer {
    if app.writer.is_stopped() {
        return Err(Fault::unavailable(
            "the writer has stopped after a log failure",
        ));
    }
    let position = app.writer.views().read().position();
    Ok(Resp::ok(json!({"status": "ok", "events": position})))
}

/// Encodes an answer in the negotiated format: JSON, or XML through `crate::xml`.
pub fn encode(format: Format, answer: Answer) -> Reply {
    let (status, body, retry_after, is_fault) = match answer {
        Ok(resp) => (resp.status, resp.body, None, false),
        Err(fault) => (fault.status, Some(fault.body()), fault.retry_after(), true),
    };
    let mut response = match body {
        Some(v) => {
            let (bytes, content_type) = match format {
                Format::Json => (
                    serde_json::to_vec(&v).unwrap_or_default(),
                    "application/json",
                ),
                Format::Xml => (crate::xml::encode(&v, is_fault), "application/xml"),
            };
            let mut r = Reply::new(bytes.into());
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static(content_type));
            r
        }
        None => Reply::new(Bytes::new().into()),
    };
    *response.status_mut() = status;
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(secs));
    }
    response
}

/// Serves until `shutdown` resolves; returns the bound address through `bound`.
pub async fn serve(
    app: App,
    listen: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    serve_on(app, listener, shutdown).await;
    Ok(())
}

pub async fn serve_on(
    app: App,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    warp::serve(routes(app))
        .incoming(listener)
        .graceful(shutdown)
        .run()
        .await;
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
