//! Request bodies in general: the one function that turns bytes (JSON, or XML through
//! `crate::xml`) into a surface's body type with a clear 4xx on any problem, and the field
//! readers those types use. The types themselves live with their surface (`melange/body.rs`).

use serde::de::{DeserializeOwned, Deserializer};
use serde::Deserialize;
use serde_json::Value;

use crate::fault::Fault;
use crate::request::Request;
use crate::xml::STRUCT_KEYS;
use warp::http::StatusCode;

/// Parses the body as JSON (or XML, converted to the same JSON by `crate::xml`) into `T`. An
/// empty body gives `Ok(None)`; a body without a JSON or XML Content-Type is 415, malformed JSON 400 "Malformed request body", an unknown field or a
/// wrong type 400 naming it.
pub fn parse<T: DeserializeOwned>(req: &Request) -> Result<Option<T>, Fault> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let content_type = req.header("content-type").unwrap_or("");
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let is_json =
        mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"));
    let is_xml = crate::xml::is_xml_mime(&mime);
    if !is_json && !is_xml {
        let shown = if content_type.is_empty() {
            "none"
        } else {
            content_type
        };
        return Err(Fault::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Type must be application/json or application/xml (got {shown})"),
        ));
    }
    // An XML body becomes the equivalent JSON value and continues down the same path.
    let value: Value = if is_xml {
        crate::xml::decode(&req.body)?
    } else {
        super::strict_json::from_slice(&req.body).map_err(|e| {
            if e.to_string().starts_with("duplicate key") {
                Fault::bad_request(format!("Invalid request body: {e}"))
            } else {
                Fault::bad_request("Malformed request body")
            }
        })?
    };
    // serde's derived structs also accept a JSON array (fields by position), which would
    // read `[]` as `{}`: every body of the API is an object with a root key.
    if !value.is_object() {
        return Err(Fault::bad_request(
            "Invalid request body: expected a JSON object",
        ));
    }
    if let Some(key) = misplaced_list(&value) {
        return Err(Fault::bad_request(format!(
            "Invalid request body: {key} must be an object"
        )));
    }
    serde_json::from_value(value)
        .map(Some)
        .map_err(|e| Fault::bad_request(format!("Invalid request body: {e}")))
}

fn misplaced_list(value: &Value) -> Option<String> {
    let Value::Object(map) = value else {
        return None;
    };
    for (key, v) in map {
        match v {
            Value::Array(_) if STRUCT_KEYS.contains(&key.as_str()) => return Some(key.clone()),
            Value::Object(_) => {
                if let Some(bad) = misplaced_list(v) {
                    return Some(bad);
                }
            }
            _ => {}
        }
    }
    None
}

/// Like [`parse`] for a body that is flat JSON (`{"name": ..}`) but may also come wrapped
/// in its root key (`{"pool": {"name": ..}}`): the only spelling XML has, whose root element
/// becomes the root key.
pub fn parse_unwrapped<T: DeserializeOwned>(req: &Request, root: &str) -> Result<Option<T>, Fault> {
    let Some(mut value) = parse::<Value>(req)? else {
        return Ok(None);
    };
    if let Value::Object(map) = &mut value {
        if map.len() == 1 && map.get(root).is_some_and(Value::is_object) {
            value = map.remove(root).unwrap_or_default();
        }
    }
    serde_json::from_value(value)
        .map(Some)
        .map_err(|e| Fault::bad_request(format!("Invalid request body: {e}")))
}

pub use ipledger_domain::limits::STRING_BYTES_MAX;

/// Like [`parse`] but the body is required: a missing body is 400 naming the root key.
pub fn required<T: DeserializeOwned>(req: &Request, root: &str) -> Result<T, Fault> {
    parse(req)?.ok_or_else(|| missing(root))
}

pub fn missing(root: &str) -> Fault {
    Fault::bad_request(format!("Required params are missing: {root}"))
}

/// Distinguishes an absent field (`None`) from an explicit null (`Some(None)`).
pub fn double<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(string_like(d)?))
}

/// "Any string accepted": numbers are taken as their text, null as absent.
pub fn string_like<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() > STRING_BYTES_MAX => Err(serde::de::Error::custom(
            format!("a value is longer than {STRING_BYTES_MAX} bytes"),
        )),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(serde::de::Error::custom("expected a string")),
    }
}

/// An optional integer field: absent is `None`, null `Some(None)`, a number or numeric
/// string `Some(Some(n))`; anything else is a 400 naming the field.
pub fn double_integer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(Some(None)),
        Some(v) => integer(&v)
            .map(|n| Some(Some(n)))
            .ok_or_else(|| serde::de::Error::custom("expected an integer")),
    }
}

/// An integer given as a number or a numeric string ("10" is 10, as Melange converted).
pub fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
