//! `decide`: the pure function from (state, command, context) to events and a reply, or a
//! rejection. It reads nothing but its arguments, so deciding twice gives the same result.

use std::net::IpAddr;

use ipledger_domain::records::Reply;
use ipledger_domain::{Event, IdSource, Rejection, Timestamp};
use ipledger_projections::State;

use crate::command::Command;
use crate::{decide_addresses as addresses, decide_blocks as blocks, decide_policies as policies};

/// Deployment settings that rules depend on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// Defaults for a block's `dns1`/`dns2` when none is given (decision 1).
    pub dns1: Option<IpAddr>,
    pub dns2: Option<IpAddr>,
    /// The deployment's IPv6 generator; a block's own `ipv6_generator` overrides it
    /// (decision 11).
    pub ipv6_generator: ipledger_domain::ipv6::Ipv6Generator,
    /// Days an idempotency key's outcome is kept before it is forgotten; `None` keeps it
    /// forever (the deployment default is `limits::IDEMPOTENCY_KEEP_DAYS_DEFAULT`).
    pub idempotency_keep_days: Option<u32>,
    /// Days a deallocated address is kept before the purge removes it (decision 13);
    /// `None` (the default) never purges.
    pub keep_deallocated_days: Option<u32>,
    /// Pending IP requests (held addresses) one agent may have at once; `None` (the
    /// default here; the deployment's is `request_holds_per_agent_max`) is no limit.
    pub request_holds_per_agent_max: Option<usize>,
    /// Hours a request may stay pending before the expiry run releases its hold; `None`
    /// never expires.
    pub request_pending_expiry_hours: Option<u32>,
}

/// What a decision may depend on besides the state: the time and fresh ids, passed in.
pub struct Context<'a> {
    pub now: Timestamp,
    pub ids: &'a mut dyn IdSource,
    pub settings: &'a Settings,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub events: Vec<Event>,
    pub reply: Reply,
}

impl Decision {
    pub fn new(events: Vec<Event>, reply: Reply) -> Self {
        Decision { events, reply }
    }

    /// A command that changes nothing (e.g. restoring an address that is not deallocated).
    pub fn nothing() -> Self {
        Decision {
            events: Vec::new(),
            reply: Reply::Done,
        }
    }
}

