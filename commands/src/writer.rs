//! The single writer. Commands arrive on a bounded channel; the writer takes every command
//! waiting (up to `batch_commands_max`), decides each in order against its working state,
//! applies the events at once so the next command sees them, appends the whole batch with
//! one write and one fdatasync, then publishes the events to the read views and answers each
//! caller. Nobody is answered before the batch is durable. If the append fails, the writer
//! stops (fail-stop): every pending and later command gets `Unavailable`, and the state is
//! rebuilt from the log at the next start.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ipledger_domain::events::CommandRecorded;
use ipledger_domain::records::Reply;
use ipledger_domain::{Envelope, Event, ExpectedVersion, IdSource, NewEvent, Rejection};
use ipledger_infra::{EventStore, StreamAppend};
use ipledger_projections::State;
use parking_lot::RwLock;
use tokio::sync::{mpsc, oneshot};

use crate::clock::{Clock, UuidV7Source};
use crate::command::Command;
use crate::decide::{decide, Context, Settings};

#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Commands waiting in the channel before senders wait (back-pressure).
    pub queue_commands_max: usize,
    /// Commands decided and appended together in one group commit.
    pub batch_commands_max: usize,
    pub settings: Settings,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            queue_commands_max: 65_536,
            batch_commands_max: 8_192,
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
    views: Arc<RwLock<State>>,
    stopped: Arc<AtomicBool>,
}

impl Writer {
    /// Starts the writer task over `state` (already folded from the whole log).
    pub fn start(
        store: Arc<dyn EventStore>,
        state: State,
        clock: Arc<dyn Clock>,
        config: WriterConfig,
    ) -> Writer {
        let (tx, rx) = mpsc::channel(config.queue_commands_max);
        let views = Arc::new(RwLock::new(state.clone()));
        let stopped = Arc::new(AtomicBool::new(false));
        let task = Task {
            store,
            state,
            views: views.clone(),
            clock,
            ids: UuidV7Source::default(),
            config,
            stopped: stopped.clone(),
        };
        tokio::spawn(task.run(rx));
        Writer { tx, views, stopped }
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

    pub fn views(&self) -> &Arc<RwLock<State>> {
        &self.views
    }

    /// True once the writer has stopped after a failed append.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }
}

struct Task {
    store: Arc<dyn EventStore>,
    state: State,
    views: Arc<RwLock<State>>,
    clock: Arc<dyn Clock>,
    ids: UuidV7Source,
    config: WriterConfig,
    stopped: Arc<AtomicBool>,
}

/// One decided command waiting for its batch to become durable.
struct Pending {
    reply: oneshot::Sender<Result<Reply, CommandError>>,
    outcome: Result<Reply, Rejection>,
}

impl Task {
    async fn run(mut self, mut rx: mpsc::Receiver<Submission>) {
        let mut batch = Vec::with_capacity(self.config.batch_commands_max);
        while rx
            .recv_many(&mut batch, self.config.batch_commands_max)
            .await
            > 0
        {
            let (pending, appends) = self.decide_batch(batch.drain(..));
            if let Err(reason) = self.commit(appends).await {
                tracing::error!(%reason, "event log append failed; the writer stops accepting commands");
                self.stopped.store(true, Ordering::SeqCst);
                for p in pending {
                    let _ = p.reply.send(Err(CommandError::Unavailable(reason.clone())));
                }
                rx.close();
                while let Some(s) = rx.recv().await {
                    let _ = s.reply.send(Err(CommandError::Unavailable(reason.clone())));
                }
                return;
            }
            for p in pending {
                let _ = p.reply.send(p.outcome.map_err(CommandError::from));
            }
        }
    }

    fn decide_batch(&mut self, subs: impl Iterator<Item = Submission>) -> (Vec<Pending>, Batch) {
        let mut batch = Batch::default();
        let mut pending = Vec::new();
        for sub in subs {
            let outcome = self.decide_one(&sub.command, &sub.meta, &mut batch);
            pending.push(Pending {
                reply: sub.reply,
                outcome,
            });
        }
        (pending, batch)
    }

    fn decide_one(
        &mut self,
        command: &Command,
        meta: &Meta,
        batch: &mut Batch,
    ) -> Result<Reply, Rejection> {
        if let Some((key, fingerprint)) = &meta.idempotency {
            if let Some(done) = self.state.commands.get(key) {
                if &done.fingerprint != fingerprint {
                    return Err(Rejection::Unprocessable(
                        "Idempotency-Key was already used with a different request".into(),
                    ));
                }
                return Ok(done.reply.clone());
            }
        }
        let now = self.clock.now();
        let mut ctx = Context {
            now,
            ids: &mut self.ids,
            settings: &self.config.settings,
        };
        let mut decision = decide(&self.state, command, &mut ctx)?;
        if let Some((key, fingerprint)) = &meta.idempotency {
            let recorded = CommandRecorded {
                key: key.clone(),
                fingerprint: fingerprint.clone(),
                reply: decision.reply.clone(),
                recorded_at: now,
            };
            decision.events.push(Event::CommandRecorded(recorded));
        }
        for event in decision.events {
            self.state.apply_event(&event);
            let new = NewEvent {
                event_id: self.ids.next_id(),
                recorded_at: now,
                actor: meta.actor.clone(),
                correlation_id: meta.correlation_id.clone(),
                idempotency_key: meta.idempotency.as_ref().map(|(k, _)| k.clone()),
                event,
            };
            batch.push(&self.state, new);
        }
        Ok(decision.reply)
    }

    /// Appends the batch durably, then folds the stored envelopes into the published views.
    async fn commit(&mut self, batch: Batch) -> Result<(), String> {
        if batch.appends.is_empty() {
            return Ok(());
        }
        let stored: Vec<Envelope> = self
            .store
            .append(batch.appends)
            .await
            .map_err(|e| e.to_string())?;
        for env in &stored {
            self.state.record_version(&env.stream, env.version);
            self.state.next_position = env.position + 1;
        }
        let mut views = self.views.write();
        for env in &stored {
            views.apply(env);
        }
        Ok(())
    }
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
            .unwrap_or_else(|| state.stream_versions.get(&stream).copied());
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
