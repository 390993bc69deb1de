//! The given/when/then harness for `decide`.
//!
//! `given(&[commands])` decides each command against the state so far and folds its events
//! (a given command that is rejected fails the test: the scenario itself is wrong), `when`
//! decides one more command without changing the scenario, and the `then_*` methods check
//! the events or the rejection. Everything is deterministic: ids come from
//! [`SequentialIds`], so the n-th id handed out in a scenario is `id(n)` (every created
//! block, address, policy, range and octet takes one), and the time is always [`now`].

use std::net::IpAddr;

use chrono::{TimeZone, Utc};
use ipledger_domain::events::*;
use ipledger_domain::ids::SequentialIds;
use ipledger_domain::records::Reply;
use ipledger_domain::{Envelope, Event, Rejection, Timestamp};
use ipledger_projections::State;
use ipnet::IpNet;
use uuid::Uuid;

use crate::command::{AllocateAddress, Command, CreateBlock, UpdateBlock};
use crate::command_interfaces::{InterfaceScope, InterfaceSpec, NetworkRequest};
use crate::decide::{decide, Context, Decision, Settings};

pub const T1: &str = "tenant-1";
pub const T2: &str = "tenant-2";

/// The time every command of every scenario is decided at.
pub fn now() -> Timestamp {
    Utc.with_ymd_and_hms(2012, 2, 14, 12, 0, 0).unwrap()
}

/// The deployment settings of every scenario: the sample config's DNS servers.
pub fn settings() -> Settings {
    Settings {
        dns1: Some(ip("8.8.8.8")),
        dns2: Some(ip("8.8.4.4")),
        // The scenarios written before generators existed expect the lowest free address.
        ipv6_generator: ipledger_domain::ipv6::Ipv6Generator::Sequential,
        keep_deallocated_days: Some(2),
        idempotency_keep_days: Some(7),
        request_holds_per_agent_max: None,
        request_pending_expiry_hours: None,
    }
}

/// The n-th id handed out in a scenario (1-based).
pub fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

pub fn ip(text: &str) -> IpAddr {
    text.parse()
        .unwrap_or_else(|_| panic!("test address {text:?} does not parse"))
}

pub fn some(text: &str) -> Option<String> {
    Some(text.to_string())
}

/// A `Rejection::Invalid` with these fields and messages.
pub fn invalid(fields: &[(&str, &[&str])]) -> Rejection {
    let map = fields
        .iter()
        .map(|(field, msgs)| {
            (
                field.to_string(),
                msgs.iter().map(|m| m.to_string()).collect(),
            )
        })
        .collect();
    Rejection::Invalid(map)
}

/// Cloned to branch one scenario into several `and`s.
#[derive(Default, Clone)]
pub struct Scenario {
    pub state: State,
    ids: SequentialIds,
}

pub fn given(commands: &[Command]) -> Scenario {
    Scenario::default().and(commands)
}

impl Scenario {
    /// Decides and folds more commands; each must be accepted.
    pub fn and(mut self, commands: &[Command]) -> Self {
        for command in commands {
            if let Err(rejection) = self.run(command) {
                panic!("given command was rejected: {rejection:?}\ncommand: {command:?}");
            }
        }
        self
    }

    /// Folds events that no command produces (e.g. the retention purge).
    pub fn and_events(mut self, events: &[Event]) -> Self {
        for event in events {
            self.fold(event);
        }
        self
    }

    /// Decides `command` and, if accepted, folds its events into the scenario.
    pub fn run(&mut self, command: &Command) -> Result<Decision, Rejection> {
        self.run_at(command, &settings(), now())
    }

    /// [`Scenario::run`] under other settings, at another time.
    pub fn run_at(
        &mut self,
        command: &Command,
        settings: &Settings,
        now: Timestamp,
    ) -> Result<Decision, Rejection> {
        let mut ctx = Context {
            now,
            ids: &mut self.ids,
            settings,
        };
        let decision = decide(&self.state, command, &mut ctx)?;
        for event in &decision.events {
            self.fold(event);
        }
        Ok(decision)
    }

