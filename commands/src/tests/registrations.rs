//! Zone registrations (issue 10, vitistack ipam-api): the four register cases of
//! peer-systems appendix A, address sharing, secret rotation allowed and refused, a wrong
//! secret answered as an address held by anyone else, expiry and the cleanup by the clock,
//! the address released with its last service only and reusable after, and
//! `deny_external_cleanup` against a cluster-wide delete.

use std::net::IpAddr;

use chrono::Duration;
use ipledger_domain::records::Reply;
use ipledger_domain::registrations::RegistrationRecord;
use ipledger_domain::{Event, Rejection};
use uuid::Uuid;

use super::given::*;
use crate::command::Command;
use crate::command_pools::CreatePool;
use crate::command_registrations::*;

const ZONE: &str = "inet";
const S1: &str = "digest-of-secret-1";
const S2: &str = "digest-of-secret-2";

fn cluster(n: u128) -> Uuid {
    Uuid::from_u128(0xc0_0000 + n)
}

fn service(name: &str, cluster_n: u128) -> ServiceRequest {
    ServiceRequest {
        service_name: name.into(),
        namespace_id: Uuid::from_u128(0xaa),
        cluster_id: cluster(cluster_n),
        retention_period_days: 0,
        deny_external_cleanup: false,
    }
}

fn register(address: Option<&str>, secret: &str, svc: ServiceRequest) -> Command {
    Command::Registration(RegistrationCommand::Register(Register {
        zone: ZONE.into(),
        ipv6: false,
        address: address.map(ip),
        secret_digest: secret.into(),
        new_secret_digest: None,
        service: svc,
    }))
}

fn rotate(address: &str, secret: &str, new: &str, svc: ServiceRequest) -> Command {
    Command::Registration(RegistrationCommand::Register(Register {
        zone: ZONE.into(),
        ipv6: false,
        address: Some(ip(address)),
        secret_digest: secret.into(),
        new_secret_digest: Some(new.into()),
        service: svc,
    }))
}

fn expire(address: IpAddr, secret: &str, svc: ServiceRequest) -> Command {
    Command::Registration(RegistrationCommand::Expire(ExpireService {
        zone: ZONE.into(),
        ipv6: false,
        address,
        secret_digest: secret.into(),
        service: svc,
    }))
}

fn cleanup() -> Command {
    Command::Registration(RegistrationCommand::Cleanup { max: 100 })
}

/// A scenario with tenant 1's block 10.9.0.0/29 in an address pool of zone `inet`.
fn zone() -> (Scenario, Uuid) {
    let mut s = given(&[]);
    let Reply::Block(b) = s.run(&create(private(T1, "10.9.0.0/29"))).unwrap().reply else {
        panic!("a block");
    };
    s.run(&Command::CreatePool(CreatePool {
        owner: None,
        name: some("inet"),
        kind: some("address"),
        tenant_id: some(T1),
        resources: Some(vec![b.id.to_string()]),
        zone: some(ZONE),
        ..CreatePool::default()
    }))
    .expect("pool");
    (s, b.id)
}

fn registered(s: &mut Scenario, c: &Command) -> (RegistrationRecord, bool) {
    match s.run(c) {
        Ok(d) => match d.reply {
            Reply::Registration { record, created } => (record, created),
            other => panic!("unexpected {other:?}"),
        },
        Err(r) => panic!("rejected: {r:?}"),
    }
}

fn rejected(s: &mut Scenario, c: &Command) -> Rejection {
    s.run(c).expect_err("refused")
}

#[test]
fn case_1_new_without_address_takes_the_next_free_one() {
    let (mut s, _) = zone();
    let (a, created) = registered(&mut s, &register(None, S1, service("web", 1)));
    assert!(created);
    let (b, _) = registered(&mut s, &register(None, S1, service("db", 1)));
    assert_ne!(a.address, b.address, "another service gets another address");
    assert_eq!(a.zone, ZONE);
    assert!(
        s.state.address(a.address_id).is_some(),
        "an ordinary allocation"
    );
}

#[test]
fn case_2_same_service_again_gets_the_same_address_with_its_expiry_cleared() {
    let (mut s, _) = zone();
    let (a, _) = registered(&mut s, &register(None, S1, service("web", 1)));
    s.run(&expire(a.address, S1, service("web", 1))).unwrap();
    let expiring = s.state.registration(ZONE, a.address).unwrap().services[0].expires_at;
    assert_eq!(expiring, Some(now()));
    let (again, created) = registered(&mut s, &register(None, S1, service("web", 1)));
    assert!(!created);
    assert_eq!(again.address, a.address);
    assert_eq!(again.services[0].expires_at, None);
    let folded = s.state.registration(ZONE, a.address).unwrap();
    assert_eq!(folded.services[0].expires_at, None);
    // Unchanged again: no event.
    assert!(s
        .run(&register(None, S1, service("web", 1)))
        .unwrap()
        .events
        .is_empty());
}

