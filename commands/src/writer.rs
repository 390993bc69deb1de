//! The single writer. Commands arrive on a bounded channel; the writer takes every command
//! waiting (up to `batch_commands_max`), decides each in order against its working state,
//! applies the events at once so the next command sees them, appends the whole batch with
//! one write and one fdatasync, then publishes the working state as the new read version and
//! answers each caller. Nobody is answered before the batch is durable.
//!
//! Readers and the writer share one state, not two copies: the state's collections are
//! persistent (`imbl`), so a version is a cheap clone that shares every node the next batch
//! does not touch. A reader takes the current version (an `Arc`, under a lock held only for
//! that pointer copy) and works on it as long as it likes; the writer never waits for a
//! reader, and a reader never sees an event before it is durable.
//!
//! Faults are classified, because only one kind may stop the service:
//! * a rejection by the rules, an event the store refuses (too large, unencodable) or a
//!   panic while deciding costs that one command its answer, never the batch: the check
//!   happens before the command's events touch the working state;
//! * a conflict (another writer on a shared log moved a stream first) is answered by
//!   catching up from the log and deciding the batch again, a bounded number of times;
//! * only a failed write or sync — durability in doubt — stops the writer (fail-stop):
//!   every pending command, and every command while it is stopped, gets `Unavailable`.
//!   It then reopens the store (`EventStore::recover`, the start-up recovery) with
//!   exponential backoff; once that succeeds it rebuilds its working state from the
//!   published views (the log as last acknowledged) plus whatever the reopened log holds
//!   beyond them (the failed batch may or may not be there), and takes commands again.
//!   Nothing failed is ever retried: the failed batch's callers were answered 503.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ipledger_domain::records::Reply;
use ipledger_domain::{Envelope, ExpectedVersion, IdSource, NewEvent, Rejection};
use ipledger_projections::State;
use parking_lot::RwLock;
use tokio::sync::{mpsc, oneshot};

use crate::clock::Clock;
use crate::command::Command;
use crate::decide::{decide, Context, Settings};
use crate::idempotency;
use crate::store::{AppendError, EventStore, RecordRefused, StoreError, StreamAppend};

#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Commands waiting in the channel before senders wait (back-pressure).
    pub queue_commands_max: usize,
    /// Commands decided and appended together in one group commit.
    pub batch_commands_max: usize,
    /// Times one batch is decided again after an append conflict before its callers are
    /// answered with a conflict.
    pub conflict_retries_max: u32,
    /// The first wait before reopening the store after a failure; doubled after each
    /// failed attempt up to `recover_backoff_max`.
    pub recover_backoff_min: Duration,
    pub recover_backoff_max: Duration,
    pub settings: Settings,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            queue_commands_max: 65_536,
            batch_commands_max: 8_192,
            conflict_retries_max: 5,
            recover_backoff_min: Duration::from_millis(100),
            recover_backoff_max: Duration::from_secs(10),
            settings: Settings::default(),
        }
    }
}

/// Who sent a command and how to recognise its retries.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    pub actor: String,
    pub correlation_id: Option<String>,
    /// The idempotency key (already scoped by the caller) and the request's fingerprint.
    pub idempotency: Option<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The store will not take one of the command's events; nothing was written.
    #[error(transparent)]
    Refused(#[from] RecordRefused),
    /// Other writers kept moving the streams this command needs; nothing was written.
    #[error("the command kept conflicting with concurrent writes: {0}")]
    Conflict(String),
    /// Deciding the command hit a bug (a panic); nothing was written, the writer goes on.
    #[error("internal error while deciding the command: {0}")]
    Internal(String),
    /// The log could not be written: durability is in doubt, the writer has stopped.
    #[error("the event log is unavailable: {0}")]
    Unavailable(String),
}

struct Submission {
    command: Command,
    meta: Meta,
    reply: oneshot::Sender<Result<Reply, CommandError>>,
}

/// The handle the API holds: send commands, read the published views.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Submission>,
    views: Arc<Published>,
    health: Arc<Health>,
}

/// The newest durable version of the state. Readers take it with [`Published::read`] and
/// keep it as long as they need; the writer replaces it after each durable batch.
pub struct Published {
    /// Held only to copy or swap the pointer: no read can make the writer wait longer.
    current: RwLock<Arc<State>>,
}

impl Published {
    fn new(state: State) -> Published {
        Published {
            current: RwLock::new(Arc::new(state)),
        }
    }

