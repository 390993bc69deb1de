//! The warp server: one filter takes every request (method, path, query, headers and a body
//! read up to `body_bytes_max`), finds its row in `routes::ROUTES`, admits it (`auth`) and
//! calls the row's handler; every outcome — including warp's own rejections — is encoded
//! here, so malformed input never meets warp's default 500 or an HTML page. The body must
//! arrive within the body-read timeout (408, connection closed); the accept loop and the
//! other connection limits are `connections.rs`.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use tracing::Instrument;
use warp::http::{HeaderMap, HeaderValue, Method, StatusCode};
use warp::Filter;

use crate::app::App;
use crate::fault::{Dialect, Fault};
use crate::kit::{Answer, Body, Call, Encoded};
use crate::request::{Format, Request};
use crate::routes;

pub use ipledger_domain::limits::BODY_BYTES_MAX;

type Reply = warp::reply::Response;

/// Every route of the service as one warp filter; a body must arrive within `body_timeout`.
pub fn routes(
    app: App,
    body_timeout: Duration,
) -> impl Filter<Extract = (Reply,), Error = Infallible> + Clone {
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    warp::method()
        .and(warp::path::full())
        .and(query)
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .then(move |method: Method, path: warp::path::FullPath, query: String, headers: HeaderMap, body| {
            let app = app.clone();
            let body = read_body(body, body_timeout);
            async move { handle(app, method, path.as_str().to_string(), query, headers, body).await }
        })
        .recover(|_r: warp::Rejection| async { Ok::<_, Infallible>(encode(Format::Json, Err(Fault::bad_request("Malformed request")))) })
        .unify()
}

/// The whole body, or 408 when it has not arrived `timeout` after the headers: a client that
/// trickles (or never sends) the body it announced must not hold a connection for ever.
async fn read_body<S, B>(body: S, timeout: Duration) -> Result<Bytes, Fault>
where
    S: Stream<Item = Result<B, warp::Error>> + Unpin,
    B: bytes::Buf,
{
    tokio::time::timeout(timeout, read_all(body))
        .await
        .unwrap_or_else(|_| {
            Err(Fault::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "Request body not received within {} ms",
                    timeout.as_millis()
                ),
            ))
        })
}

async fn read_all<S, B>(body: S) -> Result<Bytes, Fault>
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

async fn handle(
    app: App,
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
    body: impl std::future::Future<Output = Result<Bytes, Fault>>,
) -> Reply {
    let started = Instant::now();
    let request_id = request_id(&headers);
    let span = tracing::info_span!("request", request_id = %request_id);
    // What `http.log` shows of the request: never a header's value or the body.
    let shown = (
        method.clone(),
        path.clone(),
        crate::logs::http::masked_query(&query),
    );
    let (mut reply, actor) = handle_in_span(
        app.clone(),
        method,
        path,
        query,
        headers,
        body,
        request_id.clone(),
    )
    .instrument(span)
    .await;
    // A client-given id passed `request_id_ok`: visible ASCII, a valid header value.
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        reply.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let (method, path, query) = shown;
    app.logs.http(&crate::logs::http::HttpLine {
        time: crate::logs::http::now(),
        method: method.as_str(),
        path: &path,
        query,
        status: reply.status().as_u16(),
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        actor: &actor,
        request_id: &request_id,
    });
    reply
}

/// The header naming a request: echoed (or generated) on every answer, in the request's log
/// lines, and the correlation id of the events it caused.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest client-given request id kept; a longer one is replaced.
pub const REQUEST_ID_CHARS_MAX: usize = 128;

