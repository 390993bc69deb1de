//! Interfaces, MACs, MAC ranges and allowed IPs folded from their events, and the queries
//! the interface, instance, network-allocation and MAC-range routes ask
//! (melange-semantics.md §1 "Networks", §4).
//!
//! An interface's addresses are the `AddressAllocated` events that name its vif: the fold
//! indexes them by vif ([`Nics::index_address`], called from `State::address_allocated`) and
//! the queries keep only those still live and still naming the vif, so deallocation,
//! restore and purge need no hook of their own.

use imbl::{OrdMap, OrdSet};
use std::net::IpAddr;

use ipledger_domain::events::*;
use ipledger_domain::interfaces::{
    InterfaceRecord, InterfaceView, IpConfiguration, MacRangeRecord,
};
use ipledger_domain::mac::MAC_BITS;
use ipledger_domain::records::AddressRecord;

use uuid::Uuid;

use crate::address_index::KeyedIds;
use crate::bitmap::FreeMap;
use crate::state::State;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InterfaceState {
    pub record: InterfaceRecord,
    /// Explicitly allowed addresses (decision 19), as (block, address).
    pub allowed: OrdSet<(Uuid, IpAddr)>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Nics {
    /// Interfaces by vif (unique across tenants, decision 15).
    pub(crate) interfaces: crate::slots::Slots<String, InterfaceState>,
    /// (device, interface id) → vif: a device's interfaces in creation order.
    pub by_device: OrdMap<(String, Uuid), String>,
    /// Ids of every address allocated naming a vif; readers filter out the ones that are
    /// gone, deallocated or re-linked. Pruned when the interface is deleted.
    pub(crate) addresses_by_vif: KeyedIds<String>,
    /// The subset of `addresses_by_vif` allocated in a block that had a network: what the
    /// plugged-network check (asked on every allocation onto an interface) walks, so an
    /// interface with many addresses outside networks does not make each allocation O(n).
    pub(crate) networked_by_vif: KeyedIds<String>,
    /// MACs in use, over the whole 48-bit space (sparse: memory grows with allocations).
    pub macs: FreeMap,
    pub mac_ranges: OrdMap<Uuid, MacRangeRecord>,
    /// (block, address) → the vifs it is explicitly allowed on: what a purge asks, so that
    /// dropping a purged address's allowances is a lookup, not a walk over every interface.
    pub allowed_on: OrdMap<(Uuid, IpAddr), OrdSet<String>>,
}

impl Default for Nics {
    fn default() -> Self {
        Nics {
            interfaces: Default::default(),
            by_device: OrdMap::new(),
            addresses_by_vif: KeyedIds::default(),
            networked_by_vif: KeyedIds::default(),
            macs: FreeMap::new(1u128 << MAC_BITS),
            mac_ranges: OrdMap::default(),
            allowed_on: OrdMap::new(),
        }
    }
}

impl Nics {
    /// Called for every allocation that names an interface.
    pub fn index_address(&mut self, vif: &str, address_id: Uuid, networked: bool) {
        self.addresses_by_vif.insert(vif, address_id);
        if networked {
            self.networked_by_vif.insert(vif, address_id);
        }
    }

    pub(crate) fn apply(&mut self, event: &Event) {
        match event {
            Event::InterfaceCreated(e) => self.created(e),
            Event::InterfaceDeleted(e) => self.deleted(e),
            Event::MacAddressAllocated(e) => {
                self.macs.set_used(u128::from(e.mac));
                self.with_interface(&e.vif, |i| i.record.mac_address = Some(e.mac));
            }
            Event::MacAddressReleased(e) => {
                self.macs.set_free(u128::from(e.mac));
                self.with_interface(&e.vif, |i| {
                    if i.record.mac_address == Some(e.mac) {
                        i.record.mac_address = None;
                    }
                });
            }
            Event::MacRangeCreated(e) => {
                let record = MacRangeRecord {
                    id: e.range_id,
                    first: e.first,
                    prefix_len: e.prefix_len,
                    tenant_id: e.tenant_id.clone(),
                    created_at: e.created_at,
                    updated_at: e.created_at,
                };
                self.mac_ranges.insert(e.range_id, record);
            }
            Event::MacRangeDeleted(e) => {
                self.mac_ranges.remove(&e.range_id);
            }
            Event::AllowedIpAdded(e) => {
                if let Some(i) = self.interfaces.get_mut(&e.vif) {
                    i.allowed.insert((e.block_id, e.address));
                    self.allowed_on
                        .entry((e.block_id, e.address))
                        .or_default()
                        .insert(e.vif.clone());
                }
            }
            Event::AllowedIpRemoved(e) => {
                self.with_interface(&e.vif, |i| {
                    i.allowed.remove(&(e.block_id, e.address));
                });
                self.disallow(e.block_id, e.address, &e.vif);
            }
            _ => {}
        }
    }

    fn with_interface(&mut self, vif: &str, f: impl FnOnce(&mut InterfaceState)) {
        if let Some(i) = self.interfaces.get_mut(vif) {
            f(i);
        }
    }

    fn created(&mut self, e: &InterfaceCreated) {
        let record = InterfaceRecord {
            id: e.interface_id,
            vif: e.vif.clone(),
            tenant_id: e.tenant_id.clone(),
            device_id: e.device_id.clone(),
            mac_address: None,
            created_at: e.created_at,
            updated_at: e.created_at,
        };
        if let Some(device) = &e.device_id {
            self.by_device
                .insert((device.clone(), e.interface_id), e.vif.clone());
        }
        let state = InterfaceState {
            record,
            allowed: OrdSet::new(),
        };
        self.interfaces.insert(e.vif.clone(), state);
    }

    /// Drops the interface and its whole address index: a restore brings an address's link
    /// back only to the interface it was allocated on, and that one is gone. Keeping the
    /// entries made the next interface to take the vif (even another tenant's) inherit a
    /// restored stranger's address.
    fn deleted(&mut self, e: &InterfaceDeleted) {
        if let Some(i) = self.interfaces.remove(&e.vif) {
            if let Some(device) = i.record.device_id {
                self.by_device.remove(&(device, i.record.id));
            }
            for (block_id, address) in i.allowed {
                self.disallow(block_id, address, &e.vif);
            }
        }
        self.addresses_by_vif.remove_key(&e.vif);
        self.networked_by_vif.remove_key(&e.vif);
    }
}

impl Nics {
    fn disallow(&mut self, block_id: Uuid, address: IpAddr, vif: &str) {
        if let Some(vifs) = self.allowed_on.get_mut(&(block_id, address)) {
            vifs.remove(vif);
            if vifs.is_empty() {
                self.allowed_on.remove(&(block_id, address));
            }
        }
    }
}

impl State {
    /// The vifs on which the address is explicitly allowed.
    pub fn allowances_of(&self, block_id: Uuid, address: IpAddr) -> impl Iterator<Item = &str> {
        self.nics
            .allowed_on
            .get(&(block_id, address))
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    pub fn interface(&self, vif: &str) -> Option<&InterfaceState> {
        self.nics.interfaces.get(vif)
    }

    /// The interface if `tenant` is its lessee (another tenant's is not found).
    pub fn interface_of(&self, tenant: &str, vif: &str) -> Option<&InterfaceState> {
        self.interface(vif).filter(|i| i.record.tenant_id == tenant)
    }

    /// The live addresses linked to `vif`, in id (creation) order.
    pub fn interface_addresses(&self, vif: &str) -> Vec<&AddressRecord> {
        self.nics
            .addresses_by_vif
            .ids(vif, None)
            .filter_map(|id| self.addresses.get(&id))
            .filter(|a| live_on(a, vif))
            .collect()
    }

    /// The network of the block of `a`, if the block has one.
    pub fn network_of(&self, a: &AddressRecord) -> Option<&str> {
        self.blocks.get(&a.block_id)?.record.network_id.as_deref()
    }

    /// The network the interface is plugged into: that of the block of any of its live
    /// addresses (None: no address, or only in blocks without a network).
    pub fn plugged_network(&self, vif: &str) -> Option<&str> {
        self.networked_addresses(vif)
            .find_map(|a| self.network_of(a))
    }

    /// The live addresses of `vif` allocated in a block that had a network (a block given a
    /// network only later does not plug its older addresses' interfaces in).
    pub fn networked_addresses<'a>(
        &'a self,
        vif: &'a str,
    ) -> impl Iterator<Item = &'a AddressRecord> + 'a {
        self.nics
            .networked_by_vif
            .ids(vif, None)
            .filter_map(|id| self.addresses.get(&id))
            .filter(move |a| live_on(a, vif))
    }

    /// A device's interfaces in creation order.
    pub fn device_interfaces(&self, device: &str) -> Vec<&InterfaceState> {
        let start = (device.to_string(), Uuid::nil());
        let end = (device.to_string(), Uuid::max());
        self.nics
            .by_device
            .range(start..=end)
            .filter_map(|(_, vif)| self.interface(vif))
            .collect()
    }

    /// MAC ranges in creation order.
    pub fn mac_ranges(&self) -> Vec<&MacRangeRecord> {
        let mut ranges: Vec<&MacRangeRecord> = self.nics.mac_ranges.values().collect();
        ranges.sort_by_key(|r| (r.created_at, r.id));
        ranges
    }

    pub fn mac_in_use(&self, mac: u64) -> bool {
        self.nics.macs.is_used(u128::from(mac))
    }

    /// The lowest MAC at or after `from` that is not in use.
    pub fn next_free_mac(&self, from: u64) -> Option<u64> {
        self.nics.macs.next_free(u128::from(from)).map(|m| m as u64)
    }

    /// An address with its block and the block's routes (Melange's ip-configuration view).
    pub fn ip_configuration(&self, address: &AddressRecord) -> Option<IpConfiguration> {
        let block = self.blocks.get(&address.block_id)?;
        Some(IpConfiguration {
            address: address.clone(),
            block: block.record.clone(),
            routes: self
                .routes_of(block.record.id)
                .into_iter()
                .cloned()
                .collect(),
        })
    }

    pub fn interface_view(&self, i: &InterfaceState) -> InterfaceView {
        let ip_addresses = self
            .interface_addresses(&i.record.vif)
            .into_iter()
            .filter_map(|a| self.ip_configuration(a))
            .collect();
        InterfaceView {
            interface: i.record.clone(),
            ip_addresses,
        }
    }

    /// What is allowed on the interface: its live addresses plus the explicitly allowed
    /// ones that still exist, without duplicates, in id order.
    pub fn allowed_ips(&self, i: &InterfaceState) -> Vec<&AddressRecord> {
        let mut out: std::collections::BTreeMap<Uuid, &AddressRecord> = self
            .interface_addresses(&i.record.vif)
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
        for (block_id, address) in &i.allowed {
            if let Some(a) = self
                .blocks
                .get(block_id)
                .and_then(|b| self.address_in(b, *address))
            {
                out.insert(a.id, a);
            }
        }
        out.into_values().collect()
    }
}

/// Whether `a` is live and still names `vif` (the by-vif index keeps ids of addresses since
/// deallocated, purged or moved; queries filter them out here).
fn live_on(a: &AddressRecord, vif: &str) -> bool {
    a.deallocated_at.is_none() && a.interface_id.as_deref() == Some(vif)
}
