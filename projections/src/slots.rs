//! Maps stored densely: values in the slots of a persistent vector, a B-tree from key to
//! slot.
//!
//! A B-tree keyed by UUID v7 ids (or any key that mostly grows) receives its keys in
//! increasing order, so every node it splits keeps a left half that never fills again: an
//! `OrdMap<Uuid, AddressRecord>` cost twice the record's ~200 bytes per address, the largest
//! part of the state (ARCHITECTURE.md, "Memory per allocated address"), and each batch's path
//! copy copied 16-record leaves. Here the values sit in slots of a persistent vector (chunks
//! of 64, filled before the next one starts) and the B-tree maps a key to its slot, 4 bytes
//! beside the key. A removed value's slot is reused by the next insert.
//!
//! Equality and serialization are by content (the entries in key order, as a map), not by
//! slot: two states holding the same entries are equal however their slots were assigned,
//! and a snapshot load packs the slots.

use std::borrow::Borrow;

use imbl::{OrdMap, Vector};
use ipledger_domain::records::AddressRecord;
use uuid::Uuid;

/// Address records by id.
pub(crate) type AddressRecords = Slots<Uuid, AddressRecord>;

#[derive(Debug, Clone)]
pub(crate) struct Slots<K: Ord + Clone, V: Clone> {
    slots: Vector<Option<V>>,
    by_key: OrdMap<K, u32>,
    /// Slots emptied by removals, reused before the vector grows.
    vacant: Vector<u32>,
}

impl<K: Ord + Clone, V: Clone> Default for Slots<K, V> {
    fn default() -> Self {
        Slots {
            slots: Vector::new(),
            by_key: OrdMap::new(),
            vacant: Vector::new(),
        }
    }
}

impl<K: Ord + Clone, V: Clone> Slots<K, V> {
    pub(crate) fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        let slot = *self.by_key.get(key)?;
        self.slots.get(slot as usize)?.as_ref()
    }

    pub(crate) fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        let slot = *self.by_key.get(key)?;
        self.slots.get_mut(slot as usize)?.as_mut()
    }

    /// Stores `value` under `key`, replacing (and returning) the one there.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        if let Some(old) = self.get_mut(&key) {
            return Some(std::mem::replace(old, value));
        }
        let slot = match self.vacant.pop_back() {
            Some(slot) => {
                self.slots.set(slot as usize, Some(value));
                slot
            }
            None => {
                // 2^32 entries would need hundreds of GiB first: the vector's length is the
                // bound, not user input.
                let slot = u32::try_from(self.slots.len()).expect("fewer than 2^32 slots");
                self.slots.push_back(Some(value));
                slot
            }
        };
        self.by_key.insert(key, slot);
        None
    }

    pub(crate) fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let slot = self.by_key.remove(key)?;
        let value = self.slots.set(slot as usize, None);
        self.vacant.push_back(slot);
        value
    }

    pub(crate) fn len(&self) -> usize {
        self.by_key.len()
    }

    /// The entries in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.by_key
            .iter()
            .filter_map(|(k, slot)| Some((k, self.slots.get(*slot as usize)?.as_ref()?)))
    }

    /// The values in key order.
    #[cfg(test)]
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.iter().map(|(_, v)| v)
    }

    /// The keys in order.
    #[cfg(test)]
    pub(crate) fn keys(&self) -> impl Iterator<Item = &K> + '_ {
        self.by_key.keys()
    }
}

impl<K: Ord + Clone + Borrow<Q>, Q: Ord + ?Sized, V: Clone> std::ops::Index<&Q> for Slots<K, V> {
    type Output = V;

    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("no entry under this key")
    }
}

impl<K: Ord + Clone, V: Clone + PartialEq> PartialEq for Slots<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<K: Ord + Clone, V: Clone + Eq> Eq for Slots<K, V> {}

