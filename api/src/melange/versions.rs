//! Version discovery (seed 004 "Versions", "Extensions"): `/`, `/v0.1`, and the empty list
//! of extensions.

use serde::Serialize;
use serde_json::json;

use crate::fault::Fault;
use crate::kit::wire::{envelope_schema, Link};
use crate::kit::{Answer, Call, Resp};
use crate::request::Request;

/// A version of the API with its link.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Version {
    pub name: &'static str,
    pub status: &'static str,
    pub links: Vec<Link>,
}

fn version(req: &Request) -> Version {
    let host = req.header("host").unwrap_or("localhost");
    Version {
        name: "v0.1",
        status: "CURRENT",
        links: vec![Link {
            rel: "self".into(),
            href: format!("http://{host}/v0.1"),
        }],
    }
}

/// `{"versions": [...]}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema: what `versions` renders
pub struct Versions {
    pub versions: Vec<Version>,
}
envelope_schema!(VersionOne, version, Version);
/// `{"extensions": []}`: there are none.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema: what `extensions` renders
pub struct Extensions {
    #[schema(value_type = Vec<Object>)]
    pub extensions: Vec<()>,
}

/// `GET /`.
#[utoipa::path(get, path = "/", tag = "melange", 
    responses((status = 200, description = "The API versions", body = Versions)))]
pub async fn versions(c: Call<'_>) -> Answer {
    Ok(Resp::ok(json!({"versions": [version(c.req)]})))
}

/// `GET /v0.1`.
#[utoipa::path(get, path = "/v0.1", tag = "melange", 
    responses((status = 200, description = "This version", body = VersionOne)))]
pub async fn current(c: Call<'_>) -> Answer {
    Ok(Resp::ok(json!({"version": version(c.req)})))
}

/// `GET /v0.1/extensions`: none.
#[utoipa::path(get, path = "/v0.1/extensions", tag = "melange", 
    responses((status = 200, description = "The extensions: none", body = Extensions)))]
pub async fn extensions(_: Call<'_>) -> Answer {
    Ok(Resp::ok(json!({"extensions": []})))
}

/// `GET /v0.1/extensions/{alias}`: there are none, so every alias is a 404.
#[utoipa::path(get, path = "/v0.1/extensions/{alias}", tag = "melange", 
    responses((status = 404, description = "There are no extensions", body = crate::fault::MelangeFault)))]
pub async fn extension(c: Call<'_>) -> Answer {
    let alias = c.param("alias");
    Err(Fault::not_found(format!(
        "Extension with alias {alias} does not exist"
    )))
}
