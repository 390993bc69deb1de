//! The one place that maps errors to HTTP: business rejections to 4xx, store failures to 503,
//! and malformed input to 400/404/405/413/415, always in Melange's fault shape (decision 22):
//! `{"NotFound": {"code": 404, "message": "...", "detail": "..."}}`, plus a structured
//! `errors` map on validation failures. No path through here produces a 5xx for bad input.

use std::collections::BTreeMap;

use ipledger_commands::store::RecordRefused;
use ipledger_commands::CommandError;
use ipledger_domain::Rejection;
use serde_json::{json, Value};
use warp::http::StatusCode;

#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub status: StatusCode,
    pub detail: String,
    pub errors: Option<BTreeMap<String, Vec<String>>>,
    /// Seconds, for 503.
    pub retry_after: Option<u32>,
}

impl Fault {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Fault {
            status,
            detail: detail.into(),
            errors: None,
            retry_after: None,
        }
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
        let mut inner =
            json!({"code": self.status.as_u16(), "message": message, "detail": self.detail});
        if let Some(errors) = &self.errors {
            inner["errors"] = json!(errors);
        }
        json!({ name: inner })
    }

    pub fn name(&self) -> &'static str {
        self.name_and_message().0
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
                retry_after: None,
            },
            Rejection::BadRequest(d) => Fault::new(StatusCode::BAD_REQUEST, d),
            Rejection::NotFound(d) => Fault::new(StatusCode::NOT_FOUND, d),
            Rejection::Conflict(d) => Fault::new(StatusCode::CONFLICT, d),
            Rejection::Unprocessable(d) => Fault::new(StatusCode::UNPROCESSABLE_ENTITY, d),
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
            CommandError::Conflict(why) => Fault::new(
                StatusCode::CONFLICT,
                format!("The request conflicted with concurrent changes; retry it ({why})"),
            ),
            CommandError::Internal(what) => Fault::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("The request hit an internal error and changed nothing: {what}"),
            ),
            CommandError::Unavailable(reason) => Fault {
                status: StatusCode::SERVICE_UNAVAILABLE,
                detail: format!("The event log is unavailable: {reason}"),
                errors: None,
                retry_after: Some(5),
            },
        }
    }
}
