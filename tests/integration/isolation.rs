//! Tenant isolation for every route (decision 24; issue 3: "a test fails when a new route has
//! no case"). The test walks every row of `ipledger_api::routes::ROUTES` and requires a case
//! for it in [`cases`]; a row without a case, or a case without a row, fails the suite.
//!
//! Each case gets a fresh world: an owner tenant with one of everything (see [`fixture`]), a
//! token for the owner, one for another tenant, and an agent token. Then, by the row's scope:
//! - Tenant: no token → 401; agent → 403; the other tenant on the owner's path → 403; the
//!   other tenant on ITS OWN path naming the owner's objects → 404 (when the path names
//!   objects; otherwise an answer that shows none of the owner's ids); the owner → success.
//! - Admin: no token → 401; the owner tenant's token → 403; agent → 403; admin → success.
//! - Agent: no token → 401; a tenant token → 403; the agent → success.
//! - Public: no token → success.
//!
//! Adding a route: add its row to its surface's `mod.rs` (`ROUTES` joins the surfaces'
//! rows), then one line to [`cases`]: `case("POST", "<the row's pattern>")`, with
//! `.body(json!(..))` when it takes one (strings like `"{block}"` or `"10.{n}.5.0/24"` are
//! filled from the fixture by key), `.bind("address", "nat_address")` to fill a path
//! placeholder from another fixture object, and `.expect(404)` when the route's normal answer
//! is not a 2xx. If a placeholder names something new, create it in [`fixture`] under the
//! placeholder's name.

use std::collections::BTreeMap;

use futures::stream::{self, StreamExt};
use ipledger_api::routes::{Scope, ROUTES};
use serde_json::{json, Value};

use crate::support::{Client, Res, TestServer};

/// Fixture objects by name: placeholder values (`block`, `address`, ...) and helpers (`n`).
type Ids = BTreeMap<String, String>;

struct Case {
    method: &'static str,
    pattern: &'static str,
    body: Option<Value>,
    /// (placeholder, fixture key): fill `{placeholder}` from another fixture object.
    bind: Vec<(&'static str, &'static str)>,
    /// The status of the route's normal answer; None: any 2xx.
    expect: Option<u16>,
    /// The answer is a stream that does not end (SSE): judged on its status and headers.
    open_ended: bool,
}

fn case(method: &'static str, pattern: &'static str) -> Case {
    Case {
        method,
        pattern,
        body: None,
        bind: Vec::new(),
        expect: None,
        open_ended: false,
    }
}

impl Case {
    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    fn bind(mut self, placeholder: &'static str, key: &'static str) -> Self {
        self.bind.push((placeholder, key));
        self
    }

    fn open_ended(mut self) -> Self {
        self.open_ended = true;
        self
    }

    fn expect(mut self, status: u16) -> Self {
        self.expect = Some(status);
        self
    }
}

