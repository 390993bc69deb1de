//! Indexes of address ids under a key: the live addresses by lessee and by the device using them (so
//! that `allocated_ip_addresses?used_by_device=…` is a seek to the device and a range from
//! the marker, O(log n + page), instead of a scan of every live address of the lessee) and
//! the addresses naming an interface.
//!
//! Most devices and interfaces hold one or two addresses, and a set of its own costs a whole
//! B-tree node (16 slots, ~300 bytes) per key: that made these indexes the largest part of an
//! address's memory when every address named its own device and interface (3.2 KB per
//! address in all; BENCHMARKS.md, "Memory per address by component"). A key's first id is
//! kept inline, a set only from the second. A flat `(key, id)` set would cost the key's
//! string once per id instead, which is worse when one device holds many addresses.

use std::borrow::Borrow;

use imbl::{OrdMap, OrdSet};

use ipledger_domain::records::AddressRecord;
use uuid::Uuid;

use crate::page::after;

/// The ids under one key, in id order; never empty.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum Ids {
    One(Uuid),
    Many(OrdSet<Uuid>),
}

impl Ids {
    fn insert(&mut self, id: Uuid) {
        match self {
            Ids::One(first) if *first == id => {}
            Ids::One(first) => *self = Ids::Many(OrdSet::from(vec![*first, id])),
            Ids::Many(ids) => {
                ids.insert(id);
            }
        }
    }

    /// Removes `id`; false when nothing is left.
    fn remove(&mut self, id: Uuid) -> bool {
        match self {
            Ids::One(first) => *first != id,
            Ids::Many(ids) => {
                ids.remove(&id);
                match ids.len() {
                    0 => false,
                    1 => {
                        let last = *ids.iter().next().expect("one id");
                        *self = Ids::One(last);
                        true
                    }
                    _ => true,
                }
            }
        }
    }

    /// The ids after `marker`.
    fn after(&self, marker: Option<Uuid>) -> Box<dyn Iterator<Item = Uuid> + '_> {
        match self {
            Ids::One(id) => Box::new(
                Some(*id)
                    .filter(|id| marker.is_none_or(|m| *id > m))
                    .into_iter(),
            ),
            Ids::Many(ids) => Box::new(ids.range(after(marker)).copied()),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        match self {
            Ids::One(_) => 1,
            Ids::Many(ids) => ids.len(),
        }
    }
}

/// Ids under keys: the ids of one key in id order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct KeyedIds<K: Ord + Clone>(OrdMap<K, Ids>);

impl<K: Ord + Clone> Default for KeyedIds<K> {
    fn default() -> Self {
        KeyedIds(OrdMap::new())
    }
}

impl<K: Ord + Clone> KeyedIds<K> {
    /// Notes `id` under `key`; the key is copied only when it is new (the write path's
    /// common case is a key already there: no allocation).
    pub(crate) fn insert<Q: Ord + ?Sized + ToOwned<Owned = K>>(&mut self, key: &Q, id: Uuid)
    where
        K: Borrow<Q>,
    {
        self.insert_with(key, || key.to_owned(), id);
    }

    /// Like [`KeyedIds::insert`], for a borrowed form of the key that cannot make the owned
    /// one itself (a pair of `&str`): `owned` runs only when the key is new.
    pub(crate) fn insert_with<Q: Ord + ?Sized>(
        &mut self,
        key: &Q,
        owned: impl FnOnce() -> K,
        id: Uuid,
    ) where
        K: Borrow<Q>,
    {
        match self.0.get_mut(key) {
            Some(ids) => ids.insert(id),
            None => {
                self.0.insert(owned(), Ids::One(id));
            }
        }
    }

    pub(crate) fn remove<Q: Ord + ?Sized>(&mut self, key: &Q, id: Uuid)
    where
        K: Borrow<Q>,
    {
        if let Some(ids) = self.0.get_mut(key) {
            if !ids.remove(id) {
                self.0.remove(key);
            }
        }
    }

    /// The ids under `key` after `marker`, in id order.
    pub(crate) fn ids<'a, Q: Ord + ?Sized>(
        &'a self,
        key: &Q,
        marker: Option<Uuid>,
    ) -> impl Iterator<Item = Uuid> + 'a
    where
        K: Borrow<Q>,
    {
        self.0
            .get(key)
            .into_iter()
            .flat_map(move |ids| ids.after(marker))
    }

    pub(crate) fn contains<Q: Ord + ?Sized>(&self, key: &Q, id: Uuid) -> bool
    where
        K: Borrow<Q>,
    {
        match self.0.get(key) {
            Some(Ids::One(only)) => *only == id,
            Some(Ids::Many(ids)) => ids.contains(&id),
            None => false,
        }
    }

    /// Drops every id under `key`.
    pub(crate) fn remove_key<Q: Ord + ?Sized>(&mut self, key: &Q)
    where
        K: Borrow<Q>,
    {
        self.0.remove(key);
    }

    /// How many ids the index holds (for the fold tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.values().map(Ids::len).sum()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct DeviceIndex {
    /// Every live address used by a device, in id order (the provider-wide list).
    all: KeyedIds<String>,
    /// The same by (device, lessee tenant).
    by_lessee: KeyedIds<DeviceLessee>,
}

