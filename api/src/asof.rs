//! As-of reads (issue 11, item 1): `?as_of=<position>` or `?as_of=<RFC 3339 time>` on any GET
//! answers from the state the server had right after that event — the log's events 0..=P
//! folded into a fresh `State` by the same `State::apply` the published views use. The
//! dispatcher (`server.rs`) resolves the parameter once, before the handler runs, and hands
//! the state to the handler through the request (`Call::views`), so no handler knows about
//! as-of reads.
//!
//! Rebuilding is the expensive part, so it is bounded twice: at most [`AS_OF_REBUILDS_MAX`]
//! rebuilds run at once (the others wait for a permit; the fold runs on the blocking pool, so
//! neither the writer task nor the request tasks are starved), and the last
//! [`AS_OF_CACHE_STATES`] states built are kept (least recently used goes first). A rebuild
//! starts from the nearest state at or below its position: a cached one, or one the
//! [`StartingStates`] seam gives (the snapshot loader, `newest_at_or_below`), else an empty
//! state at position 0 — and folds only the events after it.
//!
//! The nearest state is usually a checkpoint ([`Checkpoints`]): a past version of the state
//! kept every [`CHECKPOINT_EVENTS`] events, by the start-up fold and from the published
//! versions while the service runs. The state's collections are persistent, so a checkpoint
//! costs only the nodes later versions changed, and a cold as-of read folds at most one
//! spacing of events instead of the log from the last snapshot.

use std::sync::Arc;

use ipledger_commands::store::EventStore;
use ipledger_domain::Timestamp;
use ipledger_projections::State;
use parking_lot::Mutex;
use tokio::sync::Semaphore;

use crate::fault::Fault;

/// How many rebuilt states are kept (each shares its nodes with the checkpoint it started
/// from, but holds the nodes it changed: memory is what this bounds).
pub const AS_OF_CACHE_STATES: usize = 4;

/// The first spacing of checkpoints, in events; doubled whenever more than
/// [`CHECKPOINTS_MAX`] would be kept, so that any log is covered by a bounded number.
pub const CHECKPOINT_EVENTS: u64 = 32_768;

/// Checkpoints kept at most (after thinning: every other one goes and the spacing doubles).
pub const CHECKPOINTS_MAX: usize = 128;

/// How many as-of states may be rebuilt at once (a rebuild takes a core while it folds).
pub const AS_OF_REBUILDS_MAX: usize = 1;

/// Events read from the store per call while rebuilding.
const REBUILD_CHUNK: usize = 4096;

/// Where a rebuild may start instead of position 0: a state already folded up to some
/// position at or below the one asked for (its `position()` = events folded). The snapshot
/// loader implements it; the as-of path only asks.
pub trait StartingStates: Send + Sync {
    fn newest_at_or_below(&self, position: u64) -> Option<State>;
}

/// What `as_of` names: an event's position, or a time (the last event recorded at or before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    Position(u64),
    Time(Timestamp),
}

impl At {
    /// A run of digits is a position; anything else must be an RFC 3339 time.
    pub fn parse(raw: &str) -> Result<At, Fault> {
        if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
            return raw.parse().map(At::Position).map_err(|_| {
                Fault::invalid_field("as_of", format!("as_of {raw:?} is not a log position"))
            });
        }
        chrono::DateTime::parse_from_rfc3339(raw)
            .map(|t| At::Time(t.with_timezone(&chrono::Utc)))
            .map_err(|_| {
                Fault::invalid_field(
                    "as_of",
                    format!(
                        "as_of {raw:?} is neither a log position (a non-negative integer) nor an RFC 3339 time (like 2026-03-03T12:00:00Z)"
                    ),
                )
            })
    }
}

/// Past versions of the state, one per spacing of events: where as-of rebuilds start.
#[derive(Debug)]
pub struct Checkpoints {
    spacing: u64,
    max: usize,
    by_position: std::collections::BTreeMap<u64, Arc<State>>,
}

impl Default for Checkpoints {
    fn default() -> Self {
        Checkpoints::new(CHECKPOINT_EVENTS, CHECKPOINTS_MAX)
    }
}

impl Checkpoints {
    /// One checkpoint every `spacing` events (at least 1), at most `max` (at least 2) kept.
    pub fn new(spacing: u64, max: usize) -> Checkpoints {
        Checkpoints {
            spacing: spacing.max(1),
            max: max.max(2),
            by_position: std::collections::BTreeMap::new(),
        }
    }

