//! The index of live addresses by the device using them, so that
//! `allocated_ip_addresses?used_by_device=…` is a seek to the device and a range from the
//! marker (O(log n + page)) instead of a scan of every live address of the lessee.
//!
//! Nested by device, then lessee, each holding address ids: an address costs two ids here,
//! and the device and lessee strings are stored once per device (and lessee), not once per
//! address as a flat `(tenant, device, id)` set would (most allocations name a device).

use imbl::{OrdMap, OrdSet};

use ipledger_domain::records::AddressRecord;
use uuid::Uuid;

use crate::page::after;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct DeviceIndex {
    by_device: OrdMap<String, Device>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Device {
    /// Every live address used by the device, in id order (the provider-wide list).
    all: OrdSet<Uuid>,
    /// The same by lessee tenant.
    by_lessee: OrdMap<String, OrdSet<Uuid>>,
}

impl DeviceIndex {
    /// Notes a live address (allocated or restored).
    pub(crate) fn insert(&mut self, rec: &AddressRecord) {
        let Some(device) = rec.used_by_device.as_deref() else {
            return;
        };
        let d = match self.by_device.get_mut(device) {
            Some(d) => d,
            None => self.by_device.entry(device.to_string()).or_default(),
        };
        d.all.insert(rec.id);
        match d.by_lessee.get_mut(&rec.used_by_tenant) {
            Some(ids) => {
                ids.insert(rec.id);
            }
            None => {
                d.by_lessee
                    .insert(rec.used_by_tenant.clone(), OrdSet::unit(rec.id));
            }
        }
    }

    /// Forgets an address that is no longer live; empty entries go too, so the index holds
    /// only what is live.
    pub(crate) fn remove(&mut self, rec: &AddressRecord) {
        let Some(device) = rec.used_by_device.as_deref() else {
            return;
        };
        let Some(d) = self.by_device.get_mut(device) else {
            return;
        };
        d.all.remove(&rec.id);
        if let Some(ids) = d.by_lessee.get_mut(&rec.used_by_tenant) {
            ids.remove(&rec.id);
            if ids.is_empty() {
                d.by_lessee.remove(&rec.used_by_tenant);
            }
        }
        if d.all.is_empty() {
            self.by_device.remove(device);
        }
    }

    /// Ids of the live addresses used by `device` (leased to `lessee` when given), after
    /// `marker`, in id order.
    pub(crate) fn ids<'a>(
        &'a self,
        lessee: Option<&str>,
        device: &str,
        marker: Option<Uuid>,
    ) -> impl Iterator<Item = Uuid> + 'a {
        let d = self.by_device.get(device);
        let ids = match lessee {
            Some(t) => d.and_then(|d| d.by_lessee.get(t)),
            None => d.map(|d| &d.all),
        };
        ids.into_iter()
            .flat_map(move |ids| ids.range(after(marker)).copied())
    }

    /// How many live addresses the index holds (for the fold tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_device.values().map(|d| d.all.len()).sum()
    }
}
