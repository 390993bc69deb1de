//! The fold tests' share of interfaces, MACs, MAC ranges and allowed IPs: operations that
//! emit the events the writer could have decided, the plain model of what they say, and the
//! check that the folded state agrees (interfaces, the MACs in use, the ranges, explicit
//! allowances, and each interface's live addresses as the vif index finds them).
//!
//! Interfaces are often created with the vif of an address the generic allocations made
//! (`vif-<address id>`), so that the index of addresses by vif is exercised.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipledger_domain::events::*;
use ipledger_domain::Event;
use proptest::prelude::*;
use proptest::sample::Index;
use uuid::Uuid;

use super::Model;
use crate::State;

#[derive(Debug, Clone)]
pub(super) enum InterfaceOp {
    Create {
        vif: Index,
        fresh: bool,
        device: bool,
    },
    Delete {
        iface: Index,
    },
    TakeMac {
        iface: Index,
        mac: u8,
        ranged: bool,
    },
    ReleaseMac {
        iface: Index,
    },
    CreateRange,
    DeleteRange {
        range: Index,
    },
    Allow {
        iface: Index,
        address: Index,
    },
    Disallow {
        iface: Index,
        pick: Index,
    },
}

pub(super) fn op() -> impl Strategy<Value = InterfaceOp> {
    let idx = any::<Index>;
    prop_oneof![
        3 => (idx(), any::<bool>(), any::<bool>())
            .prop_map(|(vif, fresh, device)| InterfaceOp::Create { vif, fresh, device }),
        1 => idx().prop_map(|iface| InterfaceOp::Delete { iface }),
        2 => (idx(), any::<u8>(), any::<bool>())
            .prop_map(|(iface, mac, ranged)| InterfaceOp::TakeMac { iface, mac, ranged }),
        1 => idx().prop_map(|iface| InterfaceOp::ReleaseMac { iface }),
        1 => Just(InterfaceOp::CreateRange),
        1 => idx().prop_map(|range| InterfaceOp::DeleteRange { range }),
        2 => (idx(), idx()).prop_map(|(iface, address)| InterfaceOp::Allow { iface, address }),
        1 => (idx(), idx()).prop_map(|(iface, pick)| InterfaceOp::Disallow { iface, pick }),
    ]
}

#[derive(Debug, Clone, Default)]
struct Nic {
    id: Uuid,
    mac: Option<u64>,
    device: bool,
    allowed: BTreeSet<(Uuid, IpAddr)>,
}

#[derive(Debug, Default)]
pub(super) struct InterfaceModel {
    nics: BTreeMap<String, Nic>,
    macs: BTreeSet<u64>,
    ranges: BTreeSet<Uuid>,
    /// Occupied addresses by (block, address): (id, vif, live).
    addresses: BTreeMap<(Uuid, IpAddr), (Uuid, Option<String>, bool)>,
}

impl InterfaceModel {
    /// Brings the model up to date with any event of the log.
    pub(super) fn observe(&mut self, event: &Event) {
        match event {
            Event::AddressAllocated(e) => {
                let entry = (e.address_id, e.interface_id.clone(), true);
                self.addresses.insert((e.block_id, e.address), entry);
            }
            Event::AddressDeallocated(e) => self.set_live(e.block_id, e.address, false),
            Event::AddressRestored(e) => self.set_live(e.block_id, e.address, true),
            Event::AddressPurged(e) => {
                self.addresses.remove(&(e.block_id, e.address));
            }
            Event::BlockDeleted(e) => self.addresses.retain(|(b, _), _| *b != e.block_id),
            // A deleted interface takes its address index with it: a later interface with the
            // same vif does not inherit the addresses (the fold's cross-tenant rule).
            Event::InterfaceDeleted(e) => {
                for a in self.addresses.values_mut() {
                    if a.1.as_deref() == Some(e.vif.as_str()) {
                        a.1 = None;
                    }
                }
            }
            _ => {}
        }
    }

    fn set_live(&mut self, block: Uuid, address: IpAddr, live: bool) {
        if let Some(a) = self.addresses.get_mut(&(block, address)) {
            a.2 = live;
        }
    }
}

fn pick<T: Clone>(items: impl Iterator<Item = T>, i: &Index) -> Option<T> {
    let items: Vec<T> = items.collect();
    (!items.is_empty()).then(|| items[i.index(items.len())].clone())
}

/// Emits the event `op` stands for, if the model allows one, and updates the model.
pub(super) fn interpret(model: &mut Model, op: &InterfaceOp) {
    let now = model.now();
    let event = match op {
        InterfaceOp::Create { vif, fresh, device } => {
            let m = &model.interfaces;
            let vif = if *fresh {
                format!("nic-{}", model.next_id + 1)
            } else {
                let linked = m.addresses.values().filter_map(|(_, v, _)| v.clone());
                match pick(linked.filter(|v| !m.nics.contains_key(v)), vif) {
                    Some(v) => v,
                    None => return,
                }
            };
            let interface_id = model.fresh_id();
            let nic = Nic {
                id: interface_id,
                device: *device,
                ..Nic::default()
            };
            model.interfaces.nics.insert(vif.clone(), nic);
            Event::InterfaceCreated(InterfaceCreated {
                interface_id,
                vif,
                tenant_id: "t2".into(),
                device_id: device.then(|| "vm-1".to_string()),
                created_at: now,
            })
        }
        InterfaceOp::Delete { iface } => {
            let Some(vif) = pick(model.interfaces.nics.keys().cloned(), iface) else {
                return;
            };
            let nic = model.interfaces.nics.remove(&vif).unwrap_or_default();
            Event::InterfaceDeleted(InterfaceDeleted {
                interface_id: nic.id,
                vif,
                deleted_at: now,
            })
        }
        other => match mac_or_allowance(model, other, now) {
            Some(event) => event,
            None => return,
        },
    };
    model.emit(event);
}

