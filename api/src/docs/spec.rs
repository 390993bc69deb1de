//! `GET /openapi` (and `/openapi.json`): the OpenAPI 3.1 document `crate::openapi` builds.

use warp::http::StatusCode;

use crate::kit::{Answer, Body, Call, Resp};

/// `GET /openapi` (`/openapi.json`): this document.
#[utoipa::path(get, path = "/openapi", tag = "docs",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Object)))]
pub async fn document(_: Call<'_>) -> Answer {
    Ok(Resp {
        status: StatusCode::OK,
        body: Body::Owned {
            content_type: "application/json".into(),
            bytes: crate::openapi::json().as_bytes().to_vec(),
        },
    })
}