/// Whether a client's `X-Request-Id` is kept: 1 to [`REQUEST_ID_CHARS_MAX`] visible ASCII
/// characters (no spaces or controls, so it goes into log lines and headers as it is).
pub fn request_id_ok(id: &str) -> bool {
    (1..=REQUEST_ID_CHARS_MAX).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

/// The client's `X-Request-Id` when sane ([`request_id_ok`]), else a fresh UUID v7.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| request_id_ok(id))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

async fn handle_in_span(
    app: App,
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
    body: impl std::future::Future<Output = Result<Bytes, Fault>>,
    request_id: String,
) -> (Reply, String) {
    let started = Instant::now();
    let body = match body.await {
        Ok(b) => b,
        // The fault (413, 408) still answers in the format the path or Accept asked for; the
        // rest of the body is not read, so the connection cannot carry another request.
        Err(fault) => {
            let format = Request::new(method, &path, query, headers, Bytes::new()).format;
            let mut reply = encode_in(format, Dialect::of_path(&path), Err(fault));
            reply
                .headers_mut()
                .insert("connection", HeaderValue::from_static("close"));
            return (reply, ipledger_domain::auth::ANONYMOUS_ACTOR.to_string());
        }
    };
    let mut req = Request::new(method, &path, query, headers, body);
    req.request_id = request_id;
    let heavy = is_large_page(&req) && on_many_workers();
    let answer = if heavy {
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(dispatch(&app, &mut req))
        })
    } else {
        dispatch(&app, &mut req).await
    };
    let status = match &answer {
        Ok(r) => r.status,
        Err(f) => f.status,
    };
    let took = started.elapsed();
    app.metrics
        .observe_request(req.route, status.as_u16(), took);
    tracing::debug!(method = %req.method, path = %req.path, status = status.as_u16(), micros = took.as_micros() as u64, "request");
    let mut reply = if heavy {
        tokio::task::block_in_place(|| encode_in(req.format, Dialect::of_path(&req.path), answer))
    } else {
        encode_in(req.format, Dialect::of_path(&req.path), answer)
    };
    if reply.status() == StatusCode::METHOD_NOT_ALLOWED {
        // RFC 9110: a 405 lists the methods the resource has.
        let allow = routes::allowed_methods(&req.seg()).join(", ");
        if let Ok(value) = HeaderValue::from_str(&allow) {
            reply.headers_mut().insert("allow", value);
        }
    }
    if reply.status() == StatusCode::UNAUTHORIZED {
        // RFC 6750: a 401 names the scheme the client should use.
        reply.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_static("Bearer realm=\"ipledger\""),
        );
    }
    // On every answer: the position of the state read — an `as_of` GET's past state, else
    // what this node had applied when it answered (for a write: at or past its events, so a
    // client passes it as `min_position` to read its own writes on any node).
    let position = match &req.as_of {
        Some(state) => state.position(),
        None => app.writer.views().read().position(),
    };
    reply
        .headers_mut()
        .insert(POSITION_HEADER, HeaderValue::from(position));
    (reply, req.actor)
}

/// The response header carrying the log position of the state an answer read: the number of
/// events folded into it (so `as_of=P` answers `P + 1`).
pub const POSITION_HEADER: &str = "x-ipledger-position";

/// How long a request with `min_position` waits for this node to apply that position.
pub const MIN_POSITION_WAIT: Duration = Duration::from_secs(5);

