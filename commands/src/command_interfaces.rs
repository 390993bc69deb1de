//! The commands of the interface family: interfaces, instance interfaces, network
//! allocations, allowed IPs and MAC ranges. Strings stay as the client sent them where
//! `decide` must answer a 400 naming the field.

use std::net::IpAddr;

/// "Allocate from this network": the network id and its owner tenant, and optionally the
/// exact addresses wanted (all or nothing, decision 12).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkRequest {
    pub id: Option<String>,
    /// The network's owner (the tenant whose blocks make the network).
    pub tenant_id: Option<String>,
    pub addresses: Vec<IpAddr>,
}

/// One interface to create (`POST /ipam/interfaces`, one entry of an instance PUT, or
/// `POST /ipam/instances/{device}/interfaces`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InterfaceSpec {
    /// The caller's vif id; one is made up from the internal id when absent.
    pub vif: Option<String>,
    /// The lessee (required).
    pub tenant_id: Option<String>,
    pub device_id: Option<String>,
    /// Given MAC; otherwise one is taken from the MAC ranges when any exist.
    pub mac_address: Option<String>,
    pub network: Option<NetworkRequest>,
}

/// Which door a delete came through decides who may see the interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterfaceScope {
    /// `DELETE /ipam/interfaces/{vif}`: any tenant's interface.
    Admin,
    /// `DELETE /ipam/tenants/{t}/networks/{n}/interfaces/{vif}`: the tenant must be the
    /// interface's lessee, or own network `n` that the interface is plugged into.
    Tenant { tenant: String, network_id: String },
    /// `/ipam/instances/{device}/interfaces/{vif}`: the interface must be on the device.
    Device(String),
}

/// Allocate addresses from a network onto an interface.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkAllocation {
    pub vif: String,
    pub network: NetworkRequest,
    /// `Some(device)`: the interface must exist on that device (instance route); `None`:
    /// the interface is found or created (Melange's `find_or_configure`).
    pub device_scope: Option<String>,
    /// For an interface created on demand: lessee (defaults to the network owner), device
    /// and MAC. Ignored for an existing interface, except that another lessee is a 409.
    pub lessee: Option<String>,
    pub used_by_device: Option<String>,
    pub mac_address: Option<String>,
}

/// Soft-deallocate an interface's live addresses: all of them, or those in one network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseAddresses {
    pub vif: String,
    pub device_scope: Option<String>,
    /// (owner, network id): only the addresses in that tenant's network.
    pub network: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowIp {
    pub tenant: String,
    pub vif: String,
    pub network_id: Option<String>,
    pub ip_address: Option<String>,
}
