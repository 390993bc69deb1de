//! Read queries over [`State`], indexed the way the routes ask: by tenant, block, lessee and
//! device. Tenant scoping happens here: a query for another tenant's object finds nothing.

use std::ops::Bound;

use ipledger_domain::records::{
    AddressRecord, BlockRecord, BlockType, OctetRecord, PolicyRecord, RangeRecord,
};
use uuid::Uuid;

use crate::page::{after, Page, PageRequest};
use crate::state::{BlockState, PolicyState, State};

fn tenant_range(
    tenant: &str,
    marker: Option<Uuid>,
) -> (Bound<(String, Uuid)>, Bound<(String, Uuid)>) {
    let start = match marker {
        Some(m) => Bound::Excluded((tenant.to_string(), m)),
        None => Bound::Included((tenant.to_string(), Uuid::nil())),
    };
    (start, Bound::Included((tenant.to_string(), Uuid::max())))
}

#[cfg(test)]
thread_local! {
    /// Address records a query looked at, counted in test builds: the work a page costs.
    pub(crate) static RECORDS_VISITED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl State {
    /// An address record by id, for the listing queries (counted in test builds).
    fn visit(&self, id: &Uuid) -> Option<&AddressRecord> {
        #[cfg(test)]
        RECORDS_VISITED.with(|c| c.set(c.get() + 1));
        self.addresses.get(id)
    }

    /// The tenant's block, or None (also when another tenant owns it).
    /// A block by id, whoever owns it.
    pub fn block(&self, id: Uuid) -> Option<&BlockState> {
        self.blocks.get(&id)
    }

    /// Every block, in no particular order: a walk over all blocks, counted as such
    /// (`work::blocks_examined`); the write path asks the block index instead.
    pub fn all_blocks(&self) -> impl Iterator<Item = &BlockState> {
        self.blocks
            .values()
            .inspect(|_| crate::work::count_blocks(1))
    }

    /// How many blocks exist.
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    /// A policy by id, whoever owns it.
    pub fn policy(&self, id: Uuid) -> Option<&PolicyState> {
        self.policies.get(&id)
    }

    /// An address record by id (live or soft-deallocated).
    pub fn address(&self, id: Uuid) -> Option<&AddressRecord> {
        self.addresses.get(&id)
    }

    /// How many address records exist (live or soft-deallocated).
    pub fn address_count(&self) -> usize {
        self.addresses.len()
    }

    /// An IP request by id.
    pub fn request(&self, id: Uuid) -> Option<&ipledger_domain::requests::RequestRecord> {
        self.requests.by_id.get(&id)
    }

    /// The IP request queue and the notifications it owes.
    pub fn request_queue(&self) -> &crate::requests::Requests {
        &self.requests
    }

    /// The access tokens.
    pub fn tokens(&self) -> &crate::tokens::Tokens {
        &self.tokens
    }

    /// A MAC range by id.
    pub fn mac_range(&self, id: Uuid) -> Option<&ipledger_domain::interfaces::MacRangeRecord> {
        self.nics.mac_ranges.get(&id)
    }

    /// Whether the address record is live (allocated and not soft-deallocated).
    pub fn is_live(&self, id: Uuid) -> bool {
        self.live_addresses.contains(&id)
    }

    /// Whether the live address is leased to `tenant`.
    pub fn is_leased_to(&self, tenant: &str, id: Uuid) -> bool {
        self.live_by_tenant.contains(tenant, id)
    }

    /// NAT pairs, from both sides.
    pub fn nat_table(&self) -> &crate::routing::NatTable {
        &self.nat
    }

    /// Soft-deallocated addresses by the time they were deallocated.
    pub fn retention_index(&self) -> &crate::routing::RetentionIndex {
        &self.retention
    }

    /// How many objects of each kind the state holds (for `replay` and logs).
    pub fn counts(&self) -> Counts {
        Counts {
            blocks: self.blocks.len(),
            addresses: self.addresses.len(),
            live_addresses: self.live_addresses.len(),
            policies: self.policies.len(),
        }
    }

    /// The position the next event will get: how many events are folded in.
    pub fn position(&self) -> u64 {
        self.next_position
    }

    pub fn block_of(&self, tenant: &str, id: Uuid) -> Option<&BlockState> {
        self.blocks
            .get(&id)
            .filter(|b| b.record.tenant_id == tenant)
    }

    pub fn list_blocks(
        &self,
        tenant: &str,
        kind: Option<BlockType>,
        page: PageRequest,
    ) -> Page<&BlockRecord> {
        let items = self
            .blocks_by_tenant
            .range(tenant_range(tenant, page.marker))
            .filter_map(|(_, id)| self.blocks.get(id).map(|b| (*id, &b.record)))
            .filter(|(_, r)| kind.is_none_or(|k| r.block_type == k));
        page.take(items)
    }

    /// Direct children of a block, whatever their tenant (Melange's behaviour).
    pub fn subnets(&self, block: &BlockState) -> Vec<&BlockRecord> {
        block
            .children
            .iter()
            .filter_map(|id| self.blocks.get(id))
            .map(|b| &b.record)
            .collect()
    }

    /// Every address held in a block, in id order: its allocated and soft-deallocated
    /// addresses (whatever surface allocated them: Melange, Scaleway, pools, registrations)
    /// and the holds of pending IP requests, merged from two seeks (`ids`, `hold_ids`) to
    /// the marker, then the page: O(log n + page).
    pub fn block_addresses(
        &self,
        block: &BlockState,
        page: PageRequest,
    ) -> Page<std::borrow::Cow<'_, AddressRecord>> {
        use std::borrow::Cow;
        let allocated = block
            .ids
            .range(after(page.marker))
            .filter_map(|id| self.visit(id).map(|r| (r.id, Cow::Borrowed(r))));
        // A pending IP request's hold, shown as the address its approval would allocate
        // (the block owner's, no interface), under the request's id.
        let held = block.hold_ids.range(after(page.marker)).filter_map(|id| {
            let r = self.requests.by_id.get(id)?;
            Some((
                *id,
                Cow::Owned(AddressRecord {
                    id: *id,
                    block_id: block.record.id,
                    address: r.ip,
                    interface_id: None,
                    used_by_tenant: block.record.tenant_id.clone(),
                    used_by_device: None,
                    mac_address: None,
                    created_at: r.requested_at,
                    updated_at: r.requested_at,
                    deallocated_at: None,
                }),
            ))
        });
        page.take(itertools_merge(allocated, held))
    }

    pub fn address_in(
        &self,
        block: &BlockState,
        address: std::net::IpAddr,
    ) -> Option<&AddressRecord> {
        let offset = ipledger_domain::block::offset_of(&block.record.cidr, address)?;
        block
            .by_offset
            .get(&offset)
            .and_then(|id| self.addresses.get(id))
    }

    /// Live addresses leased to `tenant` (or to anyone), optionally used by one device; each
    /// case is a range of an index from the marker.
    pub fn allocated_addresses(
        &self,
        tenant: Option<&str>,
        device: Option<&str>,
        page: PageRequest,
    ) -> Page<&AddressRecord> {
        let records = |ids: &mut dyn Iterator<Item = Uuid>| {
            page.take(ids.filter_map(|id| self.visit(&id).map(|r| (r.id, r))))
        };
        match (tenant, device) {
            (_, Some(d)) => records(&mut self.live_by_device.ids(tenant, d, page.marker)),
            (Some(t), None) => records(&mut self.live_by_tenant.ids(t, page.marker)),
            (None, None) => records(&mut self.live_addresses.range(after(page.marker)).copied()),
        }
    }

    pub fn policy_of(&self, tenant: &str, id: Uuid) -> Option<&PolicyState> {
        self.policies
            .get(&id)
            .filter(|p| p.record.tenant_id == tenant)
    }

    pub fn list_policies(&self, tenant: &str, page: PageRequest) -> Page<&PolicyRecord> {
        page.take(
            self.policies_by_tenant
                .range(tenant_range(tenant, page.marker))
                .filter_map(|(_, id)| self.policies.get(id).map(|p| (*id, &p.record))),
        )
    }

    pub fn list_ranges<'a>(
        &'a self,
        policy: &'a PolicyState,
        page: PageRequest,
    ) -> Page<&'a RangeRecord> {
        page.take(
            policy
                .ranges
                .range(after(page.marker))
                .map(|(id, r)| (*id, r)),
        )
    }

    pub fn list_octets<'a>(
        &'a self,
        policy: &'a PolicyState,
        page: PageRequest,
    ) -> Page<&'a OctetRecord> {
        page.take(
            policy
                .octets
                .range(after(page.marker))
                .map(|(id, r)| (*id, r)),
        )
    }
}

/// Object counts of a [`State`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub blocks: usize,
    /// Address records: live and soft-deallocated.
    pub addresses: usize,
    pub live_addresses: usize,
    pub policies: usize,
}

/// Two id-ordered sequences merged into one (ids are unique across them: address ids and
/// request ids are distinct UUIDs).
fn itertools_merge<T>(
    a: impl Iterator<Item = (Uuid, T)>,
    b: impl Iterator<Item = (Uuid, T)>,
) -> impl Iterator<Item = (Uuid, T)> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some((x, _)), Some((y, _))) if y < x => b.next(),
        (Some(_), _) => a.next(),
        (None, _) => b.next(),
    })
}
