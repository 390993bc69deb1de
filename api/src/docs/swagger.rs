//! Swagger UI at `/docs`, over `/openapi.json`. The assets come from `utoipa-swagger-ui`
//! (vendored and embedded at build time: no download when building, no network when
//! serving); the online validator badge is off, so the page fetches nothing but this server.

use std::sync::{Arc, LazyLock};

use utoipa_swagger_ui::Config;
use warp::http::StatusCode;

use crate::fault::Fault;
use crate::kit::{unknown_resource, Answer, Body, Call, Resp};

/// Where the page finds the document, and no validator (it would call out).
static CONFIG: LazyLock<Arc<Config<'static>>> =
    LazyLock::new(|| Arc::new(Config::new(["/openapi.json"]).validator_url("none")));

/// One asset by its file name, or the 404 of an unknown path.
fn asset(name: &str) -> Answer {
    let file = utoipa_swagger_ui::serve(name, CONFIG.clone())
        .map_err(|e| {
            Fault::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Swagger UI asset {name}: {e}"),
            )
        })?
        .ok_or_else(unknown_resource)?;
    let mut bytes = file.bytes.into_owned();
    if name == "index.html" {
        // The page links its assets relatively (`./swagger-ui.css`); served at `/docs`
        // (no trailing slash) they would resolve beside it, at the root.
        bytes = String::from_utf8_lossy(&bytes)
            .replace("\"./", "\"/docs/")
            .into_bytes();
    }
    Ok(Resp {
        status: StatusCode::OK,
        body: Body::Owned {
            content_type: file.content_type,
            bytes,
        },
    })
}

/// `GET /docs`: the Swagger UI page.
#[utoipa::path(get, path = "/docs", tag = "docs",
    responses((status = 200, description = "The Swagger UI page", content_type = "text/html", body = String)))]
pub async fn index(_: Call<'_>) -> Answer {
    asset("index.html")
}

/// `GET /docs/{file}`: the page's scripts, styles and icons.
#[utoipa::path(get, path = "/docs/{file}", tag = "docs",
    responses((status = 200, description = "A Swagger UI asset (script, style sheet, icon)", content_type = "application/octet-stream", body = String)))]
pub async fn file(c: Call<'_>) -> Answer {
    asset(c.param("file"))
}
