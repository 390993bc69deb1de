//! The OpenAPI 3.1 document (served by the `docs` surface). Each surface declares its
//! operations beside its rows (its `Api`: `#[utoipa::path]` on the handlers, with their
//! bodies and success answers derived from the wire types); `routes::DOCS` lists the
//! surfaces' `Api`s beside `routes::ROUTES`. What every operation shares is added here, once, from the operation's route row, so it
//! cannot drift from what the server does: the path parameters (the safe set `routes::resolve`
//! checks), the auth schemes by the row's scope (none on `Public`, optional on
//! `RegistrarOpen`), the error answer in the path's dialect (`fault::Dialect`), the
//! `X-Ipledger-Position` header of every answer and the `as_of` query of every GET.
//! `tests::every_row_has_an_operation_and_every_operation_a_row` holds the rows and the
//! operations to one set.

use std::sync::LazyLock;

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    Components, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr, Required, ResponseBuilder,
};
use utoipa::OpenApi as _;

use crate::fault::{Dialect, MelangeFault, ScalewayError};
use crate::kit::{Route, Scope};
use crate::routes::{DOCS, ROUTES, SEGMENT_BYTES_MAX};

/// The document as served: built once, on first request. Serializing a document of plain
/// strings, maps and numbers cannot fail; were it to, the answer names why rather than
/// taking the server down.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    build()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"the OpenAPI document did not render: {e}\"}}"))
});

/// The document as JSON, as `/openapi.json` serves it.
pub fn json() -> &'static str {
    &DOCUMENT
}

/// The error bodies the operations' answers refer to.
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(MelangeFault, ScalewayError)))]
struct Faults;

/// The security schemes' names in `components.securitySchemes`.
const BEARER: &str = "bearer";
const TOKEN_HEADER: &str = "token";

/// The whole document: the surfaces' operations, then what each shares from its row.
pub fn build() -> OpenApi {
    let mut doc = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("ipledger")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Event-sourced IPAM: Melange v0.1 (JSON, or XML with a .xml suffix or \
                     Accept: application/xml), IP requests, Scaleway IPAM v1, resource pools, \
                     zone registrations, access tokens and the operator's routes. Every path \
                     also answers with a .json or .xml suffix.",
                ))
                .build(),
        )
        .build();
    for surface in DOCS {
        doc.merge(surface());
    }
    doc.merge(Faults::openapi());
    let components = doc.components.get_or_insert_with(Components::default);
    components.security_schemes.insert(
        BEARER.into(),
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    components.security_schemes.insert(
        TOKEN_HEADER.into(),
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Auth-Token"))),
    );
    for route in ROUTES.iter() {
        if let Some(op) = doc
            .paths
            .paths
            .get_mut(route.pattern)
            .and_then(|item| operation_mut(item, route.method))
        {
            shared(route, op);
        }
    }
    doc
}

/// The operation of `method` in a path item.
pub fn operation_mut<'a>(item: &'a mut PathItem, method: &str) -> Option<&'a mut Operation> {
    match method {
        "GET" => item.get.as_mut(),
        "POST" => item.post.as_mut(),
        "PUT" => item.put.as_mut(),
        "PATCH" => item.patch.as_mut(),
        "DELETE" => item.delete.as_mut(),
        _ => None,
    }
}

/// Every (method, path) a document has operations for, in order.
pub fn operations(doc: &OpenApi) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for (path, item) in &doc.paths.paths {
        for (method, op) in [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
            ("HEAD", &item.head),
            ("OPTIONS", &item.options),
            ("TRACE", &item.trace),
        ] {
            if op.is_some() {
                out.push((method, path.clone()));
            }
        }
    }
    out
}

fn string_schema(pattern: Option<String>, description: &str) -> Schema {
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(pattern)
            .description(Some(description))
            .build(),
    )
}

