//! Idempotent commands: a command sent with a key is recorded (`CommandRecorded`, in the
//! key's own stream, appended with the command's events) so that a retry is answered
//! without deciding again and appends nothing; a different request under the same key is
//! refused. Records are kept for `idempotency_keep_days`, then forgotten by an event
//! (`CommandForgotten`) that the retention scheduler asks for: a retry after that is a new
//! request.

use chrono::Duration;
use ipledger_domain::events::{CommandForgotten, CommandRecorded};
use ipledger_domain::limits::FORGET_BATCH_MAX;
use ipledger_domain::records::Reply;
use ipledger_domain::{Event, Rejection, Timestamp};
use ipledger_projections::State;

use crate::decide::{Context, Decision};

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

/// Forgets up to `max` records older than the retention setting, oldest first; answers how
/// many went (`Reply::Purged`).
pub fn forget(state: &State, max: usize, ctx: &mut Context) -> Result<Decision, Rejection> {
    let nothing = || Decision::new(Vec::new(), Reply::Purged(0));
    let Some(days) = ctx.settings.idempotency_keep_days else {
        return Ok(nothing());
    };
    let Some(cutoff) = ctx.now.checked_sub_signed(Duration::days(i64::from(days))) else {
        return Ok(nothing());
    };
    let events: Vec<Event> = state
        .recorded_before(cutoff, max.clamp(1, FORGET_BATCH_MAX))
        .into_iter()
        .map(|key| {
            Event::CommandForgotten(CommandForgotten {
                key: key.to_string(),
                forgotten_at: ctx.now,
            })
        })
        .collect();
    let n = events.len() as u64;
    Ok(Decision::new(events, Reply::Purged(n)))
}
