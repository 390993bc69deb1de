//! Wire helpers every surface shares: timestamps as `YYYY-MM-DDTHH:MM:SS` UTC (decision 21)
//! and paginated collections with their next link. The shapes of records live with their
//! surface (`melange/wire.rs`, `auth/wire.rs`, `requests/wire.rs`).

use ipledger_domain::Timestamp;
use ipledger_projections::Page;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
#[cfg(debug_assertions)]
use serde_json::json;

use crate::kit::Encoded;
use crate::request::Request;

pub fn timestamp(t: &Timestamp) -> String {
    // The format parsed once, not per call: formatting is per field of every item of a
    // page, and parsing the pattern each time was ~9 % of a large page's CPU.
    static ITEMS: std::sync::LazyLock<Vec<chrono::format::Item<'static>>> =
        std::sync::LazyLock::new(|| {
            chrono::format::StrftimeItems::new("%Y-%m-%dT%H:%M:%S").collect()
        });
    t.format_with_items(ITEMS.iter()).to_string()
}

/// A paginated collection with its `<collection>_links` next link when more remain
/// (documented by [`collection_schema!`]).
///
/// Encoded straight from the typed items (no `Value` tree: a page of 1,000 addresses spent
/// most of its CPU building and freeing one, issue 8's fairness). The bytes are those
/// `serde_json` writes for the equivalent `Value`, whose objects order their keys: the item
/// types declare their fields in that order, and debug builds (every test) check it.
pub fn collection<T, S: Serialize>(
    req: &Request,
    key: &str,
    page: Page<T>,
    render: impl Fn(&T) -> S,
) -> Encoded {
    let links = page.next_marker.map(|marker| {
        [Link {
            href: req.next_href(marker),
            rel: "next".into(),
        }]
    });
    let mut out = Vec::with_capacity(64 + 320 * page.items.len());
    let mut ser = serde_json::Serializer::new(&mut out);
    let mut map = ser
        .serialize_map(Some(1 + usize::from(links.is_some())))
        .expect("writing to a Vec");
    map.serialize_entry(key, &Items(&page.items, &render))
        .expect("wire types serialize");
    if let Some(links) = &links {
        map.serialize_entry(&format!("{key}_links"), links)
            .expect("wire types serialize");
    }
    map.end().expect("writing to a Vec");
    #[cfg(debug_assertions)]
    {
        let items: Vec<S> = page.items.iter().map(&render).collect();
        let mut value = json!({ key: items });
        if let Some(links) = links {
            value[format!("{key}_links")] = json!(links);
        }
        debug_assert_eq!(
            String::from_utf8_lossy(&out),
            value.to_string(),
            "a wire type of `{key}` must declare its fields in key order"
        );
    }
    Encoded(out)
}

/// A page's items rendered one at a time as they are written, never collected.
struct Items<'a, T, F>(&'a [T], &'a F);

impl<T, S: Serialize, F: Fn(&T) -> S> Serialize for Items<'_, T, F> {
    fn serialize<Z: serde::Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        s.collect_seq(self.0.iter().map(self.1))
    }
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

/// A link of a collection: `rel` `next`, `href` the next page's URL (fields in key order:
/// see [`collection`]).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Link {
    pub href: String,
    pub rel: String,
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
