//! The retention purge (decision 13): an address soft-deallocated for longer than
//! `keep_deallocated_days` is purged — an `AddressPurged` event, after `NatRemoved` for its
//! NAT pairs — and becomes allocatable again. The scheduler in `api::retention` sends this
//! command periodically; what is "expired" depends only on `ctx.now` and the settings.

use chrono::Duration;
use ipledger_domain::events::AddressPurged;
use ipledger_domain::records::Reply;
use ipledger_domain::{Event, Rejection};
use ipledger_projections::State;
use uuid::Uuid;

use crate::decide::{Context, Decision};

/// At most this many addresses per command, so one run never makes a huge batch; the
/// scheduler (or the admin route) simply runs again.
pub const PURGE_BATCH_MAX: usize = 10_000;

pub fn purge(state: &State, max: usize, ctx: &mut Context) -> Result<Decision, Rejection> {
    let nothing = || Decision::new(Vec::new(), Reply::Purged(0));
    let Some(days) = ctx.settings.keep_deallocated_days else {
        return Ok(nothing());
    };
    let Some(cutoff) = ctx.now.checked_sub_signed(Duration::days(i64::from(days))) else {
        return Ok(nothing());
    };
    let expired = state.expired_deallocations(cutoff, max.clamp(1, PURGE_BATCH_MAX));
    let ids: Vec<Uuid> = expired.iter().map(|r| r.id).collect();
    let mut events = crate::decide_interfaces::allowances_purged(state, &ids, ctx.now);
    events.extend(crate::decide_nat::with_purged(state, &ids, ctx.now));
    events.extend(expired.iter().map(|r| {
        Event::AddressPurged(AddressPurged {
            block_id: r.block_id,
            address: r.address,
            purged_at: ctx.now,
        })
    }));
    Ok(Decision::new(events, Reply::Purged(expired.len() as u64)))
}
