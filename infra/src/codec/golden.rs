//! Golden files: the frozen wire form of every `(event type, version)` the log may hold.
//! Each pair has `{name}.v{version}.msgpack` (payload bytes as once written) and
//! `{name}.v{version}.json` (what they must decode to). Files are written once, from the
//! samples below, only when `IPLEDGER_WRITE_GOLDEN=1`; they are never overwritten, so a
//! codec change that breaks old data fails here instead of on a production log.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use ipledger_domain::events::{self as ev, EVENT_TYPES};
use ipledger_domain::records::{BlockType, Receipt};
use ipledger_domain::Event;
use uuid::Uuid;

use super::{decode_event, encode_event};

const GOLDEN_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/golden");

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | n)
}

fn ts(secs: i64) -> DateTime<Utc> {
    // Microsecond precision: what the domain's clock hands out.
    DateTime::from_timestamp(1_714_566_896 + secs, 123_456_000).expect("valid sample time")
}

fn some_ip(text: &str) -> Option<std::net::IpAddr> {
    Some(text.parse().expect("valid sample address"))
}

/// A representative event of each type, every field filled and every option `Some`.
/// `None` for a name means "no sample yet": the coverage test below fails.
pub(crate) fn sample_of(name: &str) -> Option<Event> {
    block_sample(name)
        .or_else(|| address_sample(name))
        .or_else(|| policy_sample(name))
        .or_else(|| interface_sample(name))
        .or_else(|| token_sample(name))
        .or_else(|| routing_sample(name))
        .or_else(|| request_sample(name))
        .or_else(|| scaleway_sample(name))
        .or_else(|| pool_sample(name))
        .or_else(|| registration_sample(name))
        .or_else(|| webhook_sample(name))
}

fn webhook_sample(name: &str) -> Option<Event> {
    use ipledger_domain::webhooks as wh;
    Some(match name {
        "WebhookRegistered" => Event::WebhookRegistered(wh::WebhookRegistered {
            webhook_id: id(60),
            url: "https://hooks.example.com/ipledger".into(),
            event_types: Some(vec!["AddressAllocated".into(), "AddressDeallocated".into()]),
            // A sample of the sealed form (nonce and ciphertext, base64), sealing nothing.
            secret_sealed: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into(),
            follow_from: 1234,
            created_at: ts(600),
        }),
        "WebhookDeleted" => Event::WebhookDeleted(wh::WebhookDeleted { webhook_id: id(60) }),
        "WebhookDelivered" => Event::WebhookDelivered(wh::WebhookDelivered {
            webhook_id: id(60),
            delivered_to: 1300,
            count: 12,
            delivered_at: ts(610),
        }),
        _ => return None,
    })
}

fn registration_sample(name: &str) -> Option<Event> {
    use ipledger_domain::registrations::{ExpiryCause, RegisteredService, ServiceKey};
    let address = "83.118.168.10".parse().expect("valid sample address");
    let zone = || "inet".to_string();
    let service = RegisteredService {
        service_name: "ingress_inet".into(),
        namespace_id: id(51),
        cluster_id: id(52),
        retention_period_days: 7,
        deny_external_cleanup: true,
        expires_at: Some(ts(560)),
    };
    let key = ServiceKey {
        service_name: "ingress_inet".into(),
        namespace_id: id(51),
        cluster_id: id(52),
    };
    // Digests are hex HMAC-SHA256 outputs; these are samples, not digests of any secret.
    let digest = |c: char| c.to_string().repeat(64);
    Some(match name {
        "RegistrationCreated" => Event::RegistrationCreated(ev::RegistrationCreated {
            zone: zone(),
            address,
            address_id: id(53),
            block_id: id(1),
            pool_id: id(40),
            secret_digest: digest('a'),
            service,
            created_at: ts(500),
        }),
        "RegistrationServiceSet" => Event::RegistrationServiceSet(ev::RegistrationServiceSet {
            zone: zone(),
            address,
            service,
            set_at: ts(510),
        }),
        "RegistrationSecretRotated" => {
            Event::RegistrationSecretRotated(ev::RegistrationSecretRotated {
                zone: zone(),
                address,
                secret_digest: digest('b'),
                rotated_at: ts(520),
            })
        }
        "RegistrationServiceExpiring" => {
            Event::RegistrationServiceExpiring(ev::RegistrationServiceExpiring {
                zone: zone(),
                address,
                service: key,
                cause: ExpiryCause::Cluster,
                expires_at: ts(560),
                requested_at: ts(530),
            })
        }
        "RegistrationServiceRemoved" => {
            Event::RegistrationServiceRemoved(ev::RegistrationServiceRemoved {
                zone: zone(),
                address,
                service: key,
                removed_at: ts(570),
            })
        }
        "RegistrationReleased" => Event::RegistrationReleased(ev::RegistrationReleased {
            zone: zone(),
            address,
            address_id: id(53),
            block_id: id(1),
            released_at: ts(580),
        }),
        _ => return None,
    })
}

