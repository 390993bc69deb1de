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
    match command {
        Command::CreateBlock(c) => blocks::create(state, c, ctx),
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
    }
}