fn mac_or_allowance(
    model: &mut Model,
    op: &InterfaceOp,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Event> {
    let fresh = model.next_id + 1;
    let m = &mut model.interfaces;
    Some(match op {
        InterfaceOp::TakeMac { iface, mac, ranged } => {
            let vif = pick(
                m.nics
                    .iter()
                    .filter(|(_, n)| n.mac.is_none())
                    .map(|(v, _)| v.clone()),
                iface,
            )?;
            let mac = 0xBC76_4E20_0000 + u64::from(*mac);
            if !m.macs.insert(mac) {
                return None;
            }
            m.nics.get_mut(&vif)?.mac = Some(mac);
            let range_id = if *ranged {
                m.ranges.iter().next().copied()
            } else {
                None
            };
            Event::MacAddressAllocated(MacAddressAllocated {
                mac,
                vif,
                range_id,
                allocated_at: now,
            })
        }
        InterfaceOp::ReleaseMac { iface } => {
            let vif = pick(
                m.nics
                    .iter()
                    .filter(|(_, n)| n.mac.is_some())
                    .map(|(v, _)| v.clone()),
                iface,
            )?;
            let mac = m.nics.get_mut(&vif)?.mac.take()?;
            m.macs.remove(&mac);
            Event::MacAddressReleased(MacAddressReleased {
                mac,
                vif,
                released_at: now,
            })
        }
        InterfaceOp::CreateRange => {
            let range_id = Uuid::from_u128(fresh);
            model.next_id += 1;
            model.interfaces.ranges.insert(range_id);
            Event::MacRangeCreated(MacRangeCreated {
                range_id,
                first: 0xBC76_4E20_0000,
                prefix_len: 40,
                tenant_id: None,
                created_at: now,
            })
        }
        InterfaceOp::DeleteRange { range } => {
            let range_id = pick(m.ranges.iter().copied(), range)?;
            m.ranges.remove(&range_id);
            Event::MacRangeDeleted(MacRangeDeleted {
                range_id,
                deleted_at: now,
            })
        }
        InterfaceOp::Allow { iface, address } => {
            let vif = pick(m.nics.keys().cloned(), iface)?;
            let (block_id, address) = pick(m.addresses.keys().copied(), address)?;
            if !m.nics.get_mut(&vif)?.allowed.insert((block_id, address)) {
                return None;
            }
            Event::AllowedIpAdded(AllowedIpAdded {
                vif,
                block_id,
                address,
                added_at: now,
            })
        }
        InterfaceOp::Disallow { iface, pick: p } => {
            let vif = pick(
                m.nics
                    .iter()
                    .filter(|(_, n)| !n.allowed.is_empty())
                    .map(|(v, _)| v.clone()),
                iface,
            )?;
            let nic = m.nics.get_mut(&vif)?;
            let (block_id, address) = pick(nic.allowed.iter().copied(), p)?;
            nic.allowed.remove(&(block_id, address));
            Event::AllowedIpRemoved(AllowedIpRemoved {
                vif,
                block_id,
                address,
                removed_at: now,
            })
        }
        InterfaceOp::Create { .. } | InterfaceOp::Delete { .. } => return None,
    })
}

/// Interfaces, MACs, ranges, allowances and each interface's live addresses agree.
pub(super) fn check(state: &State, model: &Model) -> Result<(), TestCaseError> {
    let m = &model.interfaces;
    let vifs: BTreeSet<&String> = state.nics.interfaces.keys().collect();
    prop_assert_eq!(vifs, m.nics.keys().collect::<BTreeSet<_>>());
    for (vif, nic) in &m.nics {
        let i = &state.nics.interfaces[vif];
        prop_assert_eq!(i.record.id, nic.id);
        prop_assert_eq!(i.record.mac_address, nic.mac);
        prop_assert_eq!(&i.allowed, &imbl::OrdSet::from(&nic.allowed));
        let live: BTreeSet<Uuid> = state
            .interface_addresses(vif)
            .iter()
            .map(|a| a.id)
            .collect();
        let expected: BTreeSet<Uuid> = m
            .addresses
            .values()
            .filter(|(_, v, live)| *live && v.as_deref() == Some(vif.as_str()))
            .map(|(id, _, _)| *id)
            .collect();
        prop_assert_eq!(live, expected);
    }
    let devices = m.nics.values().filter(|n| n.device).count();
    prop_assert_eq!(state.nics.by_device.len(), devices);
    prop_assert_eq!(state.nics.macs.used_count(), m.macs.len() as u128);
    for mac in &m.macs {
        prop_assert!(state.mac_in_use(*mac));
    }
    let ranges: BTreeSet<Uuid> = state.nics.mac_ranges.keys().copied().collect();
    prop_assert_eq!(&ranges, &m.ranges);
    Ok(())
}