fn pool_sample(name: &str) -> Option<Event> {
    use ipledger_domain::pools::{PoolKind, PoolStrategy};
    Some(match name {
        "PoolCreated" => Event::PoolCreated(ev::PoolCreated {
            pool_id: id(40),
            name: "management".into(),
            kind: PoolKind::Prefix,
            tenant_id: "tenant-a".into(),
            resources: vec![id(1), id(2)],
            default_prefix_length: Some(24),
            zone: Some("fr-par-1".into()),
            strategy: PoolStrategy::BestFit,
            created_at: ts(400),
        }),
        "PoolUpdated" => Event::PoolUpdated(ev::PoolUpdated {
            pool_id: id(40),
            name: "management-2".into(),
            resources: vec![id(2)],
            default_prefix_length: Some(26),
            zone: Some("fr-par-2".into()),
            strategy: PoolStrategy::Last,
            updated_at: ts(410),
        }),
        "PoolDeleted" => Event::PoolDeleted(ev::PoolDeleted {
            pool_id: id(40),
            deleted_at: ts(440),
        }),
        "PoolAllocated" => Event::PoolAllocated(ev::PoolAllocated {
            pool_id: id(41),
            allocation_id: id(42),
            identifier: "vm-42.eth0".into(),
            block_id: id(1),
            resource_id: id(1),
            address_id: Some(id(43)),
            address: some_ip("10.20.0.9"),
            prefix: Some("10.20.0.0/22".parse().expect("valid sample cidr")),
            prefix_length: 22,
            strategy: Some(PoolStrategy::First),
            data: Some(r#"{"role":"db"}"#.into()),
            allocated_at: ts(420),
        }),
        "PoolReleased" => Event::PoolReleased(ev::PoolReleased {
            pool_id: id(41),
            allocation_id: id(42),
            identifier: "vm-42.eth0".into(),
            released_at: ts(430),
        }),
        _ => return None,
    })
}

fn scaleway_sample(name: &str) -> Option<Event> {
    use ipledger_domain::scaleway::{ScalewayResource, ScalewayReverse, ScalewaySource};
    let resource = ScalewayResource {
        resource_type: "custom".into(),
        id: id(41),
        mac_address: "02:00:00:00:00:01".into(),
        name: Some("web-1".into()),
    };
    Some(match name {
        "ScalewayIpBooked" => Event::ScalewayIpBooked(ev::ScalewayIpBooked {
            ip_id: id(40),
            project_id: "acme".into(),
            block_id: id(1),
            address: "10.0.0.7".parse().expect("valid sample address"),
            source: ScalewaySource {
                private_network_id: Some("net-1".into()),
                subnet_id: Some(id(1)),
                zonal: Some("fr-par-1".into()),
            },
            tags: vec!["env:prod".into()],
            resource: Some(resource.clone()),
            booked_at: ts(400),
        }),
        "ScalewayIpUpdated" => Event::ScalewayIpUpdated(ev::ScalewayIpUpdated {
            ip_id: id(40),
            tags: vec!["env:prod".into(), "web".into()],
            reverses: vec![ScalewayReverse {
                hostname: "web-1.example.com".into(),
                address: some_ip("10.0.0.7"),
            }],
            updated_at: ts(410),
        }),
        "ScalewayIpAttached" => Event::ScalewayIpAttached(ev::ScalewayIpAttached {
            ip_id: id(40),
            resource,
            attached_at: ts(420),
        }),
        "ScalewayIpDetached" => Event::ScalewayIpDetached(ev::ScalewayIpDetached {
            ip_id: id(40),
            detached_at: ts(430),
        }),
        "ScalewayIpReleased" => Event::ScalewayIpReleased(ev::ScalewayIpReleased {
            ip_id: id(40),
            block_id: id(1),
            released_at: ts(440),
        }),
        _ => return None,
    })
}

fn request_sample(name: &str) -> Option<Event> {
    use ipledger_domain::requests::NotificationKind;
    let ip = "192.168.1.50".parse().expect("valid sample address");
    Some(match name {
        "RequestSubmitted" => Event::RequestSubmitted(ev::RequestSubmitted {
            request_id: id(20),
            block_id: id(1),
            ip,
            network_id: Some("net-1".into()),
            assign_type: "USER".into(),
            assigned_to: "user@example.com".into(),
            requested_by: "anonymous".into(),
            agent: None,
            email: Some("user@example.com".into()),
            ip_range: Some("192.168.1.0/24".into()),
            region: Some("datacenter-1".into()),
            description: Some("Required for new server deployment".into()),
            submitted_at: ts(300),
        }),
        "RequestApproved" => Event::RequestApproved(ev::RequestApproved {
            request_id: id(20),
            block_id: id(1),
            address_id: id(21),
            approved_by: "admin-bootstrap".into(),
            approved_at: ts(310),
        }),
        "RequestRejected" => Event::RequestRejected(ev::RequestRejected {
            request_id: id(22),
            block_id: id(1),
            rejected_by: "ops".into(),
            reason: Some("address reserved for the router".into()),
            rejected_at: ts(320),
        }),
        "RequestExpired" => Event::RequestExpired(ev::RequestExpired {
            request_id: id(23),
            block_id: id(1),
            reason: "pending for more than 72 hours (request_pending_expiry_hours) without a \
                     decision; the held address was released"
                .into(),
            expired_at: ts(340),
        }),
        "NotificationDelivered" => Event::NotificationDelivered(ev::NotificationDelivered {
            request_id: id(20),
            kind: NotificationKind::Approved,
            recipient: "user@example.com".into(),
            delivered_at: ts(330),
        }),
        _ => return None,
    })
}

fn block_sample(name: &str) -> Option<Event> {
    Some(match name {
        "BlockCreated" => Event::BlockCreated(ev::BlockCreated {
            block_id: id(1),
            tenant_id: "tenant-a".into(),
            cidr: "10.20.0.0/22".parse().expect("valid sample cidr"),
            block_type: BlockType::Private,
            network_id: Some("net-7".into()),
            policy_id: Some(id(2)),
            gateway: some_ip("10.20.0.1"),
            dns1: some_ip("10.20.0.2"),
            dns2: some_ip("2001:db8::53"),
            parent_id: Some(id(3)),
            created_at: ts(0),
            ipv6_generator: Some(ipledger_domain::ipv6::Ipv6Generator::Eui64),
        }),
        "SubnetAdded" => Event::SubnetAdded(ev::SubnetAdded {
            parent_id: id(3),
            block_id: id(1),
            cidr: "10.20.0.0/22".parse().expect("valid sample cidr"),
            created_at: ts(0),
        }),
        "BlockClaimed" => Event::BlockClaimed(ev::BlockClaimed {
            block_id: id(1),
            cidr: "10.20.0.0/22".parse().expect("valid sample cidr"),
            scope: ev::ClaimScope::Network("net-1".into()),
            claimed_at: ts(0),
        }),
        "BlockUpdated" => Event::BlockUpdated(ev::BlockUpdated {
            block_id: id(1),
            block_type: BlockType::Public,
            network_id: Some("net-8".into()),
            policy_id: Some(id(2)),
            gateway: some_ip("10.20.0.254"),
            dns1: some_ip("1.1.1.1"),
            dns2: some_ip("8.8.8.8"),
            updated_at: ts(10),
            ipv6_generator: Some(ipledger_domain::ipv6::Ipv6Generator::Sequential),
        }),
        "BlockDeleted" => Event::BlockDeleted(ev::BlockDeleted {
            block_id: id(1),
            deleted_at: ts(20),
        }),
        _ => return None,
    })
}

fn address_sample(name: &str) -> Option<Event> {
    let address = "10.20.0.17".parse().expect("valid sample address");
    Some(match name {
        "AddressAllocated" => Event::AddressAllocated(ev::AddressAllocated {
            block_id: id(1),
            address_id: id(4),
            address,
            interface_id: Some("eth0".into()),
            used_by_tenant: "tenant-b".into(),
            used_by_device: Some("vm-42".into()),
            mac_address: Some("02:00:00:ab:cd:ef".into()),
            allocated_at: ts(30),
        }),
        "AddressDeallocated" => Event::AddressDeallocated(ev::AddressDeallocated {
            block_id: id(1),
            address,
            deallocated_at: ts(40),
        }),
        "AddressRestored" => Event::AddressRestored(ev::AddressRestored {
            block_id: id(1),
            address,
            restored_at: ts(50),
        }),
        "AddressPurged" => Event::AddressPurged(ev::AddressPurged {
            block_id: id(1),
            address: "2001:db8::17".parse().expect("valid sample address"),
            purged_at: ts(60),
        }),
        "CommandRecorded" => Event::CommandRecorded(ev::CommandRecorded {
            key: "idem-key-1".into(),
            fingerprint: "sha256:0f1e2d3c4b5a".into(),
            receipt: Receipt::IpConfigurations(vec![id(4), id(5)]),
            recorded_at: ts(30),
        }),
        "CommandForgotten" => Event::CommandForgotten(ev::CommandForgotten {
            key: "idem-key-1".into(),
            forgotten_at: ts(90),
        }),
        _ => return None,
    })
}

fn policy_sample(name: &str) -> Option<Event> {
    let (policy_id, range_id, octet_id) = (id(2), id(5), id(6));
    Some(match name {
        "PolicyCreated" => Event::PolicyCreated(ev::PolicyCreated {
            policy_id,
            tenant_id: "tenant-a".into(),
            name: "edge".into(),
            description: Some("skip the first addresses".into()),
            created_at: ts(70),
        }),
        "PolicyUpdated" => Event::PolicyUpdated(ev::PolicyUpdated {
            policy_id,
            name: "edge-2".into(),
            description: Some("and the last".into()),
            updated_at: ts(80),
        }),
        "PolicyDeleted" => Event::PolicyDeleted(ev::PolicyDeleted {
            policy_id,
            deleted_at: ts(90),
        }),
        "UnusableRangeCreated" => Event::UnusableRangeCreated(ev::UnusableRangeCreated {
            policy_id,
            range_id,
            offset: -5,
            length: 5,
            created_at: ts(100),
        }),
        "UnusableRangeUpdated" => Event::UnusableRangeUpdated(ev::UnusableRangeUpdated {
            policy_id,
            range_id,
            offset: 1,
            length: 10,
            updated_at: ts(110),
        }),
        "UnusableRangeDeleted" => Event::UnusableRangeDeleted(ev::UnusableRangeDeleted {
            policy_id,
            range_id,
            deleted_at: ts(120),
        }),
        "UnusableOctetCreated" => Event::UnusableOctetCreated(ev::UnusableOctetCreated {
            policy_id,
            octet_id,
            octet: 255,
            created_at: ts(130),
        }),
        "UnusableOctetUpdated" => Event::UnusableOctetUpdated(ev::UnusableOctetUpdated {
            policy_id,
            octet_id,
            octet: 0,
            updated_at: ts(140),
        }),
        "UnusableOctetDeleted" => Event::UnusableOctetDeleted(ev::UnusableOctetDeleted {
            policy_id,
            octet_id,
            deleted_at: ts(150),
        }),
        _ => return None,
    })
}

fn routing_sample(name: &str) -> Option<Event> {
    let (block_id, route_id) = (id(1), id(7));
    let local_address = "10.20.0.17".parse().expect("valid sample address");
    let global_address = "2001:db8::77".parse().expect("valid sample address");
    Some(match name {
        "RouteCreated" => Event::RouteCreated(ev::RouteCreated {
            block_id,
            route_id,
            destination: "192.168.0.0/24".into(),
            gateway: "10.20.0.1".into(),
            netmask: Some("255.255.255.0".into()),
            created_at: ts(160),
        }),
        "RouteUpdated" => Event::RouteUpdated(ev::RouteUpdated {
            block_id,
            route_id,
            destination: "2001:db8:1::".into(),
            gateway: "2001:db8::1".into(),
            netmask: Some("48".into()),
            updated_at: ts(170),
        }),
        "RouteDeleted" => Event::RouteDeleted(ev::RouteDeleted {
            block_id,
            route_id,
            deleted_at: ts(180),
        }),
        "NatAssigned" => Event::NatAssigned(ev::NatAssigned {
            local_block_id: block_id,
            local_address_id: id(4),
            local_address,
            global_block_id: id(8),
            global_address_id: id(9),
            global_address,
            assigned_at: ts(190),
        }),
        "NatRemoved" => Event::NatRemoved(ev::NatRemoved {
            local_block_id: block_id,
            local_address_id: id(4),
            local_address,
            global_block_id: id(8),
            global_address_id: id(9),
            global_address,
            removed_at: ts(200),
        }),
        _ => return None,
    })
}

fn token_sample(name: &str) -> Option<Event> {
    use ipledger_domain::auth::Role;
    Some(match name {
        "TokenIssued" => Event::TokenIssued(ev::TokenIssued {
            token_id: id(7),
            name: "ci".into(),
            role: Role::Tenant("tenant-a".into()),
            secret_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                .into(),
            issued_at: ts(160),
        }),
        "TokenRevoked" => Event::TokenRevoked(ev::TokenRevoked {
            token_id: id(7),
            revoked_at: ts(170),
        }),
        _ => return None,
    })
}

fn interface_sample(name: &str) -> Option<Event> {
    let (vif, mac) = ("vif-9".to_string(), 0xBC76_4E20_0001);
    let address = "10.20.0.17".parse().expect("valid sample address");
    Some(match name {
        "InterfaceCreated" => Event::InterfaceCreated(ev::InterfaceCreated {
            interface_id: id(10),
            vif,
            tenant_id: "tenant-b".into(),
            device_id: Some("vm-42".into()),
            created_at: ts(210),
        }),
        "InterfaceDeleted" => Event::InterfaceDeleted(ev::InterfaceDeleted {
            interface_id: id(10),
            vif,
            deleted_at: ts(220),
        }),
        "MacAddressAllocated" => Event::MacAddressAllocated(ev::MacAddressAllocated {
            mac,
            vif,
            range_id: Some(id(11)),
            allocated_at: ts(230),
        }),
        "MacAddressReleased" => Event::MacAddressReleased(ev::MacAddressReleased {
            mac,
            vif,
            released_at: ts(240),
        }),
        "MacRangeCreated" => Event::MacRangeCreated(ev::MacRangeCreated {
            range_id: id(11),
            first: 0xBC76_4E20_0000,
            prefix_len: 27,
            tenant_id: Some("tenant-a".into()),
            created_at: ts(250),
        }),
        "MacRangeDeleted" => Event::MacRangeDeleted(ev::MacRangeDeleted {
            range_id: id(11),
            deleted_at: ts(260),
        }),
        "AllowedIpAdded" => Event::AllowedIpAdded(ev::AllowedIpAdded {
            vif,
            block_id: id(1),
            address,
            added_at: ts(270),
        }),
        "AllowedIpRemoved" => Event::AllowedIpRemoved(ev::AllowedIpRemoved {
            vif,
            block_id: id(1),
            address,
            removed_at: ts(280),
        }),
        _ => return None,
    })
}

/// One sample per entry of `EVENT_TYPES` (all current versions).
pub(crate) fn all_samples() -> Vec<Event> {
    EVENT_TYPES
        .iter()
        .filter_map(|(name, _)| sample_of(name))
        .collect()
}

/// The variant names of [`Event`], read from its `Deserialize` impl so that a variant added
/// to the enum is seen here without anyone updating a list.
fn event_variants() -> &'static [&'static str] {
    use serde::de::{Deserialize, Deserializer, Error as _, Visitor};
    #[derive(Debug)]
    struct Captured(&'static [&'static str]);
    impl std::fmt::Display for Captured {
        fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "{:?}", self.0)
        }
    }
    impl std::error::Error for Captured {}
    impl serde::de::Error for Captured {
        fn custom<T: std::fmt::Display>(_: T) -> Self {
            Captured(&[])
        }
    }
    struct Spy;
    impl<'de> Deserializer<'de> for Spy {
        type Error = Captured;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Captured> {
            Err(Captured::custom("not an enum"))
        }
        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _: &'static str,
            variants: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Captured> {
            Err(Captured(variants))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
            struct identifier ignored_any
        }
    }
    match Event::deserialize(Spy) {
        Err(Captured(variants)) => variants,
        Ok(_) => unreachable!("the spy deserializer never yields a value"),
    }
}

