//! Time and ids for the write path. The domain never reads a clock: the writer asks a
//! [`Clock`] once per command and passes the answer in, and tests inject a [`ManualClock`].

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use ipledger_domain::IdSource;
use uuid::Uuid;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to (microseconds since the epoch).
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock(AtomicI64::new(start.timestamp_micros()))
    }

    pub fn advance(&self, by: chrono::Duration) {
        let micros = by.num_microseconds().unwrap_or(i64::MAX);
        self.0.fetch_add(micros, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        Utc.timestamp_micros(self.0.load(Ordering::SeqCst))
            .single()
            .unwrap_or_default()
    }
}

/// UUID v7 ids, strictly increasing within the process even when the clock stalls or steps
/// back, so that id order is creation order (pagination relies on it).
#[derive(Debug, Default)]
pub struct UuidV7Source {
    last: u128,
}

impl IdSource for UuidV7Source {
    fn next_id(&mut self) -> Uuid {
        let fresh = Uuid::now_v7().as_u128();
        // Keep the version/variant bits intact by bumping the random tail when needed.
        self.last = if fresh > self.last {
            fresh
        } else {
            self.last + 1
        };
        Uuid::from_u128(self.last)
    }
}
