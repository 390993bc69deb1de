//! The table of every route the service answers: each surface's rows (method, pattern, who
//! may call it, the handler), one line per surface. The server finds a request's row here
//! (404/405 when none fits), authorization reads its scope, the dispatcher calls its handler,
//! and the tenant-isolation test walks the same table (a row without a test case fails the
//! suite). A new route is a row in its surface's `mod.rs`; a new surface is one line in each list below.

use std::sync::LazyLock;

use crate::fault::Fault;
use crate::kit::{method_not_allowed, unknown_resource};

pub use crate::kit::{Route, Scope};

/// Every row of every surface.
pub static ROUTES: LazyLock<Vec<Route>> = LazyLock::new(|| {
    [
        crate::admin::ROUTES,
        crate::audit::ROUTES,
        crate::auth::ROUTES,
        crate::history::ROUTES,
        crate::docs::ROUTES,
        crate::melange::ROUTES,
        crate::pools::ROUTES,
        crate::registrations::ROUTES,
        crate::requests::ROUTES,
        crate::scaleway::ROUTES,
        crate::webhooks::ROUTES,
    ]
    .concat()
});

/// Every surface's operations (its `Api`, declared beside its rows in its `mod.rs`), in the
/// order of [`ROUTES`]: the OpenAPI document merges them (`docs::spec`), and a test holds
/// them to the rows, method and path.
pub static DOCS: &[fn() -> utoipa::openapi::OpenApi] = &[
    <crate::admin::Api as utoipa::OpenApi>::openapi,
    <crate::audit::Api as utoipa::OpenApi>::openapi,
    <crate::auth::Api as utoipa::OpenApi>::openapi,
    <crate::docs::Api as utoipa::OpenApi>::openapi,
    <crate::history::Api as utoipa::OpenApi>::openapi,
    <crate::melange::Api as utoipa::OpenApi>::openapi,
    <crate::pools::Api as utoipa::OpenApi>::openapi,
    <crate::registrations::Api as utoipa::OpenApi>::openapi,
    <crate::requests::Api as utoipa::OpenApi>::openapi,
    <crate::scaleway::Api as utoipa::OpenApi>::openapi,
    <crate::webhooks::Api as utoipa::OpenApi>::openapi,
];

pub use ipledger_domain::limits::SEGMENT_BYTES_MAX;

/// The table row for a request, if any (see [`Route::matches`]).
pub fn find(method: &str, segments: &[&str]) -> Option<&'static Route> {
    ROUTES
        .iter()
        .find(|route| route.method == method && route.matches(segments))
}

/// The methods with a row for this path: what a 405's `Allow` header lists (RFC 9110
/// §15.5.6: a 405 must name them).
pub fn allowed_methods(segments: &[&str]) -> Vec<&'static str> {
    let mut methods: Vec<&'static str> = ROUTES
        .iter()
        .filter(|r| r.matches(segments))
        .map(|r| r.method)
        .collect();
    methods.sort_unstable();
    methods.dedup();
    methods
}

/// Whether a path id (a tenant, a block's id, an address, a vif, ... after percent-decoding)
/// is in the documented safe set (README, "Limits"): 1 to [`SEGMENT_BYTES_MAX`] bytes of
/// ASCII letters, digits and `. _ ~ : -` (RFC 3986's unreserved characters, and `:` for IPv6
/// addresses), and not `.` or `..`. Anything else could mean two things: a `/` or `%2F`
/// inside an id, a trailing space, a NUL, dot segments a proxy would fold, or letters that
/// look alike in another script (issue 8, defect 8).
pub fn path_id_ok(id: &str) -> bool {
    (1..=SEGMENT_BYTES_MAX).contains(&id.len())
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~:-".contains(&b))
}

