//! E-mail notifications over real SMTP (issue 4): an aiosmtpd server on 127.0.0.1 receives
//! the mails for a request's arrival (to support), approval and rejection (to the requester);
//! SMTP failures are retried and visible on the request; and across a kill -9 of ipledger
//! between a request and its delivery no mail is lost and none is sent twice.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ipledger_commands::SystemClock;
use reqwest::Method;
use serde_json::{json, Value};

use crate::smtp_support::{matching, SmtpServer, SUPPORT};
use crate::support::{Client, Process, TestServer};

const FORM: &str = "application/x-www-form-urlencoded";

async fn setup_block(c: &Client) {
    let r = c
        .post(
            "/v0.1/ipam/tenants/acme/ip_blocks",
            json!({"ip_block": {"type": "private", "cidr": "10.8.0.0/24", "network_id": "net-m"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

/// Submits a request for `ip` and returns its id.
async fn submit(c: &Client, ip: &str, email: &str) -> String {
    let form = format!("ip={ip}&email={email}&description=smtp+test");
    let r = c
        .raw(Method::POST, "/v1/agent/ipam/request", Some(FORM), &form)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let listed = c.get(&format!("/v1/ipam/requests?ip={ip}")).await;
    listed.json["requests"][0]["id"]
        .as_str()
        .expect("listed")
        .to_string()
}

/// The request's notification of `kind`, once `done` says it is as wanted (or the deadline).
async fn notification(c: &Client, id: &str, kind: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = c.get(&format!("/v1/ipam/requests/{id}")).await;
        let n = r.json["request"]["notifications"]
            .as_array()
            .and_then(|ns| ns.iter().find(|n| n["kind"] == kind).cloned())
            .unwrap_or(Value::Null);
        if done(&n) || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn delivered(n: &Value) -> bool {
    n["delivered"] == true
}

#[tokio::test]
async fn smtp_mails_arrive_for_arrival_approval_and_rejection() {
    let smtp = SmtpServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let config = smtp.config();
    let s =
        TestServer::start_configured(tmp.path(), Arc::new(SystemClock), |c| c.smtp = Some(config))
            .await;
    setup_block(&s).await;
    let yes = submit(&s, "10.8.0.10", "alice@example.com").await;
    let no = submit(&s, "10.8.0.11", "bob@example.com").await;
    let anonymous = submit(&s, "10.8.0.12", "").await;
    s.post(&format!("/v1/ipam/requests/{yes}/approve"), json!({}))
        .await;
    s.post(
        &format!("/v1/ipam/requests/{no}/reject"),
        json!({"reason": "not in this rack"}),
    )
    .await;
    s.post(&format!("/v1/ipam/requests/{anonymous}/approve"), json!({}))
        .await;
    for (id, kind) in [
        (&yes, "approved"),
        (&no, "rejected"),
        (&anonymous, "submitted"),
    ] {
        let n = notification(&s, id, kind, delivered).await;
        assert!(delivered(&n), "{id} {kind}: {n}");
    }
    let mails = smtp.wait_for(5, 30).await;
    assert_eq!(
        matching(&mails, SUPPORT, "New IP request for 10.8.0.1").len(),
        3,
        "{mails:#?}"
    );
    let approved = matching(&mails, "alice@example.com", "was approved");
    assert_eq!(approved.len(), 1, "{mails:#?}");
    assert!(approved[0].contains("10.8.0.10"));
    let rejected = matching(&mails, "bob@example.com", "was rejected");
    assert_eq!(rejected.len(), 1, "{mails:#?}");
    assert!(rejected[0].contains("not in this rack"));
    // Three arrivals, one approval, one rejection; no mail for the request without e-mail.
    assert_eq!(mails.len(), 5, "{mails:#?}");
    assert!(mails
        .iter()
        .all(|m| m.contains("From: ipledger@example.com")));
}

#[tokio::test]
async fn smtp_failures_are_retried_and_shown_on_the_request() {
    let mut smtp = SmtpServer::start();
    smtp.stop();
    let tmp = tempfile::tempdir().unwrap();
    let config = smtp.config();
    let s =
        TestServer::start_configured(tmp.path(), Arc::new(SystemClock), |c| c.smtp = Some(config))
            .await;
    setup_block(&s).await;
    let id = submit(&s, "10.8.0.20", "carol@example.com").await;
    let failed = notification(&s, &id, "submitted", |n| n["attempts"].as_u64() >= Some(1)).await;
    assert_eq!(failed["delivered"], false, "{failed}");
    assert!(
        failed["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{failed}"
    );
    smtp.run();
    let n = notification(&s, &id, "submitted", delivered).await;
    assert!(delivered(&n), "delivered once the server is back: {n}");
    assert_eq!(n["last_error"], Value::Null);
    let mails = smtp.wait_for(1, 10).await;
    assert_eq!(
        matching(&mails, SUPPORT, "10.8.0.20").len(),
        1,
        "{mails:#?}"
    );
}

/// Regression guard: an outbox that sent from memory would lose the mail of a request made
/// just before a crash, and one that did not record deliveries would resend after restart.
#[tokio::test]
async fn smtp_no_mail_is_lost_or_repeated_across_kill_9() {
    let mut smtp = SmtpServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let env = smtp.env();
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let p = Process::spawn_with_env(tmp.path(), &env_refs);
    setup_block(&p.client).await;
    let a = submit(&p.client, "10.8.0.30", "dave@example.com").await;
    assert!(delivered(
        &notification(&p.client, &a, "submitted", delivered).await
    ));
    // The server goes away: B's request is durable, its mail cannot be sent.
    smtp.stop();
    let b = submit(&p.client, "10.8.0.31", "erin@example.com").await;
    let failing = notification(&p.client, &b, "submitted", |n| {
        n["attempts"].as_u64() >= Some(1)
    })
    .await;
    assert_eq!(failing["delivered"], false, "{failing}");
    p.kill9();

    smtp.run();
    let p = Process::spawn_with_env(tmp.path(), &env_refs);
    assert!(delivered(
        &notification(&p.client, &b, "submitted", delivered).await
    ));
    p.client
        .post(&format!("/v1/ipam/requests/{a}/approve"), json!({}))
        .await;
    assert!(delivered(
        &notification(&p.client, &a, "approved", delivered).await
    ));
    let mails = smtp.wait_for(3, 10).await;
    assert_eq!(
        matching(&mails, SUPPORT, "10.8.0.30").len(),
        1,
        "A's arrival once: {mails:#?}"
    );
    assert_eq!(
        matching(&mails, SUPPORT, "10.8.0.31").len(),
        1,
        "B's arrival, not lost: {mails:#?}"
    );
    assert_eq!(
        matching(&mails, "dave@example.com", "was approved").len(),
        1
    );
    assert_eq!(mails.len(), 3, "{mails:#?}");
    p.terminate();
}