#[test]
fn every_event_variant_has_a_sample_and_a_version() {
    let variants = event_variants();
    assert!(variants.len() >= 17, "variants not captured: {variants:?}");
    let listed: BTreeSet<&str> = EVENT_TYPES.iter().map(|(n, _)| *n).collect();
    for name in variants {
        assert!(
            listed.contains(name),
            "Event::{name} is missing from EVENT_TYPES"
        );
        let sample = sample_of(name).unwrap_or_else(|| {
            panic!("Event::{name} has no sample in infra/src/codec/golden.rs: add one")
        });
        assert_eq!(
            sample.type_name(),
            *name,
            "sample for {name} has the wrong type"
        );
    }
}

fn golden_paths(name: &str, version: u16) -> (PathBuf, PathBuf) {
    let dir = Path::new(GOLDEN_DIR);
    (
        dir.join(format!("{name}.v{version}.msgpack")),
        dir.join(format!("{name}.v{version}.json")),
    )
}

/// Writes a missing golden file from the current sample, refusing to touch an existing
/// one (`create_new`), or explains why it cannot.
fn write_missing(path: &Path, name: &str, version: u16, json: bool) -> Result<(), String> {
    let sample = sample_of(name).ok_or_else(|| format!("no sample for {name}"))?;
    let (_, current, payload) = encode_event(&sample);
    if current != version {
        return Err(format!(
            "{} is missing and cannot be made from the current v{current} sample",
            path.display()
        ));
    }
    let bytes = if json {
        serde_json::to_vec_pretty(&sample).map_err(|e| e.to_string())?
    } else {
        payload
    };
    fs::create_dir_all(GOLDEN_DIR).map_err(|e| e.to_string())?;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    std::io::Write::write_all(&mut file, &bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn ensure_exists(path: &Path, name: &str, version: u16, json: bool) -> Result<(), String> {
    if path.exists() {
        return Ok(());
    }
    if std::env::var("IPLEDGER_WRITE_GOLDEN").as_deref() == Ok("1") {
        return write_missing(path, name, version, json);
    }
    Err(format!(
        "missing golden file {} (run with IPLEDGER_WRITE_GOLDEN=1 to create it)",
        path.display()
    ))
}

fn check_golden(name: &str, version: u16) -> Result<(), String> {
    let (msgpack, json) = golden_paths(name, version);
    ensure_exists(&msgpack, name, version, false)?;
    ensure_exists(&json, name, version, true)?;
    let bytes = fs::read(&msgpack).map_err(|e| format!("{}: {e}", msgpack.display()))?;
    let text = fs::read_to_string(&json).map_err(|e| format!("{}: {e}", json.display()))?;
    let decoded = decode_event(name, version, &bytes)?;
    let expected: Event =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", json.display()))?;
    if decoded != expected {
        return Err(format!(
            "{} decodes to\n{decoded:#?}\nbut {} says\n{expected:#?}",
            msgpack.display(),
            json.display()
        ));
    }
    Ok(())
}

#[test]
fn golden_files_decode_to_their_json() {
    let failures: Vec<String> = EVENT_TYPES
        .iter()
        .filter_map(|(name, version)| check_golden(name, *version).err())
        .collect();
    assert!(
        failures.is_empty(),
        "golden files:\n{}",
        failures.join("\n")
    );
}

/// Versions no longer written, each decoded through its upcaster: the old golden JSON holds
/// the old payload, which must upcast to exactly what the old bytes decode to.
const UPCAST_VERSIONS: &[(&str, u16)] = &[("CommandRecorded", 1)];

#[test]
fn old_versions_upcast_from_their_golden_files() {
    for (name, version) in UPCAST_VERSIONS {
        let current = EVENT_TYPES.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
        assert!(
            current > Some(*version),
            "{name} v{version} is still current"
        );
        let (msgpack, json) = golden_paths(name, *version);
        let bytes = fs::read(&msgpack).expect("old golden payload");
        let text = fs::read_to_string(&json).expect("old golden json");
        let decoded = decode_event(name, *version, &bytes).expect("old payload decodes");
        let expected = match *name {
            "CommandRecorded" => {
                let old: std::collections::HashMap<String, super::upcast::CommandRecordedV1> =
                    serde_json::from_str(&text).expect("old golden json parses");
                let (_, v1) = old.into_iter().next().expect("one event");
                Event::CommandRecorded(v1.into())
            }
            other => panic!("no upcast check for {other}"),
        };
        assert_eq!(decoded, expected, "{name} v{version}");
    }
}

#[test]
fn command_recorded_v1_keeps_only_the_ids_of_its_reply() {
    let bytes = fs::read(golden_paths("CommandRecorded", 1).0).expect("old golden payload");
    let Event::CommandRecorded(e) = decode_event("CommandRecorded", 1, &bytes).expect("decodes")
    else {
        panic!("not a CommandRecorded");
    };
    assert_eq!(e.receipt, Receipt::Address(id(4)));
    assert_eq!(e.key, "idem-key-1");
}
