//! The one place that maps errors to HTTP: business rejections to 4xx, store failures to 503,
//! and malformed input to 400/404/405/413/415, always in Melange's fault shape (decision 22):
//! `{"NotFound": {"code": 404, "message": "...", "detail": "..."}}`, plus a structured
//! `errors` map on validation failures. No path through here produces a 5xx for bad input.
//!
//! A 503 is built only by [`Fault::unavailable`], which always sets `Retry-After`: an outage
//! answer without it leaves clients guessing when to come back (issue 7, defect 4). A tidy
//! test (`tidy.rs`) keeps `SERVICE_UNAVAILABLE` out of every other file.

use std::collections::BTreeMap;

use ipledger_commands::store::RecordRefused;
use ipledger_commands::CommandError;
use ipledger_domain::records::Reply;
use ipledger_domain::Rejection;
use serde::Serialize;
use serde_json::{json, Value};
use warp::http::StatusCode;

/// The `Retry-After` of every 503, in seconds (the value the fail-stop 503 always had): a
/// failed read may pass at once while a stopped writer waits for an operator's restart, so
/// one short, fixed wait lets clients find the service again without hammering it.
pub const RETRY_AFTER_SECONDS: u32 = 5;

#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub status: StatusCode,
    pub detail: String,
    pub errors: Option<BTreeMap<String, Vec<String>>>,
    /// What a 404 could not find, as (resource, id), for dialects that name it (Scaleway's
    /// `resource`/`resource_id`).
    pub resource: Option<(String, String)>,
    /// Seconds, on every 503 and nothing else. Private so that no code outside this file can
    /// build a fault literal without it.
    retry_after: Option<u32>,
}