    /// Folds one event as the writer's published views do: in an envelope with the next
    /// position and the next version of its stream.
    fn fold(&mut self, event: &Event) {
        let stream = event.stream();
        let version = self.state.stream_version(&stream).map_or(0, |v| v + 1);
        let position = self.state.position();
        let envelope = Envelope {
            position,
            stream,
            version,
            event_id: Uuid::from_u128(1 << 64 | position as u128),
            recorded_at: now(),
            actor: "test".into(),
            correlation_id: None,
            idempotency_key: None,
            event: event.clone(),
        };
        self.state.apply(&envelope);
    }

    /// Decides `command` against the scenario, leaving the scenario as it was.
    pub fn when(&self, command: Command) -> Then {
        let mut ids = self.ids.clone();
        let settings = settings();
        let mut ctx = Context {
            now: now(),
            ids: &mut ids,
            settings: &settings,
        };
        let result = decide(&self.state, &command, &mut ctx);
        Then {
            before: self.state.clone(),
            result,
        }
    }

    /// Allocates the next free address until the block refuses: the addresses handed out in
    /// order, and the refusal that ended it. Stops after `max` addresses.
    pub fn allocate_until_refused(
        &mut self,
        tenant: &str,
        block: Uuid,
        max: usize,
    ) -> (Vec<String>, Option<Rejection>) {
        let mut out = Vec::new();
        while out.len() < max {
            match self.run(&allocate(tenant, block)) {
                Ok(decision) => match &decision.events[..] {
                    [Event::AddressAllocated(e)] => out.push(e.address.to_string()),
                    other => panic!("an allocation gave {other:?}"),
                },
                Err(rejection) => return (out, Some(rejection)),
            }
        }
        (out, None)
    }
}

/// The outcome of `when`.
pub struct Then {
    before: State,
    result: Result<Decision, Rejection>,
}

impl Then {
    pub fn decision(&self) -> &Decision {
        match &self.result {
            Ok(decision) => decision,
            Err(rejection) => {
                panic!("expected the command to be accepted, it was rejected: {rejection:?}")
            }
        }
    }

    pub fn events(&self) -> &[Event] {
        &self.decision().events
    }

    /// The rejection, if the command was refused.
    pub fn rejection(&self) -> Option<&Rejection> {
        self.result.as_ref().err()
    }

    pub fn then_events(&self, expected: &[Event]) {
        assert_eq!(self.events(), expected);
    }

    pub fn then_no_events(&self) {
        assert_eq!(self.events(), &[] as &[Event]);
        assert_eq!(self.decision().reply, Reply::Done);
    }

    pub fn then_rejected(&self, expected: Rejection) {
        match &self.result {
            Ok(decision) => panic!(
                "expected {expected:?}, the command was accepted: {:?}",
                decision.events
            ),
            Err(rejection) => assert_eq!(rejection, &expected),
        }
    }

    /// The `BlockCreated`, followed by its guards: for a subnet its parent's `SubnetAdded`,
    /// and its scopes' `BlockClaimed`s (see [`Then::then_claims`]).
    pub fn then_block_created(&self) -> &BlockCreated {
        let (e, guards) = match self.events() {
            [Event::BlockCreated(e), guards @ ..] => (e, guards),
            other => panic!("expected a BlockCreated first, got {other:?}"),
        };
        let claims = match (e.parent_id, guards) {
            (None, claims) => claims,
            (Some(parent), [Event::SubnetAdded(s), claims @ ..])
                if s.parent_id == parent
                    && (s.block_id, s.cidr, s.created_at) == (e.block_id, e.cidr, e.created_at) =>
            {
                claims
            }
            (_, other) => panic!("expected the subnet's SubnetAdded, got {other:?}"),
        };
        check_claims(claims, e.block_id, e.cidr);
        e
    }

    /// The `BlockUpdated`, followed by its scopes' `BlockClaimed`s if any.
    pub fn then_block_updated(&self) -> &BlockUpdated {
        match self.events() {
            [Event::BlockUpdated(e), claims @ ..] => {
                let cidr = self
                    .before
                    .block(e.block_id)
                    .expect("an updated block exists")
                    .record
                    .cidr;
                check_claims(claims, e.block_id, cidr);
                e
            }
            other => panic!("expected a BlockUpdated first, got {other:?}"),
        }
    }

