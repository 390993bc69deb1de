//! The outcomes recorded under idempotency keys, with an index by age so that forgetting
//! the expired ones is a range walk from the oldest, never a scan of every key.

use imbl::{OrdMap, OrdSet};

use ipledger_domain::events::{CommandForgotten, CommandRecorded};
use ipledger_domain::records::Receipt;
use ipledger_domain::Timestamp;

use crate::State;

/// A recorded command outcome, for idempotent retries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordedCommand {
    pub fingerprint: String,
    pub receipt: Receipt,
    pub recorded_at: Timestamp,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Recorded {
    by_key: OrdMap<String, RecordedCommand>,
    by_age: OrdSet<(Timestamp, String)>,
}

impl Recorded {
    pub(crate) fn recorded(&mut self, e: &CommandRecorded) {
        let recorded = RecordedCommand {
            fingerprint: e.fingerprint.clone(),
            receipt: e.receipt.clone(),
            recorded_at: e.recorded_at,
        };
        if let Some(old) = self.by_key.insert(e.key.clone(), recorded) {
            self.by_age.remove(&(old.recorded_at, e.key.clone()));
        }
        self.by_age.insert((e.recorded_at, e.key.clone()));
    }

    pub(crate) fn forgotten(&mut self, e: &CommandForgotten) {
        if let Some(old) = self.by_key.remove(&e.key) {
            self.by_age.remove(&(old.recorded_at, e.key.clone()));
        }
    }
}

impl State {
    /// The outcome recorded under an idempotency key.
    pub fn recorded_command(&self, key: &str) -> Option<&RecordedCommand> {
        self.commands.by_key.get(key)
    }

    /// Up to `max` keys recorded before `cutoff`, oldest first.
    pub fn recorded_before(&self, cutoff: Timestamp, max: usize) -> Vec<&str> {
        self.commands
            .by_age
            .iter()
            .take_while(|(at, _)| *at < cutoff)
            .take(max)
            .map(|(_, key)| key.as_str())
            .collect()
    }

    /// How many idempotency keys have a recorded outcome.
    pub fn recorded_commands(&self) -> usize {
        self.commands.by_key.len()
    }
}
