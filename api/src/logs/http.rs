//! `http.log`'s line: one per answered request. What it never holds: a request body (the
//! original logged bodies with `secret` masked; a body here is never logged at all), any
//! header's value (so neither `Authorization` nor `X-Auth-Token`), and the value of a query
//! parameter whose name looks like a credential ([`masked_query`]).

use serde::Serialize;

/// What replaces a masked value.
pub const MASK: &str = "***";

/// Lower-case name fragments of the query parameters whose values are masked.
const SECRET_NAMES: &[&str] = &[
    "secret",
    "token",
    "password",
    "passwd",
    "pwd",
    "key",
    "auth",
    "signature",
    "sig",
    "credential",
    "session",
    "cookie",
];

#[derive(Debug, Serialize)]
pub struct HttpLine<'a> {
    /// RFC 3339, UTC, milliseconds.
    pub time: String,
    pub method: &'a str,
    /// The path as sent (percent-encoded), without the query.
    pub path: &'a str,
    /// The query with credential-like values masked; absent when empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    pub status: u16,
    pub duration_ms: f64,
    /// The token's name, `anonymous` (public routes, `registrations_open`, refused
    /// credentials), or the bootstrap admin's name.
    pub actor: &'a str,
    pub request_id: &'a str,
}

/// `raw` with the value of every credential-like parameter replaced by [`MASK`] (the name
/// is compared decoded and lower-cased, so `%74oken` is masked too); None when empty. The
/// other parameters are kept as sent.
pub fn masked_query(raw: &str) -> Option<String> {
    if raw.is_empty() {
        return None;
    }
    let parts: Vec<String> = raw
        .split('&')
        .map(|part| {
            let (name, _) = part.split_once('=').unwrap_or((part, ""));
            let decoded = percent_encoding::percent_decode_str(&name.replace('+', " "))
                .decode_utf8_lossy()
                .to_ascii_lowercase();
            if SECRET_NAMES.iter().any(|s| decoded.contains(s)) {
                format!("{name}={MASK}")
            } else {
                part.to_string()
            }
        })
        .collect();
    Some(parts.join("&"))
}

/// Now, as `http.log` writes times.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_like_query_values_are_masked_and_the_rest_kept() {
        assert_eq!(masked_query(""), None);
        assert_eq!(
            masked_query("limit=5&marker=abc").as_deref(),
            Some("limit=5&marker=abc")
        );
        assert_eq!(
            masked_query("token=hunter2&limit=5&X-Auth-Token=s3&api_key=k&%74oken=t&client_secret")
                .as_deref(),
            Some("token=***&limit=5&X-Auth-Token=***&api_key=***&%74oken=***&client_secret=***")
        );
    }
}
