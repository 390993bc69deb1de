//! The audit surface (issue 11): what an auditor reads to hold the log to account. Only rows
//! here; the handlers live in the files beside it.

pub mod head;

use crate::kit::{row, Route};

#[rustfmt::skip]
pub static ROUTES: &[Route] = &[
    row!("GET", "/v1/audit/head", Admin, head::head),
];

/// The operations of the rows above.
#[derive(utoipa::OpenApi)]
#[openapi(paths(head::head))]
pub struct Api;
