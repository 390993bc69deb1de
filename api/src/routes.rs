//! The table of every route the service answers, with who may call it. Authorization reads
//! it (a path matching no entry is refused), the tenant-isolation test walks it (a route
//! without a test case fails the suite), and the README's route list follows it.
//! Add a row here in the same change that adds a route.

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// No token needed (versions, health).
    Public,
    /// Admins, and tenants for their own `{tenant}` in the path (decision 24).
    Tenant,
    /// Admins only (provider-wide views, MAC ranges, interfaces by vif, instances, tokens).
    Admin,
    /// Agents and admins (the IP request intake).
    Agent,
}

#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    /// Path with `{name}` placeholders; `{tenant}` is the tenant the route is scoped to.
    pub pattern: &'static str,
    pub scope: Scope,
}

const fn r(method: &'static str, pattern: &'static str, scope: Scope) -> Route {
    Route {
        method,
        pattern,
        scope,
    }
}

use Scope::*;

pub static ROUTES: &[Route] = &[
    r("GET", "/", Public),
    r("GET", "/healthz", Public),
    r("GET", "/v0.1", Public),
    r("GET", "/v0.1/extensions", Public),
    r("GET", "/v0.1/extensions/{alias}", Public),
    r("GET", "/v1/events", Admin),
    // Access tokens (auth.rs, auth_tokens.rs).
    r("POST", "/v1/auth/tokens", Admin),
    r("GET", "/v1/auth/tokens", Admin),
    r("DELETE", "/v1/auth/tokens/{token}", Admin),
    // Blocks and subnets.
    r("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks", Tenant),
    r("POST", "/v0.1/ipam/tenants/{tenant}/ip_blocks", Tenant),
    r("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}", Tenant),
    r("PUT", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}", Tenant),
    r("DELETE", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}", Tenant),
    r("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/subnets", Tenant),
    r("POST", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/subnets", Tenant),
    // Addresses.
    r("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses", Tenant),
    r("POST", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses", Tenant),
    r("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}", Tenant),
    r("DELETE", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}", Tenant),
    r("PUT", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/restore", Tenant),
    r("GET", "/v0.1/ipam/tenants/{tenant}/allocated_ip_addresses", Tenant),
    r("GET", "/v0.1/ipam/allocated_ip_addresses", Admin),
    // Policies, unusable ranges and octets.
    r("GET", "/v0.1/ipam/tenants/{tenant}/policies", Tenant),
    r("POST", "/v0.1/ipam/tenants/{tenant}/policies", Tenant),
    r("GET", "/v0.1/ipam/tenants/{tenant}/policies/{policy}", Tenant),
    r("PUT", "/v0.1/ipam/tenants/{tenant}/policies/{policy}", Tenant),
    r("DELETE", "/v0.1/ipam/tenants/{tenant}/policies/{policy}", Tenant),
    r("GET", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_ranges", Tenant),
    r("POST", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_ranges", Tenant),
    r("GET", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_ranges/{range}", Tenant),
    r("PUT", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_ranges/{range}", Tenant),
    r("DELETE", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_ranges/{range}", Tenant),
    r("GET", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_octets", Tenant),
    r("POST", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_octets", Tenant),
    r("GET", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_octets/{octet}", Tenant),
    r("PUT", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_octets/{octet}", Tenant),
    r("POST", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_octets/{octet}", Tenant),
    r("DELETE", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_octets/{octet}", Tenant),
    // Static routes of a block (melange_routes.rs).
    r("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_routes", Tenant),
    r("POST", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_routes", Tenant),
    r("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_routes/{route}", Tenant),
    r("PUT", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_routes/{route}", Tenant),
    r("DELETE", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_routes/{route}", Tenant),
    // NAT (melange_nat.rs): the spec's admin paths and the original's tenant-scoped ones.
    r("GET", "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_globals", Admin),
    r("POST", "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_globals", Admin),
    r("DELETE", "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_globals", Admin),
    r("DELETE", "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_globals/{global}", Admin),
    r("GET", "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_locals", Admin),
    r("POST", "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_locals", Admin),
    r("DELETE", "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_locals", Admin),
    r("DELETE", "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_locals/{local}", Admin),
    r("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_globals", Tenant),
    r("POST", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_globals", Tenant),
    r("DELETE", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_globals", Tenant),
    r("DELETE", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_globals/{global}", Tenant),
    r("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_locals", Tenant),
    r("POST", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_locals", Tenant),
    r("DELETE", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_locals", Tenant),
    r("DELETE", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_locals/{local}", Tenant),
    // The retention purge, now (retention.rs).
    r("POST", "/v1/admin/purge", Admin),
    // Interfaces and allowed IPs (melange_interfaces.rs), network allocations and the spec's
    // tenant delete door (melange_networks.rs), instance interfaces (melange_instances.rs),
    // MAC ranges (melange_macs.rs).
    r("POST", "/v0.1/ipam/interfaces", Admin),
    r("DELETE", "/v0.1/ipam/interfaces/{vif}", Admin),
    r("GET", "/v0.1/ipam/tenants/{tenant}/interfaces/{vif}", Tenant),
    r("GET", "/v0.1/ipam/tenants/{tenant}/interfaces/{vif}/allowed_ips", Tenant),
    r("POST", "/v0.1/ipam/tenants/{tenant}/interfaces/{vif}/allowed_ips", Tenant),
    r("GET", "/v0.1/ipam/tenants/{tenant}/interfaces/{vif}/allowed_ips/{address}", Tenant),
    r("DELETE", "/v0.1/ipam/tenants/{tenant}/interfaces/{vif}/allowed_ips/{address}", Tenant),
    r("DELETE", "/v0.1/ipam/tenants/{tenant}/networks/{network}/interfaces/{vif}", Tenant),
    r("GET", "/v0.1/ipam/tenants/{tenant}/networks/{network}/interfaces/{vif}/ip_allocations", Tenant),
    r("POST", "/v0.1/ipam/tenants/{tenant}/networks/{network}/interfaces/{vif}/ip_allocations", Tenant),
    r("DELETE", "/v0.1/ipam/tenants/{tenant}/networks/{network}/interfaces/{vif}/ip_allocations", Tenant),
    r("GET", "/v0.1/ipam/instances/{device}/interfaces", Admin),
    r("PUT", "/v0.1/ipam/instances/{device}/interfaces", Admin),
    r("POST", "/v0.1/ipam/instances/{device}/interfaces", Admin),
    r("DELETE", "/v0.1/ipam/instances/{device}/interfaces", Admin),
    r("GET", "/v0.1/ipam/instances/{device}/interfaces/{vif}", Admin),
    r("DELETE", "/v0.1/ipam/instances/{device}/interfaces/{vif}", Admin),
    r("POST", "/v0.1/ipam/instances/{device}/interfaces/{vif}/ip_addresses", Admin),
    r("DELETE", "/v0.1/ipam/instances/{device}/interfaces/{vif}/ip_addresses", Admin),
    // The spec's own spelling of the release route (singular `instance`), served as written.
    r("DELETE", "/v0.1/ipam/instance/{device}/interfaces/{vif}/ip_addresses", Admin),
    r("GET", "/v0.1/ipam/mac_address_ranges", Admin),
    r("POST", "/v0.1/ipam/mac_address_ranges", Admin),
    r("GET", "/v0.1/ipam/mac_address_ranges/{range}", Admin),
    r("DELETE", "/v0.1/ipam/mac_address_ranges/{range}", Admin),
    // IP requests (ipam_requests.rs): the agent intake and the admin review API.
    r("POST", "/v1/agent/ipam/request", Agent),
    r("GET", "/v1/ipam/requests", Admin),
    r("GET", "/v1/ipam/requests/{request}", Admin),
    r("POST", "/v1/ipam/requests/{request}/approve", Admin),
    r("POST", "/v1/ipam/requests/{request}/reject", Admin),
    // The review console's static files (console.rs): public, the page signs in itself.
    r("GET", "/console", Public),
    r("GET", "/console/{asset}", Public),
    // New routes go above this line, grouped by family.
];

/// The table row for a request, if any: literal segments must match, placeholders match any
/// one segment. The path is the one the router sees (`.json`/`.xml` suffix removed).
pub fn find(method: &str, segments: &[&str]) -> Option<&'static Route> {
    ROUTES.iter().find(|route| {
        let pattern: Vec<&str> = route.pattern.split('/').filter(|s| !s.is_empty()).collect();
        route.method == method
            && pattern.len() == segments.len()
            && pattern
                .iter()
                .zip(segments)
                .all(|(p, s)| p.starts_with('{') || p == s)
    })
}

/// The `{tenant}` segment of a request on a route that has one.
pub fn tenant_of<'a>(route: &Route, segments: &[&'a str]) -> Option<&'a str> {
    let pattern = route.pattern.split('/').filter(|s| !s.is_empty());
    pattern
        .zip(segments)
        .find(|(p, _)| *p == "{tenant}")
        .map(|(_, s)| *s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_unique_and_found_by_their_own_pattern() {
        for (i, route) in ROUTES.iter().enumerate() {
            let segs: Vec<&str> = route.pattern.split('/').filter(|s| !s.is_empty()).collect();
            let found = find(route.method, &segs).expect("a row finds itself");
            assert!(
                std::ptr::eq(found, &ROUTES[i]),
                "{} {} is shadowed by an earlier row",
                route.method,
                route.pattern
            );
        }
    }

    #[test]
    fn tenant_placeholder_is_extracted() {
        let segs = ["v0.1", "ipam", "tenants", "acme", "ip_blocks"];
        let route = find("GET", &segs).unwrap();
        assert_eq!(route.scope, Scope::Tenant);
        assert_eq!(tenant_of(route, &segs), Some("acme"));
        assert!(find("PATCH", &segs).is_none());
    }
}
