//! Address records by id, stored densely.
//!
//! A B-tree keyed by UUID v7 ids receives its keys in increasing order, so every node it
//! splits keeps a left half that never fills again: an `OrdMap<Uuid, AddressRecord>` cost
//! twice the record's ~200 bytes per address, the largest part of the state (ARCHITECTURE.md,
//! "Memory per allocated address"), and each batch's path copy copied 16-record leaves. Here
//! the records sit in slots of a persistent vector (chunks of 64, filled before the next one
//! starts) and the B-tree maps an id to its slot, 4 bytes beside the key. A purged record's
//! slot is reused by the next allocation.
//!
//! Equality and serialization are by content (the records in id order), not by slot: two
//! states holding the same records are equal however their slots were assigned, and a
//! snapshot load packs the slots.

use imbl::{OrdMap, Vector};
use ipledger_domain::records::AddressRecord;
use uuid::Uuid;

#[derive(Debug, Clone, Default)]
pub(crate) struct AddressRecords {
    slots: Vector<Option<AddressRecord>>,
    by_id: OrdMap<Uuid, u32>,
    /// Slots emptied by purges, reused before the vector grows.
    vacant: Vector<u32>,
}

impl AddressRecords {
    pub(crate) fn get(&self, id: &Uuid) -> Option<&AddressRecord> {
        let slot = *self.by_id.get(id)?;
        self.slots.get(slot as usize)?.as_ref()
    }

    pub(crate) fn get_mut(&mut self, id: &Uuid) -> Option<&mut AddressRecord> {
        let slot = *self.by_id.get(id)?;
        self.slots.get_mut(slot as usize)?.as_mut()
    }

    /// Stores `record` under `id`, replacing (and returning) the one there.
    pub(crate) fn insert(&mut self, id: Uuid, record: AddressRecord) -> Option<AddressRecord> {
        if let Some(old) = self.get_mut(&id) {
            return Some(std::mem::replace(old, record));
        }
        let slot = match self.vacant.pop_back() {
            Some(slot) => {
                self.slots.set(slot as usize, Some(record));
                slot
            }
            None => {
                // 2^32 records would need hundreds of GiB first: the vector's length is the
                // bound, not user input.
                let slot = u32::try_from(self.slots.len()).expect("fewer than 2^32 address slots");
                self.slots.push_back(Some(record));
                slot
            }
        };
        self.by_id.insert(id, slot);
        None
    }

    pub(crate) fn remove(&mut self, id: &Uuid) -> Option<AddressRecord> {
        let slot = self.by_id.remove(id)?;
        let record = self.slots.set(slot as usize, None);
        self.vacant.push_back(slot);
        record
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// The records in id order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &AddressRecord> + '_ {
        self.by_id
            .values()
            .filter_map(|slot| self.slots.get(*slot as usize)?.as_ref())
    }
}

impl std::ops::Index<&Uuid> for AddressRecords {
    type Output = AddressRecord;

    fn index(&self, id: &Uuid) -> &AddressRecord {
        self.get(id).expect("no address record with this id")
    }
}

impl PartialEq for AddressRecords {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.values().eq(other.values())
    }
}

impl Eq for AddressRecords {}

impl serde::Serialize for AddressRecords {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.values())
    }
}

impl<'de> serde::Deserialize<'de> for AddressRecords {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = AddressRecords;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a sequence of address records")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<AddressRecords, A::Error> {
                let mut out = AddressRecords::default();
                while let Some(record) = seq.next_element::<AddressRecord>()? {
                    out.insert(record.id, record);
                }
                Ok(out)
            }
        }
        d.deserialize_seq(Visit)
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

    #[test]
    fn a_purged_slot_is_reused_and_equality_ignores_slots() {
        let mut a = AddressRecords::default();
        for n in 1..=3 {
            a.insert(Uuid::from_u128(n), record(n));
        }
        assert_eq!(a.remove(&Uuid::from_u128(2)), Some(record(2)));
        assert_eq!(a.get(&Uuid::from_u128(2)), None);
        a.insert(Uuid::from_u128(4), record(4));
        assert_eq!(a.slots.len(), 3, "the purged slot was reused");
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
