//! The retention purge's two triggers (decision 13): a task that sends
//! `Command::PurgeDeallocated` every `purge_interval_seconds` (actor `retention`), and
//! `POST /v1/admin/purge`, which runs it now and answers `{"purged": n}`.
//!
//! Which addresses are old enough is decided by the writer from its injected clock and the
//! `keep_deallocated_ips_for_days` setting, so tests move a `ManualClock` instead of waiting.
//! Each command purges at most `PURGE_BATCH_MAX` addresses; both triggers repeat it until a
//! run comes back short, so a large backlog goes out in several small batches. The same runs
//! forget idempotency records older than `idempotency_keep_days`
//! (`Command::ForgetRecordedCommands`, batches of `FORGET_BATCH_MAX`) and expire IP requests
//! pending longer than `request_pending_expiry_hours` (`Command::ExpireRequests`, batches of
//! `EXPIRE_BATCH_MAX`: each `RequestExpired` frees its address and says why).
//!
//! The registration cleanup (issue 10) is a second task on the same loop with its own
//! interval (`registration_cleanup_interval_seconds`, default 30 s as in the original): it
//! removes expired services and releases addresses whose last service went;
//! `POST /v1/admin/registrations/cleanup` runs it now, so a test moving a `ManualClock` need
//! not wait for a tick.

use std::time::Duration;

use ipledger_commands::decide_registrations::CLEANUP_BATCH_MAX;
use ipledger_commands::decide_requests::EXPIRE_BATCH_MAX;
use ipledger_commands::decide_retention::PURGE_BATCH_MAX;
use ipledger_commands::{Command, CommandError, Meta, RegistrationCommand, Writer};
use ipledger_domain::limits::FORGET_BATCH_MAX;
use ipledger_domain::records::Reply;
use serde_json::json;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::kit::{Answer, Call, Resp};

/// The actor recorded on the scheduled purge's events.
pub const SCHEDULER_ACTOR: &str = "retention";

/// Purges every expired address, batch after batch, then forgets every expired
/// idempotency record and expires every overdue pending IP request; returns how many
/// addresses went.
pub async fn purge_expired(writer: &Writer, meta: Meta) -> Result<u64, CommandError> {
    let purged = repeat(writer, &meta, PURGE_BATCH_MAX, |max| {
        Command::PurgeDeallocated { max }
    })
    .await?;
    let forgotten = repeat(writer, &meta, FORGET_BATCH_MAX, |max| {
        Command::ForgetRecordedCommands { max }
    })
    .await?;
    if forgotten > 0 {
        tracing::info!(
            forgotten,
            "idempotency records past their retention forgotten"
        );
    }
    let expired = repeat(writer, &meta, EXPIRE_BATCH_MAX, |max| {
        Command::ExpireRequests { max }
    })
    .await?;
    if expired > 0 {
        tracing::info!(
            expired,
            "IP requests pending past request_pending_expiry_hours expired"
        );
    }
    Ok(purged)
}

/// Removes every expired registration service, batch after batch; how many went.
pub async fn clean_registrations(writer: &Writer, meta: Meta) -> Result<u64, CommandError> {
    repeat(writer, &meta, CLEANUP_BATCH_MAX, |max| {
        Command::Registration(RegistrationCommand::Cleanup { max })
    })
    .await
}

/// Sends the batch command made by `command` until a batch comes back short; the total.
async fn repeat(
    writer: &Writer,
    meta: &Meta,
    batch_max: usize,
    command: impl Fn(usize) -> Command,
) -> Result<u64, CommandError> {
    let mut total = 0;
    loop {
        let n = match writer.submit(command(batch_max), meta.clone()).await? {
            Reply::Purged(n) => n,
            _ => 0,
        };
        total += n;
        if n < batch_max as u64 {
            return Ok(total);
        }
    }
}

/// Starts the scheduled purge (the first run right away, catching up after a restart);
/// `None` when `every_seconds` is 0 (turned off).
pub fn schedule(writer: &Writer, every_seconds: u64) -> Option<JoinHandle<()>> {
    if every_seconds == 0 {
        tracing::warn!("the retention purge is off (purge_interval_seconds = 0)");
        return None;
    }
    Some(every(writer, every_seconds, |w, meta| {
        Box::pin(async move {
            match purge_expired(&w, meta).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "retention purge"),
                Err(e) => tracing::warn!(error = %e, "retention purge failed"),
            }
        })
    }))
}

/// Starts the scheduled registration cleanup; `None` when `every_seconds` is 0.
pub fn schedule_cleanup(writer: &Writer, every_seconds: u64) -> Option<JoinHandle<()>> {
    if every_seconds == 0 {
        tracing::warn!(
            "the registration cleanup is off (registration_cleanup_interval_seconds = 0)"
        );
        return None;
    }
    Some(every(writer, every_seconds, |w, meta| {
        Box::pin(async move {
            match clean_registrations(&w, meta).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "expired registration services removed"),
                Err(e) => tracing::warn!(error = %e, "registration cleanup failed"),
            }
        })
    }))
}

type Job = fn(Writer, Meta) -> futures::future::BoxFuture<'static, ()>;

/// Runs `job` every `every_seconds` as the actor `retention`, skipping ticks while the
/// writer is stopped (reopening the log): nothing could be recorded, and it resumes with
/// the writer.
fn every(writer: &Writer, every_seconds: u64, job: Job) -> JoinHandle<()> {
    let writer = writer.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_secs(every_seconds));
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if writer.is_stopped() {
                continue;
            }
            let meta = Meta {
                actor: SCHEDULER_ACTOR.to_string(),
                ..Meta::default()
            };
            job(writer.clone(), meta).await;
        }
    })
}

/// `POST /v1/admin/purge`. An Idempotency-Key is ignored: purging is idempotent by nature,
/// and a recorded reply would make every later batch of the same run look full.
/// `{"purged": n}`: addresses purged.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Purged {
    pub purged: u64,
}

/// `{"removed": n}`: expired services removed.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Removed {
    pub removed: u64,
}

#[utoipa::path(post, path = "/v1/admin/purge", tag = "admin",
    responses((status = 200, description = "The retention purge, run now", body = Purged)))]
pub async fn purge(c: Call<'_>) -> Answer {
    let meta = Meta {
        actor: c.req.actor.clone(),
        correlation_id: c.req.correlation_id(),
        idempotency: None,
    };
    let purged = purge_expired(&c.app.writer, meta).await?;
    // An operator's action: in the application log with its request id (the span's).
    tracing::info!(purged, actor = %c.req.actor, "retention purge run on request");
    Ok(Resp::ok(json!(Purged { purged })))
}

/// `POST /v1/admin/registrations/cleanup`: the registration cleanup now, `{"removed": n}`
/// (the expired services removed). Its own route so the purge's answer keeps its shape.
#[utoipa::path(post, path = "/v1/admin/registrations/cleanup", tag = "admin",
    responses((status = 200, description = "The registration cleanup, run now", body = Removed)))]
pub async fn cleanup(c: Call<'_>) -> Answer {
    let meta = Meta {
        actor: c.req.actor.clone(),
        correlation_id: c.req.header("x-correlation-id").map(str::to_string),
        idempotency: None,
    };
    let removed = clean_registrations(&c.app.writer, meta).await?;
    tracing::info!(removed, actor = %c.req.actor, "registration cleanup run on request");
    Ok(Resp::ok(json!(Removed { removed })))
}
