//! An in-memory [`EventStore`]: the port's reference implementation, for running the writer
//! deterministically in tests and simulations (no disk, no fsync). It keeps the port's
//! contract — all-or-nothing appends checked against every stream's expected version, reads
//! in log order, a head watch — and lets a test script faults: the next appends conflict, a
//! record limit, the next append fails as a store failure (before or after its events are
//! stored), recovery keeps failing while the store is "down", or another writer's events
//! appear in the log (as a second node on a shared log would make them).

use std::collections::{HashMap, VecDeque};

use async_trait::async_trait;
use ipledger_domain::{Envelope, NewEvent};
use parking_lot::Mutex;
use tokio::sync::watch;

use crate::store::{AppendError, EventStore, RecordRefused, StoreError, StreamAppend};

/// What the next `append` calls do instead of succeeding, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Refuse the append as a conflict on its first stream; nothing is written.
    Conflict,
    /// Fail the append as if the disk had failed.
    StoreFailure,
    /// Store the events, then report the append failed (a sync that failed after the
    /// write reached the disk): the events are in the log but were never acknowledged.
    StoreFailureAfterWrite,
}

#[derive(Default)]
struct Inner {
    events: Vec<Envelope>,
    versions: HashMap<String, u64>,
    faults: VecDeque<Fault>,
    appends: u64,
    /// While set, `recover` fails (the disk is still full).
    down: bool,
    recoveries: u64,
}

pub struct MemoryStore {
    inner: Mutex<Inner>,
    /// Records whose encoded size would pass this are refused; the size is estimated from
    /// the event's debug form, which grows with its content as the real encoding does.
    record_bytes_max: usize,
    head: watch::Sender<u64>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new(usize::MAX)
    }
}

impl MemoryStore {
    pub fn new(record_bytes_max: usize) -> Self {
        MemoryStore {
            inner: Mutex::default(),
            record_bytes_max,
            head: watch::channel(0).0,
        }
    }

    /// Queues faults for the next `append` calls.
    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        self.inner.lock().faults.extend(faults);
    }

    /// While `down`, [`EventStore::recover`] fails, as it would while the disk stays full.
    pub fn set_down(&self, down: bool) {
        self.inner.lock().down = down;
    }

    /// `recover` calls so far (successful or not).
    pub fn recoveries(&self) -> u64 {
        self.inner.lock().recoveries
    }

    /// Appends events as another writer on the same log would, bypassing the caller's view.
    pub fn append_foreign(&self, batch: Vec<StreamAppend>) -> Result<Vec<Envelope>, AppendError> {
        self.append_now(batch, true)
    }

    /// Like [`MemoryStore::append_foreign`], but followers are not told (as when another
    /// node's notification has not arrived yet): the next append lands past these events.
    pub fn append_foreign_unannounced(
        &self,
        batch: Vec<StreamAppend>,
    ) -> Result<Vec<Envelope>, AppendError> {
        self.append_now(batch, false)
    }

    /// Every event, in log order.
    pub fn events(&self) -> Vec<Envelope> {
        self.inner.lock().events.clone()
    }

    /// Append calls that reached the store (successful or not).
    pub fn append_calls(&self) -> u64 {
        self.inner.lock().appends
    }

    fn append_now(
        &self,
        batch: Vec<StreamAppend>,
        announce: bool,
    ) -> Result<Vec<Envelope>, AppendError> {
        let mut inner = self.inner.lock();
        let head = inner.events.len() as u64;
        let stored = crate::store::number(head, |s| inner.versions.get(s).copied(), batch)?;
        for env in &stored {
            inner.versions.insert(env.stream.clone(), env.version);
            inner.events.push(env.clone());
        }
        if announce {
            self.head.send_replace(inner.events.len() as u64);
        }
        Ok(stored)
    }
}

#[async_trait]
impl EventStore for MemoryStore {
    fn check_record(&self, event: &NewEvent) -> Result<(), RecordRefused> {
        let bytes = format!("{:?}", event).len();
        if bytes > self.record_bytes_max {
            return Err(RecordRefused::TooLarge {
                event_type: event.event.type_name(),
                bytes,
                max_bytes: self.record_bytes_max,
            });
        }
        Ok(())
    }

    async fn append(&self, batch: Vec<StreamAppend>) -> Result<Vec<Envelope>, AppendError> {
        let fault = {
            let mut inner = self.inner.lock();
            inner.appends += 1;
            inner.faults.pop_front()
        };
        match fault {
            None => self.append_now(batch, true),
            Some(Fault::StoreFailure) => Err(injected()),
            Some(Fault::StoreFailureAfterWrite) => {
                self.append_now(batch, true)?;
                Err(injected())
            }
            Some(Fault::Conflict) => {
                let stream = batch.first().map(|a| a.stream.clone()).unwrap_or_default();
                let actual = self.inner.lock().versions.get(&stream).copied();
                Err(AppendError::Conflict {
                    stream,
                    expected: batch
                        .first()
                        .map_or(ipledger_domain::ExpectedVersion::Any, |a| a.expected),
                    actual,
                })
            }
        }
    }

    async fn read_all(&self, from: u64, max: usize) -> Result<Vec<Envelope>, StoreError> {
        let inner = self.inner.lock();
        let from = (from as usize).min(inner.events.len());
        Ok(inner.events[from..].iter().take(max).cloned().collect())
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        max: usize,
    ) -> Result<Vec<Envelope>, StoreError> {
        let inner = self.inner.lock();
        Ok(inner
            .events
            .iter()
            .filter(|e| e.stream == stream && e.version >= from_version)
            .take(max)
            .cloned()
            .collect())
    }

    fn head(&self) -> u64 {
        self.inner.lock().events.len() as u64
    }

    fn follow(&self) -> watch::Receiver<u64> {
        self.head.subscribe()
    }

    async fn recover(&self) -> Result<(), StoreError> {
        let mut inner = self.inner.lock();
        inner.recoveries += 1;
        if inner.down {
            return Err(StoreError::Io(std::io::Error::other(
                "injected: the disk is still failing",
            )));
        }
        Ok(())
    }
}

fn injected() -> AppendError {
    AppendError::Store(StoreError::Io(std::io::Error::other(
        "injected store failure",
    )))
}