pub fn decide(state: &State, command: &Command, ctx: &mut Context) -> Result<Decision, Rejection> {
    within_limits(command)?;
    match command {
        Command::CreateBlock(c) => blocks::create(state, c, ctx),
        Command::Scaleway(c) => crate::decide_scaleway::decide(state, c, ctx),
        Command::Registration(c) => crate::decide_registrations::decide(state, c, ctx),
        Command::Webhook(c) => crate::decide_webhooks::decide(state, c, ctx),
        Command::CreateRoute(c) => crate::decide_routes::create(state, c, ctx),
        Command::UpdateRoute(c) => crate::decide_routes::update(state, c, ctx),
        Command::DeleteRoute {
            tenant,
            block_id,
            route_id,
        } => crate::decide_routes::delete(state, tenant, *block_id, *route_id, ctx),
        Command::AssignNat(c) => crate::decide_nat::assign(state, c, ctx),
        Command::RemoveNat(c) => crate::decide_nat::remove(state, c, ctx),
        Command::PurgeDeallocated { max } => crate::decide_retention::purge(state, *max, ctx),
        Command::ExpireRequests { max } => crate::decide_requests::expire(state, *max, ctx),
        Command::ForgetRecordedCommands { max } => crate::idempotency::forget(state, *max, ctx),
        Command::CreateInterface(spec) => crate::decide_interfaces::create(state, spec, ctx),
        Command::DeleteInterface { vif, scope } => {
            crate::decide_interfaces::delete(state, vif, scope, ctx)
        }
        Command::ReplaceDeviceInterfaces { device, interfaces } => {
            crate::decide_interfaces::replace_device(state, device, interfaces, ctx)
        }
        Command::DeleteDeviceInterfaces { device } => {
            crate::decide_interfaces::delete_device(state, device, ctx)
        }
        Command::AllocateFromNetwork(c) => crate::decide_network::allocate(state, c, ctx),
        Command::ReleaseAddresses(c) => crate::decide_network::release(state, c, ctx),
        Command::AllowIp(c) => crate::decide_interfaces::allow_ip(state, c, ctx),
        Command::DisallowIp {
            tenant,
            vif,
            address,
        } => crate::decide_interfaces::disallow_ip(state, tenant, vif, *address, ctx),
        Command::CreateMacRange { cidr, tenant_id } => {
            crate::decide_macs::create_range(state, cidr, tenant_id, ctx)
        }
        Command::DeleteMacRange { range_id } => {
            crate::decide_macs::delete_range(state, *range_id, ctx)
        }
        Command::UpdateBlock(c) => blocks::update(state, c, ctx),
        Command::DeleteBlock { tenant, block_id } => blocks::delete(state, tenant, *block_id, ctx),
        Command::AllocateAddress(c) => addresses::allocate(state, c, ctx),
        Command::DeallocateAddress {
            tenant,
            block_id,
            address,
        } => addresses::deallocate(state, tenant, *block_id, *address, ctx),
        Command::RestoreAddress {
            tenant,
            block_id,
            address,
        } => addresses::restore(state, tenant, *block_id, *address, ctx),
        Command::CreatePolicy {
            tenant,
            name,
            description,
        } => policies::create(state, tenant, name, description, ctx),
        Command::UpdatePolicy {
            tenant,
            policy_id,
            name,
            description,
        } => policies::update(state, tenant, *policy_id, name, description, ctx),
        Command::DeletePolicy { tenant, policy_id } => {
            policies::delete(state, tenant, *policy_id, ctx)
        }
        Command::CreateUnusableRange {
            tenant,
            policy_id,
            offset,
            length,
        } => policies::create_range(state, tenant, *policy_id, *offset, *length, ctx),
        Command::UpdateUnusableRange {
            tenant,
            policy_id,
            range_id,
            offset,
            length,
        } => policies::update_range(state, tenant, *policy_id, *range_id, *offset, *length, ctx),
        Command::DeleteUnusableRange {
            tenant,
            policy_id,
            range_id,
        } => policies::delete_range(state, tenant, *policy_id, *range_id, ctx),
        Command::CreateUnusableOctet {
            tenant,
            policy_id,
            octet,
        } => policies::create_octet(state, tenant, *policy_id, *octet, ctx),
        Command::UpdateUnusableOctet {
            tenant,
            policy_id,
            octet_id,
            octet,
        } => policies::update_octet(state, tenant, *policy_id, *octet_id, *octet, ctx),
        Command::DeleteUnusableOctet {
            tenant,
            policy_id,
            octet_id,
        } => policies::delete_octet(state, tenant, *policy_id, *octet_id, ctx),
        Command::IssueToken {
            name,
            role,
            secret_sha256,
        } => crate::decide_auth::issue(state, name, role, secret_sha256, ctx),
        Command::RevokeToken { token_id } => crate::decide_auth::revoke(state, *token_id, ctx),
        Command::SubmitRequest(c) => crate::decide_requests::submit(state, c, ctx),
        Command::DecideRequest(c) => crate::decide_requests::decide(state, c, ctx),
        Command::RecordDelivery(c) => crate::decide_requests::record_delivery(state, c, ctx),
        Command::CreatePool(c) => crate::decide_pools::create(state, c, ctx),
        Command::UpdatePool(c) => crate::decide_pools::update(state, c, ctx),
        Command::DeletePool { owner, pool_id } => {
            crate::decide_pools::delete(state, owner.as_deref(), *pool_id, ctx)
        }
        Command::AllocateFromPool(c) => crate::decide_pool_allocations::allocate(state, c, ctx),
        Command::ReleasePoolAllocation {
            owner,
            pool_id,
            identifier,
        } => crate::decide_pools::release(state, owner.as_deref(), *pool_id, identifier, ctx),
    }
}

/// Refuses, before any rule runs, a command that asks for more items than one request may
/// (`ipledger_domain::limits`): the writer's work per command stays bounded.
fn within_limits(command: &Command) -> Result<(), Rejection> {
    use ipledger_domain::limits::*;
    let too_many = |count: usize, max: usize, what: &str| {
        if count > max {
            Err(Rejection::TooLarge(format!(
                "The request has {count} {what}; at most {max} are allowed per request"
            )))
        } else {
            Ok(())
        }
    };
    let spec_addresses =
        |spec: &crate::InterfaceSpec| spec.network.as_ref().map_or(0, |n| n.addresses.len());
    match command {
        Command::ReplaceDeviceInterfaces { interfaces, .. } => {
            too_many(interfaces.len(), INTERFACES_PER_REQUEST_MAX, "interfaces")?;
            let addresses = interfaces.iter().map(spec_addresses).sum();
            too_many(addresses, ADDRESSES_PER_REQUEST_MAX, "addresses")
        }
        Command::CreateInterface(spec) => {
            too_many(spec_addresses(spec), ADDRESSES_PER_REQUEST_MAX, "addresses")
        }
        Command::AllocateFromNetwork(c) => too_many(
            c.network.addresses.len(),
            ADDRESSES_PER_REQUEST_MAX,
            "addresses",
        ),
        Command::AssignNat(c) => {
            too_many(c.partners.len(), NAT_PAIRS_PER_REQUEST_MAX, "NAT partners")
        }
        Command::Scaleway(crate::ScalewayCommand::Release { ip_ids, .. }) => too_many(
            ip_ids.len(),
            ipledger_domain::scaleway::RELEASE_SET_MAX,
            "IPs to release",
        ),
        _ => Ok(()),
    }
}
