//! The tamper-evidence chain (issue 11 item 6): every record stored since the chain began
//! carries `SHA-256(previous record's hash ‖ this record's bytes)`, where a record's bytes are
//! its stored form (`codec::encode_record`: position, stream, version, envelope fields, type,
//! schema version, payload) and the first chained record's "previous hash" is 32 zero bytes.
//! Changing, dropping or reordering any chained record changes every hash after it, so an
//! auditor who wrote down the head (`GET /v1/audit/head`) can tell later whether the log
//! still leads to it. Logs written before the chain existed keep working: their records carry
//! no hash, and the chain starts at the first record that does.
//!
//! Both backends hash the same bytes, so one log has one chain whichever backend holds it: the
//! file log stores the hash after each record in a format-3 frame (`filelog/frame.rs`), the
//! PostgreSQL log in the `chain_hash` column, computed from the stored columns (the payload
//! as stored, never re-encoded, so an upcaster cannot change an old record's hash).

use sha2::{Digest, Sha256};

/// A chain hash.
pub type Hash = [u8; 32];

/// Bytes of a chain hash.
pub const HASH_LEN: usize = 32;

/// The "previous hash" of the first chained record.
pub const GENESIS: Hash = [0; HASH_LEN];

/// The hash of the record `record` (its stored bytes) following the record hashed `prev`.
pub fn link(prev: &Hash, record: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(record);
    h.finalize().into()
}

/// Follows a chain over records in log order and remembers the first place it breaks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainCheck {
    /// The hash of the last chained record seen (the next record's "previous").
    pub last: Option<(u64, Hash)>,
    /// The position of the first chained record.
    pub chained_from: Option<u64>,
    /// The first position whose stored hash is not the one its bytes and its predecessor's
    /// hash give, or an unchained record after the chain began, and why.
    pub broken: Option<(u64, String)>,
}

impl ChainCheck {
    /// Takes the stored hash of the record at `position` without checking it (the open: the
    /// checksums vouch for the bytes, and `verify` recomputes).
    pub fn trust(&mut self, position: u64, stored: Option<Hash>) {
        if let Some(hash) = stored {
            self.chained_from.get_or_insert(position);
            self.last = Some((position, hash));
        }
    }

    /// Takes the record at `position` (stored bytes `record`), with its stored hash if it has
    /// one. After a break the check follows the stored hashes, so only the first is named.
    pub fn record(&mut self, position: u64, record: &[u8], stored: Option<&[u8]>) {
        let Some(stored) = stored else {
            if self.chained_from.is_some() && self.broken.is_none() {
                self.broken = Some((
                    position,
                    "the record carries no chain hash, yet the chain began before it".into(),
                ));
            }
            return;
        };
        let prev = match self.last {
            Some((_, hash)) => hash,
            None => {
                self.chained_from = Some(position);
                GENESIS
            }
        };
        let expected = link(&prev, record);
        let stored: Hash = match stored.try_into() {
            Ok(hash) => hash,
            Err(_) => {
                self.broken.get_or_insert((
                    position,
                    format!("the chain hash has {} bytes, not {HASH_LEN}", stored.len()),
                ));
                self.last = Some((position, expected));
                return;
            }
        };
        if stored != expected && self.broken.is_none() {
            self.broken = Some((
                position,
                "the stored chain hash is not SHA-256 of the previous hash and this record's \
                 bytes: the record, or one before it, was changed after it was written"
                    .into(),
            ));
        }
        self.last = Some((position, stored));
    }
}

impl ChainCheck {
    /// What `ipledger verify` says of the chain over a log of `records` records: where it
    /// starts (and that the records before were written before the chain existed), its
    /// head, and where it breaks.
    pub fn summary(&self, records: u64) -> String {
        let mut out = match (self.chained_from, self.last) {
            (Some(0), Some((p, h))) => {
                format!("chain: positions 0 to {p}, head {}", hex::encode(h))
            }
            (Some(from), Some((p, h))) => format!(
                "chain: positions {from} to {p}, head {}; positions 0 to {} were written \
                 before the chain existed (unchained)",
                hex::encode(h),
                from - 1
            ),
            _ if records == 0 => "chain: empty log (the chain starts at the first append)".into(),
            _ => format!(
                "chain: none yet; all {records} records were written before the chain \
                 existed (it starts at position {records}, the next append)"
            ),
        };
        if let Some((p, why)) = &self.broken {
            out.push_str(&format!("\nchain: BROKEN at position {p}: {why}"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_record_breaks_the_chain_at_its_position_only() {
        let records: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 10]).collect();
        let mut hashes = Vec::new();
        let mut prev = GENESIS;
        for r in &records {
            prev = link(&prev, r);
            hashes.push(prev);
        }
        // Two unchained records before the chain: it starts at 2.
        let mut check = ChainCheck::default();
        check.record(0, b"old", None);
        check.record(1, b"old", None);
        for (i, (r, h)) in records.iter().zip(&hashes).enumerate() {
            check.record(2 + i as u64, r, Some(h));
        }
        assert_eq!(check.chained_from, Some(2));
        assert!(check.broken.is_none());
        assert_eq!(check.last, Some((6, hashes[4])));

        let mut check = ChainCheck::default();
        for (i, (r, h)) in records.iter().zip(&hashes).enumerate() {
            let mut r = r.clone();
            if i == 3 {
                r[4] ^= 1;
            }
            check.record(i as u64, &r, Some(h));
        }
        assert_eq!(check.broken.map(|(p, _)| p), Some(3));

        let mut check = ChainCheck::default();
        check.record(0, &records[0], Some(&hashes[0]));
        check.record(1, &records[1], None);
        assert_eq!(check.broken.map(|(p, _)| p), Some(1));
    }
}