    /// Whether a version at `position` would be kept (at least one spacing from the
    /// checkpoints on either side; position 0 is the empty state, never kept): asked before
    /// cloning a state to offer it.
    pub fn wants(&self, position: u64) -> bool {
        let below = self
            .by_position
            .range(..=position)
            .next_back()
            .map_or(0, |(p, _)| *p);
        let above = self.by_position.range(position..).next().map(|(p, _)| *p);
        position >= below.saturating_add(self.spacing)
            && above.is_none_or(|a| a >= position.saturating_add(self.spacing))
    }

    /// Keeps `state` if [`Checkpoints::wants`] its position; thins out when over the bound.
    pub fn offer(&mut self, state: Arc<State>) {
        if !self.wants(state.position()) {
            return;
        }
        self.by_position.insert(state.position(), state);
        if self.by_position.len() > self.max {
            let mut keep = false;
            self.by_position.retain(|_, _| {
                keep = !keep;
                keep
            });
            self.spacing = self.spacing.saturating_mul(2);
        }
    }

    fn at_or_below(&self, position: u64) -> Option<Arc<State>> {
        self.by_position
            .range(..=position)
            .next_back()
            .map(|(_, s)| s.clone())
    }

    pub fn len(&self) -> usize {
        self.by_position.len()
    }

    /// The current spacing in events (doubled by each thinning).
    pub fn spacing(&self) -> u64 {
        self.spacing
    }

    pub fn is_empty(&self) -> bool {
        self.by_position.is_empty()
    }
}

/// The as-of states: the cache, the checkpoints, the rebuild permits and the snapshot seam.
pub struct AsOf {
    /// Most recently used last.
    cache: Mutex<Vec<Arc<State>>>,
    checkpoints: Mutex<Checkpoints>,
    rebuilds: Semaphore,
    starting: Option<Arc<dyn StartingStates>>,
}

impl Default for AsOf {
    fn default() -> Self {
        AsOf::new(None)
    }
}

impl AsOf {
    pub fn new(starting: Option<Arc<dyn StartingStates>>) -> Self {
        AsOf::with_checkpoints(starting, Checkpoints::default())
    }

    /// Starts with the checkpoints the start-up fold kept.
    pub fn with_checkpoints(
        starting: Option<Arc<dyn StartingStates>>,
        checkpoints: Checkpoints,
    ) -> Self {
        AsOf {
            cache: Mutex::new(Vec::new()),
            checkpoints: Mutex::new(checkpoints),
            rebuilds: Semaphore::new(AS_OF_REBUILDS_MAX),
            starting,
        }
    }

    /// Offers a published version as a checkpoint (kept one spacing after the newest).
    pub fn offer(&self, state: Arc<State>) {
        self.checkpoints.lock().offer(state);
    }

    /// Checkpoints held (a metric).
    pub fn checkpoints(&self) -> usize {
        self.checkpoints.lock().len()
    }

    /// The state `raw` names. `applied` is what the published views hold (their position:
    /// events folded); a position at or beyond it is unknown here (400), as is a time later
    /// than both now and the last event.
    pub async fn resolve(
        &self,
        store: &dyn EventStore,
        applied: u64,
        raw: &str,
    ) -> Result<Arc<State>, Fault> {
        let upto = match At::parse(raw)? {
            At::Position(p) if p < applied => p + 1,
            At::Position(p) => {
                return Err(Fault::invalid_field(
                    "as_of",
                    format!(
                        "as_of position {p} is beyond the log: the last position is {}",
                        applied
                            .checked_sub(1)
                            .map_or("none (the log is empty)".to_string(), |l| l.to_string())
                    ),
                ))
            }
            At::Time(t) => events_at_or_before(store, applied, t).await?,
        };
        self.state(store, upto).await
    }

    /// The state after the first `upto` events of the log (`position() == upto`).
    pub async fn state(&self, store: &dyn EventStore, upto: u64) -> Result<Arc<State>, Fault> {
        if let Some(hit) = self.cached(upto) {
            return Ok(hit);
        }
        let _permit = self
            .rebuilds
            .acquire()
            .await
            .map_err(|_| Fault::unavailable("as-of reads are shut down"))?;
        // Another request may have built it while this one waited.
        if let Some(hit) = self.cached(upto) {
            return Ok(hit);
        }
        let base = self.nearest_below(upto);
        let spacing = self.checkpoints.lock().spacing;
        let (state, passed) = rebuild(store, base, upto, spacing).await?;
        // The versions passed on the way become checkpoints: after a start from a recent
        // snapshot (no checkpoints below it), the first read far back pays for the fold
        // once, and later ones near it do not.
        for version in passed {
            self.offer(version);
        }
        let state = Arc::new(state);
        let mut cache = self.cache.lock();
        cache.push(state.clone());
        if cache.len() > AS_OF_CACHE_STATES {
            cache.remove(0);
        }
        Ok(state)
    }