    /// The newest durable version, immutable: later batches publish new versions.
    pub fn read(&self) -> Arc<State> {
        self.current.read().clone()
    }

    /// Makes `state` the version readers get. The old version lives on until its last
    /// reader drops it; whoever lets go last frees the few nodes it does not share with
    /// newer versions, outside the lock.
    fn publish(&self, state: State) {
        let old = std::mem::replace(&mut *self.current.write(), Arc::new(state));
        drop(old);
    }
}

/// Whether the writer takes commands, and if not, why (for readiness).
#[derive(Default)]
struct Health {
    stopped: AtomicBool,
    /// The failure that stopped the writer, then the last failed reopen.
    reason: parking_lot::Mutex<Option<String>>,
}

impl Health {
    fn stop(&self, reason: String) {
        *self.reason.lock() = Some(reason);
        self.stopped.store(true, Ordering::SeqCst);
    }

    fn resume(&self) {
        self.stopped.store(false, Ordering::SeqCst);
        *self.reason.lock() = None;
    }
}

impl Writer {
    /// Starts the writer task over `state` (already folded from the whole log of `store`).
    /// Time and ids are injected so that a test can run the writer deterministically.
    pub fn start(
        store: Arc<dyn EventStore>,
        state: State,
        clock: Arc<dyn Clock>,
        ids: Box<dyn IdSource + Send>,
        config: WriterConfig,
    ) -> Writer {
        let (tx, rx) = mpsc::channel(config.queue_commands_max);
        let views = Arc::new(Published::new(state.clone()));
        let health = Arc::new(Health::default());
        let task = Task {
            store,
            state,
            views: views.clone(),
            clock,
            ids,
            config,
            health: health.clone(),
        };
        tokio::spawn(task.run(rx));
        Writer { tx, views, health }
    }

    /// Decides and durably records `command`; answers only once its events are on disk.
    pub async fn submit(&self, command: Command, meta: Meta) -> Result<Reply, CommandError> {
        let (reply, rx) = oneshot::channel();
        let unavailable = || CommandError::Unavailable("the writer has stopped".into());
        self.tx
            .send(Submission {
                command,
                meta,
                reply,
            })
            .await
            .map_err(|_| unavailable())?;
        rx.await.map_err(|_| unavailable())?
    }

    /// Commands waiting in the writer's queue (a metric).
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    pub fn views(&self) -> &Arc<Published> {
        &self.views
    }

    /// True while the writer is stopped after a failed append (until the store reopens).
    pub fn is_stopped(&self) -> bool {
        self.health.stopped.load(Ordering::SeqCst)
    }

    /// Why the writer is stopped (the failure, then the last failed reopen), if it is.
    pub fn stopped_because(&self) -> Option<String> {
        self.health.reason.lock().clone()
    }
}

struct Task {
    store: Arc<dyn EventStore>,
    state: State,
    views: Arc<Published>,
    clock: Arc<dyn Clock>,
    ids: Box<dyn IdSource + Send>,
    config: WriterConfig,
    health: Arc<Health>,
}

type Outcome = Result<Reply, CommandError>;

/// Events read per call while catching up after a conflict.
const CATCH_UP_EVENTS_MAX: usize = 4096;

impl Task {
    async fn run(mut self, mut rx: mpsc::Receiver<Submission>) {
        let mut batch = Vec::with_capacity(self.config.batch_commands_max);
        // On a shared log other nodes append too: the head moving past what this writer
        // has folded means foreign events to fold, between batches, into both states.
        let mut follow = self.store.follow();
        let mut following = true;
        loop {
            let subs: Vec<Submission> = tokio::select! {
                n = rx.recv_many(&mut batch, self.config.batch_commands_max) => {
                    if n == 0 {
                        return;
                    }
                    batch.drain(..).collect()
                }
                changed = follow.changed(), if following => {
                    following = changed.is_ok();
                    if self.store.head() > self.state.position() {
                        if let Err(failure) = self.catch_up().await {
                            if !self.fail(failure, Vec::new(), &mut rx).await {
                                return;
                            }
                        }
                    }
                    continue;
                }
            };
            let outcomes = match self.process(&subs).await {
                Ok(outcomes) => outcomes,
                Err(failure) => {
                    if !self.fail(failure, subs, &mut rx).await {
                        return;
                    }
                    continue;
                }
            };
            for (sub, outcome) in subs.into_iter().zip(outcomes) {
                let _ = sub.reply.send(outcome);
            }
        }
    }