#[test]
fn case_3_a_given_free_address_in_the_zone_is_taken_exactly() {
    let (mut s, _) = zone();
    let (a, created) = registered(&mut s, &register(Some("10.9.0.4"), S1, service("web", 1)));
    assert!(created);
    assert_eq!(a.address, ip("10.9.0.4"));
    let outside = rejected(&mut s, &register(Some("10.8.0.4"), S2, service("x", 1)));
    assert!(matches!(outside, Rejection::Invalid(_)), "{outside:?}");
    let v6 = rejected(&mut s, &register(Some("2001:db8::1"), S2, service("x", 1)));
    assert!(matches!(v6, Rejection::Invalid(_)), "{v6:?}");
}

#[test]
fn case_4_update_shares_the_address_between_services() {
    let (mut s, _) = zone();
    let (a, _) = registered(&mut s, &register(Some("10.9.0.4"), S1, service("web", 1)));
    let (shared, created) = registered(&mut s, &register(Some("10.9.0.4"), S1, service("api", 2)));
    assert!(!created);
    assert_eq!(shared.address, a.address);
    assert_eq!(shared.services.len(), 2);
    let mut changed = service("api", 2);
    changed.retention_period_days = 7;
    let (after, _) = registered(&mut s, &register(Some("10.9.0.4"), S1, changed));
    assert_eq!(after.services.len(), 2, "upserted, not added");
    assert_eq!(after.services[1].retention_period_days, 7);
}

#[test]
fn a_wrong_secret_is_answered_as_an_address_held_by_anyone_else() {
    let (mut s, b) = zone();
    registered(&mut s, &register(Some("10.9.0.4"), S1, service("web", 1)));
    let wrong = rejected(&mut s, &register(Some("10.9.0.4"), S2, service("web", 1)));
    // An address Melange holds gets the very same answer.
    s.run(&Command::AllocateAddress(crate::command::AllocateAddress {
        tenant: T1.into(),
        block_id: b,
        address: Some(ip("10.9.0.5")),
        ..Default::default()
    }))
    .expect("melange allocation");
    let held = rejected(&mut s, &register(Some("10.9.0.5"), S2, service("web", 1)));
    let text = |r: &Rejection| {
        format!("{r:?}")
            .replace("10.9.0.4", "A")
            .replace("10.9.0.5", "A")
    };
    assert_eq!(text(&wrong), text(&held));
    // A delete with the wrong secret and one of an unregistered address: the same 404.
    let d1 = rejected(&mut s, &expire(ip("10.9.0.4"), S2, service("web", 1)));
    let d2 = rejected(&mut s, &expire(ip("10.9.0.6"), S2, service("web", 1)));
    assert_eq!(text(&d1), text(&d2).replace("10.9.0.6", "A"));
    assert!(matches!(d1, Rejection::NotFound(_)));
}

#[test]
fn rotation_is_allowed_only_for_the_one_registered_service() {
    let (mut s, _) = zone();
    registered(&mut s, &register(Some("10.9.0.4"), S1, service("web", 1)));
    let refused = rejected(&mut s, &rotate("10.9.0.4", S1, S2, service("other", 1)));
    assert!(matches!(refused, Rejection::Conflict(_)), "{refused:?}");
    let (after, _) = registered(&mut s, &rotate("10.9.0.4", S1, S2, service("web", 1)));
    assert_eq!(after.secret_digest, S2);
    // The old secret no longer opens it; the new one does.
    rejected(&mut s, &register(Some("10.9.0.4"), S1, service("web", 1)));
    registered(&mut s, &register(Some("10.9.0.4"), S2, service("api", 1)));
    // Two services now: no rotation.
    let two = rejected(&mut s, &rotate("10.9.0.4", S2, S1, service("web", 1)));
    assert!(matches!(two, Rejection::Conflict(_)), "{two:?}");
}

