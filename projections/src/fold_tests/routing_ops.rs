//! The fold tests' share of static routes, NAT pairs and the retention index: operations
//! that emit route and NAT events the writer could have decided, the plain model of what
//! they say, and the check that the folded state agrees.
//!
//! The model learns address ids by watching every event (`observe`), and drops the routes
//! and NAT pairs of purged addresses and deleted blocks the way the fold does, since the
//! generic purge and block-deletion operations do not emit `NatRemoved`/`RouteDeleted`.

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
pub(super) enum RoutingOp {
    CreateRoute { block: Index, v6: bool },
    UpdateRoute { route: Index },
    DeleteRoute { route: Index },
    AssignNat { local: Index, global: Index },
    RemoveNat { pair: Index },
}

pub(super) fn op() -> impl Strategy<Value = RoutingOp> {
    let idx = any::<Index>;
    prop_oneof![
        2 => (idx(), any::<bool>()).prop_map(|(block, v6)| RoutingOp::CreateRoute { block, v6 }),
        1 => idx().prop_map(|route| RoutingOp::UpdateRoute { route }),
        1 => idx().prop_map(|route| RoutingOp::DeleteRoute { route }),
        3 => (idx(), idx()).prop_map(|(local, global)| RoutingOp::AssignNat { local, global }),
        1 => idx().prop_map(|pair| RoutingOp::RemoveNat { pair }),
    ]
}

/// An address as the NAT events name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Addr {
    id: Uuid,
    block: Uuid,
    address: IpAddr,
}

#[derive(Debug, Default)]
pub(super) struct RoutingModel {
    /// Occupied addresses: true while live (not soft-deallocated).
    addresses: BTreeMap<Addr, bool>,
    routes: BTreeSet<(Uuid, Uuid)>,
    pairs: BTreeSet<(Addr, Addr)>,
}

impl RoutingModel {
    fn find(&self, block: Uuid, address: IpAddr) -> Option<Addr> {
        self.addresses
            .keys()
            .find(|a| a.block == block && a.address == address)
            .copied()
    }

    fn forget(&mut self, gone: impl Fn(&Addr) -> bool) {
        self.addresses.retain(|a, _| !gone(a));
        self.pairs.retain(|(l, g)| !gone(l) && !gone(g));
    }

    /// Brings the model up to date with any event of the log.
    pub(super) fn observe(&mut self, event: &Event) {
        match event {
            Event::AddressAllocated(e) => {
                let a = Addr {
                    id: e.address_id,
                    block: e.block_id,
                    address: e.address,
                };
                self.addresses.insert(a, true);
            }
            Event::AddressDeallocated(e) => self.set_live(e.block_id, e.address, false),
            Event::AddressRestored(e) => self.set_live(e.block_id, e.address, true),
            Event::AddressPurged(e) => {
                if let Some(a) = self.find(e.block_id, e.address) {
                    self.forget(|x| *x == a);
                }
            }
            Event::BlockDeleted(e) => {
                self.forget(|x| x.block == e.block_id);
                self.routes.retain(|(b, _)| *b != e.block_id);
            }
            Event::RouteCreated(e) => {
                self.routes.insert((e.block_id, e.route_id));
            }
            Event::RouteDeleted(e) => {
                self.routes.remove(&(e.block_id, e.route_id));
            }
            Event::NatAssigned(e) => {
                self.pairs.insert(pair(
                    e.local_address_id,
                    e.local_block_id,
                    e.local_address,
                    e.global_address_id,
                    e.global_block_id,
                    e.global_address,
                ));
            }
            Event::NatRemoved(e) => {
                self.pairs.remove(&pair(
                    e.local_address_id,
                    e.local_block_id,
                    e.local_address,
                    e.global_address_id,
                    e.global_block_id,
                    e.global_address,
                ));
            }
            _ => {}
        }
    }

    fn set_live(&mut self, block: Uuid, address: IpAddr, live: bool) {
        if let Some(a) = self.find(block, address) {
            self.addresses.insert(a, live);
        }
    }
}

fn pair(l: Uuid, lb: Uuid, la: IpAddr, g: Uuid, gb: Uuid, ga: IpAddr) -> (Addr, Addr) {
    (
        Addr {
            id: l,
            block: lb,
            address: la,
        },
        Addr {
            id: g,
            block: gb,
            address: ga,
        },
    )
}

