//! Version discovery (seed 004 "Versions", "Extensions"): `/`, `/v0.1`, and the empty list
//! of extensions.

use serde_json::{json, Value};

use crate::fault::Fault;
use crate::kit::{Answer, Call, Resp};
use crate::request::Request;

fn version(req: &Request) -> Value {
    let host = req.header("host").unwrap_or("localhost");
    json!({"name": "v0.1", "status": "CURRENT", "links": [{"rel": "self", "href": format!("http://{host}/v0.1")}]})
}

/// `GET /`.
pub async fn versions(c: Call<'_>) -> Answer {
    Ok(Resp::ok(json!({"versions": [version(c.req)]})))
}

/// `GET /v0.1`.
pub async fn current(c: Call<'_>) -> Answer {
    Ok(Resp::ok(json!({"version": version(c.req)})))
}

/// `GET /v0.1/extensions`: none.
pub async fn extensions(_: Call<'_>) -> Answer {
    Ok(Resp::ok(json!({"extensions": []})))
}

/// `GET /v0.1/extensions/{alias}`: there are none, so every alias is a 404.
pub async fn extension(c: Call<'_>) -> Answer {
    let alias = c.param("alias");
    Err(Fault::not_found(format!(
        "Extension with alias {alias} does not exist"
    )))
}
