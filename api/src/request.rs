//! A request as the router sees it: method, path segments (with a `.json`/`.xml` suffix
//! taken off and remembered as the response format), query, headers and the body bytes.

use std::collections::HashMap;

use bytes::Bytes;
use ipledger_projections::page::{PageRequest, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX};
use uuid::Uuid;
use warp::http::{HeaderMap, Method};

use crate::fault::Fault;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

#[derive(Debug)]
pub struct Request {
    pub method: Method,
    pub path: String,
    pub segments: Vec<String>,
    pub format: Format,
    pub query: HashMap<String, String>,
    pub raw_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Who asks: the token's name once `auth::admit` accepted the request (`anonymous` on
    /// public routes and with `--insecure-no-auth`); commands carry it as their actor.
    pub actor: String,
    /// The tenant a tenant token limits the request to (`auth::admit` sets it; None for
    /// admins, agents and public routes): what `Call::owner` answers on `Owned` rows.
    pub owner: Option<String>,
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

impl Request {
    pub fn new(
        method: Method,
        path: &str,
        raw_query: String,
        headers: HeaderMap,
        body: Bytes,
    ) -> Self {
        let mut segments: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect();
        let mut format = accept_format(&headers);
        if let Some(last) = segments.last_mut() {
            // The extension wins over Accept (the spec's rule).
            for (ext, f) in [(".json", Format::Json), (".xml", Format::Xml)] {
                if last.len() > ext.len() && last.ends_with(ext) {
                    last.truncate(last.len() - ext.len());
                    format = f;
                    break;
                }
            }
        }
        let query = serde_urlencoded::from_str::<Vec<(String, String)>>(&raw_query)
            .unwrap_or_default()
            .into_iter()
            .collect();
        Request {
            method,
            path: path.to_string(),
            segments,
            format,
            query,
            raw_query,
            headers,
            body,
            actor: ipledger_domain::auth::ANONYMOUS_ACTOR.to_string(),
            owner: None,
        }
    }

    pub fn seg(&self) -> Vec<&str> {
        self.segments.iter().map(String::as_str).collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `limit` (default 200, capped at 1000) and `marker`; a bad limit is a 400, not a 500.
    pub fn page(&self) -> Result<PageRequest, Fault> {
        let limit = match self.query.get("limit") {
            None => PAGE_LIMIT_DEFAULT,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n > 0 => n.min(PAGE_LIMIT_MAX),
                _ => {
                    return Err(Fault::invalid_field(
                        "limit",
                        "limit should be a positive integer",
                    ))
                }
            },
        };
        // A marker need not exist; one that is not an id lies before every id.
        let marker = self
            .query
            .get("marker")
            .map(|m| Uuid::parse_str(m).unwrap_or(Uuid::nil()));
        Ok(PageRequest { limit, marker })
    }

    /// The absolute URL of the next page: this request's URL with `marker` replaced.
    pub fn next_href(&self, marker: Uuid) -> String {
        let host = self.header("host").unwrap_or("localhost");
        let mut pairs: Vec<(String, String)> =
            serde_urlencoded::from_str::<Vec<(String, String)>>(&self.raw_query)
                .unwrap_or_default()
                .into_iter()
                .filter(|(k, _)| k != "marker")
                .collect();
        pairs.push(("marker".into(), marker.to_string()));
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        format!("http://{host}{}?{query}", self.path)
    }
}

fn accept_format(headers: &HeaderMap) -> Format {
    let accept = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let xml = accept.contains("application/xml") || accept.contains("+xml");
    let json = accept.contains("application/json") || accept.contains("+json");
    if xml && !json {
        Format::Xml
    } else {
        Format::Json
    }
}