fn pick<T: Copy>(items: impl Iterator<Item = T>, i: &Index) -> Option<T> {
    let items: Vec<T> = items.collect();
    (!items.is_empty()).then(|| items[i.index(items.len())])
}

/// Emits the event `op` stands for, if the model allows one.
pub(super) fn interpret(model: &mut Model, op: &RoutingOp) {
    let now = model.now();
    let r = &model.routing;
    let event = match op {
        RoutingOp::CreateRoute { block, v6 } => {
            let Some(block_id) = pick(model.blocks.iter().map(|b| b.id), block) else {
                return;
            };
            let (destination, gateway) = if *v6 {
                ("fe::/64", "fe::1")
            } else {
                ("10.9.0.0/16", "10.9.0.1")
            };
            Event::RouteCreated(RouteCreated {
                block_id,
                route_id: model.fresh_id(),
                destination: destination.into(),
                gateway: gateway.into(),
                netmask: (!*v6).then(|| "255.255.0.0".to_string()),
                created_at: now,
            })
        }
        RoutingOp::UpdateRoute { route } => {
            let Some((block_id, route_id)) = pick(r.routes.iter().copied(), route) else {
                return;
            };
            Event::RouteUpdated(RouteUpdated {
                block_id,
                route_id,
                destination: "192.168.0.0".into(),
                gateway: "192.168.0.1".into(),
                netmask: None,
                updated_at: now,
            })
        }
        RoutingOp::DeleteRoute { route } => {
            let Some((block_id, route_id)) = pick(r.routes.iter().copied(), route) else {
                return;
            };
            Event::RouteDeleted(RouteDeleted {
                block_id,
                route_id,
                deleted_at: now,
            })
        }
        RoutingOp::AssignNat { .. } | RoutingOp::RemoveNat { .. } => {
            let Some(event) = nat_event(r, op, now) else {
                return;
            };
            event
        }
    };
    model.emit(event);
}

/// The NAT event of a NAT operation, if the model allows one.
fn nat_event(
    r: &RoutingModel,
    op: &RoutingOp,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Event> {
    Some(match op {
        RoutingOp::AssignNat { local, global } => {
            let live = || {
                r.addresses
                    .iter()
                    .filter(|(_, live)| **live)
                    .map(|(a, _)| *a)
            };
            let (Some(l), Some(g)) = (pick(live(), local), pick(live(), global)) else {
                return None;
            };
            if l == g || r.pairs.contains(&(l, g)) {
                return None;
            }
            Event::NatAssigned(NatAssigned {
                local_block_id: l.block,
                local_address_id: l.id,
                local_address: l.address,
                global_block_id: g.block,
                global_address_id: g.id,
                global_address: g.address,
                assigned_at: now,
            })
        }
        RoutingOp::RemoveNat { pair } => {
            let Some((l, g)) = pick(r.pairs.iter().copied(), pair) else {
                return None;
            };
            Event::NatRemoved(NatRemoved {
                local_block_id: l.block,
                local_address_id: l.id,
                local_address: l.address,
                global_block_id: g.block,
                global_address_id: g.id,
                global_address: g.address,
                removed_at: now,
            })
        }
        _ => return None,
    })
}

/// Routes, NAT pairs and the retention index of the folded state agree with the model.
pub(super) fn check(state: &State, model: &Model) -> Result<(), TestCaseError> {
    let r = &model.routing;
    let routes: BTreeSet<(Uuid, Uuid)> = state.routes.by_block.iter().copied().collect();
    prop_assert_eq!(&routes, &r.routes);
    prop_assert_eq!(state.routes.by_id.len(), r.routes.len());
    let pairs: BTreeSet<(Uuid, Uuid)> = r.pairs.iter().map(|(l, g)| (l.id, g.id)).collect();
    prop_assert_eq!(&state.nat.globals_of, &imbl::OrdSet::from(&pairs));
    let mirrored: BTreeSet<(Uuid, Uuid)> = pairs.iter().map(|(l, g)| (*g, *l)).collect();
    prop_assert_eq!(&state.nat.locals_of, &imbl::OrdSet::from(&mirrored));
    let deallocated: BTreeSet<_> = state
        .addresses
        .values()
        .filter_map(|a| a.deallocated_at.map(|t| (t, a.id)))
        .collect();
    prop_assert_eq!(&state.retention.by_time, &imbl::OrdSet::from(&deallocated));
    Ok(())
}
