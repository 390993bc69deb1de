//! What each part of the state holds in memory, for the memory benchmark
//! (`commands/benches/memory.rs`) and the bytes-per-address table in ARCHITECTURE.md.
//!
//! The state is dropped one part at a time and the caller reads its allocator between the
//! steps: the difference is what that part held. Measured, not estimated, so the table
//! cannot drift from the code. Only meaningful when no other version shares the nodes.

use crate::state::State;

impl State {
    /// Drops the state part by part; `measured(part)` is called after each part is gone.
    pub fn release_by_component(self, mut measured: impl FnMut(&'static str)) {
        let State {
            mut blocks,
            blocks_by_tenant,
            block_index,
            addresses,
            live_addresses,
            live_by_tenant,
            live_by_device,
            policies,
            policies_by_tenant,
            routes,
            nat,
            retention,
            commands,
            nics,
            tokens,
            requests,
            scaleway,
            pools,
            registrations,
            webhooks,
            stream_versions,
            blocks_ever,
            next_position: _,
        } = self;
        measured("start");
        drop(addresses);
        measured("address records (by id)");
        drop(live_addresses);
        measured("live addresses (id set)");
        drop(live_by_tenant);
        measured("live addresses by lessee");
        drop(live_by_device);
        measured("live addresses by device");
        drop(nics);
        measured("interfaces (addresses by vif, MACs)");
        let ids: Vec<_> = blocks.keys().copied().collect();
        for id in &ids {
            if let Some(b) = blocks.get_mut(id) {
                b.by_offset = Default::default();
            }
        }
        measured("blocks: records by offset");
        for id in &ids {
            if let Some(b) = blocks.get_mut(id) {
                b.ids = Default::default();
            }
        }
        measured("blocks: record ids");
        drop(blocks);
        measured("blocks: free maps and the rest");
        drop((blocks_by_tenant, block_index, blocks_ever));
        measured("block indexes and history");
        drop((commands, stream_versions));
        measured("idempotency and stream versions");
        drop((policies, policies_by_tenant, routes, nat, retention));
        drop((tokens, requests, scaleway, pools, registrations, webhooks));
        measured("everything else");
    }
}
