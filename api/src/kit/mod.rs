//! The toolkit every handler imports, and nothing else: the answer types, the route row and
//! its call, the command metadata (actor, Idempotency-Key fingerprint), id parsing, body
//! parsing (`body`) and the wire helpers every surface shares (`wire`). It depends on no
//! surface (a tidy test checks), so a handler never reaches its router through it.

pub mod body;
mod row;
mod strict_json;
pub mod wire;

use ipledger_commands::{Command, Meta};
use ipledger_domain::records::Reply;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;
use warp::http::StatusCode;

use crate::app::App;
use crate::fault::Fault;
use crate::request::Request;

pub(crate) use row::row;
pub use row::{Call, Handler, Pending, Route, Scope, Views};

/// A handler's answer before it is encoded.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub body: Body,
}

/// What a success carries: nothing, a JSON value (sent as JSON or XML, as negotiated), or a
/// file compiled into the binary, sent as it is with its own headers.
#[derive(Debug)]
pub enum Body {
    Empty,
    Json(Value),
    /// JSON already encoded from typed values (a collection's page: no `Value` tree per
    /// item, which cost most of a large page's CPU); the XML dialect parses it back into
    /// the same `Value` the other answers carry.
    Encoded(Encoded),
    File {
        content_type: &'static str,
        bytes: &'static [u8],
        headers: &'static [(&'static str, &'static str)],
    },
    /// Text made for this answer (the metrics), sent as it is.
    Text {
        content_type: &'static str,
        text: String,
    },
    /// Bytes made or looked up for this answer, with their type (the OpenAPI document,
    /// Swagger UI's assets), sent as they are.
    Owned {
        content_type: String,
        bytes: Vec<u8>,
    },
    /// A body written as it is produced (the event stream, the export): never buffered whole.
    Stream(Chunks),
}

/// The chunks of a streamed body, with its content type. An `Err` item aborts the response
/// (no final chunk), so a client cannot mistake a cut stream for a complete one.
pub struct Chunks {
    pub content_type: &'static str,
    pub chunks: std::pin::Pin<
        Box<dyn futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + Sync>,
    >,
}

impl std::fmt::Debug for Chunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Chunks({})", self.content_type)
    }
}

impl Resp {
    /// `status` with `body`, or with no body for `None`.
    pub fn new(status: StatusCode, body: Option<Value>) -> Self {
        Resp {
            status,
            body: body.map_or(Body::Empty, Body::Json),
        }
    }

    pub fn ok(body: impl Into<Body>) -> Self {
        Resp {
            status: StatusCode::OK,
            body: body.into(),
        }
    }
}

/// JSON bytes encoded exactly as `serde_json` encodes the equivalent `Value` (keys in order).
#[derive(Debug)]
pub struct Encoded(pub Vec<u8>);

impl From<Value> for Body {
    fn from(v: Value) -> Body {
        Body::Json(v)
    }
}

impl From<Encoded> for Body {
    fn from(e: Encoded) -> Body {
        Body::Encoded(e)
    }
}

pub type Answer = Result<Resp, Fault>;

pub fn method_not_allowed() -> Fault {
    Fault::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed on this resource",
    )
}

/// The 404 of a path no row matches.
pub fn unknown_resource() -> Fault {
    Fault::not_found("The resource could not be found.")
}

pub use ipledger_domain::limits::IDEMPOTENCY_KEY_BYTES_MAX;

/// The command's metadata: who asks, and the idempotency key with the request fingerprint.
pub fn meta(req: &Request, actor: &str) -> Result<Meta, Fault> {
    let idempotency = match req.header("idempotency-key") {
        None => None,
        Some(key) if key.is_empty() || key.len() > IDEMPOTENCY_KEY_BYTES_MAX || !key.bytes().all(|b| b.is_ascii_graphic()) => {
            return Err(Fault::bad_request(format!(
                "Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_BYTES_MAX} printable ASCII characters"
            )))
        }
        Some(key) => {
            let mut h = Sha256::new();
            h.update(req.method.as_str().as_bytes());
            h.update(b" ");
            h.update(req.path.as_bytes());
            h.update(b"\n");
            h.update(&req.body);
            Some((format!("{actor}:{key}"), hex::encode(h.finalize())))
        }
    };
    let correlation_id = req.correlation_id();
    Ok(Meta {
        actor: actor.to_string(),
        correlation_id,
        idempotency,
    })
}

/// Sends a command as the request's actor, with its metadata; the writer's reply.
pub async fn submit(app: &App, req: &Request, command: Command) -> Result<Reply, Fault> {
    let meta = meta(req, &req.actor)?;
    Ok(app.writer.submit(command, meta).await?)
}

/// An id from the path; one that is not a UUID names nothing: `<model> Not Found`.
pub fn parse_id(text: &str, model: &str) -> Result<Uuid, Fault> {
    Uuid::parse_str(text).map_err(|_| Fault::not_found(format!("{model} Not Found")))
}