    /// The scopes the decision claimed (`BlockClaimed`), in order.
    pub fn then_claims(&self) -> Vec<ClaimScope> {
        self.events()
            .iter()
            .filter_map(|e| match e {
                Event::BlockClaimed(c) => Some(c.scope.clone()),
                _ => None,
            })
            .collect()
    }

    /// The single event, which must allocate `address`.
    pub fn then_allocated(&self, address: &str) -> &AddressAllocated {
        match self.events() {
            [Event::AddressAllocated(e)] => {
                assert_eq!(e.address, ip(address), "allocated address");
                e
            }
            other => panic!("expected one AddressAllocated, got {other:?}"),
        }
    }

    /// The state once the decided events are folded.
    pub fn then_state(&self) -> State {
        let mut scenario = Scenario {
            state: self.before.clone(),
            ids: SequentialIds::default(),
        };
        for event in self.events() {
            scenario.fold(event);
        }
        scenario.state
    }
}

// Commands.

pub fn private(tenant: &str, cidr: &str) -> CreateBlock {
    CreateBlock {
        tenant: tenant.into(),
        cidr: some(cidr),
        block_type: some("private"),
        ..Default::default()
    }
}

pub fn public(tenant: &str, cidr: &str) -> CreateBlock {
    CreateBlock {
        block_type: some("public"),
        ..private(tenant, cidr)
    }
}

/// A subnet of `parent`, created under the parent owner's tenant path.
pub fn subnet(tenant: &str, parent: Uuid, cidr: &str) -> CreateBlock {
    CreateBlock {
        tenant: tenant.into(),
        parent_id: Some(parent),
        cidr: some(cidr),
        ..Default::default()
    }
}

pub fn create(block: CreateBlock) -> Command {
    Command::CreateBlock(block)
}

pub fn update(tenant: &str, block: Uuid) -> UpdateBlock {
    UpdateBlock {
        tenant: tenant.into(),
        block_id: block,
        ..Default::default()
    }
}

pub fn attach_policy(tenant: &str, block: Uuid, policy: Uuid) -> Command {
    Command::UpdateBlock(UpdateBlock {
        policy_id: Some(Some(policy.to_string())),
        ..update(tenant, block)
    })
}

pub fn delete_block(tenant: &str, block: Uuid) -> Command {
    Command::DeleteBlock {
        tenant: tenant.into(),
        block_id: block,
    }
}

pub fn allocation(tenant: &str, block: Uuid) -> AllocateAddress {
    AllocateAddress {
        tenant: tenant.into(),
        block_id: block,
        ..Default::default()
    }
}

/// The next free address.
pub fn allocate(tenant: &str, block: Uuid) -> Command {
    Command::AllocateAddress(allocation(tenant, block))
}

pub fn allocate_at(tenant: &str, block: Uuid, address: &str) -> Command {
    Command::AllocateAddress(AllocateAddress {
        address: Some(ip(address)),
        ..allocation(tenant, block)
    })
}

pub fn deallocate(tenant: &str, block: Uuid, address: &str) -> Command {
    Command::DeallocateAddress {
        tenant: tenant.into(),
        block_id: block,
        address: ip(address),
    }
}

pub fn restore(tenant: &str, block: Uuid, address: &str) -> Command {
    Command::RestoreAddress {
        tenant: tenant.into(),
        block_id: block,
        address: ip(address),
    }
}

pub fn create_policy(tenant: &str, name: &str) -> Command {
    Command::CreatePolicy {
        tenant: tenant.into(),
        name: some(name),
        description: None,
    }
}

pub fn delete_policy(tenant: &str, policy: Uuid) -> Command {
    Command::DeletePolicy {
        tenant: tenant.into(),
        policy_id: policy,
    }
}

pub fn unusable_range(tenant: &str, policy: Uuid, offset: i64, length: u64) -> Command {
    Command::CreateUnusableRange {
        tenant: tenant.into(),
        policy_id: policy,
        offset,
        length,
    }
}

pub fn unusable_octet(tenant: &str, policy: Uuid, octet: u8) -> Command {
    Command::CreateUnusableOctet {
        tenant: tenant.into(),
        policy_id: policy,
        octet,
    }
}

// Commands of the interface family.

/// A private block of `owner` in network `network`.
pub fn net_block(owner: &str, cidr: &str, network: &str) -> Command {
    create(CreateBlock {
        network_id: some(network),
        ..private(owner, cidr)
    })
}

