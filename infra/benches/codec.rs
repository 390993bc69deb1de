//! Encode and decode throughput of stored records, through the library as it ships (the
//! unit-test benchmark `codec_throughput` is compiled into the test binary, whose codegen
//! units differ). A mix of five event types, 200,000 records, a few rounds each:
//! `cargo bench -p ipledger-infra --bench codec`. Wall time is noisy on a shared machine;
//! for a stable comparison count instructions:
//! `valgrind --tool=callgrind target/release/deps/codec-<hash>` and compare the inclusive
//! cost of `encode_record_into` and `decode_record`.

use std::time::Instant;

use chrono::DateTime;
use ipledger_domain::auth::Role;
use ipledger_domain::events::{
    AddressAllocated, BlockCreated, CommandRecorded, RouteCreated, TokenIssued,
};
use ipledger_domain::records::{BlockType, Receipt};
use ipledger_domain::{Envelope, Event};
use ipledger_infra::codec::{decode_record, encode_record, encode_record_into};
use uuid::Uuid;

const RECORDS: u64 = 200_000;
const ROUNDS: u32 = 5;

fn id(n: u64) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | n as u128)
}

fn event(i: u64) -> Event {
    let at = DateTime::from_timestamp_micros(1_714_566_896_123_456 + i as i64).expect("time");
    let address = std::net::IpAddr::from([10, (i >> 16) as u8, (i >> 8) as u8, i as u8]);
    match i % 5 {
        0 => Event::AddressAllocated(AddressAllocated {
            block_id: id(1),
            address_id: id(i),
            address,
            interface_id: Some("vif-1".into()),
            used_by_tenant: "tenant-a".into(),
            used_by_device: Some("vm-1".into()),
            mac_address: None,
            allocated_at: at,
        }),
        1 => Event::BlockCreated(BlockCreated {
            block_id: id(i),
            tenant_id: "tenant-a".into(),
            cidr: "10.0.0.0/16".parse().expect("cidr"),
            block_type: BlockType::Private,
            network_id: Some("net-1".into()),
            policy_id: None,
            gateway: Some(address),
            dns1: None,
            dns2: None,
            parent_id: None,
            created_at: at,
            ipv6_generator: None,
        }),
        2 => Event::CommandRecorded(CommandRecorded {
            key: format!("key-{i}"),
            fingerprint: "sha256:0f1e2d3c4b5a".into(),
            receipt: Receipt::Address(id(i)),
            recorded_at: at,
        }),
        3 => Event::RouteCreated(RouteCreated {
            block_id: id(1),
            route_id: id(i),
            destination: "192.168.0.0/24".into(),
            gateway: "10.0.0.1".into(),
            netmask: Some("255.255.255.0".into()),
            created_at: at,
        }),
        _ => Event::TokenIssued(TokenIssued {
            token_id: id(i),
            name: format!("token-{i}"),
            role: Role::Tenant("tenant-a".into()),
            secret_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                .into(),
            issued_at: at,
        }),
    }
}

fn main() {
    let envelopes: Vec<Envelope> = (0..RECORDS)
        .map(|i| {
            let event = event(i);
            Envelope {
                position: i,
                stream: event.stream(),
                version: i / 3,
                event_id: id(i),
                recorded_at: DateTime::from_timestamp_micros(1_714_566_896_123_456 + i as i64)
                    .expect("time"),
                actor: "token:ops".into(),
                correlation_id: Some(format!("corr-{i}")),
                idempotency_key: None,
                event,
            }
        })
        .collect();
    let bodies: Vec<Vec<u8>> = envelopes.iter().map(encode_record).collect();
    // Into one reused buffer, as the log writer encodes a batch.
    let mut buf = Vec::with_capacity(1 << 10);
    let t = Instant::now();
    for _ in 0..ROUNDS {
        for env in &envelopes {
            buf.clear();
            encode_record_into(env, &mut buf);
            std::hint::black_box(&buf);
        }
    }
    let encode = t.elapsed() / ROUNDS;
    let t = Instant::now();
    let mut sum = 0u64;
    for _ in 0..ROUNDS {
        for body in &bodies {
            sum += decode_record(body).expect("decodes").position;
        }
    }
    let decode = t.elapsed() / ROUNDS;
    let n = RECORDS as f64;
    println!(
        "{RECORDS} records: encode {:.2} M/s, decode {:.2} M/s ({sum})",
        n / encode.as_secs_f64() / 1e6,
        n / decode.as_secs_f64() / 1e6,
    );
}