    fn cached(&self, upto: u64) -> Option<Arc<State>> {
        let mut cache = self.cache.lock();
        let i = cache.iter().position(|s| s.position() == upto)?;
        let hit = cache.remove(i);
        cache.push(hit.clone());
        Some(hit)
    }

    /// Where a rebuild to `upto` starts: the cached, checkpoint or snapshot state nearest
    /// below it.
    fn nearest_below(&self, upto: u64) -> Base {
        let cached = self
            .cache
            .lock()
            .iter()
            .filter(|s| s.position() <= upto)
            .max_by_key(|s| s.position())
            .cloned();
        let (checkpoint, spacing) = {
            let k = self.checkpoints.lock();
            (k.at_or_below(upto), k.spacing)
        };
        let cached = match (cached, checkpoint) {
            (Some(c), Some(k)) => Some(if k.position() > c.position() { k } else { c }),
            (c, k) => c.or(k),
        };
        // A snapshot is read and decoded from disk: not worth it when a state in memory is
        // within one checkpoint spacing.
        if let Some(c) = cached.as_ref().filter(|c| upto - c.position() <= spacing) {
            return Base::Shared(c.clone());
        }
        let snapshot = self
            .starting
            .as_ref()
            .and_then(|s| s.newest_at_or_below(upto))
            .filter(|s| s.position() <= upto);
        match (cached, snapshot) {
            (Some(c), Some(s)) if s.position() > c.position() => Base::Owned(s),
            (Some(c), _) => Base::Shared(c),
            (None, Some(s)) => Base::Owned(s),
            (None, None) => Base::Owned(State::default()),
        }
    }
}

enum Base {
    Shared(Arc<State>),
    Owned(State),
}

/// Folds the log's events from `base`'s position up to `upto` (exclusive) into a copy of it
/// (a persistent copy: it shares every node the fold does not change). The fold runs on the
/// blocking pool, a chunk at a time. Also returns the versions it passed at multiples of
/// `spacing` (candidate checkpoints).
async fn rebuild(
    store: &dyn EventStore,
    base: Base,
    upto: u64,
    spacing: u64,
) -> Result<(State, Vec<Arc<State>>), Fault> {
    let mut passed = Vec::new();
    let mut state = match base {
        Base::Owned(s) => s,
        Base::Shared(s) => State::clone(&s),
    };
    while state.position() < upto {
        let from = state.position();
        let want = ((upto - from) as usize).min(REBUILD_CHUNK);
        let events = store
            .read_all(from, want)
            .await
            .map_err(|e| Fault::unavailable(format!("reading the log for as_of: {e}")))?;
        if events.first().map(|e| e.position) != Some(from) {
            return Err(Fault::unavailable(format!(
                "the log has no event at position {from}"
            )));
        }
        let kept;
        (state, kept) = tokio::task::spawn_blocking(move || {
            let mut kept = Vec::new();
            for e in events.iter().filter(|e| e.position < upto) {
                state.apply(e);
                if state.position() % spacing == 0 {
                    kept.push(Arc::new(state.clone()));
                }
            }
            (state, kept)
        })
        .await
        .map_err(|_| Fault::unavailable("rebuilding an as-of state failed"))?;
        passed.extend(kept);
    }
    Ok((state, passed))
}