/// A (device, lessee tenant) key, found from two borrowed strings ([`StrPair`]) so that a
/// write for a known pair builds no `String`s (the tuple `(String, String)` it replaces can
/// only be looked up by another owned tuple: two allocations per allocation or restore).
/// Ordered and serialized as that tuple was.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub(crate) struct DeviceLessee(String, String);

/// A pair of strings, owned or borrowed, compared as `(first, second)`.
pub(crate) trait StrPair {
    fn pair(&self) -> (&str, &str);
}

impl StrPair for DeviceLessee {
    fn pair(&self) -> (&str, &str) {
        (&self.0, &self.1)
    }
}

impl StrPair for (&str, &str) {
    fn pair(&self) -> (&str, &str) {
        *self
    }
}

impl<'a> Borrow<dyn StrPair + 'a> for DeviceLessee {
    fn borrow(&self) -> &(dyn StrPair + 'a) {
        self
    }
}

impl PartialEq for dyn StrPair + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.pair() == other.pair()
    }
}

impl Eq for dyn StrPair + '_ {}

impl PartialOrd for dyn StrPair + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for dyn StrPair + '_ {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.pair().cmp(&other.pair())
    }
}

impl DeviceIndex {
    /// Notes a live address (allocated or restored).
    pub(crate) fn insert(&mut self, rec: &AddressRecord) {
        let Some(device) = &rec.used_by_device else {
            return;
        };
        self.all.insert(device.as_str(), rec.id);
        let key: &dyn StrPair = &(device.as_str(), rec.used_by_tenant.as_str());
        self.by_lessee.insert_with(
            key,
            || DeviceLessee(device.clone(), rec.used_by_tenant.clone()),
            rec.id,
        );
    }

    /// Forgets an address that is no longer live.
    pub(crate) fn remove(&mut self, rec: &AddressRecord) {
        let Some(device) = &rec.used_by_device else {
            return;
        };
        self.all.remove(device, rec.id);
        let key: &dyn StrPair = &(device.as_str(), rec.used_by_tenant.as_str());
        self.by_lessee.remove(key, rec.id);
    }

    /// Ids of the live addresses used by `device` (leased to `lessee` when given), after
    /// `marker`, in id order.
    pub(crate) fn ids<'a>(
        &'a self,
        lessee: Option<&str>,
        device: &str,
        marker: Option<Uuid>,
    ) -> Box<dyn Iterator<Item = Uuid> + 'a> {
        match lessee {
            Some(t) => {
                let key: &dyn StrPair = &(device, t);
                Box::new(self.by_lessee.ids(key, marker))
            }
            None => Box::new(self.all.ids(device, marker)),
        }
    }

    /// How many live addresses the index holds (for the fold tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.all.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(a: &str, b: &str) -> DeviceLessee {
        DeviceLessee(a.to_string(), b.to_string())
    }

    #[test]
    fn a_device_lessee_key_is_found_from_borrowed_strings_and_kept_as_the_tuple_was() {
        let mut index = KeyedIds::<DeviceLessee>::default();
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let made = std::cell::Cell::new(0);
        for (device, lessee, id) in [("vm-1", "t", a), ("vm-1", "t", b), ("vm-1", "u", c)] {
            let key: &dyn StrPair = &(device, lessee);
            index.insert_with(
                key,
                || {
                    made.set(made.get() + 1);
                    pair(device, lessee)
                },
                id,
            );
        }
        assert_eq!(made.get(), 2, "an owned key is made once per new pair");
        let key: &dyn StrPair = &("vm-1", "t");
        assert_eq!(index.ids(key, None).collect::<Vec<_>>(), [a, b]);
        assert!(index.contains(key, b));
        index.remove(key, a);
        assert_eq!(index.ids(key, None).collect::<Vec<_>>(), [b]);
        // The same order and the same bytes as the `(String, String)` key it replaced.
        assert!(pair("a", "z") < pair("b", "a") && pair("a", "a") < pair("a", "b"));
        assert_eq!(
            rmp_serde::to_vec(&pair("vm-1", "t")).unwrap(),
            rmp_serde::to_vec(&("vm-1".to_string(), "t".to_string())).unwrap()
        );
    }
}
