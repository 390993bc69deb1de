//! The commands the API sends to the writer: imperative, in the vocabulary of the IPAM
//! domain. Strings are kept as the client sent them where the 400 answer must list every
//! invalid field at once; `decide` validates them.

use std::net::IpAddr;

use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    CreateBlock(CreateBlock),
    /// The Scaleway IPAM v1 surface (`command_scaleway.rs`).
    Scaleway(crate::ScalewayCommand),
    /// Zone registrations, vitistack ipam-api (`command_registrations.rs`).
    Registration(crate::RegistrationCommand),
    /// Webhook endpoints and their delivery progress (`decide_webhooks.rs`).
    Webhook(crate::WebhookCommand),
    // Static routes, NAT and the retention purge (`command_routing.rs`).
    CreateRoute(crate::RouteChange),
    UpdateRoute(crate::RouteChange),
    DeleteRoute {
        tenant: String,
        block_id: Uuid,
        route_id: Uuid,
    },
    AssignNat(crate::AssignNat),
    RemoveNat(crate::RemoveNat),
    /// Purge up to `max` addresses deallocated longer ago than the retention setting.
    PurgeDeallocated {
        max: usize,
    },
    /// Expire up to `max` IP requests pending longer than `request_pending_expiry_hours`.
    ExpireRequests {
        max: usize,
    },
    /// Forget up to `max` idempotency records older than `idempotency_keep_days`.
    ForgetRecordedCommands {
        max: usize,
    },
    // Interfaces, instance interfaces, network allocations, allowed IPs and MAC ranges
    // (`command_interfaces.rs`).
    CreateInterface(crate::InterfaceSpec),
    DeleteInterface {
        vif: String,
        scope: crate::InterfaceScope,
    },
    /// Instance PUT: delete every interface of the device, then create these.
    ReplaceDeviceInterfaces {
        device: String,
        interfaces: Vec<crate::InterfaceSpec>,
    },
    DeleteDeviceInterfaces {
        device: String,
    },
    AllocateFromNetwork(crate::NetworkAllocation),
    ReleaseAddresses(crate::ReleaseAddresses),
    AllowIp(crate::AllowIp),
    DisallowIp {
        tenant: String,
        vif: String,
        address: IpAddr,
    },
    CreateMacRange {
        cidr: Option<String>,
        tenant_id: Option<String>,
    },
    DeleteMacRange {
        range_id: Uuid,
    },
    UpdateBlock(UpdateBlock),
    DeleteBlock {
        tenant: String,
        block_id: Uuid,
    },
    AllocateAddress(AllocateAddress),
    DeallocateAddress {
        tenant: String,
        block_id: Uuid,
        address: IpAddr,
    },
    RestoreAddress {
        tenant: String,
        block_id: Uuid,
        address: IpAddr,
    },
    CreatePolicy {
        tenant: String,
        name: Option<String>,
        description: Option<String>,
    },
    UpdatePolicy {
        tenant: String,
        policy_id: Uuid,
        name: Option<String>,
        description: Option<Option<String>>,
    },
    DeletePolicy {
        tenant: String,
        policy_id: Uuid,
    },
    CreateUnusableRange {
        tenant: String,
        policy_id: Uuid,
        offset: i64,
        length: u64,
    },
    UpdateUnusableRange {
        tenant: String,
        policy_id: Uuid,
        range_id: Uuid,
        offset: Option<i64>,
        length: Option<u64>,
    },
    DeleteUnusableRange {
        tenant: String,
        policy_id: Uuid,
        range_id: Uuid,
    },
    CreateUnusableOctet {
        tenant: String,
        policy_id: Uuid,
        octet: u8,
    },
    UpdateUnusableOctet {
        tenant: String,
        policy_id: Uuid,
        octet_id: Uuid,
        octet: Option<u8>,
    },
    DeleteUnusableOctet {
        tenant: String,
        policy_id: Uuid,
        octet_id: Uuid,
    },
    /// Issue an access token; the API drew the secret and sends only its SHA-256 (hex).
    IssueToken {
        name: Option<String>,
        role: Option<String>,
        secret_sha256: String,
    },
    RevokeToken {
        token_id: Uuid,
    },
    // IP requests (`command_requests.rs`).
    SubmitRequest(crate::SubmitRequest),
    DecideRequest(crate::DecideRequest),
    RecordDelivery(crate::RecordDelivery),
    // Resource pools (`command_pools.rs`); `owner` limits a tenant token to its own pools.
    CreatePool(crate::CreatePool),
    UpdatePool(crate::UpdatePool),
    DeletePool {
        owner: Option<String>,
        pool_id: Uuid,
    },
    AllocateFromPool(crate::AllocateFromPool),
    ReleasePoolAllocation {
        owner: Option<String>,
        pool_id: Uuid,
        identifier: String,
    },
}

/// Create a root block (`parent_id: None`) or a subnet of `parent_id`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateBlock {
    /// The tenant in the URL: owner of a root block, owner of the parent for a subnet.
    pub tenant: String,
    pub parent_id: Option<Uuid>,
    pub cidr: Option<String>,
    pub block_type: Option<String>,
    pub network_id: Option<String>,
    pub policy_id: Option<String>,
    pub gateway: Option<String>,
    pub dns1: Option<String>,
    pub dns2: Option<String>,
    /// A subnet's own tenant (defaults to the parent's).
    pub subnet_tenant: Option<String>,
    /// `tenant_based`, `eui64` or `sequential`; None uses the deployment's (decision 11).
    pub ipv6_generator: Option<String>,
}

/// Absent fields are left unchanged; `Some(None)` clears a field (the gateway and DNS fall
/// back to their defaults when cleared).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateBlock {
    pub tenant: String,
    pub block_id: Uuid,
    pub block_type: Option<String>,
    pub network_id: Option<Option<String>>,
    pub policy_id: Option<Option<String>>,
    pub gateway: Option<Option<String>>,
    pub dns1: Option<Option<String>>,
    pub dns2: Option<Option<String>>,
    pub ipv6_generator: Option<Option<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllocateAddress {
    pub tenant: String,
    pub block_id: Uuid,
    /// A specific address; None means the next free one.
    pub address: Option<IpAddr>,
    pub interface_id: Option<String>,
    /// The lessee; defaults to the block's owner.
    pub used_by_tenant: Option<String>,
    pub used_by_device: Option<String>,
    pub mac_address: Option<String>,
}
