//! Idempotent commands: a command sent with a key is recorded (`CommandRecorded`, in the
//! key's own stream, appended with the command's events) so that a retry is answered
//! without deciding again and appends nothing; a different request under the same key is
//! refused.

use ipledger_domain::events::CommandRecorded;
use ipledger_domain::records::Reply;
use ipledger_domain::{Event, Rejection, Timestamp};
use ipledger_projections::State;

/// The answer to a retry of the command recorded under `key`, or `None` when the key is new.
pub fn replay(state: &State, key: &str, fingerprint: &str) -> Option<Result<Reply, Rejection>> {
    let done = state.recorded_command(key)?;
    if done.fingerprint != fingerprint {
        return Some(Err(Rejection::Unprocessable(
            "Idempotency-Key was already used with a different request".into(),
        )));
    }
    // Rendered from the state: the log keeps ids, not the reply's shape. An object the
    // command made that is gone since cannot be shown again.
    Some(state.reply_for(&done.receipt).ok_or_else(|| {
        Rejection::NotFound(
            "The object this Idempotency-Key's request created or changed no longer exists".into(),
        )
    }))
}

/// The event recording that the command under `key` was decided with `reply`.
pub fn record(key: &str, fingerprint: &str, reply: &Reply, now: Timestamp) -> Event {
    Event::CommandRecorded(CommandRecorded {
        key: key.to_string(),
        fingerprint: fingerprint.to_string(),
        receipt: reply.receipt(),
        recorded_at: now,
    })
}