/// How many events were recorded at or before `t`: a binary search over positions by the
/// envelopes' `recorded_at`, which the single writer stamps in log order (one clock read per
/// command, appended in order). A time after the last event is the whole log so far, unless
/// it is also in the future (400: what happens by then is not known yet).
async fn events_at_or_before(
    store: &dyn EventStore,
    applied: u64,
    t: Timestamp,
) -> Result<u64, Fault> {
    let time_at = |p: u64| async move {
        store
            .read_all(p, 1)
            .await
            .map_err(|e| Fault::unavailable(format!("reading the log for as_of: {e}")))?
            .first()
            .map(|e| e.recorded_at)
            .ok_or_else(|| Fault::unavailable(format!("the log has no event at position {p}")))
    };
    if applied == 0 || time_at(applied - 1).await? <= t {
        if t > chrono::Utc::now() {
            return Err(Fault::invalid_field(
                "as_of",
                format!("as_of {} is in the future", t.to_rfc3339()),
            ));
        }
        return Ok(applied);
    }
    // Invariant: events [0, lo) are at or before t, events [hi, applied) after it.
    let (mut lo, mut hi) = (0u64, applied - 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if time_at(mid).await? <= t {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use ipledger_commands::memstore::MemoryStore;
    use ipledger_commands::store::StreamAppend;
    use ipledger_domain::events::{
        AddressAllocated, AddressDeallocated, AddressPurged, BlockCreated,
    };
    use ipledger_domain::records::BlockType;
    use ipledger_domain::{Event, ExpectedVersion, NewEvent};
    use proptest::prelude::*;
    use uuid::Uuid;

    /// A random but valid log: blocks made, addresses allocated, deallocated and purged (a
    /// model keeps each address allocated once at most).
    fn log(ops: &[(u8, u8)]) -> Vec<Event> {
        let t0 = chrono::Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        // Per block: id, cidr, allocated (offset, deallocated?).
        let mut blocks: Vec<(Uuid, ipnet::IpNet, Vec<(u8, bool)>)> = Vec::new();
        let mut out = Vec::new();
        for (i, &(op, x)) in ops.iter().enumerate() {
            let at = t0 + chrono::Duration::seconds(i as i64);
            if blocks.is_empty() || op == 0 {
                let id = Uuid::from_u128(1 + blocks.len() as u128);
                let cidr: ipnet::IpNet = format!("10.{}.0.0/24", blocks.len()).parse().unwrap();
                out.push(Event::BlockCreated(BlockCreated {
                    block_id: id,
                    tenant_id: "t".into(),
                    cidr,
                    block_type: BlockType::Private,
                    network_id: None,
                    policy_id: None,
                    gateway: None,
                    dns1: None,
                    dns2: None,
                    parent_id: None,
                    created_at: at,
                    ipv6_generator: None,
                }));
                blocks.push((id, cidr, Vec::new()));
                continue;
            }
            let n = blocks.len();
            let (id, cidr, taken) = &mut blocks[x as usize % n];
            let address = |o: u8| ipledger_domain::block::address_at(cidr, o as u128);
            match op {
                1 => {
                    let offset = 2 + (x % 200);
                    if taken.iter().any(|(o, _)| *o == offset) {
                        continue;
                    }
                    taken.push((offset, false));
                    out.push(Event::AddressAllocated(AddressAllocated {
                        block_id: *id,
                        address_id: Uuid::from_u128(1000 + i as u128),
                        address: address(offset),
                        interface_id: None,
                        used_by_tenant: "t".into(),
                        used_by_device: None,
                        mac_address: None,
                        allocated_at: at,
                    }));
                }
                2 => {
                    if let Some(a) = taken.iter_mut().find(|(_, d)| !*d) {
                        a.1 = true;
                        out.push(Event::AddressDeallocated(AddressDeallocated {
                            block_id: *id,
                            address: address(a.0),
                            deallocated_at: at,
                        }));
                    }
                }
                _ => {
                    if let Some(i) = taken.iter().position(|(_, d)| *d) {
                        let (o, _) = taken.remove(i);
                        out.push(Event::AddressPurged(AddressPurged {
                            block_id: *id,
                            address: address(o),
                            purged_at: at,
                        }));
                    }
                }
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// The state as of any position equals a fresh replay of the log up to it, whatever
        /// the order of the questions — so through the cache's partial rebuilds as well as
        /// from position 0.
        #[test]
        fn the_state_as_of_a_position_equals_a_fresh_replay(
            ops in proptest::collection::vec((0u8..4, any::<u8>()), 1..80),
            asks in proptest::collection::vec(any::<u16>(), 1..24),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let store = stored(&rt, log(&ops));
            let as_of = AsOf::default();
            asks_equal_replays(&rt, &store, &as_of, &asks)?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// The same through checkpoints kept by a fold (as at start-up) with a small spacing
        /// and bound, so that thinning happens: every answer still equals a fresh replay, and
        /// the bound holds.
        #[test]
        fn the_state_as_of_a_position_from_checkpoints_equals_a_fresh_replay(
            ops in proptest::collection::vec((0u8..4, any::<u8>()), 1..120),
            asks in proptest::collection::vec(any::<u16>(), 1..24),
            spacing in 1u64..8,
            max in 2usize..6,
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let store = stored(&rt, log(&ops));
            let all = store.events();
            let mut checkpoints = Checkpoints::new(spacing, max);
            let mut folding = State::default();
            for e in &all {
                folding.apply(e);
                if checkpoints.wants(folding.position()) {
                    checkpoints.offer(Arc::new(folding.clone()));
                }
            }
            prop_assert!(checkpoints.len() <= max);
            let as_of = AsOf::with_checkpoints(None, checkpoints);
            asks_equal_replays(&rt, &store, &as_of, &asks)?;
            // The folded state was not changed by the versions kept along the way.
            let mut fresh = State::default();
            for e in &all {
                fresh.apply(e);
            }
            prop_assert!(folding == fresh);
        }
    }

    /// Asks `as_of` for the state at each position `asks` names (modulo the log's length + 1)
    /// and compares it with a fresh replay up to there.
    fn asks_equal_replays(
        rt: &tokio::runtime::Runtime,
        store: &MemoryStore,
        as_of: &AsOf,
        asks: &[u16],
    ) -> Result<(), TestCaseError> {
        let all = store.events();
        for &ask in asks {
            let upto = ask as u64 % (all.len() as u64 + 1);
            let got = rt.block_on(as_of.state(store, upto)).unwrap();
            let mut fresh = State::default();
            for e in &all[..upto as usize] {
                fresh.apply(e);
            }
            prop_assert_eq!(got.position(), upto);
            prop_assert!(
                *got == fresh,
                "the state as of {} differs from a fresh replay",
                upto
            );
        }
        Ok(())
    }

    fn stored(rt: &tokio::runtime::Runtime, events: Vec<Event>) -> MemoryStore {
        let store = MemoryStore::default();
        for event in events {
            let new = NewEvent {
                event_id: Uuid::now_v7(),
                recorded_at: chrono::Utc::now(),
                actor: "prop".into(),
                correlation_id: None,
                idempotency_key: None,
                event,
            };
            let batch = vec![StreamAppend {
                stream: new.event.stream(),
                expected: ExpectedVersion::Any,
                events: vec![new],
            }];
            rt.block_on(store.append(batch)).unwrap();
        }
        store
    }

    #[test]
    fn checkpoints_thin_out_and_double_their_spacing_beyond_the_bound() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        // 100 events: one block created per op 0.
        let store = stored(&rt, log(&[(0u8, 0u8); 100]));
        let mut k = Checkpoints::new(10, 4);
        let mut state = State::default();
        for e in &store.events() {
            state.apply(e);
            if k.wants(state.position()) {
                k.offer(Arc::new(state.clone()));
            }
        }
        // Kept 10..40; at 50 every other went (10, 30, 50) and the spacing became 20; at 90
        // again (10, 50, 90), spacing 40.
        let kept: Vec<u64> = k.by_position.keys().copied().collect();
        assert_eq!(kept, vec![10, 50, 90]);
        assert_eq!(k.spacing, 40);
        assert_eq!(k.at_or_below(79).map(|s| s.position()), Some(50));
        assert_eq!(k.at_or_below(9).map(|s| s.position()), None);
        assert!(!k.wants(129) && k.wants(130));
    }

    #[test]
    fn a_rebuild_leaves_checkpoints_behind_for_the_next_reads() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let store = stored(&rt, log(&[(0u8, 0u8); 100]));
        let as_of = AsOf::with_checkpoints(None, Checkpoints::new(10, 100));
        assert_eq!(as_of.checkpoints(), 0);
        rt.block_on(as_of.state(&store, 95)).unwrap();
        // 10, 20, ..., 90 passed on the way.
        assert_eq!(as_of.checkpoints(), 9);
        // A read between two of them starts from the one below, not from position 0; one
        // far back fills in nothing new (each position is a spacing from its neighbours).
        assert!(matches!(as_of.nearest_below(47), Base::Shared(s) if s.position() == 40));
        rt.block_on(as_of.state(&store, 47)).unwrap();
        assert_eq!(as_of.checkpoints(), 9);
    }

    #[test]
    fn as_of_is_a_position_or_a_time() {
        assert_eq!(At::parse("0").unwrap(), At::Position(0));
        assert_eq!(At::parse("42").unwrap(), At::Position(42));
        assert!(matches!(
            At::parse("2026-03-03T12:00:00Z").unwrap(),
            At::Time(_)
        ));
        assert!(matches!(
            At::parse("2026-03-03T13:00:00+01:00").unwrap(),
            At::Time(_)
        ));
        for bad in [
            "",
            "-1",
            "1.5",
            "yesterday",
            "2026-03-03",
            "99999999999999999999999",
        ] {
            assert_eq!(At::parse(bad).unwrap_err().status, 400, "{bad:?}");
        }
    }
}
