//! Static routes, NAT pairs and the retention index: their fold and their queries.
//!
//! * Routes are kept by id and by (block, route id); ids are UUID v7, so id order is creation
//!   order, which is the order the ip-configuration views list a block's `ip_routes` in.
//! * A NAT pair (local address id, global address id) is kept from both sides, so "the
//!   globals of L" and "the locals of G" are each one ordered range.
//! * The retention index orders soft-deallocated addresses by `deallocated_at`, so the
//!   scheduled purge finds the expired ones without scanning every address.
//!
//! The index and the NAT table are updated *before* `State::apply_event` folds the address
//! events (it needs the address record as it was); a purge or a block deletion also drops
//! whatever still refers to the addresses that go, so no row ever points at a missing address.

use imbl::{OrdMap, OrdSet};
use std::ops::Bound;

use ipledger_domain::records::AddressRecord;
use ipledger_domain::routing::RouteRecord;
use ipledger_domain::{Event, Timestamp};

use uuid::Uuid;

use crate::page::{Page, PageRequest};
use crate::state::State;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RouteTable {
    pub by_id: OrdMap<Uuid, RouteRecord>,
    /// (block id, route id): a block's routes in creation order.
    pub by_block: OrdSet<(Uuid, Uuid)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NatTable {
    /// (local address id, global address id).
    pub globals_of: OrdSet<(Uuid, Uuid)>,
    /// (global address id, local address id): the same pairs seen from the global side.
    pub locals_of: OrdSet<(Uuid, Uuid)>,
}

/// Which side of a NAT pair the address in the URL is on, and so what a request lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum NatSide {
    /// `.../ip_addresses/{L}/inside_globals`: L is the local, the partners are globals.
    Globals,
    /// `.../ip_addresses/{G}/inside_locals`: G is the global, the partners are locals.
    Locals,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RetentionIndex {
    /// (deallocated_at, address id) of every soft-deallocated address, oldest first.
    pub by_time: OrdSet<(Timestamp, Uuid)>,
}

fn of(id: Uuid) -> (Bound<(Uuid, Uuid)>, Bound<(Uuid, Uuid)>) {
    (
        Bound::Included((id, Uuid::nil())),
        Bound::Included((id, Uuid::max())),
    )
}

fn after(id: Uuid, marker: Option<Uuid>) -> (Bound<(Uuid, Uuid)>, Bound<(Uuid, Uuid)>) {
    match marker {
        Some(m) => (Bound::Excluded((id, m)), Bound::Included((id, Uuid::max()))),
        None => of(id),
    }
}

impl State {
    /// Folds a route or NAT event.
    pub(crate) fn apply_routing(&mut self, event: &Event) {
        match event {
            Event::RouteCreated(e) => {
                let record = RouteRecord {
                    id: e.route_id,
                    block_id: e.block_id,
                    destination: e.destination.clone(),
                    gateway: e.gateway.clone(),
                    netmask: e.netmask.clone(),
                    created_at: e.created_at,
                    updated_at: e.created_at,
                };
                self.routes.by_block.insert((e.block_id, e.route_id));
                self.routes.by_id.insert(e.route_id, record);
            }
            Event::RouteUpdated(e) => {
                if let Some(r) = self.routes.by_id.get_mut(&e.route_id) {
                    r.destination = e.destination.clone();
                    r.gateway = e.gateway.clone();
                    r.netmask = e.netmask.clone();
                    r.updated_at = e.updated_at;
                }
            }
            Event::RouteDeleted(e) => {
                self.routes.by_id.remove(&e.route_id);
                self.routes.by_block.remove(&(e.block_id, e.route_id));
            }
            Event::NatAssigned(e) => {
                let (l, g) = (e.local_address_id, e.global_address_id);
                self.nat.globals_of.insert((l, g));
                self.nat.locals_of.insert((g, l));
            }
            Event::NatRemoved(e) => {
                let (l, g) = (e.local_address_id, e.global_address_id);
                self.nat.globals_of.remove(&(l, g));
                self.nat.locals_of.remove(&(g, l));
            }
            _ => {}
        }
    }

    /// Keeps the retention index and the NAT table in step with the address events; runs
    /// before the address fold, while the record still shows the old `deallocated_at`.
    pub(crate) fn observe_addresses(&mut self, event: &Event) {
        match event {
            Event::AddressDeallocated(e) => {
                if let Some((id, old)) = self.deallocation_of(e.block_id, e.address) {
                    if let Some(old) = old {
                        self.retention.by_time.remove(&(old, id));
                    }
                    self.retention.by_time.insert((e.deallocated_at, id));
                }
            }
            Event::AddressRestored(e) => self.forget_deallocation(e.block_id, e.address, false),
            Event::AddressPurged(e) => self.forget_deallocation(e.block_id, e.address, true),
            Event::BlockDeleted(e) => {
                let ids: Vec<Uuid> = self
                    .blocks
                    .get(&e.block_id)
                    .map(|b| b.by_offset.values().copied().collect())
                    .unwrap_or_default();
                for id in ids {
                    self.forget_address(id);
                }
                let routes: Vec<(Uuid, Uuid)> = self
                    .routes
                    .by_block
                    .range(of(e.block_id))
                    .copied()
                    .collect();
                for (block, route) in routes {
                    self.routes.by_block.remove(&(block, route));
                    self.routes.by_id.remove(&route);
                }
            }
            _ => {}
        }
    }

    fn deallocation_of(
        &self,
        block_id: Uuid,
        address: std::net::IpAddr,
    ) -> Option<(Uuid, Option<Timestamp>)> {
        let b = self.blocks.get(&block_id)?;
        self.address_in(b, address)
            .map(|r| (r.id, r.deallocated_at))
    }

    fn forget_deallocation(&mut self, block_id: Uuid, address: std::net::IpAddr, gone: bool) {
        let Some((id, old)) = self.deallocation_of(block_id, address) else {
            return;
        };
        if gone {
            self.forget_address(id);
        } else if let Some(old) = old {
            self.retention.by_time.remove(&(old, id));
        }
    }

    /// Drops every trace of an address that leaves the state: its retention entry and its
    /// NAT pairs (the writer appends `NatRemoved` for them first; this keeps replay safe).
    fn forget_address(&mut self, id: Uuid) {
        if let Some(old) = self.addresses.get(&id).and_then(|r| r.deallocated_at) {
            self.retention.by_time.remove(&(old, id));
        }
        for (side, other) in [
            (NatSide::Globals, NatSide::Locals),
            (NatSide::Locals, NatSide::Globals),
        ] {
            let partners: Vec<Uuid> = self.nat_set(side).range(of(id)).map(|p| p.1).collect();
            for p in partners {
                self.nat_set_mut(side).remove(&(id, p));
                self.nat_set_mut(other).remove(&(p, id));
            }
        }
    }

    fn nat_set(&self, side: NatSide) -> &OrdSet<(Uuid, Uuid)> {
        match side {
            NatSide::Globals => &self.nat.globals_of,
            NatSide::Locals => &self.nat.locals_of,
        }
    }

    fn nat_set_mut(&mut self, side: NatSide) -> &mut OrdSet<(Uuid, Uuid)> {
        match side {
            NatSide::Globals => &mut self.nat.globals_of,
            NatSide::Locals => &mut self.nat.locals_of,
        }
    }

    /// A block's routes in creation order: what an ip-configuration view renders as
    /// `ip_block.ip_routes`.
    pub fn routes_of(&self, block_id: Uuid) -> Vec<&RouteRecord> {
        self.routes
            .by_block
            .range(of(block_id))
            .filter_map(|(_, id)| self.routes.by_id.get(id))
            .collect()
    }

    pub fn list_routes(&self, block_id: Uuid, page: PageRequest) -> Page<&RouteRecord> {
        page.take(
            self.routes
                .by_block
                .range(after(block_id, page.marker))
                .filter_map(|(_, id)| self.routes.by_id.get(id).map(|r| (*id, r))),
        )
    }

    /// The route with this id if it belongs to the block.
    pub fn route_in(&self, block_id: Uuid, route_id: Uuid) -> Option<&RouteRecord> {
        self.routes
            .by_id
            .get(&route_id)
            .filter(|r| r.block_id == block_id)
    }

    /// The partner addresses of `address_id` on `side`, in partner id order.
    pub fn nat_partners(
        &self,
        address_id: Uuid,
        side: NatSide,
        page: PageRequest,
    ) -> Page<&AddressRecord> {
        page.take(
            self.nat_set(side)
                .range(after(address_id, page.marker))
                .filter_map(|(_, p)| self.addresses.get(p).map(|r| (*p, r))),
        )
    }

    /// Every NAT pair an address is in, as (local id, global id).
    pub fn nat_pairs_of(&self, address_id: Uuid) -> Vec<(Uuid, Uuid)> {
        let as_local = self.nat.globals_of.range(of(address_id)).copied();
        let as_global = self
            .nat
            .locals_of
            .range(of(address_id))
            .map(|(g, l)| (*l, *g));
        as_local.chain(as_global).collect()
    }

    pub fn nat_pair_exists(&self, local_id: Uuid, global_id: Uuid) -> bool {
        self.nat.globals_of.contains(&(local_id, global_id))
    }

    /// Soft-deallocated addresses deallocated at or before `cutoff`, oldest first, at most
    /// `max` of them.
    pub fn expired_deallocations(&self, cutoff: Timestamp, max: usize) -> Vec<&AddressRecord> {
        self.retention
            .by_time
            .iter()
            .take_while(|(at, _)| *at <= cutoff)
            .filter_map(|(_, id)| self.addresses.get(id))
            .take(max)
            .collect()
    }
}