    /// A store failure: answers `subs` Unavailable, stops taking commands and reopens the
    /// store (see [`Task::recover`]). False when the writer should end (shutdown).
    async fn fail(
        &mut self,
        failure: StoreError,
        subs: Vec<Submission>,
        rx: &mut mpsc::Receiver<Submission>,
    ) -> bool {
        let reason = failure.to_string();
        tracing::error!(%reason, "event log failed; the writer stops accepting commands and reopens the log");
        self.health.stop(reason.clone());
        for s in subs {
            let _ = s.reply.send(Err(CommandError::Unavailable(reason.clone())));
        }
        self.recover(rx).await
    }

    /// After a store failure: answers every command `Unavailable` while it reopens the
    /// store with exponential backoff, then rebuilds the working state from the log.
    /// Returns false if every sender went away meanwhile (shutdown).
    async fn recover(&mut self, rx: &mut mpsc::Receiver<Submission>) -> bool {
        let mut delay = self.config.recover_backoff_min;
        for attempt in 1u64.. {
            let wait = tokio::time::sleep(delay);
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    _ = &mut wait => break,
                    sub = rx.recv() => {
                        let Some(sub) = sub else { return false };
                        let why = self.health.reason.lock().clone().unwrap_or_default();
                        let _ = sub.reply.send(Err(CommandError::Unavailable(why)));
                    }
                }
            }
            match self.reopen().await {
                Ok(()) => {
                    tracing::info!(
                        attempt,
                        position = self.state.position(),
                        "event log reopened; the writer takes commands again"
                    );
                    self.health.resume();
                    return true;
                }
                Err(e) => {
                    tracing::warn!(error = %e, attempt, retry_in = ?delay * 2, "reopening the event log failed");
                    *self.health.reason.lock() =
                        Some(format!("reopening the event log failed: {e}"));
                    delay = (delay * 2).min(self.config.recover_backoff_max);
                }
            }
        }
        true
    }

    /// Reopens the store, then starts the working state again from the published views
    /// (everything acknowledged: the failed batch's events were applied to the working
    /// state only) and folds in whatever the reopened log holds beyond them.
    async fn reopen(&mut self) -> Result<(), StoreError> {
        self.store.recover().await?;
        self.state = State::clone(&self.views.read());
        self.catch_up().await
    }

    /// Decides and commits one batch, deciding again after each conflict. `Err` only when
    /// durability is in doubt.
    async fn process(&mut self, subs: &[Submission]) -> Result<Vec<Outcome>, StoreError> {
        let mut attempt = 0;
        loop {
            let (outcomes, batch) = self.decide_batch(subs);
            match self.commit(batch).await {
                Ok(()) => return Ok(outcomes),
                Err(AppendError::Store(e)) => return Err(e),
                Err(AppendError::Conflict {
                    stream,
                    expected,
                    actual,
                }) => {
                    // The working state holds this batch's events, which are not in the
                    // log: start again from the published views (the log as last seen)
                    // plus whatever other writers appended since.
                    tracing::warn!(%stream, ?expected, ?actual, attempt, "append conflict; catching up and deciding again");
                    self.state = State::clone(&self.views.read());
                    self.catch_up().await?;
                    attempt += 1;
                    if attempt > self.config.conflict_retries_max {
                        let why = format!("stream {stream} moved under {attempt} attempts");
                        return Ok(subs
                            .iter()
                            .map(|_| Err(CommandError::Conflict(why.clone())))
                            .collect());
                    }
                }
            }
        }
    }

    /// Folds every event appended to the store since the working state's position into
    /// the working state, and publishes it.
    async fn catch_up(&mut self) -> Result<(), StoreError> {
        loop {
            let events = self
                .store
                .read_all(self.state.position(), CATCH_UP_EVENTS_MAX)
                .await?;
            if events.is_empty() {
                return Ok(());
            }
            for env in &events {
                self.state.apply(env);
            }
            self.views.publish(self.state.clone());
        }
    }

    fn decide_batch(&mut self, subs: &[Submission]) -> (Vec<Outcome>, Batch) {
        let mut batch = Batch::default();
        let outcomes = subs
            .iter()
            .map(|sub| self.decide_one(&sub.command, &sub.meta, &mut batch))
            .collect();
        (outcomes, batch)
    }

    fn decide_one(&mut self, command: &Command, meta: &Meta, batch: &mut Batch) -> Outcome {
        if let Some((key, fingerprint)) = &meta.idempotency {
            if let Some(answer) = idempotency::replay(&self.state, key, fingerprint) {
                return answer.map_err(CommandError::from);
            }
        }
        let now = self.clock.now();
        let decided = {
            let mut ctx = Context {
                now,
                ids: &mut *self.ids,
                settings: &self.config.settings,
            };
            let state = &self.state;
            // `decide` reads the state and mutates nothing, so a panic in it (a bug) leaves
            // the working state as it was: refuse this command, keep serving the others.
            catch_unwind(AssertUnwindSafe(|| decide(state, command, &mut ctx)))
        };
        let mut decision = match decided {
            Ok(decision) => decision?,
            Err(panic) => {
                let what = panic_message(&panic);
                tracing::error!(%what, ?command, "deciding a command panicked");
                return Err(CommandError::Internal(what));
            }
        };
        if let Some((key, fingerprint)) = &meta.idempotency {
            decision
                .events
                .push(idempotency::record(key, fingerprint, &decision.reply, now));
        }
        let news: Vec<NewEvent> = decision
            .events
            .into_iter()
            .map(|event| NewEvent {
                event_id: self.ids.next_id(),
                recorded_at: now,
                actor: meta.actor.clone(),
                correlation_id: meta.correlation_id.clone(),
                idempotency_key: meta.idempotency.as_ref().map(|(k, _)| k.clone()),
                event,
            })
            .collect();
        // Every record is checked before any is applied: a refused event must not leave
        // its siblings in the working state.
        for new in &news {
            self.store.check_record(new)?;
        }
        for new in news {
            self.state.apply_event(&new.event);
            batch.push(&self.state, new);
        }
        Ok(decision.reply)
    }

    /// Appends the batch durably, then folds the stored envelopes into the published views.
    async fn commit(&mut self, batch: Batch) -> Result<(), AppendError> {
        if batch.appends.is_empty() {
            return Ok(());
        }
        let stored: Vec<Envelope> = self.store.append(batch.appends).await?;
        // Other nodes may have appended (to other streams: every expected version held)
        // between this writer's last catch-up and its append, which then lands past their
        // events. Read them, and fold the log in its order, theirs then this batch, from the
        // published version (the working state holds this batch before theirs).
        let foreign = match stored.first() {
            Some(first) if first.position > self.state.position() => {
                read_range(&*self.store, self.state.position(), first.position)
                    .await
                    .map_err(AppendError::Store)?
            }
            _ => Vec::new(),
        };
        if foreign.is_empty() {
            for env in &stored {
                self.state.stored(env);
            }
        } else {
            let mut next = State::clone(&self.views.read());
            for env in foreign.iter().chain(&stored) {
                next.apply(env);
            }
            self.state = next;
        }
        self.views.publish(self.state.clone());
        Ok(())
    }
}