/// One case per row of `ROUTES`.
fn cases() -> Vec<Case> {
    let nat_body =
        json!({"ip_addresses": [{"ip_block_id": "{nat_block}", "ip_address": "{nat_address}"}]});
    let nat_back = json!({"ip_addresses": [{"ip_block_id": "{block}", "ip_address": "{address}"}]});
    let locals = |c: Case| c.bind("block", "nat_block").bind("address", "nat_address");
    vec![
        case("GET", "/"),
        case("GET", "/healthz"),
        case("GET", "/readyz"),
        case("GET", "/metrics"),
        case("GET", "/v0.1"),
        case("GET", "/v0.1/extensions"),
        case("GET", "/v0.1/extensions/{alias}").expect(404),
        case("GET", "/v1/events"),
        case("GET", "/v1/events/stream").open_ended(),
        case("GET", "/v1/events/export"),
        case("GET", "/v1/audit/head"),
        case("POST", "/v1/auth/tokens").body(json!({"name": "iso-new-{n}", "role": "tenant:{tenant}"})),
        case("GET", "/v1/auth/tokens"),
        case("DELETE", "/v1/auth/tokens/{token}"),
        case("POST", "/v1/admin/purge"),
        case("POST", "/v1/admin/registrations/cleanup"),
        // Blocks and subnets.
        case("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks"),
        case("POST", "/v0.1/ipam/tenants/{tenant}/ip_blocks")
            .body(json!({"ip_block": {"type": "private", "cidr": "10.{n}.5.0/24", "policy_id": "{policy}"}})),
        case("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}"),
        case("PUT", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}")
            .body(json!({"ip_block": {"network_id": "net-{n}"}})),
        case("DELETE", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}").bind("block", "empty_block"),
        case("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/subnets"),
        case("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/heatmap"),
        case("POST", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/subnets")
            .bind("block", "empty_block")
            .body(json!({"subnet": {"cidr": "10.{n}.1.0/26"}})),
        // Addresses.
        case("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses"),
        case("POST", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses"),
        case("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}"),
        case("DELETE", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}"),
        case("PUT", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/restore"),
        case("GET", "/v0.1/ipam/tenants/{tenant}/allocated_ip_addresses"),
        case("GET", "/v0.1/ipam/allocated_ip_addresses"),
        // Policies, unusable ranges and octets.
        case("GET", "/v0.1/ipam/tenants/{tenant}/policies"),
        case("POST", "/v0.1/ipam/tenants/{tenant}/policies").body(json!({"policy": {"name": "p-{n}"}})),
        case("GET", "/v0.1/ipam/tenants/{tenant}/policies/{policy}"),
        case("PUT", "/v0.1/ipam/tenants/{tenant}/policies/{policy}").body(json!({"policy": {"name": "renamed"}})),
        case("DELETE", "/v0.1/ipam/tenants/{tenant}/policies/{policy}"),
        case("GET", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_ranges"),
        case("POST", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_ranges")
            .body(json!({"ip_range": {"offset": 1, "length": 2}})),
        case("GET", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_ranges/{range}"),
        case("PUT", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_ranges/{range}")
            .body(json!({"ip_range": {"length": 3}})),
        case("DELETE", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_ranges/{range}"),
        case("GET", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_octets"),
        case("POST", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_octets")
            .body(json!({"ip_octet": {"octet": 5}})),
        case("GET", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_octets/{octet}"),
        case("PUT", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_octets/{octet}")
            .body(json!({"ip_octet": {"octet": 6}})),
        case("POST", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_octets/{octet}")
            .body(json!({"ip_octet": {"octet": 7}})),
        case("DELETE", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_octets/{octet}"),
        // Static routes of a block.
        case("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_routes"),
        case("POST", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_routes")
            .body(json!({"ip_route": {"destination": "192.168.{n}.0", "netmask": "255.255.255.0", "gateway": "10.{n}.0.1"}})),
        case("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_routes/{route}"),
        case("PUT", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_routes/{route}")
            .body(json!({"ip_route": {"gateway": "10.{n}.0.3"}})),
        case("DELETE", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_routes/{route}"),
        // NAT at the spec's admin paths and the original's tenant-scoped ones.
        case("GET", "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_globals"),
        case("POST", "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_globals").body(nat_body.clone()),
        case("DELETE", "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_globals"),
        case("DELETE", "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_globals/{global}")
            .bind("global", "nat_address"),
        locals(case("GET", "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_locals")),
        locals(case("POST", "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_locals")).body(nat_back.clone()),
        locals(case("DELETE", "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_locals")),
        locals(case("DELETE", "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_locals/{local}"))
            .bind("local", "address"),
        case("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_globals"),
        case("POST", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_globals")
            .body(nat_body),
        case("DELETE", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_globals"),
        case("DELETE", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_globals/{global}")
            .bind("global", "nat_address"),
        locals(case("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_locals")),
        locals(case("POST", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_locals"))
            .body(nat_back),
        locals(case("DELETE", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_locals")),
        locals(case("DELETE", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_locals/{local}"))
            .bind("local", "address"),
        // Interfaces, allowed IPs, network allocations, instance interfaces, MAC ranges
        // (fixture: `interface_fixture`).
        case("POST", "/v0.1/ipam/interfaces").body(json!({"interface": {"id": "iso-vif-new-{n}", "tenant_id": "{tenant}", "network": {"id": "{network}", "tenant_id": "{tenant}"}}})),
        case("DELETE", "/v0.1/ipam/interfaces/{vif}"),
        case("GET", "/v0.1/ipam/tenants/{tenant}/interfaces/{vif}"),
        case("GET", "/v0.1/ipam/tenants/{tenant}/interfaces/{vif}/allowed_ips"),
        case("POST", "/v0.1/ipam/tenants/{tenant}/interfaces/{vif}/allowed_ips")
            .body(json!({"allowed_ip": {"network_id": "{network}", "ip_address": "{vif_address}"}})),
        case("GET", "/v0.1/ipam/tenants/{tenant}/interfaces/{vif}/allowed_ips/{address}").bind("address", "vif_address"),
        case("DELETE", "/v0.1/ipam/tenants/{tenant}/interfaces/{vif}/allowed_ips/{address}").bind("address", "vif_address"),
        case("DELETE", "/v0.1/ipam/tenants/{tenant}/networks/{network}/interfaces/{vif}"),
        case("GET", "/v0.1/ipam/tenants/{tenant}/networks/{network}/interfaces/{vif}/ip_allocations"),
        case("POST", "/v0.1/ipam/tenants/{tenant}/networks/{network}/interfaces/{vif}/ip_allocations"),
        case("DELETE", "/v0.1/ipam/tenants/{tenant}/networks/{network}/interfaces/{vif}/ip_allocations"),
        case("GET", "/v0.1/ipam/instances/{device}/interfaces"),
        case("PUT", "/v0.1/ipam/instances/{device}/interfaces")
            .body(json!({"instance": {"tenant_id": "{tenant}", "interfaces": [{"network": {"id": "{network}", "tenant_id": "{tenant}"}}]}})),
        case("POST", "/v0.1/ipam/instances/{device}/interfaces")
            .body(json!({"interface": {"tenant_id": "{tenant}", "network": {"id": "{network}", "tenant_id": "{tenant}"}}})),
        case("DELETE", "/v0.1/ipam/instances/{device}/interfaces"),
        case("GET", "/v0.1/ipam/instances/{device}/interfaces/{vif}"),
        case("DELETE", "/v0.1/ipam/instances/{device}/interfaces/{vif}"),
        case("POST", "/v0.1/ipam/instances/{device}/interfaces/{vif}/ip_addresses")
            .body(json!({"network": {"id": "{network}", "tenant_id": "{tenant}"}})),
        case("DELETE", "/v0.1/ipam/instances/{device}/interfaces/{vif}/ip_addresses"),
        case("DELETE", "/v0.1/ipam/instance/{device}/interfaces/{vif}/ip_addresses"),
        case("GET", "/v0.1/ipam/mac_address_ranges"),
        case("POST", "/v0.1/ipam/mac_address_ranges").body(json!({"mac_address_range": {"cidr": "{mac_cidr}"}})),
        case("GET", "/v0.1/ipam/mac_address_ranges/{range}").bind("range", "mac_range"),
        case("DELETE", "/v0.1/ipam/mac_address_ranges/{range}").bind("range", "mac_range"),
        // IP requests: the fixture's request holds 10.{n}.2.50 in the NAT block.
        case("POST", "/v1/agent/ipam/request").body(json!({"ip": "10.{n}.2.60"})),
        case("GET", "/v1/ipam/requests"),
        case("GET", "/v1/ipam/requests/{request}"),
        case("POST", "/v1/ipam/requests/{request}/approve"),
        case("POST", "/v1/ipam/requests/{request}/reject").body(json!({"reason": "isolation"})),
        // Zone registrations (issue 10; fixture: `registration_fixture`).
        case("POST", "/").body(json!({"ip_family": "ipv4", "zone": "{zone}", "secret": "iso-new-secret-{n}", "service": {"service_name": "iso-new", "namespace_id": "{reg_uuid}", "cluster_id": "{reg_uuid}"}})),
        case("POST", "/v2/address").body(json!({"address": "{reg_address}/32", "ip_family": "ipv4", "zone": "{zone}", "secret": "iso-secret-{n}", "service": {"service_name": "iso-svc", "namespace_id": "{reg_uuid}", "cluster_id": "{reg_uuid}", "retention_period_days": 1, "deny_external_cleanup": false}})),
        case("DELETE", "/").body(json!({"address": "{reg_address}/32", "ip_family": "ipv4", "zone": "{zone}", "secret": "iso-secret-{n}", "service": {"service_name": "iso-svc", "namespace_id": "{reg_uuid}", "cluster_id": "{reg_uuid}", "retention_period_days": 1, "deny_external_cleanup": false}})),
        case("DELETE", "/v2/service").body(json!({"address": "{reg_address}/32", "ip_family": "ipv4", "zone": "{zone}", "secret": "iso-secret-{n}", "service": {"service_name": "iso-svc", "namespace_id": "{reg_uuid}", "cluster_id": "{reg_uuid}", "retention_period_days": 1, "deny_external_cleanup": false}})),
        case("GET", "/v1/zones"),
        case("GET", "/v1/registrations"),
        case("GET", "/v1/registrations/{zone}/{address}/history").bind("address", "reg_address"),
        case("POST", "/v1/registrations/clusters/{cluster}/expire").bind("cluster", "reg_uuid"),
        case("POST", "/v1/registrations/{zone}/{address}/services/expire")
            .bind("address", "reg_address")
            .body(json!({"service_name": "iso-svc", "namespace_id": "{reg_uuid}", "cluster_id": "{reg_uuid}"})),
        case("PUT", "/v1/registrations/{zone}/{address}/secret")
            .bind("address", "reg_address")
            .body(json!({"new_secret": "iso-replaced-{n}"})),
        case("POST", "/v1/registrations/{zone}/{address}/check-secret")
            .bind("address", "reg_address")
            .body(json!({"secret": "iso-secret-{n}"})),
        // Resource pools (issue 9 §2): every row Owned.
        case("POST", "/v1/pools").body(json!({"name": "iso", "kind": "address", "tenant_id": "{tenant}", "resources": ["{pool_block}"]})),
        case("GET", "/v1/pools"),
        case("GET", "/v1/pools/{pool}"),
        case("PUT", "/v1/pools/{pool}").body(json!({"name": "renamed"})),
        case("DELETE", "/v1/pools/{pool}").bind("pool", "empty_pool"),
        case("POST", "/v1/pools/{pool}/allocations").body(json!({"identifier": "iso-new"})),
        case("GET", "/v1/pools/{pool}/allocations"),
        case("POST", "/v1/pools/{pool}/allocations/batch").body(json!({"allocations": [{"identifier": "iso-b"}, {}]})),
        case("GET", "/v1/pools/{pool}/allocations/{identifier}"),
        case("DELETE", "/v1/pools/{pool}/allocations/{identifier}"),
        case("GET", "/v1/pools/{pool}/utilization"),
        // Webhooks (issue 11 §4): admins only.
        case("POST", "/v1/webhooks").body(json!({"url": "http://127.0.0.1:9/iso-new"})),
        case("GET", "/v1/webhooks"),
        case("GET", "/v1/webhooks/{webhook}"),
        case("DELETE", "/v1/webhooks/{webhook}"),
        case("GET", "/v1/history/addresses/{address}"),
        case("GET", "/v1/history/blocks/{block}"),
        case("GET", "/v1/history/requests/{request}"),
        case("GET", "/v1/history/ips/{ip}").bind("ip", "scw_ip"),
        case("GET", "/v1/history/pools/{pool}"),
        case("GET", "/v1/history/registrations/{zone}/{address}").bind("address", "reg_address"),
        case("GET", "/v1/history/interfaces/{vif}"),
        case("GET", "/console"),
        case("GET", "/console/{asset}"),
        // The API described (docs/): public.
        case("GET", "/openapi"),
        case("GET", "/docs"),
        case("GET", "/docs/{file}"),
        // The Scaleway IPAM v1 surface (fixture: `scaleway_fixture`; `Owned` rows).
        case("POST", "/ipam/v1/regions/{region}/ips")
            .body(json!({"source": {"subnet_id": "{block}"}, "is_ipv6": false, "project_id": "{tenant}"})),
        case("GET", "/ipam/v1/regions/{region}/ips"),
        case("GET", "/ipam/v1/regions/{region}/ips/{ip}").bind("ip", "scw_ip"),
        case("PATCH", "/ipam/v1/regions/{region}/ips/{ip}").bind("ip", "scw_ip").body(json!({"tags": ["iso"]})),
        case("DELETE", "/ipam/v1/regions/{region}/ips/{ip}").bind("ip", "scw_ip"),
        case("POST", "/ipam/v1/regions/{region}/ip-sets/release").body(json!({"ip_ids": ["{scw_ip}"]})),
        case("POST", "/ipam/v1/regions/{region}/ips/{ip}/attach")
            .bind("ip", "scw_ip")
            .body(json!({"resource": {"mac_address": "02:00:00:00:00:0b"}})),
        case("POST", "/ipam/v1/regions/{region}/ips/{ip}/detach")
            .bind("ip", "scw_attached")
            .body(json!({"resource": {"mac_address": "02:00:00:00:00:0a"}})),
        case("POST", "/ipam/v1/regions/{region}/ips/{ip}/move")
            .bind("ip", "scw_attached")
            .body(json!({"from_resource": {"mac_address": "02:00:00:00:00:0a"}, "to_resource": {"mac_address": "02:00:00:00:00:0b"}})),
    ]
}

/// A pending IP request of the NAT block (an agent-route POST, made by the admin).
async fn request_fixture(admin: &Client, n: usize, ids: &mut Ids) -> Result<(), String> {
    let ip = format!("10.{n}.2.50");
    create(admin, "/v1/agent/ipam/request", json!({"ip": ip}), "").await?;
    let r = admin.get(&format!("/v1/ipam/requests?ip={ip}")).await;
    let id = r
        .json
        .pointer("/requests/0/id")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("fixture request for {ip} not listed: {}", r.text))?;
    ids.insert("request".into(), id.to_string());
    ids.insert("asset".into(), "console.js".into());
    ids.insert("file".into(), "swagger-ui.css".into());
    Ok(())
}

/// An interface of `tenant` (device `iso-vm-{n}`) on the tenant's network `iso-net-{n}`
/// with one address, and a MAC range it took its MAC from.
async fn interface_fixture(
    admin: &Client,
    tenant: &str,
    n: usize,
    ids: &mut Ids,
) -> Result<(), String> {
    let mac_cidr = format!("02:{:02X}:{:02X}:00:00:00/40", n / 256, n % 256);
    let body = json!({"mac_address_range": {"cidr": mac_cidr}});
    let mac_range = create(
        admin,
        "/v0.1/ipam/mac_address_ranges",
        body,
        "/mac_address_range/id",
    )
    .await?;
    let (network, vif, device) = (
        format!("iso-net-{n}"),
        format!("iso-vif-{n}"),
        format!("iso-vm-{n}"),
    );
    let body = json!({"ip_block": {"type": "private", "cidr": format!("10.{n}.3.0/24"), "network_id": network}});
    create(
        admin,
        &format!("/v0.1/ipam/tenants/{tenant}/ip_blocks"),
        body,
        "/ip_block/id",
    )
    .await?;
    let body = json!({"interface": {"id": vif, "tenant_id": tenant, "device_id": device, "network": {"id": network, "tenant_id": tenant}}});
    let vif_address = create(
        admin,
        "/v0.1/ipam/interfaces",
        body,
        "/interface/ip_addresses/0/address",
    )
    .await?;
    for (k, v) in [
        ("mac_cidr", mac_cidr),
        ("mac_range", mac_range),
        ("network", network),
        ("vif", vif),
        ("device", device),
        ("vif_address", vif_address),
    ] {
        ids.insert(k.into(), v);
    }
    Ok(())
}

#[test]
fn every_route_has_exactly_one_case() {
    let cases = cases();
    let missing: Vec<String> = ROUTES
        .iter()
        .filter(|r| {
            !cases
                .iter()
                .any(|c| c.method == r.method && c.pattern == r.pattern)
        })
        .map(|r| format!("{} {}", r.method, r.pattern))
        .collect();
    let stale: Vec<String> = cases
        .iter()
        .filter(|c| {
            !ROUTES
                .iter()
                .any(|r| c.method == r.method && c.pattern == r.pattern)
        })
        .map(|c| format!("{} {}", c.method, c.pattern))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    let twice: Vec<String> = cases
        .iter()
        .map(|c| format!("{} {}", c.method, c.pattern))
        .filter(|k| !seen.insert(k.clone()))
        .collect();
    assert!(
        missing.is_empty() && stale.is_empty() && twice.is_empty(),
        "isolation.rs cases() must have exactly one case per row of routes::ROUTES.\n\
         rows without a case: {missing:#?}\ncases without a row: {stale:#?}\ncases given twice: {twice:#?}"
    );
}

/// POSTs `body` as admin and returns the string at `pointer` of the answer (or "" for none).
async fn create(admin: &Client, path: &str, body: Value, pointer: &str) -> Result<String, String> {
    let r = admin.post(path, body).await;
    if !r.status.is_success() {
        return Err(format!("fixture POST {path} gave {}: {}", r.status, r.text));
    }
    if pointer.is_empty() {
        return Ok(String::new());
    }
    r.json
        .pointer(pointer)
        .and_then(|v| {
            v.as_str()
                .map(str::to_string)
                .or_else(|| Some(v.to_string()))
        })
        .ok_or_else(|| format!("fixture POST {path}: no {pointer} in {}", r.text))
}

/// One of everything for `tenant`, created by the admin; `n` keeps CIDRs and names apart.
async fn fixture(admin: &Client, tenant: &str, n: usize) -> Result<Ids, String> {
    let mut ids = Ids::new();
    ids.insert("n".into(), n.to_string());
    ids.insert("alias".into(), "no-such-extension".into());
    let t = format!("/v0.1/ipam/tenants/{tenant}");
    let block_body = |cidr: String| json!({"ip_block": {"type": "private", "cidr": cidr}});
    let block = create(
        admin,
        &format!("{t}/ip_blocks"),
        block_body(format!("10.{n}.0.0/24")),
        "/ip_block/id",
    )
    .await?;
    let addresses = format!("{t}/ip_blocks/{block}/ip_addresses");
    let address = create(admin, &addresses, json!({}), "/ip_address/address").await?;
    let empty = create(
        admin,
        &format!("{t}/ip_blocks"),
        block_body(format!("10.{n}.1.0/24")),
        "/ip_block/id",
    )
    .await?;
    let nat_block = create(
        admin,
        &format!("{t}/ip_blocks"),
        block_body(format!("10.{n}.2.0/24")),
        "/ip_block/id",
    )
    .await?;
    let nat_addresses = format!("{t}/ip_blocks/{nat_block}/ip_addresses");
    let nat_address = create(admin, &nat_addresses, json!({}), "/ip_address/address").await?;
    let nat = format!("/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_globals");
    let pair = json!({"ip_addresses": [{"ip_block_id": nat_block, "ip_address": nat_address}]});
    create(admin, &nat, pair, "").await?;
    let route = json!({"ip_route": {"destination": format!("192.168.{n}.0"), "netmask": "255.255.255.0", "gateway": format!("10.{n}.0.1")}});
    let route = create(
        admin,
        &format!("{t}/ip_blocks/{block}/ip_routes"),
        route,
        "/ip_route/id",
    )
    .await?;
    let policy = create(
        admin,
        &format!("{t}/policies"),
        json!({"policy": {"name": "fixture"}}),
        "/policy/id",
    )
    .await?;
    let rules = format!("{t}/policies/{policy}");
    let range = create(
        admin,
        &format!("{rules}/unusable_ip_ranges"),
        json!({"ip_range": {"offset": 0, "length": 1}}),
        "/ip_range/id",
    )
    .await?;
    let octet = create(
        admin,
        &format!("{rules}/unusable_ip_octets"),
        json!({"ip_octet": {"octet": 9}}),
        "/ip_octet/id",
    )
    .await?;
    let token = create(
        admin,
        "/v1/auth/tokens",
        json!({"name": format!("iso-fixture-{n}"), "role": "agent"}),
        "/token/id",
    )
    .await?;
    for (k, v) in [
        ("block", block),
        ("address", address),
        ("empty_block", empty),
        ("nat_block", nat_block),
        ("nat_address", nat_address),
        ("route", route),
        ("policy", policy),
        ("range", range),
        ("octet", octet),
        ("token", token),
    ] {
        ids.insert(k.into(), v);
    }
    interface_fixture(admin, tenant, n, &mut ids).await?;
    scaleway_fixture(admin, tenant, &mut ids).await?;
    request_fixture(admin, n, &mut ids).await?;
    pool_fixture(admin, tenant, n, &mut ids).await?;
    registration_fixture(admin, tenant, n, &mut ids).await?;
    Ok(ids)
}

/// Two Scaleway IPs of the owner's project in its first block: one detached, one attached
/// to a custom resource with MAC `02:00:00:00:00:0a`.
async fn scaleway_fixture(admin: &Client, tenant: &str, ids: &mut Ids) -> Result<(), String> {
    ids.insert("region".into(), "fr-par".into());
    let ips = "/ipam/v1/regions/fr-par/ips";
    let source = json!({"subnet_id": ids["block"]});
    let ip = create(
        admin,
        ips,
        json!({"source": source, "is_ipv6": false, "project_id": tenant}),
        "/id",
    )
    .await?;
    let resource = json!({"mac_address": "02:00:00:00:00:0a"});
    let body =
        json!({"source": source, "is_ipv6": false, "project_id": tenant, "resource": resource});
    let attached = create(admin, ips, body, "/id").await?;
    ids.insert("scw_ip".into(), ip);
    ids.insert("scw_attached".into(), attached);
    Ok(())
}

/// An address pool over a block of its own with one allocation (`identifier`), and an
/// empty pool (the one deleted).
async fn pool_fixture(admin: &Client, tenant: &str, n: usize, ids: &mut Ids) -> Result<(), String> {
    let block = create(
        admin,
        &format!("/v0.1/ipam/tenants/{tenant}/ip_blocks"),
        json!({"ip_block": {"type": "private", "cidr": format!("10.{n}.8.0/24")}}),
        "/ip_block/id",
    )
    .await?;
    let body = json!({"name": "iso", "kind": "address", "tenant_id": tenant, "resources": [block]});
    let pool = create(admin, "/v1/pools", body.clone(), "/pool/id").await?;
    let empty = create(admin, "/v1/pools", body, "/pool/id").await?;
    let allocations = format!("/v1/pools/{pool}/allocations");
    create(admin, &allocations, json!({"identifier": "iso-held"}), "").await?;
    ids.insert("pool_block".into(), block);
    ids.insert("pool".into(), pool);
    ids.insert("empty_pool".into(), empty);
    ids.insert("identifier".into(), "iso-held".into());
    Ok(())
}

/// A zone `iso-{n}` (an address pool over a block of its own) with one registration.
async fn registration_fixture(
    admin: &Client,
    tenant: &str,
    n: usize,
    ids: &mut Ids,
) -> Result<(), String> {
    let block = create(
        admin,
        &format!("/v0.1/ipam/tenants/{tenant}/ip_blocks"),
        json!({"ip_block": {"type": "private", "cidr": format!("10.{n}.9.0/24")}}),
        "/ip_block/id",
    )
    .await?;
    let zone = format!("iso-{n}");
    let body = json!({"name": "zone", "kind": "address", "tenant_id": tenant, "resources": [block], "zone": zone});
    create(admin, "/v1/pools", body, "/pool/id").await?;
    let address = format!("10.{n}.9.10");
    let cluster = uuid::Uuid::from_u128(0x150_0000 + n as u128).to_string();
    let body = json!({"address": format!("{address}/32"), "ip_family": "ipv4", "zone": zone, "secret": format!("iso-secret-{n}"), "service": {"service_name": "iso-svc", "namespace_id": cluster, "cluster_id": cluster, "retention_period_days": 1}});
    create(admin, "/v2/address", body, "").await?;
    ids.insert("zone".into(), zone);
    ids.insert("reg_address".into(), address);
    ids.insert("reg_uuid".into(), cluster);
    Ok(())
}

/// The case's path for `tenant` with the fixture's objects.
fn path(case: &Case, tenant: &str, ids: &Ids) -> Result<String, String> {
    let mut out = String::new();
    for seg in case.pattern.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some("tenant") => out.push_str(tenant),
            Some(name) => {
                let key = case
                    .bind
                    .iter()
                    .find(|(p, _)| *p == name)
                    .map_or(name, |(_, k)| *k);
                let value = ids
                    .get(key)
                    .ok_or_else(|| format!("no fixture object for {{{name}}} (key {key})"))?;
                out.push_str(value);
            }
            None => out.push_str(seg),
        }
    }
    Ok(if out.is_empty() { "/".into() } else { out })
}

/// The case's body with `{key}` strings filled from the fixture by key (`bind` is for the
/// path only: a body may name both sides of a pair, e.g. `{block}` and `{nat_block}`).
fn body(case: &Case, tenant: &str, ids: &Ids) -> Option<Value> {
    let mut text = case.body.as_ref()?.to_string();
    for (k, v) in ids {
        text = text.replace(&format!("{{{k}}}"), v);
    }
    text = text.replace("{tenant}", tenant);
    serde_json::from_str(&text).ok()
}

struct World {
    admin: Client,
    agent: Client,
    registrar: Client,
}

/// Who asks, and the answer the case must get.
#[derive(Clone, Copy, Debug)]
enum Want {
    Unauthorized,
    Forbidden,
    NotFound,
    /// Not 401/403/5xx; a 2xx answer must show none of the owner's ids.
    Blind,
    /// Another tenant on an `Owned` row: a read is [`Want::Blind`] or 404; a write is 403
    /// or 404 (it must neither act on nor confirm the owner's objects).
    Shielded,
    /// The route's normal answer.
    Normal,
}

async fn send(c: &Client, case: &Case, path: &str, body: &Option<Value>) -> Res {
    let method = reqwest::Method::from_bytes(case.method.as_bytes()).expect("method");
    if case.open_ended {
        let resp = c
            .http
            .request(method, c.url(path))
            .send()
            .await
            .expect("sent");
        if resp.status().is_success() {
            // The stream stays open: its status and headers are the answer.
            return Res {
                status: resp.status(),
                headers: resp.headers().clone(),
                text: String::new(),
                json: Value::Null,
            };
        }
        return Res::read(resp).await;
    }
    c.send(method, path, body.as_ref(), &[]).await
}

fn judge(
    case: &Case,
    want: Want,
    who: &str,
    path: &str,
    r: &Res,
    owner_ids: &[&String],
) -> Option<String> {
    let s = r.status.as_u16();
    let ok = match want {
        // Melange's fault shape, or Scaleway's under /ipam/v1/.
        Want::Unauthorized => {
            s == 401
                && (r.json.get("Unauthorized").is_some()
                    || r.json["type"] == "denied_authentication")
        }
        Want::Forbidden => s == 403 && r.json.get("Forbidden").is_some(),
        Want::NotFound => s == 404,
        Want::Blind => {
            !matches!(s, 401 | 403 | 500..=599)
                && !(r.status.is_success()
                    && owner_ids.iter().any(|id| r.text.contains(id.as_str())))
        }
        Want::Shielded if case.method == "GET" => {
            matches!(s, 200..=299 | 400 | 404)
                && !(r.status.is_success()
                    && owner_ids.iter().any(|id| r.text.contains(id.as_str())))
        }
        Want::Shielded => matches!(s, 403 | 404),
        Want::Normal => case.expect.map_or(r.status.is_success(), |e| s == e),
    };
    (!ok).then(|| {
        format!(
            "{} {} as {who} ({path}): wanted {want:?}, got {s}: {}",
            case.method,
            case.pattern,
            r.text.chars().take(300).collect::<String>()
        )
    })
}

/// Runs the checks of one case in its own world; returns what went wrong.
async fn check(world: &World, case: &Case, n: usize) -> Vec<String> {
    let (owner, other) = (format!("iso-own-{n}"), format!("iso-oth-{n}"));
    let ids = match fixture(&world.admin, &owner, n).await {
        Ok(ids) => ids,
        Err(e) => return vec![format!("{} {}: {e}", case.method, case.pattern)],
    };
    // Only the webhook cases get an endpoint: their number is bounded (`WEBHOOKS_MAX`).
    let ids = if case.pattern.starts_with("/v1/webhooks") {
        let mut ids = ids;
        // Nothing listens there: the deliverer only retries.
        let body = json!({"url": "http://127.0.0.1:9/iso", "event_types": ["TokenRevoked"]});
        match create(&world.admin, "/v1/webhooks", body, "/webhook/id").await {
            Ok(id) => ids.insert("webhook".into(), id),
            Err(e) => return vec![e],
        };
        ids
    } else {
        ids
    };
    let token = |tenant: String| async move {
        let body = json!({"name": format!("iso-{tenant}"), "role": format!("tenant:{tenant}")});
        create(&world.admin, "/v1/auth/tokens", body, "/token/secret").await
    };
    let (own_token, other_token) = match (token(owner.clone()).await, token(other.clone()).await) {
        (Ok(a), Ok(b)) => (world.admin.with_token(&a), world.admin.with_token(&b)),
        (Err(e), _) | (_, Err(e)) => return vec![e],
    };
    let owner_path = match path(case, &owner, &ids) {
        Ok(p) => p,
        Err(e) => return vec![format!("{} {}: {e}", case.method, case.pattern)],
    };
    let owner_body = body(case, &owner, &ids);
    let owner_ids: Vec<&String> = ids
        .values()
        .filter(|v| uuid::Uuid::parse_str(v).is_ok())
        .collect();
    let anonymous = world.admin.anonymous();
    let scope = ROUTES
        .iter()
        .find(|r| r.method == case.method && r.pattern == case.pattern)
        .map(|r| r.scope);
    let mut plan: Vec<(&str, &Client, String, Want)> = Vec::new();
    let p = |x: &String| x.clone();
    match scope {
        Some(Scope::Tenant) => {
            plan.push(("nobody", &anonymous, p(&owner_path), Want::Unauthorized));
            plan.push(("agent", &world.agent, p(&owner_path), Want::Forbidden));
            plan.push((
                "another tenant",
                &other_token,
                p(&owner_path),
                Want::Forbidden,
            ));
            let names_objects = case.pattern.matches('{').count() > 1;
            let foreign = path(case, &other, &ids).unwrap_or_default();
            let want = if names_objects {
                Want::NotFound
            } else {
                Want::Blind
            };
            plan.push((
                "another tenant on its own path",
                &other_token,
                foreign,
                want,
            ));
            plan.push(("the owner", &own_token, p(&owner_path), Want::Normal));
        }
        Some(Scope::Admin) => {
            plan.push(("nobody", &anonymous, p(&owner_path), Want::Unauthorized));
            plan.push(("a tenant", &own_token, p(&owner_path), Want::Forbidden));
            plan.push(("agent", &world.agent, p(&owner_path), Want::Forbidden));
            plan.push(("admin", &world.admin, p(&owner_path), Want::Normal));
        }
        Some(Scope::Agent) => {
            plan.push(("nobody", &anonymous, p(&owner_path), Want::Unauthorized));
            plan.push(("a tenant", &own_token, p(&owner_path), Want::Forbidden));
            plan.push(("agent", &world.agent, p(&owner_path), Want::Normal));
        }
        Some(Scope::Owned) => {
            plan.push(("nobody", &anonymous, p(&owner_path), Want::Unauthorized));
            plan.push((
                "another tenant",
                &other_token,
                p(&owner_path),
                Want::Shielded,
            ));
            plan.push(("the owner", &own_token, p(&owner_path), Want::Normal));
        }
        Some(Scope::Registrar | Scope::RegistrarOpen) => {
            plan.push(("nobody", &anonymous, p(&owner_path), Want::Unauthorized));
            plan.push(("a tenant", &own_token, p(&owner_path), Want::Forbidden));
            plan.push(("agent", &world.agent, p(&owner_path), Want::Forbidden));
            plan.push(("registrar", &world.registrar, p(&owner_path), Want::Normal));
        }
        Some(Scope::Public) => plan.push(("nobody", &anonymous, p(&owner_path), Want::Normal)),
        None => {
            return vec![format!(
                "{} {}: no row in ROUTES",
                case.method, case.pattern
            )]
        }
    }
    let mut failures = Vec::new();
    for (who, client, path, want) in plan {
        let body = if who == "another tenant on its own path" {
            body(case, &other, &ids)
        } else {
            owner_body.clone()
        };
        let r = send(client, case, &path, &body).await;
        failures.extend(judge(case, want, who, &path, &r, &owner_ids));
    }
    failures
}

#[tokio::test]
async fn every_route_keeps_tenants_apart() {
    // Every case's fixture holds an address with a request made by the admin: more than the
    // per-agent limit of pending requests, which is not what this test is about.
    let tmp = tempfile::tempdir().expect("tempdir");
    let srv = TestServer::start_configured(
        tmp.path(),
        std::sync::Arc::new(ipledger_commands::SystemClock),
        |c| c.request_holds_per_agent_max = 0,
    )
    .await;
    let agent = create(
        &srv,
        "/v1/auth/tokens",
        json!({"name": "iso-agent", "role": "agent"}),
        "/token/secret",
    )
    .await
    .expect("agent token");
    let registrar = create(
        &srv,
        "/v1/auth/tokens",
        json!({"name": "iso-registrar", "role": "registrar"}),
        "/token/secret",
    )
    .await
    .expect("registrar token");
    let world = World {
        admin: srv.client.clone(),
        agent: srv.with_token(&agent),
        registrar: srv.with_token(&registrar),
    };
    let cases = cases();
    let failures: Vec<String> = stream::iter(cases.iter().enumerate())
        .map(|(i, case)| check(&world, case, i + 1))
        .buffer_unordered(4)
        .flat_map(stream::iter)
        .collect()
        .await;
    assert!(
        failures.is_empty(),
        "{} isolation failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