impl Fault {
    /// A fault with `status`; a 503 is handed to [`Fault::unavailable`], so that even a
    /// status computed at run time cannot make a 503 without `Retry-After`.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        if status == StatusCode::SERVICE_UNAVAILABLE {
            return Fault::unavailable(detail);
        }
        Fault {
            status,
            detail: detail.into(),
            errors: None,
            resource: None,
            retry_after: None,
        }
    }

    /// The one constructor of a 503: the service cannot answer now (the log cannot be read
    /// or written, the writer has stopped, the OS has no randomness) and the client should
    /// retry after [`RETRY_AFTER_SECONDS`].
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Fault {
            status: StatusCode::SERVICE_UNAVAILABLE,
            detail: detail.into(),
            errors: None,
            resource: None,
            retry_after: Some(RETRY_AFTER_SECONDS),
        }
    }

    /// A command answered with a reply of another kind than it always gives: a programmer
    /// error (a `decide` returning the wrong variant, or a recorded reply that does not fit
    /// its request), not an outage — so 500 and an error in the log, never a 503 that tells
    /// clients to retry something that will fail the same way.
    pub fn unexpected_reply(action: &str, reply: &Reply) -> Self {
        tracing::error!(
            action,
            ?reply,
            "a command answered with an unexpected reply"
        );
        Fault::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Internal error: {action} gave an unexpected reply"),
        )
    }

    /// Seconds the client should wait before retrying: set on every 503, on nothing else.
    pub fn retry_after(&self) -> Option<u32> {
        self.retry_after
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Fault::new(StatusCode::BAD_REQUEST, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Fault::new(StatusCode::NOT_FOUND, detail)
    }

    /// A 400 naming one field, with the structured copy of the error.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Fault::from(Rejection::invalid(field, message))
    }

    /// The webob class name Melange used as the fault's key, and its generic message.
    fn name_and_message(&self) -> (&'static str, &'static str) {
        match self.status.as_u16() {
            400 => ("BadRequest", "The server could not comply with the request since it is either malformed or otherwise incorrect."),
            401 => ("Unauthorized", "This server could not verify that you are authorized to access the document you requested."),
            403 => ("Forbidden", "Access was denied to this resource."),
            404 => ("NotFound", "The resource could not be found."),
            405 => ("MethodNotAllowed", "The method is not allowed for this resource."),
            406 => ("NotAcceptable", "The resource could not be generated in a form acceptable to the client."),
            408 => ("RequestTimeout", "There was a timeout when receiving the request."),
            409 => ("Conflict", "There was a conflict when trying to complete your request."),
            413 => ("RequestEntityTooLarge", "The body of the request is too large."),
            415 => ("UnsupportedMediaType", "The request media type is not supported by this server."),
            422 => ("UnprocessableEntity", "Unable to process the contained instructions"),
            503 => ("ServiceUnavailable", "The server is currently unavailable. Please try again at a later time."),
            _ => ("InternalServerError", "The server has either erred or is incapable of performing the requested operation."),
        }
    }

    /// The fault as a JSON value: `{Name: {code, message, detail[, errors]}}`.
    pub fn body(&self) -> Value {
        let (name, message) = self.name_and_message();
        let inner = FaultBody {
            code: self.status.as_u16(),
            message: message.to_string(),
            detail: self.detail.clone(),
            errors: self.errors.clone(),
        };
        json!(MelangeFault(
            [(name.to_string(), inner)].into_iter().collect()
        ))
    }

    pub fn name(&self) -> &'static str {
        self.name_and_message().0
    }

    /// Names what a 404 could not find (shown by dialects that have a place for it).
    pub fn about(mut self, resource: &str, id: &str) -> Self {
        self.resource = Some((resource.to_string(), id.to_string()));
        self
    }

    /// The fault's body in the error shape the path's clients parse.
    pub fn body_in(&self, dialect: Dialect) -> Value {
        match dialect {
            Dialect::Melange => self.body(),
            Dialect::Scaleway => self.scaleway_body(),
        }
    }

    /// Scaleway's shape (`{"message", "type", ...}`), which the official SDKs turn into
    /// their exceptions: the Python SDK raises `ValidationError` on `"message": "Validation
    /// Error"` with `fields`, `ScalewayException` on anything else; the Go SDK switches on
    /// `type` (`invalid_arguments`, `not_found` with `resource`/`resource_id`,
    /// `permissions_denied`, `denied_authentication`, ...).
    pub fn scaleway_body(&self) -> Value {
        let detail = self.detail.clone();
        let said = |kind: &str| ScalewayError {
            message: detail.clone(),
            kind: Some(kind.to_string()),
            ..ScalewayError::default()
        };
        let constraint = || ScalewayError {
            details: Some(vec![ScalewayErrorDetail {
                argument_name: String::new(),
                reason: "constraint".into(),
                help_message: detail.clone(),
            }]),
            ..said("invalid_arguments")
        };
        let error = if let Some(errors) = &self.errors {
            ScalewayError {
                message: "Validation Error".into(),
                fields: Some(errors.clone()),
                help_message: Some(detail.clone()),
                ..ScalewayError::default()
            }
        } else {
            match self.status.as_u16() {
                400 | 413 | 415 => constraint(),
                401 => ScalewayError {
                    method: Some("api_key".into()),
                    reason: Some("invalid_argument".into()),
                    ..said("denied_authentication")
                },
                403 => ScalewayError {
                    details: Some(Vec::new()),
                    ..said("permissions_denied")
                },
                404 => {
                    let (resource, id) = self.resource.clone().unwrap_or_default();
                    ScalewayError {
                        message: "resource is not found".into(),
                        resource: Some(resource),
                        resource_id: Some(id),
                        help_message: Some(detail.clone()),
                        ..said("not_found")
                    }
                }
                409 => said("conflict"),
                // An exhausted source is Scaleway's `out_of_stock`; other 422s (a policy
                // refusal, a subnetted block) are arguments the rules refuse.
                422 if detail.contains("no free address") => ScalewayError {
                    resource: Some("ip".into()),
                    ..said("out_of_stock")
                },
                422 => constraint(),
                503 => said("transient_state"),
                s if s >= 500 => said("internal_error"),
                _ => said("invalid_request_error"),
            }
        };
        json!(error)
    }
}

/// Melange's fault (decision 22): one key, the webob class name of the status
/// (`NotFound`, `BadRequest`, ...), holding the fault.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"NotFound": {"code": 404, "message": "The resource could not be found.", "detail": "IpBlock Not Found"}}))]
pub struct MelangeFault(BTreeMap<String, FaultBody>);

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FaultBody {
    /// The HTTP status.
    pub code: u16,
    /// The status's generic message.
    pub message: String,
    /// What went wrong.
    pub detail: String,
    /// On validation failures: the messages by field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<BTreeMap<String, Vec<String>>>,
}

/// Scaleway's error (`{"message", "type", ...}`) under `/ipam/v1/`: what the official SDKs
/// turn into their exceptions. A validation failure has `message: "Validation Error"` and
/// `fields` instead of a `type`.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct ScalewayError {
    pub message: String,
    /// `invalid_arguments`, `not_found`, `permissions_denied`, `denied_authentication`,
    /// `conflict`, `out_of_stock`, `transient_state`, `internal_error`, ...
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<ScalewayErrorDetail>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScalewayErrorDetail {
    pub argument_name: String,
    pub reason: String,
    pub help_message: String,
}