/// The row that answers a request, or the fault that does: 400 for an overlong segment or a
/// placeholder's id outside the safe set ([`path_id_ok`]), 405 when another method has a row
/// for the path, 404 when nothing does. The one place path ids are checked.
pub fn resolve(method: &str, segments: &[&str]) -> Result<&'static Route, Fault> {
    if segments.iter().any(|s| s.len() > SEGMENT_BYTES_MAX) {
        return Err(Fault::bad_request(format!(
            "A path segment is longer than {SEGMENT_BYTES_MAX} bytes"
        )));
    }
    match find(method, segments) {
        Some(route) => match route
            .params(segments)
            .iter()
            .find(|(_, id)| !path_id_ok(id))
        {
            Some((name, _)) => Err(Fault::bad_request(format!(
                "Invalid {name} in the path: ids are 1 to {SEGMENT_BYTES_MAX} letters, digits \
                 and . _ ~ : - (not . or ..)"
            ))),
            None => Ok(route),
        },
        None if ROUTES.iter().any(|r| r.matches(segments)) => Err(method_not_allowed()),
        None => Err(unknown_resource()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::admit::{authorize, Principal};
    use ipledger_domain::auth::Role;

    fn segments(pattern: &str) -> Vec<&str> {
        pattern.split('/').filter(|s| !s.is_empty()).collect()
    }

    #[test]
    fn rows_are_unique_and_found_by_their_own_pattern() {
        for (i, route) in ROUTES.iter().enumerate() {
            let found = find(route.method, &segments(route.pattern)).expect("a row finds itself");
            assert!(
                std::ptr::eq(found, &ROUTES[i]),
                "{} {} is shadowed by an earlier row",
                route.method,
                route.pattern
            );
        }
    }

    /// Two rows of one method overlap when some path fits both: same length, and at every
    /// position a placeholder or the same literal.
    fn overlap(a: &Route, b: &Route) -> bool {
        let (a, b) = (segments(a.pattern), segments(b.pattern));
        a.len() == b.len()
            && a.iter()
                .zip(&b)
                .all(|(x, y)| x.starts_with('{') || y.starts_with('{') || x == y)
    }

    #[test]
    fn no_path_fits_two_rows_of_one_method() {
        // The surfaces' lists are concatenated in an arbitrary order: the answer to a request
        // must not depend on it.
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(
                    a.method != b.method || !overlap(a, b),
                    "{} {} and {} overlap",
                    a.method,
                    a.pattern,
                    b.pattern
                );
            }
        }
    }

    #[test]
    fn tenant_placeholder_is_extracted() {
        let segs = ["v0.1", "ipam", "tenants", "acme", "ip_blocks"];
        let route = find("GET", &segs).unwrap();
        assert_eq!(route.scope, Scope::Tenant);
        assert_eq!(route.tenant_of(&segs), Some("acme"));
        assert_eq!(route.params(&segs), vec![("tenant", "acme")]);
        assert!(find("PATCH", &segs).is_none());
        assert_eq!(resolve("PATCH", &segs).unwrap_err().status, 405);
        assert_eq!(resolve("GET", &["nowhere"]).unwrap_err().status, 404);
    }

    #[test]
    fn path_ids_outside_the_safe_set_are_400() {
        // A tenant id like "acme " or "a/b" (sent as %2F) was taken as given (issue 8,
        // defect 8): one tenant could be written so that it reads as another.
        for ok in [
            "acme",
            "t-15",
            "A.b_c~d",
            "2001:db8::1",
            "10.0.0.1",
            "0190f6a4-0000-7000-8000-000000000000",
        ] {
            assert!(path_id_ok(ok), "{ok}");
            let segs = ["v0.1", "ipam", "tenants", ok, "ip_blocks"];
            assert!(resolve("GET", &segs).is_ok(), "{ok}");
        }
        let long = "a".repeat(SEGMENT_BYTES_MAX + 1);
        for bad in [
            "acme ",
            "a/b",
            "\0",
            "caf\u{e9}",
            ".",
            "..",
            "a%b",
            "a+b",
            "<x>",
            "",
            long.as_str(),
        ] {
            assert!(!path_id_ok(bad), "{bad:?}");
            let segs = ["v0.1", "ipam", "tenants", bad, "ip_blocks"];
            assert_eq!(resolve("GET", &segs).unwrap_err().status, 400, "{bad:?}");
        }
        let segs = [
            "v0.1",
            "ipam",
            "tenants",
            "acme",
            "ip_blocks",
            "a b",
            "ip_addresses",
            "x",
        ];
        assert_eq!(resolve("GET", &segs).unwrap_err().status, 400);
    }

    fn allowed(role: &str, method: &str, path: &str) -> bool {
        let principal = Principal {
            actor: "t".into(),
            role: Role::parse(role).expect("role"),
        };
        let segs = segments(path);
        let row = find(method, &segs).expect("a row");
        authorize(&principal, row, &segs).is_ok()
    }

    #[test]
    fn decision_24_rules() {
        let own = "/v0.1/ipam/tenants/acme/ip_blocks";
        assert!(allowed("admin", "GET", own));
        assert!(allowed("tenant:acme", "GET", own));
        assert!(!allowed("tenant:globex", "GET", own));
        assert!(!allowed("agent", "GET", own));
        assert!(!allowed(
            "tenant:acme",
            "GET",
            "/v0.1/ipam/allocated_ip_addresses"
        ));
        assert!(!allowed("agent", "GET", "/v1/events"));
        assert!(allowed("admin", "GET", "/v1/events"));
        assert!(allowed("agent", "GET", "/healthz"));
    }
}
