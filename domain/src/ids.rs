//! Identifiers. Ids are UUIDs (v7 in production, so that id order is creation order); the
//! domain never makes one itself but asks an [`IdSource`] handed in by the caller.

use uuid::Uuid;

pub type BlockId = Uuid;
pub type AddressId = Uuid;
pub type PolicyId = Uuid;
pub type RangeId = Uuid;
pub type OctetId = Uuid;

/// Where fresh ids come from. The writer passes a monotonic UUID v7 source; tests pass a
/// counter so that decisions are reproducible.
pub trait IdSource {
    fn next_id(&mut self) -> Uuid;
}

/// A deterministic source for tests and simulations: 1, 2, 3, ... as UUIDs (v7-shaped bits
/// are not needed for ordering because the counter is already monotonic).
#[derive(Debug, Default, Clone)]
pub struct SequentialIds {
    pub next: u128,
}

impl IdSource for SequentialIds {
    fn next_id(&mut self) -> Uuid {
        self.next += 1;
        Uuid::from_u128(self.next)
    }
}