/// "Allocate from `owner`'s network `id`", the next free addresses.
pub fn network(owner: &str, id: &str) -> NetworkRequest {
    NetworkRequest {
        id: some(id),
        tenant_id: some(owner),
        addresses: Vec::new(),
    }
}

/// An interface `vif` leased to `tenant`, with no device, MAC or network.
pub fn nic(vif: &str, tenant: &str) -> InterfaceSpec {
    InterfaceSpec {
        vif: some(vif),
        tenant_id: some(tenant),
        ..Default::default()
    }
}

pub fn create_interface(spec: InterfaceSpec) -> Command {
    Command::CreateInterface(spec)
}

/// `DELETE /ipam/interfaces/{vif}`: the admin door.
pub fn delete_interface(vif: &str) -> Command {
    Command::DeleteInterface {
        vif: vif.into(),
        scope: InterfaceScope::Admin,
    }
}

pub fn mac_range(cidr: &str) -> Command {
    Command::CreateMacRange {
        cidr: some(cidr),
        tenant_id: None,
    }
}

pub fn mac(text: &str) -> u64 {
    ipledger_domain::mac::parse_mac(text)
        .unwrap_or_else(|| panic!("test MAC {text:?} does not parse"))
}

// Expected events.

/// The n-th id made interface `vif` of `tenant`.
pub fn interface_created(n: u128, vif: &str, tenant: &str, device: Option<&str>) -> Event {
    Event::InterfaceCreated(InterfaceCreated {
        interface_id: id(n),
        vif: vif.into(),
        tenant_id: tenant.into(),
        device_id: device.map(str::to_string),
        created_at: now(),
    })
}

pub fn interface_deleted(n: u128, vif: &str) -> Event {
    Event::InterfaceDeleted(InterfaceDeleted {
        interface_id: id(n),
        vif: vif.into(),
        deleted_at: now(),
    })
}

/// `vif` takes `text` from range `range` (`None`: the caller gave it).
pub fn mac_allocated(text: &str, vif: &str, range: Option<Uuid>) -> Event {
    Event::MacAddressAllocated(MacAddressAllocated {
        mac: mac(text),
        vif: vif.into(),
        range_id: range,
        allocated_at: now(),
    })
}

pub fn mac_released(text: &str, vif: &str) -> Event {
    Event::MacAddressReleased(MacAddressReleased {
        mac: mac(text),
        vif: vif.into(),
        released_at: now(),
    })
}

/// Address `address` of `block`, the n-th id, on interface `vif` leased to `tenant`, with
/// no device and no MAC (update the struct for those).
pub fn on_nic(block: Uuid, n: u128, address: &str, vif: &str, tenant: &str) -> AddressAllocated {
    AddressAllocated {
        block_id: block,
        address_id: id(n),
        address: ip(address),
        interface_id: Some(vif.into()),
        used_by_tenant: tenant.into(),
        used_by_device: None,
        mac_address: None,
        allocated_at: now(),
    }
}

pub fn deallocated(block: Uuid, address: &str) -> Event {
    Event::AddressDeallocated(AddressDeallocated {
        block_id: block,
        address: ip(address),
        deallocated_at: now(),
    })
}

pub fn restored(block: Uuid, address: &str) -> Event {
    Event::AddressRestored(AddressRestored {
        block_id: block,
        address: ip(address),
        restored_at: now(),
    })
}

pub fn purged(block: Uuid, address: &str) -> Event {
    Event::AddressPurged(AddressPurged {
        block_id: block,
        address: ip(address),
        purged_at: now(),
    })
}

pub fn block_deleted(block: Uuid) -> Event {
    Event::BlockDeleted(BlockDeleted {
        block_id: block,
        deleted_at: now(),
    })
}

/// Every event is a `BlockClaimed` of `block_id` and its `cidr`.
fn check_claims(events: &[Event], block_id: Uuid, cidr: IpNet) {
    for event in events {
        match event {
            Event::BlockClaimed(c) if (c.block_id, c.cidr) == (block_id, cidr) => {}
            other => panic!("expected a BlockClaimed of block {block_id}, got {other:?}"),
        }
    }
}
