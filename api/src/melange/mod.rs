//! The Melange v0.1 surface (seed 004), route for route: paths, verbs, status codes and JSON
//! shapes of the spec, with ipledger's decisions where the spec is vague. This file is the
//! surface's router: its rows and nothing else. Handlers live in one file per resource, with
//! what they share in `common.rs`, their bodies in `body*.rs` and their shapes in `wire*.rs`.

pub mod addresses;
pub mod blocks;
pub mod body;
pub mod body_interfaces;
pub mod common;
pub mod instances;
pub mod interfaces;
pub mod ip_routes;
pub mod macs;
pub mod nat;
pub mod networks;
pub mod policies;
pub mod versions;
pub mod wire;
pub mod wire_interfaces;

use crate::kit::{row, Route};

#[rustfmt::skip]
pub static ROUTES: &[Route] = &[
    // Versions and extensions (versions.rs).
    row!("GET", "/", Public, versions::versions),
    row!("GET", "/v0.1", Public, versions::current),
    row!("GET", "/v0.1/extensions", Public, versions::extensions),
    row!("GET", "/v0.1/extensions/{alias}", Public, versions::extension),
    // Blocks and subnets (blocks.rs).
    row!("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks", Tenant, blocks::list),
    row!("POST", "/v0.1/ipam/tenants/{tenant}/ip_blocks", Tenant, blocks::create),
    row!("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}", Tenant, blocks::show),
    row!("PUT", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}", Tenant, blocks::update),
    row!("DELETE", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}", Tenant, blocks::delete),
    row!("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/subnets", Tenant, blocks::list_subnets),
    row!("POST", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/subnets", Tenant, blocks::create_subnet),
    row!("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/heatmap", Tenant, blocks::heatmap),
    // Addresses (addresses.rs).
    row!("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses", Tenant, addresses::list),
    row!("POST", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses", Tenant, addresses::allocate),
    row!("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}", Tenant, addresses::show),
    row!("DELETE", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}", Tenant, addresses::deallocate),
    row!("PUT", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/restore", Tenant, addresses::restore),
    row!("GET", "/v0.1/ipam/tenants/{tenant}/allocated_ip_addresses", Tenant, addresses::allocated),
    row!("GET", "/v0.1/ipam/allocated_ip_addresses", Admin, addresses::allocated_all),
    // Policies, unusable ranges and octets (policies.rs).
    row!("GET", "/v0.1/ipam/tenants/{tenant}/policies", Tenant, policies::list),
    row!("POST", "/v0.1/ipam/tenants/{tenant}/policies", Tenant, policies::create),
    row!("GET", "/v0.1/ipam/tenants/{tenant}/policies/{policy}", Tenant, policies::show),
    row!("PUT", "/v0.1/ipam/tenants/{tenant}/policies/{policy}", Tenant, policies::update),
    row!("DELETE", "/v0.1/ipam/tenants/{tenant}/policies/{policy}", Tenant, policies::delete),
    row!("GET", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_ranges", Tenant, policies::list_ranges),
    row!("POST", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_ranges", Tenant, policies::create_range),
    row!("GET", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_ranges/{range}", Tenant, policies::show_range),
    row!("PUT", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_ranges/{range}", Tenant, policies::update_range),
    row!("DELETE", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_ranges/{range}", Tenant, policies::delete_range),
    row!("GET", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_octets", Tenant, policies::list_octets),
    row!("POST", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_octets", Tenant, policies::create_octet),
    row!("GET", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_octets/{octet}", Tenant, policies::show_octet),
    row!("PUT", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_octets/{octet}", Tenant, policies::update_octet),
    row!("POST", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_octets/{octet}", Tenant, policies::update_octet_by_post),
    row!("DELETE", "/v0.1/ipam/tenants/{tenant}/policies/{policy}/unusable_ip_octets/{octet}", Tenant, policies::delete_octet),
    // Static routes of a block (ip_routes.rs).
    row!("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_routes", Tenant, ip_routes::list),
    row!("POST", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_routes", Tenant, ip_routes::create),
    row!("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_routes/{route}", Tenant, ip_routes::show),
    row!("PUT", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_routes/{route}", Tenant, ip_routes::update),
    row!("DELETE", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_routes/{route}", Tenant, ip_routes::delete),
    // NAT (nat.rs): the spec's admin paths and the original's tenant-scoped ones.
    row!("GET", "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_globals", Admin, nat::list_globals),
    row!("POST", "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_globals", Admin, nat::assign_globals),
    row!("DELETE", "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_globals", Admin, nat::remove_globals),
    row!("DELETE", "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_globals/{global}", Admin, nat::remove_global),
    row!("GET", "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_locals", Admin, nat::list_locals),
    row!("POST", "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_locals", Admin, nat::assign_locals),
    row!("DELETE", "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_locals", Admin, nat::remove_locals),
    row!("DELETE", "/v0.1/ipam/ip_blocks/{block}/ip_addresses/{address}/inside_locals/{local}", Admin, nat::remove_local),
    row!("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_globals", Tenant, nat::list_globals_of_tenant),
    row!("POST", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_globals", Tenant, nat::assign_globals_of_tenant),
    row!("DELETE", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_globals", Tenant, nat::remove_globals_of_tenant),
    row!("DELETE", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_globals/{global}", Tenant, nat::remove_global_of_tenant),
    row!("GET", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_locals", Tenant, nat::list_locals_of_tenant),
    row!("POST", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_locals", Tenant, nat::assign_locals_of_tenant),
    row!("DELETE", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_locals", Tenant, nat::remove_locals_of_tenant),
    row!("DELETE", "/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses/{address}/inside_locals/{local}", Tenant, nat::remove_local_of_tenant),
    // Interfaces and allowed IPs (interfaces.rs).
    row!("POST", "/v0.1/ipam/interfaces", Admin, interfaces::create),
    row!("DELETE", "/v0.1/ipam/interfaces/{vif}", Admin, interfaces::delete),
    row!("GET", "/v0.1/ipam/tenants/{tenant}/interfaces/{vif}", Tenant, interfaces::show),
    row!("GET", "/v0.1/ipam/tenants/{tenant}/interfaces/{vif}/allowed_ips", Tenant, interfaces::list_allowed),
    row!("POST", "/v0.1/ipam/tenants/{tenant}/interfaces/{vif}/allowed_ips", Tenant, interfaces::allow),
    row!("GET", "/v0.1/ipam/tenants/{tenant}/interfaces/{vif}/allowed_ips/{address}", Tenant, interfaces::show_allowed),
    row!("DELETE", "/v0.1/ipam/tenants/{tenant}/interfaces/{vif}/allowed_ips/{address}", Tenant, interfaces::disallow),
    // Network allocations and the spec's tenant delete door (networks.rs).
    row!("DELETE", "/v0.1/ipam/tenants/{tenant}/networks/{network}/interfaces/{vif}", Tenant, networks::delete_interface),
    row!("GET", "/v0.1/ipam/tenants/{tenant}/networks/{network}/interfaces/{vif}/ip_allocations", Tenant, networks::list),
    row!("POST", "/v0.1/ipam/tenants/{tenant}/networks/{network}/interfaces/{vif}/ip_allocations", Tenant, networks::allocate),
    row!("DELETE", "/v0.1/ipam/tenants/{tenant}/networks/{network}/interfaces/{vif}/ip_allocations", Tenant, networks::release),
    // Instance interfaces (instances.rs).
    row!("GET", "/v0.1/ipam/instances/{device}/interfaces", Admin, instances::list),
    row!("PUT", "/v0.1/ipam/instances/{device}/interfaces", Admin, instances::replace),
    row!("POST", "/v0.1/ipam/instances/{device}/interfaces", Admin, instances::add),
    row!("DELETE", "/v0.1/ipam/instances/{device}/interfaces", Admin, instances::delete_all),
    row!("GET", "/v0.1/ipam/instances/{device}/interfaces/{vif}", Admin, instances::show),
    row!("DELETE", "/v0.1/ipam/instances/{device}/interfaces/{vif}", Admin, instances::delete),
    row!("POST", "/v0.1/ipam/instances/{device}/interfaces/{vif}/ip_addresses", Admin, instances::allocate),
    row!("DELETE", "/v0.1/ipam/instances/{device}/interfaces/{vif}/ip_addresses", Admin, instances::release),
    // The spec's own spelling of the release route (singular `instance`), served as written.
    row!("DELETE", "/v0.1/ipam/instance/{device}/interfaces/{vif}/ip_addresses", Admin, instances::release_singular),
    // MAC ranges (macs.rs).
    row!("GET", "/v0.1/ipam/mac_address_ranges", Admin, macs::list),
    row!("POST", "/v0.1/ipam/mac_address_ranges", Admin, macs::create),
    row!("GET", "/v0.1/ipam/mac_address_ranges/{range}", Admin, macs::show),
    row!("DELETE", "/v0.1/ipam/mac_address_ranges/{range}", Admin, macs::delete),
];

/// The operations of the rows above.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    versions::versions,
    versions::current,
    versions::extensions,
    versions::extension,
    blocks::list,
    blocks::create,
    blocks::show,
    blocks::update,
    blocks::delete,
    blocks::list_subnets,
    blocks::create_subnet,
    blocks::heatmap,
    addresses::list,
    addresses::allocate,
    addresses::show,
    addresses::deallocate,
    addresses::restore,
    addresses::allocated,
    addresses::allocated_all,
    policies::list,
    policies::create,
    policies::show,
    policies::update,
    policies::delete,
    policies::list_ranges,
    policies::create_range,
    policies::show_range,
    policies::update_range,
    policies::delete_range,
    policies::list_octets,
    policies::create_octet,
    policies::show_octet,
    policies::update_octet,
    policies::update_octet_by_post,
    policies::delete_octet,
    ip_routes::list,
    ip_routes::create,
    ip_routes::show,
    ip_routes::update,
    ip_routes::delete,
    nat::list_globals,
    nat::assign_globals,
    nat::remove_globals,
    nat::remove_global,
    nat::list_locals,
    nat::assign_locals,
    nat::remove_locals,
    nat::remove_local,
    nat::list_globals_of_tenant,
    nat::assign_globals_of_tenant,
    nat::remove_globals_of_tenant,
    nat::remove_global_of_tenant,
    nat::list_locals_of_tenant,
    nat::assign_locals_of_tenant,
    nat::remove_locals_of_tenant,
    nat::remove_local_of_tenant,
    interfaces::create,
    interfaces::delete,
    interfaces::show,
    interfaces::list_allowed,
    interfaces::allow,
    interfaces::show_allowed,
    interfaces::disallow,
    networks::delete_interface,
    networks::list,
    networks::allocate,
    networks::release,
    instances::list,
    instances::replace,
    instances::add,
    instances::delete_all,
    instances::show,
    instances::delete,
    instances::allocate,
    instances::release,
    instances::release_singular,
    macs::list,
    macs::create,
    macs::show,
    macs::delete,
))]
pub struct Api;