impl<K: Ord + Clone + serde::Serialize, V: Clone + serde::Serialize> serde::Serialize
    for Slots<K, V>
{
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de, K, V> serde::Deserialize<'de> for Slots<K, V>
where
    K: Ord + Clone + serde::Deserialize<'de>,
    V: Clone + serde::Deserialize<'de>,
{
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Entry by entry straight into the slots (packed, in the order they arrive: key
        // order), not through an intermediate `OrdMap` of the values: that was a second
        // B-tree of every record built and dropped, a third of a snapshot's load.
        struct Entries<K, V>(std::marker::PhantomData<(K, V)>);
        impl<'de, K, V> serde::de::Visitor<'de> for Entries<K, V>
        where
            K: Ord + Clone + serde::Deserialize<'de>,
            V: Clone + serde::Deserialize<'de>,
        {
            type Value = Slots<K, V>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of entries")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                // The values go to their slots as they arrive; the keys wait in a vector so
                // that, when they came in increasing order (always, from `serialize`), each
                // is inserted without first looking it up.
                let mut slots = Vector::new();
                let mut keys = Vec::new();
                while let Some((k, v)) = map.next_entry()? {
                    keys.push(k);
                    slots.push_back(Some(v));
                }
                if keys.windows(2).all(|w| w[0] < w[1]) {
                    let mut by_key = OrdMap::new();
                    for (slot, k) in keys.into_iter().enumerate() {
                        let slot = u32::try_from(slot)
                            .map_err(|_| serde::de::Error::custom("more than 2^32 entries"))?;
                        by_key.insert(k, slot);
                    }
                    return Ok(Slots {
                        slots,
                        by_key,
                        vacant: Vector::new(),
                    });
                }
                // Out of order or repeated (not written by `serialize`): one by one, a
                // repeated key keeping the last value, as a map would.
                let mut out = Slots::default();
                for (k, v) in keys.into_iter().zip(slots) {
                    if let Some(v) = v {
                        out.insert(k, v);
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(Entries(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: u128) -> AddressRecord {
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        AddressRecord {
            id: Uuid::from_u128(n),
            block_id: Uuid::from_u128(1),
            address: std::net::IpAddr::from([10, 0, 0, n as u8]),
            interface_id: None,
            used_by_tenant: "t".into(),
            used_by_device: None,
            mac_address: None,
            created_at: t,
            updated_at: t,
            deallocated_at: None,
        }
    }

    /// A map in the given entry order, as another writer than `serialize` might send.
    struct InOrder(Vec<(u128, u128)>);

    impl serde::Serialize for InOrder {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map(
                self.0
                    .iter()
                    .map(|(k, v)| (Uuid::from_u128(*k), record(*v))),
            )
        }
    }

    #[test]
    fn entries_out_of_order_or_repeated_load_as_a_map_would() {
        let bytes = rmp_serde::to_vec(&InOrder(vec![(3, 3), (1, 1), (3, 4), (2, 2)])).unwrap();
        let loaded: AddressRecords = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(loaded.len(), 3);
        assert_eq!(
            loaded[&Uuid::from_u128(3)],
            record(4),
            "the last value wins"
        );
        assert_eq!(
            loaded.keys().copied().collect::<Vec<_>>(),
            [1, 2, 3].map(Uuid::from_u128)
        );
        // In order (what `serialize` writes): the fast path, the same map.
        let sorted = rmp_serde::to_vec(&InOrder(vec![(1, 1), (2, 2), (3, 4)])).unwrap();
        let fast: AddressRecords = rmp_serde::from_slice(&sorted).unwrap();
        assert_eq!(fast, loaded);
        assert_eq!(fast.get(&Uuid::from_u128(2)), Some(&record(2)));
    }

    #[test]
    fn a_purged_slot_is_reused_and_equality_ignores_slots() {
        let mut a = AddressRecords::default();
        for n in 1..=3 {
            a.insert(Uuid::from_u128(n), record(n));
        }
        assert_eq!(a.remove(&Uuid::from_u128(2)), Some(record(2)));
        assert_eq!(a.get(&Uuid::from_u128(2)), None);
        a.insert(Uuid::from_u128(4), record(4));
        assert_eq!(a.slots.len(), 3, "the removed slot was reused");
        assert_eq!(a.len(), 3);
        // Another order of the same records, and a snapshot round trip (which packs slots).
        let mut b = AddressRecords::default();
        for n in [4, 3, 1] {
            b.insert(Uuid::from_u128(n), record(n));
        }
        assert_eq!(a, b);
        let bytes = rmp_serde::to_vec(&a).unwrap();
        let c: AddressRecords = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(c, a);
        assert_eq!(
            c.values().map(|r| r.id.as_u128()).collect::<Vec<_>>(),
            vec![1, 3, 4]
        );
        // Replacing keeps one record per id.
        let mut changed = record(3);
        changed.used_by_tenant = "u".into();
        assert_eq!(a.insert(Uuid::from_u128(3), changed), Some(record(3)));
        assert_eq!(a.len(), 3);
        assert_eq!(a[&Uuid::from_u128(3)].used_by_tenant, "u");
    }
}
