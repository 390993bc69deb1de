//! The API described: the OpenAPI 3.1 document (`crate::openapi`: each surface's operations
//! merged, then what every operation shares added from its route row in one place), served
//! by `spec.rs` at `/openapi`
//! (and `/openapi.json`, the suffix rule every path has), and Swagger UI over it at `/docs`
//! (`swagger.rs`, its assets compiled into the binary). This file is the surface's router:
//! its rows, and its operations beside them.

pub mod spec;
pub mod swagger;

use crate::kit::{row, Route};

#[rustfmt::skip]
pub static ROUTES: &[Route] = &[
    row!("GET", "/openapi", Public, spec::document),
    row!("GET", "/docs", Public, swagger::index),
    row!("GET", "/docs/{file}", Public, swagger::file),
];

/// The operations of the rows above (`routes::DOCS` lists every surface's).
#[derive(utoipa::OpenApi)]
#[openapi(paths(spec::document, swagger::index, swagger::file))]
pub struct Api;