/// The events at positions `from..to`, all of them.
async fn read_range(
    store: &dyn EventStore,
    from: u64,
    to: u64,
) -> Result<Vec<Envelope>, StoreError> {
    let mut events: Vec<Envelope> = Vec::new();
    while from + (events.len() as u64) < to {
        let at = from + events.len() as u64;
        let want = (to - at).min(CATCH_UP_EVENTS_MAX as u64) as usize;
        let chunk = store.read_all(at, want).await?;
        if chunk.is_empty() {
            return Err(StoreError::Database(format!(
                "positions {at}..{to} are missing from the log"
            )));
        }
        events.extend(chunk.into_iter().take(want));
    }
    Ok(events)
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// The appends of one batch: consecutive events of one stream share a `StreamAppend`, and
/// expected versions follow from the state plus what the batch already holds.
#[derive(Default)]
struct Batch {
    appends: Vec<StreamAppend>,
    pending_versions: HashMap<String, u64>,
}

impl Batch {
    fn push(&mut self, state: &State, new: NewEvent) {
        let stream = new.event.stream();
        if let Some(last) = self.appends.last_mut().filter(|a| a.stream == stream) {
            last.events.push(new);
            *self.pending_versions.get_mut(&stream).expect("stream seen") += 1;
            return;
        }
        let current = self
            .pending_versions
            .get(&stream)
            .copied()
            .map(|n| n.checked_sub(1))
            .unwrap_or_else(|| state.stream_version(&stream));
        let expected = match current {
            Some(v) => ExpectedVersion::Exact(v),
            None => ExpectedVersion::NoStream,
        };
        let count_after = current.map_or(1, |v| v + 2);
        self.pending_versions.insert(stream.clone(), count_after);
        self.appends.push(StreamAppend {
            stream,
            expected,
            events: vec![new],
        });
    }
}
