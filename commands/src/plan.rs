//! The plan of one request of the interface family: the events decided so far and what they
//! change, laid over the state without touching it.
//!
//! One request may delete interfaces, release MACs and addresses, create interfaces, take
//! MACs and allocate addresses; every later step must see the earlier ones (a MAC released
//! by an instance PUT is free again for the interface the same PUT creates, two addresses
//! of one request never collide). Cloning the state for that would cost as much as the
//! state, so the plan keeps only the differences and answers queries through them. Nothing
//! is emitted until the whole request is decided: a failure anywhere leaves no event.

use std::collections::{BTreeSet, HashMap, HashSet};

use ipledger_domain::events::*;
use ipledger_domain::interfaces::{InterfaceRecord, InterfaceView, IpConfiguration};
use ipledger_domain::records::AddressRecord;
use ipledger_domain::{Event, Rejection};
use ipledger_projections::{BlockState, State};
use uuid::Uuid;

use crate::decide::Context;

pub(crate) struct Plan<'s> {
    pub state: &'s State,
    pub events: Vec<Event>,
    /// Offsets allocated by this plan, by block.
    taken: HashSet<(Uuid, u128)>,
    /// Addresses soft-deallocated by this plan.
    released: HashSet<Uuid>,
    /// Addresses allocated by this plan, in order.
    pub allocated: Vec<AddressRecord>,
    macs_taken: BTreeSet<u64>,
    macs_freed: BTreeSet<u64>,
    /// Interfaces created by this plan, with their MAC.
    created: HashMap<String, InterfaceRecord>,
    deleted: HashSet<String>,
}

impl<'s> Plan<'s> {
    pub fn new(state: &'s State) -> Self {
        Plan {
            state,
            events: Vec::new(),
            taken: HashSet::new(),
            released: HashSet::new(),
            allocated: Vec::new(),
            macs_taken: BTreeSet::new(),
            macs_freed: BTreeSet::new(),
            created: HashMap::new(),
            deleted: HashSet::new(),
        }
    }

    pub fn interface(&self, vif: &str) -> Option<InterfaceRecord> {
        if let Some(r) = self.created.get(vif) {
            return Some(r.clone());
        }
        if self.deleted.contains(vif) {
            return None;
        }
        self.state.interface(vif).map(|i| i.record.clone())
    }

    /// The interface's live addresses after this plan.
    pub fn live_addresses(&self, vif: &str) -> Vec<AddressRecord> {
        let mut out: Vec<AddressRecord> = self
            .state
            .interface_addresses(vif)
            .into_iter()
            .filter(|a| !self.released.contains(&a.id))
            .cloned()
            .collect();
        out.extend(
            self.allocated
                .iter()
                .filter(|a| a.interface_id.as_deref() == Some(vif))
                .cloned(),
        );
        out
    }

    /// The network the interface is plugged into after this plan (see
    /// `State::plugged_network`).
    pub fn plugged_network(&self, vif: &str) -> Option<String> {
        // Lazily, without `live_addresses`: this runs on every allocation onto an interface,
        // and copying all of a busy interface's addresses each time made it quadratic.
        let from_state = self
            .state
            .networked_addresses(vif)
            .filter(|a| !self.released.contains(&a.id));
        let planned = self
            .allocated
            .iter()
            .filter(|a| a.interface_id.as_deref() == Some(vif));
        from_state
            .chain(planned)
            .find_map(|a| self.state.network_of(a))
            .map(str::to_string)
    }

    pub fn offset_used(&self, b: &BlockState, offset: u128) -> bool {
        b.free.is_used(offset) || self.taken.contains(&(b.record.id, offset))
    }

    /// The lowest offset at or after `from` free in the state and not taken by this plan,
    /// and whose octet `octets` does not refuse (`Exclusions::refused_octets`).
    pub fn next_free(
        &self,
        b: &BlockState,
        mut from: u128,
        octets: Option<&[u64; 4]>,
    ) -> Option<u128> {
        loop {
            let o = b.free.next_free_allowed(from, octets)?;
            if !self.taken.contains(&(b.record.id, o)) {
                return Some(o);
            }
            from = o.checked_add(1)?;
        }
    }

    pub fn record_allocation(&mut self, offset: u128, record: AddressRecord, e: AddressAllocated) {
        self.taken.insert((record.block_id, offset));
        self.allocated.push(record);
        self.events.push(Event::AddressAllocated(e));
    }

