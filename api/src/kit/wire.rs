//! Wire helpers every surface shares: timestamps as `YYYY-MM-DDTHH:MM:SS` UTC (decision 21)
//! and paginated collections with their next link. The shapes of records live with their
//! surface (`melange/wire.rs`, `auth/wire.rs`, `requests/wire.rs`).

use ipledger_domain::Timestamp;
use ipledger_projections::Page;
use serde::Serialize;
use serde_json::{json, Value};

use crate::request::Request;

pub fn timestamp(t: &Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// A paginated collection with its `<collection>_links` next link when more remain
/// (documented by [`collection_schema!`]).
pub fn collection<T, S: Serialize>(
    req: &Request,
    key: &str,
    page: Page<T>,
    render: impl Fn(&T) -> S,
) -> Value {
    let items: Vec<S> = page.items.iter().map(render).collect();
    let mut out = json!({ key: items });
    if let Some(marker) = page.next_marker {
        out[format!("{key}_links")] = json!([Link {
            rel: "next".into(),
            href: req.next_href(marker),
        }]);
    }
    out
}

/// A count of addresses: a number up to 2^64 - 1, a decimal string beyond (an IPv6 block's
/// size does not fit in a JSON number).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Count {
    Number(u64),
    Text(String),
}

pub fn count(n: u128) -> Count {
    match u64::try_from(n) {
        Ok(small) => Count::Number(small),
        Err(_) => Count::Text(n.to_string()),
    }
}

/// A link of a collection: `rel` `next`, `href` the next page's URL.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Link {
    pub rel: String,
    pub href: String,
}

/// The schema of what [`collection`] renders under `key` (`$key`), for the OpenAPI document:
/// `collection_schema!(Tokens, tokens, tokens_links, Token)`.
macro_rules! collection_schema {
    ($name:ident, $key:ident, $links:ident, $item:ty) => {
        #[doc = concat!("`{\"", stringify!($key), "\": [...]}` and, when more remain, `", stringify!($links), "` (the next page).")]
        #[derive(utoipa::ToSchema)]
        #[allow(dead_code)] // a schema: what `collection` renders
        pub struct $name {
            pub $key: Vec<$item>,
            pub $links: Option<Vec<$crate::kit::wire::Link>>,
        }
    };
}
pub(crate) use collection_schema;

/// The schema of `{"<key>": <item>}`, the envelope most answers put their object in:
/// `envelope_schema!(TokenOne, token, Token)`.
macro_rules! envelope_schema {
    ($name:ident, $key:ident, $item:ty) => {
        #[doc = concat!("`{\"", stringify!($key), "\": ...}`")]
        #[derive(utoipa::ToSchema)]
        #[allow(dead_code)] // a schema: what the handlers render
        pub struct $name {
            pub $key: $item,
        }
    };
}
pub(crate) use envelope_schema;