/// `?min_position=P` (any route): waits, bounded, until this node's views have applied the
/// log up to position P (exclusive: P events), so that a client reads its own writes made
/// through another node of a shared log; 503 with Retry-After if the node lags longer.
/// The parameter is taken off the query before the handler sees it.
async fn wait_for_min_position(app: &App, req: &mut Request) -> Result<(), Fault> {
    let Some(raw) = req.query.remove("min_position") else {
        return Ok(());
    };
    let wanted: u64 = raw
        .parse()
        .map_err(|_| Fault::bad_request(format!("min_position {raw:?} is not a log position")))?;
    let deadline = Instant::now() + MIN_POSITION_WAIT;
    loop {
        let applied = app.writer.views().read().position();
        if applied >= wanted {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Fault::unavailable(format!(
                "this node has applied the log up to position {applied}, not yet {wanted}; retry, or ask another node"
            )));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `?as_of=P` or `?as_of=<RFC 3339 time>` (any GET): the handler reads the state right after
/// that event (`asof.rs`) instead of the live views. A write cannot happen in the past: 400.
/// The parameter is taken off the query before the handler sees it.
async fn read_as_of(app: &App, req: &mut Request) -> Result<(), Fault> {
    let Some(raw) = req.query.remove("as_of") else {
        return Ok(());
    };
    if req.method != Method::GET {
        return Err(Fault::invalid_field(
            "as_of",
            "as_of reads a past state: only GET takes it, a write always acts on the present",
        ));
    }
    let applied = app.writer.views().read().position();
    req.as_of = Some(app.as_of.resolve(app.store.as_ref(), applied, &raw).await?);
    Ok(())
}

/// A GET asking for a page larger than the default (`limit` > `PAGE_LIMIT_DEFAULT`, up to
/// `PAGE_LIMIT_MAX` rows): milliseconds of copying and encoding.
fn is_large_page(req: &Request) -> bool {
    req.method == Method::GET
        && req
            .query
            .get("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .is_some_and(|l| l > ipledger_projections::page::PAGE_LIMIT_DEFAULT)
}

/// Whether a large page may run with its worker thread handed over to the runtime
/// (`block_in_place`, which only a multi-threaded runtime has; some tests serve from a
/// single-threaded one). Then the other requests queued on that worker move to another
/// thread meanwhile: the page's milliseconds of CPU share the cores with them through the
/// OS scheduler instead of holding them up behind it (issue 8: one client paging a
/// 1M-address block stretched another tenant's allocations).
fn on_many_workers() -> bool {
    tokio::runtime::Handle::current().runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
}

/// Finds the request's row, admits the request against it (`auth::admit`: no handler runs
/// unchecked), and calls the row's handler with the segments its placeholders matched.
async fn dispatch(app: &App, req: &mut Request) -> Answer {
    let route = routes::resolve(req.method.as_str(), &req.seg())?;
    req.route = Some((route.method, route.pattern));
    crate::auth::admit::admit(app, req, route)?;
    // After admission: only a caller the row admits may park a request here.
    wait_for_min_position(app, req).await?;
    read_as_of(app, req).await?;
    let req = &*req;
    let segments = req.seg();
    let params = route.params(&segments);
    (route.handler)(Call::new(app, req, &params)).await
}

/// Encodes an answer in the negotiated format: JSON, or XML through `crate::xml`.
pub fn encode(format: Format, answer: Answer) -> Reply {
    encode_in(format, Dialect::Melange, answer)
}

/// Like [`encode`], a fault in the error shape of `dialect`.
pub fn encode_in(format: Format, dialect: Dialect, answer: Answer) -> Reply {
    let (status, body, retry_after, is_fault) = match answer {
        Ok(resp) => (resp.status, resp.body, None, false),
        Err(fault) => (
            fault.status,
            Body::Json(fault.body_in(dialect)),
            fault.retry_after(),
            true,
        ),
    };
    // XML is written from a `Value`: bytes this server encoded from its own wire types always
    // parse back into the one a `Body::Json` would have carried.
    let body = match (format, body) {
        (Format::Xml, Body::Encoded(Encoded(json))) => {
            Body::Json(serde_json::from_slice(&json).unwrap_or_default())
        }
        (_, body) => body,
    };
    let mut response = match body {
        Body::Json(v) => {
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
        Body::Encoded(Encoded(json)) => {
            let mut r = Reply::new(json.into());
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            r
        }
        // A file compiled into the binary (the console's) goes out as it is.
        Body::File {
            content_type,
            bytes,
            headers,
        } => {
            let mut r = Reply::new(Bytes::from_static(bytes).into());
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static(content_type));
            for (name, value) in headers {
                r.headers_mut()
                    .insert(*name, HeaderValue::from_static(value));
            }
            r
        }
        Body::Text { content_type, text } => {
            let mut r = Reply::new(Bytes::from(text).into());
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static(content_type));
            r
        }
        Body::Owned {
            content_type,
            bytes,
        } => {
            let mut r = Reply::new(Bytes::from(bytes).into());
            if let Ok(value) = HeaderValue::from_str(&content_type) {
                r.headers_mut().insert("content-type", value);
            }
            r
        }
        Body::Stream(chunks) => {
            use warp::Reply as _;
            let mut r = warp::reply::stream(chunks.chunks).into_response();
            r.headers_mut().insert(
                "content-type",
                HeaderValue::from_static(chunks.content_type),
            );
            r.headers_mut()
                .insert("cache-control", HeaderValue::from_static("no-cache"));
            r
        }
        Body::Empty => Reply::new(Bytes::new().into()),
    };
    *response.status_mut() = status;
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(secs));
    }
    response
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
