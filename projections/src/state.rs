//! The state folded from the log: blocks with their free maps and address records, policies
//! with their rules, idempotency outcomes and stream versions. `apply` is total: it never
//! fails and never looks at anything but the event, so replay is deterministic.

use imbl::{OrdMap, OrdSet};

use ipledger_domain::block;
use ipledger_domain::events::*;
use ipledger_domain::records::{
    AddressRecord, BlockRecord, OctetRecord, PolicyRecord, RangeRecord,
};
use ipledger_domain::{Envelope, Event};
use uuid::Uuid;

use crate::octets::BlockFree;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BlockState {
    pub record: BlockRecord,
    pub children: OrdSet<Uuid>,
    /// Occupied offsets: allocated or soft-deallocated addresses (and holds), with the view
    /// by last octet that bounds a search under a policy's octet rules.
    pub free: BlockFree,
    /// Address records by offset in the block.
    pub by_offset: OrdMap<u128, Uuid>,
    /// The same records' ids, in id order: the block's address listing seeks here.
    pub ids: OrdSet<Uuid>,
    /// Soft-deallocated addresses still holding their place.
    pub deallocated: usize,
    /// Offsets held by pending IP requests (also marked used in `free`), with the request.
    pub holds: OrdMap<u128, Uuid>,
    /// The same holds' request ids, in id order: the block's address listing merges them
    /// with `ids` (issue 9: a listing shows every address held, whatever surface holds it).
    pub hold_ids: OrdSet<Uuid>,
}