/// The error shapes the service speaks: Melange's faults everywhere, Scaleway's under
/// `/ipam/v1/` (whose clients are Scaleway's SDKs), including the errors raised before a
/// handler runs (401, 403, 404, 405, 413).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Melange,
    Scaleway,
}

impl Dialect {
    pub fn of_path(path: &str) -> Dialect {
        if path.starts_with("/ipam/v1/") {
            Dialect::Scaleway
        } else {
            Dialect::Melange
        }
    }
}

/// Python-repr-like rendering of the field map, as in Melange's 400 detail.
fn invalid_detail(errors: &BTreeMap<String, Vec<String>>) -> String {
    let fields: Vec<String> = errors
        .iter()
        .map(|(k, msgs)| {
            let msgs: Vec<String> = msgs.iter().map(|m| format!("'{m}'")).collect();
            format!("'{k}': [{}]", msgs.join(", "))
        })
        .collect();
    format!(
        "The following values are invalid: {{{}}}",
        fields.join(", ")
    )
}

impl From<Rejection> for Fault {
    fn from(r: Rejection) -> Self {
        match r {
            Rejection::Invalid(errors) => Fault {
                status: StatusCode::BAD_REQUEST,
                detail: invalid_detail(&errors),
                errors: Some(errors),
                resource: None,
                retry_after: None,
            },
            Rejection::BadRequest(d) => Fault::new(StatusCode::BAD_REQUEST, d),
            Rejection::NotFound(d) => Fault::new(StatusCode::NOT_FOUND, d),
            Rejection::Conflict(d) => Fault::new(StatusCode::CONFLICT, d),
            Rejection::Unprocessable(d) => Fault::new(StatusCode::UNPROCESSABLE_ENTITY, d),
            Rejection::TooLarge(d) => Fault::new(StatusCode::PAYLOAD_TOO_LARGE, d),
        }
    }
}

impl From<CommandError> for Fault {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::Rejected(r) => r.into(),
            CommandError::Refused(r @ RecordRefused::TooLarge { .. }) => {
                Fault::new(StatusCode::PAYLOAD_TOO_LARGE, r.to_string())
            }
            CommandError::Refused(r @ RecordRefused::Unencodable { .. }) => {
                Fault::new(StatusCode::UNPROCESSABLE_ENTITY, r.to_string())
            }
            // Other nodes kept moving the streams the command needs (a shared log): nothing
            // is wrong with the request, the service is busy — retry later, as Retry-After says.
            CommandError::Conflict(why) => Fault::unavailable(format!(
                "The request conflicted with concurrent changes on other nodes; retry it ({why})"
            )),
            CommandError::Internal(what) => Fault::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("The request hit an internal error and changed nothing: {what}"),
            ),
            CommandError::Unavailable(reason) => {
                Fault::unavailable(format!("The event log is unavailable: {reason}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_503_built_carries_retry_after() {
        // Guards defect 4: 503s were built by hand without Retry-After; whichever way one is
        // built now, it has one, and no other status does.
        let unavailable = [
            Fault::unavailable("the log is gone"),
            Fault::new(StatusCode::SERVICE_UNAVAILABLE, "by status"),
            Fault::new(StatusCode::from_u16(503).expect("a status"), "by number"),
            Fault::from(CommandError::Unavailable("the writer has stopped".into())),
        ];
        for fault in &unavailable {
            assert_eq!(fault.status, StatusCode::SERVICE_UNAVAILABLE, "{fault:?}");
            assert_eq!(fault.retry_after(), Some(RETRY_AFTER_SECONDS), "{fault:?}");
            assert!(fault.body()["ServiceUnavailable"].is_object(), "{fault:?}");
        }
        let others = [
            Fault::bad_request("bad"),
            Fault::not_found("gone"),
            Fault::new(StatusCode::UNAUTHORIZED, "who"),
            Fault::invalid_field("cidr", "bad cidr"),
            Fault::from(CommandError::Rejected(Rejection::Conflict("taken".into()))),
            Fault::unexpected_reply("issuing a token", &Reply::Done),
        ];
        for fault in &others {
            assert_ne!(fault.status, StatusCode::SERVICE_UNAVAILABLE, "{fault:?}");
            assert_eq!(fault.retry_after(), None, "{fault:?}");
        }
    }

    #[test]
    fn an_unexpected_reply_is_a_500_not_an_outage() {
        // Guards defect 4: a handler given a reply of the wrong kind answered 503, telling
        // clients to retry a programmer error that fails the same way every time.
        let fault = Fault::unexpected_reply("deciding a request", &Reply::Purged(3));
        assert_eq!(fault.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            fault.detail.contains("deciding a request"),
            "{}",
            fault.detail
        );
        assert!(fault.body()["InternalServerError"].is_object());
    }
}
