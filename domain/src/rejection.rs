//! Business rejections: the user asked for something the rules forbid. They map to 4xx in
//! exactly one place (the API's error mapper); store failures and version conflicts are
//! separate error types in `infra` and `commands`, never mixed in here.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Field validation failed (400). Every failing field with all its messages.
    #[error("The following values are invalid: {0:?}")]
    Invalid(BTreeMap<String, Vec<String>>),
    /// A required parameter is missing or the request is otherwise malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// The object does not exist for this tenant (404); the text is `"<Model> Not Found"`.
    #[error("{0}")]
    NotFound(String),
    /// The object exists but the request clashes with its state (409).
    #[error("{0}")]
    Conflict(String),
    /// Well-formed but impossible under the rules (422): full block, policy refusal, ...
    #[error("{0}")]
    Unprocessable(String),
    /// The request asks for more items than one request may (413, `limits.rs`).
    #[error("{0}")]
    TooLarge(String),
}

impl Rejection {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let mut errors = BTreeMap::new();
        errors.insert(field.to_string(), vec![message.into()]);
        Rejection::Invalid(errors)
    }

    pub fn not_found(model: &str) -> Self {
        Rejection::NotFound(format!("{model} Not Found"))
    }
}

/// Collects field errors so that a 400 lists every problem at once, as Melange did.
#[derive(Debug, Default)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_string())
            .or_default()
            .push(message.into());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_result(self) -> Result<(), Rejection> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Rejection::Invalid(self.0))
        }
    }
}
