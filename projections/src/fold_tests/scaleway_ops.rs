//! The fold tests' share of Scaleway IPs: operations that emit the events the writer could
//! have decided (a booking is `AddressAllocated` then `ScalewayIpBooked` on a free address;
//! update, attach, detach; a release of a detached IP is `ScalewayIpReleased`,
//! `AddressDeallocated`, `AddressPurged`), the plain model of what they say, and the check
//! that the folded state agrees (the IPs with their resources, and `holder_of`).

use std::collections::BTreeMap;

use ipledger_domain::block;
use ipledger_domain::events::*;
use ipledger_domain::records::Holder;
use ipledger_domain::scaleway::*;
use ipledger_domain::Event;
use proptest::prelude::*;
use proptest::sample::Index;
use uuid::Uuid;

use super::Model;
use crate::State;

#[derive(Debug, Clone)]
pub(super) enum ScalewayOp {
    Book {
        block: Index,
        seed: u64,
        attached: bool,
    },
    Update {
        ip: Index,
    },
    Attach {
        ip: Index,
    },
    Detach {
        ip: Index,
    },
    Release {
        ip: Index,
    },
}

pub(super) fn op() -> impl Strategy<Value = ScalewayOp> {
    let idx = any::<Index>;
    prop_oneof![
        3 => (idx(), any::<u64>(), any::<bool>())
            .prop_map(|(block, seed, attached)| ScalewayOp::Book { block, seed, attached }),
        1 => idx().prop_map(|ip| ScalewayOp::Update { ip }),
        1 => idx().prop_map(|ip| ScalewayOp::Attach { ip }),
        1 => idx().prop_map(|ip| ScalewayOp::Detach { ip }),
        2 => idx().prop_map(|ip| ScalewayOp::Release { ip }),
    ]
}

/// Live IPs: id → (block, offset, attached).
#[derive(Debug, Default)]
pub(super) struct ScalewayModel {
    ips: BTreeMap<Uuid, (Uuid, u128, bool)>,
}

fn resource(id: Uuid) -> ScalewayResource {
    ScalewayResource {
        resource_type: RESOURCE_TYPE_CUSTOM.into(),
        id,
        mac_address: "02:00:00:00:00:01".into(),
        name: None,
    }
}

fn pick(model: &Model, ip: &Index) -> Option<(Uuid, Uuid, u128, bool)> {
    let ips = &model.scaleway.ips;
    let (id, (b, o, a)) = ips.iter().nth(ip.index(ips.len().max(1)))?;
    Some((*id, *b, *o, *a))
}

pub(super) fn interpret(model: &mut Model, op: &ScalewayOp) {
    let now = model.now();
    match op {
        ScalewayOp::Book {
            block,
            seed,
            attached,
        } => book(model, block, *seed, *attached),
        ScalewayOp::Update { ip } => {
            let Some((ip_id, ..)) = pick(model, ip) else {
                return;
            };
            model.emit(Event::ScalewayIpUpdated(ScalewayIpUpdated {
                ip_id,
                tags: vec!["t".into()],
                reverses: vec![],
                updated_at: now,
            }));
        }
        ScalewayOp::Attach { ip } => {
            let Some((ip_id, _, _, false)) = pick(model, ip) else {
                return;
            };
            let id = model.fresh_id();
            model.emit(Event::ScalewayIpAttached(ScalewayIpAttached {
                ip_id,
                resource: resource(id),
                attached_at: now,
            }));
        }
        ScalewayOp::Detach { ip } => {
            let Some((ip_id, _, _, true)) = pick(model, ip) else {
                return;
            };
            model.emit(Event::ScalewayIpDetached(ScalewayIpDetached {
                ip_id,
                detached_at: now,
            }));
        }
        ScalewayOp::Release { ip } => {
            let Some((ip_id, block_id, offset, false)) = pick(model, ip) else {
                return;
            };
            // The writer refuses Melange's deallocation of a Scaleway address; the generic
            // operations do not know that, so release only what is still live.
            let Some(b) = model.block(block_id) else {
                return;
            };
            if b.used.get(&offset) != Some(&false) {
                return;
            }
            let address = block::address_at(&b.cidr, offset);
            model.emit(Event::ScalewayIpReleased(ScalewayIpReleased {
                ip_id,
                block_id,
                released_at: now,
            }));
            model.emit(Event::AddressDeallocated(AddressDeallocated {
                block_id,
                address,
                deallocated_at: now,
            }));
            model.emit(Event::AddressPurged(AddressPurged {
                block_id,
                address,
                purged_at: now,
            }));
        }
    }
}

fn book(model: &mut Model, pick: &Index, seed: u64, attached: bool) {
    let Some((block_id, address)) = model.free_address(pick, seed) else {
        return;
    };
    let ip_id = model.fresh_id();
    let resource = attached.then(|| resource(ip_id));
    let now = model.now();
    model.emit(Event::AddressAllocated(AddressAllocated {
        block_id,
        address_id: ip_id,
        address,
        interface_id: None,
        used_by_tenant: "p1".into(),
        used_by_device: None,
        mac_address: None,
        allocated_at: now,
    }));
    model.emit(Event::ScalewayIpBooked(ScalewayIpBooked {
        ip_id,
        project_id: "p1".into(),
        block_id,
        address,
        source: ScalewaySource {
            private_network_id: None,
            subnet_id: Some(block_id),
            zonal: None,
        },
        tags: vec![],
        resource,
        booked_at: now,
    }));
}

impl ScalewayModel {
    pub(super) fn observe(
        &mut self,
        event: &Event,
        offset_of: impl Fn(Uuid, std::net::IpAddr) -> Option<u128>,
    ) {
        match event {
            Event::ScalewayIpBooked(e) => {
                if let Some(o) = offset_of(e.block_id, e.address) {
                    self.ips
                        .insert(e.ip_id, (e.block_id, o, e.resource.is_some()));
                }
            }
            Event::ScalewayIpAttached(e) => {
                if let Some(ip) = self.ips.get_mut(&e.ip_id) {
                    ip.2 = true;
                }
            }
            Event::ScalewayIpDetached(e) => {
                if let Some(ip) = self.ips.get_mut(&e.ip_id) {
                    ip.2 = false;
                }
            }
            Event::ScalewayIpReleased(e) => {
                self.ips.remove(&e.ip_id);
            }
            _ => {}
        }
    }
}

pub(super) fn check(state: &State, model: &Model) -> Result<(), TestCaseError> {
    let folded: BTreeMap<Uuid, bool> = state
        .scaleway_ips(None)
        .map(|ip| (ip.id, ip.resource.is_some()))
        .collect();
    let expected: BTreeMap<Uuid, bool> = model
        .scaleway
        .ips
        .iter()
        .map(|(id, (_, _, a))| (*id, *a))
        .collect();
    prop_assert_eq!(&folded, &expected);
    prop_assert_eq!(state.scaleway_ips(Some("p1")).count(), expected.len());
    for id in expected.keys() {
        prop_assert_eq!(state.holder_of(*id), Some(Holder::Scaleway { ip_id: *id }));
    }
    Ok(())
}
