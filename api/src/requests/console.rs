//! The review console "IPAM › IP Requests" (issue 4): three static files compiled into the
//! binary (`api/static/console/`), served at `/console/`. No build toolchain: plain HTML, CSS
//! and JavaScript that talk to the review API with an admin token kept in the browser tab's
//! `sessionStorage`. The files are public; every API call they make is authenticated.

use bytes::Bytes;
use warp::http::{HeaderValue, Method, StatusCode};

use crate::request::Request;

const INDEX_HTML: &str = include_str!("../../static/console/index.html");
const CONSOLE_CSS: &str = include_str!("../../static/console/console.css");
const CONSOLE_JS: &str = include_str!("../../static/console/console.js");

/// The console file a GET asks for, as a finished response; None for any other request.
pub fn asset(req: &Request) -> Option<warp::reply::Response> {
    if req.method != Method::GET {
        return None;
    }
    let (body, content_type) = match req.seg().as_slice() {
        ["console"] | ["console", "index.html"] => (INDEX_HTML, "text/html; charset=utf-8"),
        ["console", "console.css"] => (CONSOLE_CSS, "text/css; charset=utf-8"),
        ["console", "console.js"] => (CONSOLE_JS, "text/javascript; charset=utf-8"),
        _ => return None,
    };
    let mut reply = warp::reply::Response::new(Bytes::from_static(body.as_bytes()).into());
    *reply.status_mut() = StatusCode::OK;
    let headers = reply.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(content_type));
    headers.insert("cache-control", HeaderValue::from_static("no-cache"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    // Only this origin's own files and API: no inline script, no third-party anything.
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'"),
    );
    Some(reply)
}