/// What `row` adds to its operation.
fn shared(route: &Route, op: &mut Operation) {
    let params = op.parameters.get_or_insert_with(Vec::new);
    // The placeholders, in the id set `routes::path_id_ok` admits (400 otherwise).
    // (Lengths 1, 2 and 3+ spelled out: not `.` or `..`, and no look-around, which not
    // every tester's regex engine has.)
    let id = format!(
        "^([A-Za-z0-9_~:-]|[A-Za-z0-9_~:-][A-Za-z0-9._~:-]|\\.[A-Za-z0-9_~:-]|[A-Za-z0-9._~:-]{{3,{SEGMENT_BYTES_MAX}}})$"
    );
    for name in route
        .pattern
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
    {
        if params.iter().any(|p| p.name == name) {
            continue;
        }
        params.push(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(string_schema(
                    Some(id.clone()),
                    "An id: letters, digits and . _ ~ : -",
                )))
                .build(),
        );
    }
    if route.method == "GET" {
        params.push(as_of());
    }
    op.security = Some(match route.scope {
        Scope::Public => Vec::new(),
        // The original's clients send no token: with `registrations_open` none is needed.
        Scope::RegistrarOpen => vec![
            SecurityRequirement::default(),
            SecurityRequirement::new(BEARER, Vec::<String>::new()),
            SecurityRequirement::new(TOKEN_HEADER, Vec::<String>::new()),
        ],
        _ => vec![
            SecurityRequirement::new(BEARER, Vec::<String>::new()),
            SecurityRequirement::new(TOKEN_HEADER, Vec::<String>::new()),
        ],
    });
    let position = HeaderBuilder::new()
        .schema(Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .build(),
        ))
        .description(Some(
            "The log position this node had applied when it answered",
        ))
        .build();
    for response in op.responses.responses.values_mut() {
        if let RefOr::T(response) = response {
            response
                .headers
                .insert("X-Ipledger-Position".into(), position.clone());
        }
    }
    let fault = match Dialect::of_path(route.pattern) {
        Dialect::Melange => "MelangeFault",
        Dialect::Scaleway => "ScalewayError",
    };
    op.responses.responses.insert(
        "default".into(),
        RefOr::T(
            ResponseBuilder::new()
                .description(
                    "An error, its status saying which: 400 malformed input, 401/403 auth, \
                     404, 405, 409, 413, 415, 422, 503 with Retry-After",
                )
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(fault)))
                        .build(),
                )
                .build(),
        ),
    );
}

/// `as_of`: read as of a log position or a time (issue 11), on every GET.
fn as_of() -> Parameter {
    let schema = OneOfBuilder::new()
        .item(Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .description(Some("A log position"))
                .build(),
        ))
        .item(Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::DateTime,
                )))
                .description(Some("An RFC 3339 time"))
                .build(),
        ))
        .build();
    ParameterBuilder::new()
        .name("as_of")
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some("Answer as of this log position or time (issue 11)"))
        .schema(Some(Schema::OneOf(schema)))
        .build()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_row_has_an_operation_and_every_operation_a_row() {
        let rows: Vec<(&str, String)> = ROUTES
            .iter()
            .map(|r| (r.method, r.pattern.to_string()))
            .collect();
        // Each surface's operations before merging: a second operation for one (method,
        // path) would be dropped silently by the merge.
        let ops: Vec<(&str, String)> = DOCS.iter().flat_map(|d| operations(&d())).collect();
        let (row_set, op_set): (BTreeSet<_>, BTreeSet<_>) = (
            rows.iter().cloned().collect(),
            ops.iter().cloned().collect(),
        );
        assert_eq!(ops.len(), op_set.len(), "an operation is declared twice");
        let undocumented: Vec<_> = row_set.difference(&op_set).collect();
        let unrouted: Vec<_> = op_set.difference(&row_set).collect();
        assert!(
            undocumented.is_empty(),
            "rows without an operation: {undocumented:?}"
        );
        assert!(
            unrouted.is_empty(),
            "operations without a row: {unrouted:?}"
        );
        assert_eq!(operations(&build()).len(), rows.len());
    }

    #[test]
    fn operations_follow_their_rows_scope_and_dialect() {
        let doc = build();
        let json = serde_json::to_value(&doc).expect("the document is JSON");
        assert_eq!(json["openapi"], "3.1.0");
        let op = |path: &str, method: &str| json["paths"][path][method].clone();
        assert_eq!(op("/healthz", "get")["security"], serde_json::json!([]));
        let admin = op("/v1/auth/tokens", "get")["security"].clone();
        assert_eq!(admin, serde_json::json!([{"bearer": []}, {"token": []}]));
        let open = op("/v2/address", "post")["security"].clone();
        assert_eq!(open[0], serde_json::json!({}));
        let scw = op("/ipam/v1/regions/{region}/ips", "get");
        assert_eq!(
            scw["responses"]["default"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ScalewayError"
        );
        let names: Vec<_> = scw["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .map(|p| p["name"].as_str().unwrap_or_default().to_string())
            .collect();
        assert!(
            names.contains(&"region".to_string()) && names.contains(&"as_of".to_string()),
            "{names:?}"
        );
        assert!(op("/v1/pools", "post")["parameters"]
            .as_array()
            .is_none_or(|ps| ps.iter().all(|p| p["name"] != "as_of")));
        let ok = &op("/v1/pools", "get")["responses"]["200"];
        assert!(ok["headers"]["X-Ipledger-Position"].is_object(), "{ok}");
    }
}
