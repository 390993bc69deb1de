//! The notification outbox (issue 4): follows the published request queue and sends the
//! e-mails it owes — to the support address when a request arrives, to the requester (when
//! an e-mail was given) on approval or rejection.
//!
//! The log says what is owed (`Requests::owed`: every notification of every request minus
//! the `NotificationDelivered` events), so a crash never loses a notification: after a
//! restart the owed set is rebuilt from the log and sending resumes. A mail is recorded as
//! delivered, as an event, right after the SMTP server accepted it; a mail already recorded
//! is never sent again. (A crash in the instant between the server's acceptance and the
//! record can repeat that one mail: at-least-once, the only honest promise over SMTP.)
//!
//! A failed send is logged and retried with exponential backoff; the attempt count and the
//! last error are kept here and shown on the request's JSON.

use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use ipledger_commands::{Command, Meta, RecordDelivery, Writer};
use ipledger_domain::requests::{NotificationKind, RequestRecord};
use ipledger_infra::mail::{Mail, Mailer};
use tokio::time::Instant;
use uuid::Uuid;

/// The actor of `NotificationDelivered` events.
pub const OUTBOX_ACTOR: &str = "outbox";
/// How often the outbox looks for owed notifications.
pub const POLL_MILLIS: u64 = 200;
/// At most this many mails are attempted per pass.
pub const SENDS_PER_PASS_MAX: usize = 64;
/// First retry after this many seconds, doubling up to [`BACKOFF_SECONDS_MAX`].
pub const BACKOFF_SECONDS_MIN: u64 = 1;
pub const BACKOFF_SECONDS_MAX: u64 = 300;

/// What the outbox knows of a notification it could not deliver yet.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub attempts: u32,
    pub last_error: String,
    next_try: Instant,
}

/// Failed attempts, by (request, kind); a delivered notification leaves it.
#[derive(Debug, Default)]
pub struct DeliveryLog {
    failures: DashMap<(Uuid, NotificationKind), Attempt>,
}

impl DeliveryLog {
    pub fn attempt(&self, id: Uuid, kind: NotificationKind) -> Option<Attempt> {
        self.failures.get(&(id, kind)).map(|a| a.clone())
    }

    fn due(&self, id: Uuid, kind: NotificationKind, now: Instant) -> bool {
        self.failures
            .get(&(id, kind))
            .is_none_or(|a| a.next_try <= now)
    }

    fn failed(&self, id: Uuid, kind: NotificationKind, error: String, now: Instant) {
        let mut entry = self.failures.entry((id, kind)).or_insert(Attempt {
            attempts: 0,
            last_error: String::new(),
            next_try: now,
        });
        entry.attempts += 1;
        let exp = entry.attempts.saturating_sub(1).min(16);
        let secs = (BACKOFF_SECONDS_MIN << exp).min(BACKOFF_SECONDS_MAX);
        entry.last_error = error;
        entry.next_try = now + Duration::from_secs(secs);
    }

    fn delivered(&self, id: Uuid, kind: NotificationKind) {
        self.failures.remove(&(id, kind));
    }
}

/// Where notifications go.
#[derive(Debug, Clone, Default)]
pub struct Recipients {
    /// The support address told of every new request; None: arrival mails wait.
    pub support: Option<String>,
}

/// The mail for one owed notification, or None when it has nobody to go to yet.
pub fn compose(r: &RequestRecord, kind: NotificationKind, to: &Recipients) -> Option<Mail> {
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let details = format!(
        "Request: {}\nIP: {}\nNetwork: {}\nAssign type: {}\nAssigned to: {}\nRequested by: {}\nE-mail: {}\nIP range: {}\nRegion: {}\nDescription: {}\n",
        r.id, r.ip, or_dash(&r.network_id), r.assign_type, r.assigned_to, r.requested_by,
        or_dash(&r.email), or_dash(&r.ip_range), or_dash(&r.region), or_dash(&r.description),
    );
    let (recipient, subject, intro) = match kind {
        NotificationKind::Submitted => (
            to.support.clone()?,
            format!("New IP request for {}", r.ip),
            "A new IP request is waiting for review.".to_string(),
        ),
        NotificationKind::Approved => (
            r.email.clone()?,
            format!("Your IP request for {} was approved", r.ip),
            format!(
                "Your request was approved: {} is now assigned to you.",
                r.ip
            ),
        ),
        NotificationKind::Rejected => (
            r.email.clone()?,
            format!("Your IP request for {} was rejected", r.ip),
            format!("Your request was rejected. Reason: {}", or_dash(&r.reason)),
        ),
    };
    Some(Mail {
        to: recipient,
        subject,
        body: format!("{intro}\n\n{details}"),
    })
}

/// Starts the outbox task; it runs until `stop` resolves (or it is aborted). A stop is seen
/// between passes, so every mail a pass sent has its delivery recorded (or its failure
/// logged) before the task ends: a graceful shutdown sends no mail twice after the restart.
pub fn start(
    writer: Writer,
    mailer: Arc<dyn Mailer>,
    recipients: Recipients,
    log: Arc<DeliveryLog>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut cursor = None;
        let mut stop = std::pin::pin!(stop);
        loop {
            pass(&writer, mailer.as_ref(), &recipients, &log, &mut cursor).await;
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(POLL_MILLIS)) => {}
                () = &mut stop => return,
            }
        }
    })
}