impl BlockState {
    pub fn live_allocations(&self) -> usize {
        self.by_offset.len() - self.deallocated
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PolicyState {
    pub record: PolicyRecord,
    pub ranges: OrdMap<Uuid, RangeRecord>,
    pub octets: OrdMap<Uuid, OctetRecord>,
}

impl PolicyState {
    pub fn range_rules(&self) -> Vec<(i64, u64)> {
        self.ranges.values().map(|r| (r.offset, r.length)).collect()
    }

    pub fn octet_rules(&self) -> Vec<u8> {
        self.octets.values().map(|o| o.octet).collect()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct State {
    /// Blocks by id: a B-tree like the other maps that grow without bound (a hash map of
    /// 1M blocks moves them all when it doubles, and creation at 1M blocks ran 2.6x slower
    /// than at 1k in `commands/benches/blocks.rs`).
    pub(crate) blocks: OrdMap<Uuid, BlockState>,
    /// (owner tenant, block id): the tenant's block list in id order.
    pub(crate) blocks_by_tenant: OrdSet<(String, Uuid)>,
    /// Blocks by prefix: overall, public roots, by parent, by network (`blockindex.rs`).
    pub(crate) block_index: crate::blockindex::BlockIndex,
    /// Address records by id (`slots.rs`: dense slots, a B-tree of id → slot).
    /// The maps that grow without bound (these ids, recorded commands, stream versions) are
    /// B-trees, not hash maps: a hash map doubles all at once, and moving ~460k records
    /// stalled the writer ~0.5 s (p99 497 ms at half load in BENCHMARKS.md); a B-tree grows
    /// a node at a time, and UUID v7 ids append at its edge.
    pub(crate) addresses: crate::slots::AddressRecords,
    /// Live (not soft-deallocated) addresses in id order, for the provider-wide list.
    pub(crate) live_addresses: OrdSet<Uuid>,
    /// (lessee tenant, address id) of live addresses.
    pub(crate) live_by_tenant: crate::address_index::KeyedIds<String>,
    /// Live addresses by the device using them (`address_index.rs`).
    pub(crate) live_by_device: crate::address_index::DeviceIndex,
    pub(crate) policies: OrdMap<Uuid, PolicyState>,
    pub(crate) policies_by_tenant: OrdSet<(String, Uuid)>,
    /// Static routes, NAT pairs, and deallocated addresses by age (`routing.rs`).
    pub(crate) routes: crate::routing::RouteTable,
    pub(crate) nat: crate::routing::NatTable,
    pub(crate) retention: crate::routing::RetentionIndex,
    /// Outcomes recorded under idempotency keys (`idempotency.rs`).
    pub(crate) commands: crate::idempotency::Recorded,
    /// Interfaces, MACs, MAC ranges and allowed IPs (`interfaces.rs`).
    pub(crate) nics: crate::interfaces::Nics,
    /// Access tokens (`tokens.rs`).
    pub(crate) tokens: crate::tokens::Tokens,
    /// IP requests and the notifications they owe (`requests.rs`).
    pub(crate) requests: crate::requests::Requests,
    /// Scaleway IPs (`scaleway.rs`); their addresses are ordinary allocations in `blocks`.
    pub(crate) scaleway: crate::scaleway::ScalewayIps,
    /// Resource pools and their allocations (`pools.rs`).
    pub(crate) pools: crate::pools::Pools,
    /// Zone registrations (`registrations.rs`); their addresses are ordinary allocations.
    pub(crate) registrations: crate::registrations::Registrations,
    /// Webhook endpoints and their delivery progress (`webhooks.rs`).
    pub(crate) webhooks: crate::webhooks::Webhooks,
    /// Last version of every stream (the writer's expected versions).
    pub(crate) stream_versions: OrdMap<String, u64>,
    /// Every block ever created, by CIDR (the address timelines' way into the log).
    pub(crate) blocks_ever: crate::history::BlocksEver,
    /// The position the next event will get: events folded so far.
    pub(crate) next_position: u64,
}

impl State {
    /// The ids of every block ever created (deleted ones too) whose CIDR contains `address`.
    pub fn blocks_ever_containing(&self, address: std::net::IpAddr) -> Vec<Uuid> {
        self.blocks_ever.containing(address)
    }

    /// Which surface other than Melange holds the address `address_id`, if any (issue 9):
    /// one question over every surface, so a check asked here misses none.
    pub fn holder_of(&self, address_id: Uuid) -> Option<ipledger_domain::records::Holder> {
        self.scaleway_holder_of(address_id)
            .or_else(|| self.pool_holder_of(address_id))
            .or_else(|| self.registration_holder_of(address_id))
    }

    /// Folds one stored event. Events must arrive in log order.
    pub fn apply(&mut self, envelope: &Envelope) {
        self.apply_event(&envelope.event);
        self.record_version(&envelope.stream, envelope.version);
        self.next_position = envelope.position + 1;
    }

    /// Like [`State::apply`] but takes the envelope by value, moving its strings into the
    /// records instead of copying them: the replay path at start-up.
    pub fn apply_owned(&mut self, envelope: Envelope) {
        self.record_version(&envelope.stream, envelope.version);
        self.next_position = envelope.position + 1;
        match envelope.event {
            Event::AddressAllocated(e) => self.address_allocated(e),
            other => self.apply_event(&other),
        }
    }

    /// The last version of `stream`, or `None` before its first event.
    pub fn stream_version(&self, stream: &str) -> Option<u64> {
        self.stream_versions.get(stream).copied()
    }

    /// Notes that an event the writer applied ahead (with [`State::apply_event`]) is now
    /// stored as `envelope`: its stream version and position.
    pub fn stored(&mut self, envelope: &Envelope) {
        self.record_version(&envelope.stream, envelope.version);
        self.next_position = envelope.position + 1;
    }

    /// Notes a stream's new version without allocating when the stream is known (the common
    /// case: replay spends its time here otherwise).
    pub fn record_version(&mut self, stream: &str, version: u64) {
        match self.stream_versions.get_mut(stream) {
            Some(v) => *v = version,
            None => {
                self.stream_versions.insert(stream.to_string(), version);
            }
        }
    }

    /// Folds one event's effect on the objects (no log bookkeeping): the writer uses this to
    /// let later commands of a batch see earlier ones before the batch is appended.
    pub fn apply_event(&mut self, event: &Event) {
        self.observe_addresses(event);
        match event {
            Event::BlockCreated(e) => self.block_created(e),
            // The block's own `BlockCreated`/`BlockUpdated` records what these say; they only
            // move a stream's version (the parent's, a network's, the public space's), kept
            // by the envelope fold.
            Event::SubnetAdded(_) | Event::BlockClaimed(_) => {}
            Event::BlockUpdated(e) => self.block_updated(e),
            Event::BlockDeleted(e) => self.block_deleted(e),
            Event::AddressAllocated(e) => self.address_allocated(e.clone()),
            Event::AddressDeallocated(e) => self.address_deallocated(e),
            Event::AddressRestored(e) => self.address_restored(e),
            Event::AddressPurged(e) => self.address_purged(e),
            Event::RouteCreated(_)
            | Event::RouteUpdated(_)
            | Event::RouteDeleted(_)
            | Event::NatAssigned(_)
            | Event::NatRemoved(_) => self.apply_routing(event),
            Event::PolicyCreated(e) => self.policy_created(e),
            Event::PolicyUpdated(e) => self.policy_updated(e),
            Event::PolicyDeleted(e) => self.policy_deleted(e),
            Event::UnusableRangeCreated(e) => self.range_created(e),
            Event::UnusableRangeUpdated(e) => self.range_updated(e),
            Event::UnusableRangeDeleted(e) => self.with_policy(e.policy_id, |p| {
                p.ranges.remove(&e.range_id);
            }),
            Event::UnusableOctetCreated(e) => self.octet_created(e),
            Event::UnusableOctetUpdated(e) => self.octet_updated(e),
            Event::UnusableOctetDeleted(e) => self.with_policy(e.policy_id, |p| {
                p.octets.remove(&e.octet_id);
            }),
            Event::InterfaceCreated(_)
            | Event::InterfaceDeleted(_)
            | Event::MacAddressAllocated(_)
            | Event::MacAddressReleased(_)
            | Event::MacRangeCreated(_)
            | Event::MacRangeDeleted(_)
            | Event::AllowedIpAdded(_)
            | Event::AllowedIpRemoved(_) => self.nics.apply(event),
            Event::RequestSubmitted(e) => self.request_submitted(e),
            Event::RequestApproved(e) => {
                self.release_hold(e.block_id, e.request_id);
                self.requests.approved(e);
            }
            Event::RequestRejected(e) => {
                self.release_hold(e.block_id, e.request_id);
                self.requests.rejected(e);
            }
            Event::RequestExpired(e) => {
                self.release_hold(e.block_id, e.request_id);
                self.requests.expired(e);
            }
            Event::NotificationDelivered(e) => self.requests.delivered(e),
            Event::ScalewayIpBooked(_)
            | Event::ScalewayIpUpdated(_)
            | Event::ScalewayIpAttached(_)
            | Event::ScalewayIpDetached(_)
            | Event::ScalewayIpReleased(_) => self.scaleway.apply(event),
            Event::PoolCreated(_)
            | Event::PoolUpdated(_)
            | Event::PoolDeleted(_)
            | Event::PoolAllocated(_)
            | Event::PoolReleased(_) => self.pools.apply(event),
            Event::RegistrationCreated(_)
            | Event::RegistrationServiceSet(_)
            | Event::RegistrationSecretRotated(_)
            | Event::RegistrationServiceExpiring(_)
            | Event::RegistrationServiceRemoved(_)
            | Event::RegistrationReleased(_) => self.registrations.apply(event),
            Event::WebhookRegistered(_) | Event::WebhookDeleted(_) | Event::WebhookDelivered(_) => {
                self.webhooks.apply(event)
            }
            Event::TokenIssued(e) => self.tokens.issued(e),
            Event::TokenRevoked(e) => self.tokens.revoked(e),
            Event::CommandRecorded(e) => self.commands.recorded(e),
            Event::CommandForgotten(e) => self.commands.forgotten(e),
        }
    }

    fn block_created(&mut self, e: &BlockCreated) {
        self.blocks_ever.record(e.cidr, e.block_id);
        let record = BlockRecord {
            id: e.block_id,
            tenant_id: e.tenant_id.clone(),
            cidr: e.cidr,
            block_type: e.block_type,
            network_id: e.network_id.clone(),
            policy_id: e.policy_id,
            gateway: e.gateway,
            dns1: e.dns1,
            dns2: e.dns2,
            parent_id: e.parent_id,
            created_at: e.created_at,
            updated_at: e.created_at,
            ipv6_generator: e.ipv6_generator,
        };
        if let Some(parent) = e.parent_id.and_then(|p| self.blocks.get_mut(&p)) {
            parent.children.insert(e.block_id);
        }
        self.blocks_by_tenant
            .insert((e.tenant_id.clone(), e.block_id));
        if let Some(old) = self.blocks.get(&e.block_id) {
            // A repeated id replaces the block (the writer never emits one): index it anew.
            self.block_index.remove(&old.record);
        }
        self.block_index.insert(&record);
        let state = BlockState {
            record,
            children: OrdSet::new(),
            free: BlockFree::new(&e.cidr, block::size(&e.cidr)),
            by_offset: OrdMap::new(),
            ids: OrdSet::new(),
            deallocated: 0,
            holds: OrdMap::new(),
            hold_ids: OrdSet::new(),
        };
        self.blocks.insert(e.block_id, state);
    }

    fn block_updated(&mut self, e: &BlockUpdated) {
        if let Some(b) = self.blocks.get_mut(&e.block_id) {
            self.block_index.remove(&b.record);
            let r = &mut b.record;
            r.block_type = e.block_type;
            r.network_id = e.network_id.clone();
            r.policy_id = e.policy_id;
            r.gateway = e.gateway;
            r.dns1 = e.dns1;
            r.dns2 = e.dns2;
            r.ipv6_generator = e.ipv6_generator;
            r.updated_at = e.updated_at;
            self.block_index.insert(r);
        }
    }

    /// Removes the block and whatever address records it still held (all deallocated: the
    /// writer refuses to delete a block with live allocations or subnets).
    fn block_deleted(&mut self, e: &BlockDeleted) {
        let Some(b) = self.blocks.remove(&e.block_id) else {
            return;
        };
        self.block_index.remove(&b.record);
        for id in b.by_offset.values() {
            if let Some(rec) = self.addresses.remove(id) {
                self.forget_live(&rec);
            }
        }
        if let Some(parent) = b.record.parent_id.and_then(|p| self.blocks.get_mut(&p)) {
            parent.children.remove(&e.block_id);
        }
        self.blocks_by_tenant
            .remove(&(b.record.tenant_id, e.block_id));
    }

    fn address_allocated(&mut self, e: AddressAllocated) {
        let Some(b) = self.blocks.get_mut(&e.block_id) else {
            return;
        };
        let Some(offset) = block::offset_of(&b.record.cidr, e.address) else {
            return;
        };
        // Breaking this would mean the log holds one address twice: stop rather than serve it.
        assert!(
            b.free.set_used(offset),
            "address {} allocated twice in block {}",
            e.address,
            e.block_id
        );
        b.by_offset.insert(offset, e.address_id);
        b.ids.insert(e.address_id);
        if let Some(vif) = &e.interface_id {
            let networked = b.record.network_id.is_some();
            self.nics.index_address(vif, e.address_id, networked);
        }
        self.live_addresses.insert(e.address_id);
        self.live_by_tenant
            .insert(e.used_by_tenant.as_str(), e.address_id);
        let record = AddressRecord {
            id: e.address_id,
            block_id: e.block_id,
            address: e.address,
            interface_id: e.interface_id,
            used_by_tenant: e.used_by_tenant,
            used_by_device: e.used_by_device,
            mac_address: e.mac_address,
            created_at: e.allocated_at,
            updated_at: e.allocated_at,
            deallocated_at: None,
        };
        self.live_by_device.insert(&record);
        self.addresses.insert(e.address_id, record);
    }

    /// A pending request holds its address: the offset is marked used in the free map, so
    /// no allocation path and no other request can take it.
    fn request_submitted(&mut self, e: &RequestSubmitted) {
        if let Some(b) = self.blocks.get_mut(&e.block_id) {
            if let Some(offset) = block::offset_of(&b.record.cidr, e.ip) {
                // Breaking this would mean the log holds one address twice: stop.
                assert!(
                    b.free.set_used(offset),
                    "address {} held by request {} while taken in block {}",
                    e.ip,
                    e.request_id,
                    e.block_id
                );
                b.holds.insert(offset, e.request_id);
                b.hold_ids.insert(e.request_id);
            }
        }
        self.requests.submitted(e);
    }

    /// Frees the address a pending request held: found through the request's address (a
    /// lookup, not a walk of the block's holds).
    fn release_hold(&mut self, block_id: Uuid, request_id: Uuid) {
        let Some(b) = self.blocks.get_mut(&block_id) else {
            return;
        };
        let Some(ip) = self.requests.by_id.get(&request_id).map(|r| r.ip) else {
            return;
        };
        let Some(offset) = block::offset_of(&b.record.cidr, ip) else {
            return;
        };
        if b.holds.get(&offset) == Some(&request_id) {
            b.holds.remove(&offset);
            b.hold_ids.remove(&request_id);
            b.free.set_free(offset);
        }
    }

    fn address_id(&self, block_id: Uuid, address: std::net::IpAddr) -> Option<Uuid> {
        let b = self.blocks.get(&block_id)?;
        let offset = block::offset_of(&b.record.cidr, address)?;
        b.by_offset.get(&offset).copied()
    }

    fn address_deallocated(&mut self, e: &AddressDeallocated) {
        let Some(id) = self.address_id(e.block_id, e.address) else {
            return;
        };
        let Some(rec) = self.addresses.get_mut(&id) else {
            return;
        };
        let was_live = rec.deallocated_at.is_none();
        rec.deallocated_at = Some(e.deallocated_at);
        rec.updated_at = e.deallocated_at;
        if was_live {
            let rec = rec.clone();
            self.forget_live(&rec);
            if let Some(b) = self.blocks.get_mut(&e.block_id) {
                b.deallocated += 1;
            }
        }
    }

    fn address_restored(&mut self, e: &AddressRestored) {
        let Some(id) = self.address_id(e.block_id, e.address) else {
            return;
        };
        let Some(rec) = self.addresses.get_mut(&id) else {
            return;
        };
        if rec.deallocated_at.take().is_some() {
            rec.updated_at = e.restored_at;
            self.live_addresses.insert(id);
            self.live_by_tenant.insert(rec.used_by_tenant.as_str(), id);
            self.live_by_device.insert(rec);
            if let Some(b) = self.blocks.get_mut(&e.block_id) {
                b.deallocated -= 1;
            }
        }
    }

    fn address_purged(&mut self, e: &AddressPurged) {
        let Some(b) = self.blocks.get_mut(&e.block_id) else {
            return;
        };
        let Some(offset) = block::offset_of(&b.record.cidr, e.address) else {
            return;
        };
        let Some(id) = b.by_offset.remove(&offset) else {
            return;
        };
        b.ids.remove(&id);
        b.free.set_free(offset);
        let Some(rec) = self.addresses.remove(&id) else {
            return;
        };
        if rec.deallocated_at.is_some() {
            if let Some(b) = self.blocks.get_mut(&e.block_id) {
                b.deallocated -= 1;
            }
        }
        self.forget_live(&rec);
    }

    fn forget_live(&mut self, rec: &AddressRecord) {
        self.live_addresses.remove(&rec.id);
        self.live_by_tenant.remove(&rec.used_by_tenant, rec.id);
        self.live_by_device.remove(rec);
    }

    fn policy_created(&mut self, e: &PolicyCreated) {
        let record = PolicyRecord {
            id: e.policy_id,
            tenant_id: e.tenant_id.clone(),
            name: e.name.clone(),
            description: e.description.clone(),
            created_at: e.created_at,
            updated_at: e.created_at,
        };
        self.policies_by_tenant
            .insert((e.tenant_id.clone(), e.policy_id));
        let state = PolicyState {
            record,
            ranges: OrdMap::new(),
            octets: OrdMap::new(),
        };
        self.policies.insert(e.policy_id, state);
    }

    fn policy_updated(&mut self, e: &PolicyUpdated) {
        self.with_policy(e.policy_id, |p| {
            p.record.name = e.name.clone();
            p.record.description = e.description.clone();
            p.record.updated_at = e.updated_at;
        });
    }

    fn policy_deleted(&mut self, e: &PolicyDeleted) {
        if let Some(p) = self.policies.remove(&e.policy_id) {
            self.policies_by_tenant
                .remove(&(p.record.tenant_id, e.policy_id));
        }
        // The blocks under the policy, from the index: not a walk over every block.
        for id in self.block_index.under_policy(e.policy_id) {
            if let Some(b) = self.blocks.get_mut(&id) {
                self.block_index.remove(&b.record);
                b.record.policy_id = None;
                self.block_index.insert(&b.record);
            }
        }
    }

    fn with_policy(&mut self, id: Uuid, f: impl FnOnce(&mut PolicyState)) {
        if let Some(p) = self.policies.get_mut(&id) {
            f(p);
        }
    }

    fn range_created(&mut self, e: &UnusableRangeCreated) {
        let record = RangeRecord {
            id: e.range_id,
            policy_id: e.policy_id,
            offset: e.offset,
            length: e.length,
            created_at: e.created_at,
            updated_at: e.created_at,
        };
        self.with_policy(e.policy_id, |p| {
            p.ranges.insert(e.range_id, record);
        });
    }

    fn range_updated(&mut self, e: &UnusableRangeUpdated) {
        self.with_policy(e.policy_id, |p| {
            if let Some(r) = p.ranges.get_mut(&e.range_id) {
                r.offset = e.offset;
                r.length = e.length;
                r.updated_at = e.updated_at;
            }
        });
    }

    fn octet_created(&mut self, e: &UnusableOctetCreated) {
        let record = OctetRecord {
            id: e.octet_id,
            policy_id: e.policy_id,
            octet: e.octet,
            created_at: e.created_at,
            updated_at: e.created_at,
        };
        self.with_policy(e.policy_id, |p| {
            p.octets.insert(e.octet_id, record);
        });
    }

    fn octet_updated(&mut self, e: &UnusableOctetUpdated) {
        self.with_policy(e.policy_id, |p| {
            if let Some(o) = p.octets.get_mut(&e.octet_id) {
                o.octet = e.octet;
                o.updated_at = e.updated_at;
            }
        });
    }
}
