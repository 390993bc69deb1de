//! Wire helpers every surface shares: timestamps as `YYYY-MM-DDTHH:MM:SS` UTC (decision 21)
//! and paginated collections with their next link. The shapes of records live with their
//! surface (`melange/wire.rs`, `auth/wire.rs`, `requests/wire.rs`).

use ipledger_domain::Timestamp;
use ipledger_projections::Page;
use serde_json::{json, Value};

use crate::request::Request;

pub fn timestamp(t: &Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// A paginated collection with its `<collection>_links` next link when more remain.
pub fn collection<T>(
    req: &Request,
    key: &str,
    page: Page<T>,
    render: impl Fn(&T) -> Value,
) -> Value {
    let items: Vec<Value> = page.items.iter().map(render).collect();
    let mut out = json!({ key: items });
    if let Some(marker) = page.next_marker {
        out[format!("{key}_links")] = json!([{"rel": "next", "href": req.next_href(marker)}]);
    }
    out
}

/// A count of addresses: a JSON number while it fits in u64, else a decimal string (an IPv6
/// block's size does not fit).
pub fn count(n: u128) -> Value {
    match u64::try_from(n) {
        Ok(small) => json!(small),
        Err(_) => json!(n.to_string()),
    }
}
