//! The console (issue 4: "IPAM › IP Requests"; issue 14: blocks with utilization, a block's
//! heat map, an address's holder timeline): three static files compiled into the
//! binary (`api/static/console/`), served at `/console/`. No build toolchain: plain HTML, CSS
//! and JavaScript that talk to the JSON API with an admin token kept in the browser tab's
//! `sessionStorage`. The files are public; every API call they make is authenticated.

use warp::http::StatusCode;

use crate::kit::{unknown_resource, Answer, Body, Call, Resp};

const INDEX_HTML: &str = include_str!("../../static/console/index.html");
const CONSOLE_CSS: &str = include_str!("../../static/console/console.css");
const CONSOLE_JS: &str = include_str!("../../static/console/console.js");

/// Sent with every console file.
const HEADERS: &[(&str, &str)] = &[
    ("cache-control", "no-cache"),
    ("x-content-type-options", "nosniff"),
    // `frame-ancestors` below says the same to browsers that read CSP; this is for the rest.
    ("x-frame-options", "DENY"),
    // Only this origin's own files and API: no inline script, no third-party anything.
    (
        "content-security-policy",
        "default-src 'self'; frame-ancestors 'none'",
    ),
];

/// `GET /console`: the page.
#[utoipa::path(get, path = "/console", tag = "requests",
    responses((status = 200, description = "The review console", content_type = "text/html", body = String)))]
pub async fn index(c: Call<'_>) -> Answer {
    asset(c).await
}

/// `GET /console/{asset}`: the file, or 404 for any other name.
#[utoipa::path(get, path = "/console/{asset}", tag = "requests",
    responses((status = 200, description = "A console file (`index.html`, `console.css`, `console.js`)",
        content(("text/html"), ("text/css"), ("text/javascript")))))]
pub async fn asset(c: Call<'_>) -> Answer {
    let (body, content_type) = match c.param_opt("asset") {
        None | Some("index.html") => (INDEX_HTML, "text/html; charset=utf-8"),
        Some("console.css") => (CONSOLE_CSS, "text/css; charset=utf-8"),
        Some("console.js") => (CONSOLE_JS, "text/javascript; charset=utf-8"),
        Some(_) => return Err(unknown_resource()),
    };
    Ok(Resp {
        status: StatusCode::OK,
        body: Body::File {
            content_type,
            bytes: body.as_bytes(),
            headers: HEADERS,
        },
    })
}