    /// Soft-deallocates an address (the interface's delete or release).
    pub fn release_address(&mut self, a: &AddressRecord, ctx: &Context) {
        self.released.insert(a.id);
        self.events
            .push(Event::AddressDeallocated(AddressDeallocated {
                block_id: a.block_id,
                address: a.address,
                deallocated_at: ctx.now,
            }));
    }

    pub fn mac_used(&self, mac: u64) -> bool {
        self.macs_taken.contains(&mac)
            || (self.state.mac_in_use(mac) && !self.macs_freed.contains(&mac))
    }

    /// The lowest MAC in `first..=last` that is free after this plan.
    pub fn next_free_mac(&self, first: u64, last: u64) -> Option<u64> {
        let mut from = first;
        while from <= last {
            let in_state = self.state.next_free_mac(from).filter(|m| *m <= last);
            let freed = self.macs_freed.range(from..=last).next().copied();
            let candidate = match (in_state, freed) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b)?,
            };
            if !self.macs_taken.contains(&candidate) {
                return Some(candidate);
            }
            from = candidate.checked_add(1)?;
        }
        None
    }

    pub fn take_mac(&mut self, mac: u64, vif: &str, range_id: Option<Uuid>, ctx: &Context) {
        self.macs_taken.insert(mac);
        self.macs_freed.remove(&mac);
        if let Some(r) = self.created.get_mut(vif) {
            r.mac_address = Some(mac);
        }
        self.events
            .push(Event::MacAddressAllocated(MacAddressAllocated {
                mac,
                vif: vif.to_string(),
                range_id,
                allocated_at: ctx.now,
            }));
    }

    /// Creates an interface (without MAC or addresses): 409 if the vif is taken by any
    /// tenant (decision 15).
    pub fn create_interface(
        &mut self,
        vif: Option<&str>,
        tenant: &str,
        device: Option<&str>,
        ctx: &mut Context,
    ) -> Result<InterfaceRecord, Rejection> {
        if let Some(vif) = vif.filter(|v| self.interface(v).is_some()) {
            return Err(Rejection::Conflict(format!(
                "Virtual Interface {vif} already exists"
            )));
        }
        let id = ctx.ids.next_id();
        let vif = vif.map_or_else(|| id.to_string(), str::to_string);
        let e = InterfaceCreated {
            interface_id: id,
            vif: vif.clone(),
            tenant_id: tenant.to_string(),
            device_id: device.map(str::to_string),
            created_at: ctx.now,
        };
        let record = InterfaceRecord {
            id,
            vif: vif.clone(),
            tenant_id: e.tenant_id.clone(),
            device_id: e.device_id.clone(),
            mac_address: None,
            created_at: ctx.now,
            updated_at: ctx.now,
        };
        self.events.push(Event::InterfaceCreated(e));
        self.deleted.remove(&vif);
        self.created.insert(vif, record.clone());
        Ok(record)
    }

    /// Deletes an interface: its live addresses are soft-deallocated, its MAC released at
    /// once, then the interface goes.
    pub fn delete_interface(&mut self, rec: &InterfaceRecord, ctx: &Context) {
        for a in self.live_addresses(&rec.vif) {
            self.release_address(&a, ctx);
        }
        if let Some(mac) = rec.mac_address {
            self.macs_taken.remove(&mac);
            self.macs_freed.insert(mac);
            self.events
                .push(Event::MacAddressReleased(MacAddressReleased {
                    mac,
                    vif: rec.vif.clone(),
                    released_at: ctx.now,
                }));
        }
        self.events.push(Event::InterfaceDeleted(InterfaceDeleted {
            interface_id: rec.id,
            vif: rec.vif.clone(),
            deleted_at: ctx.now,
        }));
        self.created.remove(&rec.vif);
        self.deleted.insert(rec.vif.clone());
    }

    pub fn configuration(&self, a: &AddressRecord) -> Option<IpConfiguration> {
        self.state.ip_configuration(a)
    }

    /// The interface as it stands after this plan, with its live addresses.
    pub fn view(&self, vif: &str) -> Option<InterfaceView> {
        let interface = self.interface(vif)?;
        let ip_addresses = self
            .live_addresses(vif)
            .iter()
            .filter_map(|a| self.configuration(a))
            .collect();
        Some(InterfaceView {
            interface,
            ip_addresses,
        })
    }
}