/// Owed notifications one pass looks at: the views are read-locked while it looks, and the
/// writer waits for that lock to publish, so a long backlog (mail down for a day) is walked a
/// slice per pass from `cursor` instead of whole every 200 ms.
const OWED_SCAN_MAX: usize = 4096;

/// One look at (a slice of) the owed notifications: sends those due, records each delivery.
async fn pass(
    writer: &Writer,
    mailer: &dyn Mailer,
    to: &Recipients,
    log: &DeliveryLog,
    cursor: &mut Option<(Uuid, NotificationKind)>,
) {
    // After a log failure nothing can be recorded: sending would only repeat mails.
    if writer.is_stopped() {
        return;
    }
    let now = Instant::now();
    let work: Vec<(RequestRecord, NotificationKind, Mail)> = {
        let views = writer.views().read();
        let q = views.request_queue();
        let from = cursor.map_or(Bound::Unbounded, Bound::Excluded);
        let (mut work, mut scanned, mut last) = (Vec::new(), 0, None);
        for &(id, kind) in q.owed.range((from, Bound::Unbounded)).take(OWED_SCAN_MAX) {
            (scanned, last) = (scanned + 1, Some((id, kind)));
            let Some(r) = q.by_id.get(&id).filter(|_| log.due(id, kind, now)) else {
                continue;
            };
            if let Some(m) = compose(r, kind, to) {
                work.push((r.clone(), kind, m));
            }
            if work.len() == SENDS_PER_PASS_MAX {
                break;
            }
        }
        // Go on after the slice next time, or from the start once the end was reached.
        let stopped_early = scanned == OWED_SCAN_MAX || work.len() == SENDS_PER_PASS_MAX;
        *cursor = if stopped_early { last } else { None };
        work
    };
    for (r, kind, mail) in work {
        match mailer.send(&mail).await {
            Ok(()) => record(writer, log, &r, kind, mail.to).await,
            Err(error) => {
                tracing::warn!(request = %r.id, %kind, to = %mail.to, %error, "notification not delivered; will retry");
                log.failed(r.id, kind, error, Instant::now());
            }
        }
    }
}

async fn record(
    writer: &Writer,
    log: &DeliveryLog,
    r: &RequestRecord,
    kind: NotificationKind,
    recipient: String,
) {
    let command = Command::RecordDelivery(RecordDelivery {
        request_id: r.id,
        kind,
        recipient,
    });
    let meta = Meta {
        actor: OUTBOX_ACTOR.into(),
        ..Meta::default()
    };
    match writer.submit(command, meta).await {
        Ok(_) => {
            log.delivered(r.id, kind);
            tracing::info!(request = %r.id, %kind, "notification delivered");
        }
        // The mail went out but the record did not: it may be sent once more later.
        Err(error) => tracing::error!(request = %r.id, %kind, %error, "delivery not recorded"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use ipledger_domain::requests::RequestStatus;

    fn record(email: Option<&str>, status: RequestStatus) -> RequestRecord {
        RequestRecord {
            id: Uuid::from_u128(7),
            block_id: Uuid::from_u128(1),
            ip: "192.168.1.50".parse().unwrap(),
            network_id: Some("net-1".into()),
            status,
            assign_type: "USER".into(),
            assigned_to: email.unwrap_or("anonymous").into(),
            requested_by: "anonymous".into(),
            agent: None,
            email: email.map(str::to_string),
            ip_range: None,
            region: Some("datacenter-1".into()),
            description: None,
            requested_at: chrono::Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap(),
            decided_at: None,
            decided_by: None,
            reason: Some("reserved".into()),
            address_id: None,
            delivered: Vec::new(),
        }
    }

    #[test]
    fn mails_go_to_support_on_arrival_and_to_the_requester_on_a_decision() {
        let support = Recipients {
            support: Some("noc@example.com".into()),
        };
        let r = record(Some("user@example.com"), RequestStatus::Rejected);
        let arrival = compose(&r, NotificationKind::Submitted, &support).unwrap();
        assert_eq!(arrival.to, "noc@example.com");
        assert!(arrival.body.contains("datacenter-1"));
        let rejected = compose(&r, NotificationKind::Rejected, &support).unwrap();
        assert_eq!(rejected.to, "user@example.com");
        assert!(rejected.body.contains("Reason: reserved"));
        // Nobody to send to: the notification waits.
        assert_eq!(
            compose(&r, NotificationKind::Submitted, &Recipients::default()),
            None
        );
        let anonymous = record(None, RequestStatus::Approved);
        assert_eq!(
            compose(&anonymous, NotificationKind::Approved, &support),
            None
        );
    }

    #[test]
    fn failures_back_off_exponentially_up_to_the_cap() {
        let log = DeliveryLog::default();
        let (id, kind) = (Uuid::from_u128(7), NotificationKind::Submitted);
        let start = Instant::now();
        assert!(log.due(id, kind, start));
        let mut waits = Vec::new();
        for _ in 0..12 {
            log.failed(id, kind, "connection refused".into(), start);
            waits.push((log.attempt(id, kind).unwrap().next_try - start).as_secs());
        }
        assert_eq!(&waits[..5], &[1, 2, 4, 8, 16]);
        assert_eq!(*waits.last().unwrap(), BACKOFF_SECONDS_MAX);
        assert!(!log.due(id, kind, start));
        assert_eq!(log.attempt(id, kind).unwrap().attempts, 12);
        log.delivered(id, kind);
        assert!(log.attempt(id, kind).is_none());
    }
}