#[test]
fn cleanup_removes_expired_services_and_releases_with_the_last_one() {
    let (mut s, _) = zone();
    let (a, _) = registered(&mut s, &register(Some("10.9.0.4"), S1, service("web", 1)));
    registered(&mut s, &register(Some("10.9.0.4"), S1, service("api", 1)));
    let mut kept = service("web", 1);
    kept.retention_period_days = 2;
    s.run(&expire(a.address, S1, kept)).unwrap();
    s.run(&expire(a.address, S1, service("api", 1))).unwrap();
    // Now: only "api" (retention 0) is due.
    let d = s.run(&cleanup()).unwrap();
    assert_eq!(d.reply, Reply::Purged(1));
    assert!(!d
        .events
        .iter()
        .any(|e| matches!(e, Event::RegistrationReleased(_))));
    assert!(s.state.address(a.address_id).is_some(), "one service left");
    // A day later: still kept.
    let later = now() + Duration::days(1);
    let d = s.run_at(&cleanup(), &settings(), later).unwrap();
    assert_eq!(d.reply, Reply::Purged(0));
    // Two days later: the last service goes, and the address with it, in one decision.
    let later = now() + Duration::days(2);
    let d = s.run_at(&cleanup(), &settings(), later).unwrap();
    assert!(d
        .events
        .iter()
        .any(|e| matches!(e, Event::RegistrationReleased(_))));
    assert!(d
        .events
        .iter()
        .any(|e| matches!(e, Event::AddressPurged(_))));
    assert!(s.state.registration(ZONE, a.address).is_none());
    assert!(s.state.address(a.address_id).is_none());
    // Free again: another secret may take it.
    let (again, created) = registered(&mut s, &register(Some("10.9.0.4"), S2, service("x", 3)));
    assert!(created);
    assert_eq!(again.address, a.address);
}

#[test]
fn melange_cannot_free_a_registrations_address() {
    let (mut s, b) = zone();
    let (a, _) = registered(&mut s, &register(None, S1, service("web", 1)));
    let dealloc = Command::DeallocateAddress {
        tenant: T1.into(),
        block_id: b,
        address: a.address,
    };
    let Err(Rejection::Conflict(why)) = s.run(&dealloc) else {
        panic!("Melange may not deallocate a registration's address");
    };
    assert!(why.contains("held by the registration"), "{why}");
}

#[test]
fn a_cluster_delete_skips_deny_external_cleanup_services() {
    let (mut s, _) = zone();
    let mut guarded = service("guarded", 1);
    guarded.deny_external_cleanup = true;
    let (g, _) = registered(&mut s, &register(None, S1, guarded.clone()));
    let (p, _) = registered(&mut s, &register(None, S2, service("plain", 1)));
    registered(&mut s, &register(None, S2, service("other-cluster", 2)));
    let d = s
        .run(&Command::Registration(RegistrationCommand::ExpireCluster {
            cluster_id: cluster(1),
        }))
        .unwrap();
    let Reply::ClusterExpired { expired, skipped } = d.reply else {
        panic!("a cluster reply");
    };
    assert_eq!(expired.len(), 1);
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].1, g.address);
    s.run(&cleanup()).unwrap();
    assert!(s.state.registration(ZONE, p.address).is_none(), "released");
    assert!(
        s.state.registration(ZONE, g.address).is_some(),
        "never by a cluster delete"
    );
    // Its own secret can expire it, and then the cleanup removes it.
    s.run(&expire(g.address, S1, guarded)).unwrap();
    s.run(&cleanup()).unwrap();
    assert!(s.state.registration(ZONE, g.address).is_none());
}

#[test]
fn field_rules_and_unknown_zones_are_400() {
    let (mut s, _) = zone();
    let mut long = service("web", 1);
    long.retention_period_days = 31;
    assert!(matches!(
        rejected(&mut s, &register(None, S1, long)),
        Rejection::Invalid(_)
    ));
    let mut nameless = service("", 1);
    nameless.retention_period_days = 0;
    assert!(matches!(
        rejected(&mut s, &register(None, S1, nameless)),
        Rejection::Invalid(_)
    ));
    let elsewhere = Command::Registration(RegistrationCommand::Register(Register {
        zone: "nowhere".into(),
        ipv6: false,
        address: None,
        secret_digest: S1.into(),
        new_secret_digest: None,
        service: service("web", 1),
    }));
    assert!(matches!(
        rejected(&mut s, &elsewhere),
        Rejection::Invalid(_)
    ));
    let v6 = Command::Registration(RegistrationCommand::Register(Register {
        zone: ZONE.into(),
        ipv6: true,
        address: None,
        secret_digest: S1.into(),
        new_secret_digest: None,
        service: service("web", 1),
    }));
    assert!(
        matches!(rejected(&mut s, &v6), Rejection::Invalid(_)),
        "no IPv6 block"
    );
}

#[test]
fn an_exhausted_zone_is_422() {
    let (mut s, _) = zone();
    let mut n = 0;
    let refusal = loop {
        match s.run(&register(None, S1, service(&format!("svc-{n}"), 1))) {
            Ok(_) => n += 1,
            Err(r) => break r,
        }
        assert!(n < 16, "a /29 runs out");
    };
    assert!(
        matches!(refusal, Rejection::Unprocessable(_)),
        "{refusal:?}"
    );
}
