//! Round trips of payloads and stored records, error paths, and an ignored decode benchmark.

use chrono::DateTime;
use ipledger_domain::{Envelope, Event};
use uuid::Uuid;

use super::golden::all_samples;
use super::*;

pub(crate) fn sample_envelope(position: u64, event: Event) -> Envelope {
    Envelope {
        position,
        stream: event.stream(),
        version: position / 3,
        event_id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | position as u128),
        recorded_at: DateTime::from_timestamp_micros(1_714_566_896_123_456 + position as i64)
            .expect("valid time"),
        actor: "token:ops".into(),
        correlation_id: Some(format!("corr-{position}")),
        idempotency_key: Some("idem-1".into()),
        event,
    }
}

#[test]
fn every_sample_round_trips_through_the_payload_codec() {
    for event in all_samples() {
        let (name, version, bytes) = encode_event(&event);
        assert_eq!(name, event.type_name());
        assert_eq!(decode_event(name, version, &bytes), Ok(event));
    }
}

/// The golden sample of `BlockClaimed` holds a network scope; the public one is a unit
/// variant, encoded differently, so it round trips here too.
#[test]
fn a_public_claim_round_trips() {
    let Some(Event::BlockClaimed(mut claim)) = super::golden::sample_of("BlockClaimed") else {
        panic!("BlockClaimed has a sample");
    };
    claim.scope = ipledger_domain::events::ClaimScope::Public;
    let event = Event::BlockClaimed(claim);
    let (name, version, bytes) = encode_event(&event);
    assert_eq!(decode_event(name, version, &bytes), Ok(event));
}

#[test]
fn payloads_keep_field_names() {
    let event = all_samples().remove(0);
    let (_, _, bytes) = encode_event(&event);
    let needle = b"block_id";
    assert!(bytes.windows(needle.len()).any(|w| w == needle));
}

#[test]
fn unknown_type_or_version_is_a_clear_error() {
    let err = decode_event("BlockExploded", 1, &[]).unwrap_err();
    assert!(
        err.contains("unknown event type BlockExploded version 1"),
        "{err}"
    );
    let err = decode_event("BlockCreated", 99, &[]).unwrap_err();
    assert!(err.contains("BlockCreated version 99"), "{err}");
    let err = decode_event("BlockCreated", 1, &[0xc1]).unwrap_err();
    assert!(
        err.contains("cannot decode BlockCreated version 1"),
        "{err}"
    );
}

#[test]
fn records_round_trip_with_and_without_options() {
    for (i, event) in all_samples().into_iter().enumerate() {
        let mut env = sample_envelope(i as u64, event);
        assert_eq!(decode_record(&encode_record(&env)), Ok(env.clone()));
        env.correlation_id = None;
        env.idempotency_key = None;
        assert_eq!(decode_record(&encode_record(&env)), Ok(env));
    }
}

#[test]
fn record_head_reads_the_leading_fields() {
    let env = sample_envelope(42, all_samples().remove(3));
    let bytes = encode_record(&env);
    let head = decode_record_head(&bytes).expect("head decodes");
    assert_eq!(head.position, 42);
    assert_eq!(head.stream, env.stream);
    assert_eq!(head.version, env.version);
}

#[test]
fn garbage_records_are_errors_not_panics() {
    let bytes = encode_record(&sample_envelope(1, all_samples().remove(0)));
    for cut in 0..bytes.len() {
        assert!(decode_record(&bytes[..cut]).is_err(), "cut at {cut}");
        assert!(decode_record_head(&bytes[..cut.min(3)]).is_err());
    }
}

/// `cargo test -p ipledger-infra --release -- --ignored --nocapture codec_throughput`
#[test]
#[ignore]
fn codec_throughput() {
    const ROUNDS: u32 = 10;
    let samples = all_samples();
    let envelopes: Vec<Envelope> = (0..200_000u64)
        .map(|i| sample_envelope(i, samples[i as usize % samples.len()].clone()))
        .collect();
    let bodies: Vec<Vec<u8>> = envelopes.iter().map(encode_record).collect();
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    // Encoding into one reused buffer, as the log writer does for a batch.
    let mut buf = Vec::with_capacity(1 << 20);
    let t = std::time::Instant::now();
    for _ in 0..ROUNDS {
        for env in &envelopes {
            buf.clear();
            encode_record_into(env, &mut buf);
            std::hint::black_box(&buf);
        }
    }
    let encode = t.elapsed() / ROUNDS;
    let t = std::time::Instant::now();
    let mut n = 0u64;
    for _ in 0..ROUNDS {
        for b in &bodies {
            n += decode_record(b).expect("decodes").position;
        }
    }
    let full = t.elapsed() / ROUNDS;
    let t = std::time::Instant::now();
    for b in &bodies {
        n += decode_record_head(b).expect("decodes").position;
    }
    let head = t.elapsed();
    println!(
        "{} records, {} B avg: encode {:.2} M/s, full decode {:.2} M/s, head decode {:.2} M/s ({n})",
        bodies.len(),
        bytes / bodies.len(),
        bodies.len() as f64 / encode.as_secs_f64() / 1e6,
        bodies.len() as f64 / full.as_secs_f64() / 1e6,
        bodies.len() as f64 / head.as_secs_f64() / 1e6,
    );
}

#[test]
#[ignore]
fn codec_throughput_per_type() {
    for event in all_samples() {
        let body = encode_record(&sample_envelope(7, event.clone()));
        let (_, _, payload) = encode_event(&event);
        let n = 300_000;
        let t = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(decode_record(std::hint::black_box(&body)).expect("ok"));
        }
        let full = t.elapsed();
        let t = std::time::Instant::now();
        for _ in 0..n {
            let e = decode_event(
                event.type_name(),
                event.version(),
                std::hint::black_box(&payload),
            );
            std::hint::black_box(e.expect("ok"));
        }
        let p = t.elapsed();
        println!(
            "{:22} {:4} B: record {:.2} M/s, payload only {:.2} M/s",
            event.type_name(),
            body.len(),
            n as f64 / full.as_secs_f64() / 1e6,
            n as f64 / p.as_secs_f64() / 1e6
        );
    }
}

#[test]
fn record_len_bounds_the_stored_record_of_every_sample() {
    // The writer refuses an event by `record_len` before it is applied; the bound must never
    // be below what the log then writes, and should be tight (only the widest position and
    // version are assumed).
    for event in super::golden::all_samples() {
        let new = ipledger_domain::NewEvent {
            event_id: uuid::Uuid::from_u128(7),
            recorded_at: chrono::DateTime::from_timestamp(1_714_566_896, 0).expect("time"),
            actor: "tester".into(),
            correlation_id: Some("corr".into()),
            idempotency_key: Some("tester:key".into()),
            event: event.clone(),
        };
        let bound = super::record_len(&new).expect("encodable");
        let env = ipledger_domain::Envelope {
            position: 123_456,
            stream: event.stream(),
            version: 42,
            event_id: new.event_id,
            recorded_at: new.recorded_at,
            actor: new.actor.clone(),
            correlation_id: new.correlation_id.clone(),
            idempotency_key: new.idempotency_key.clone(),
            event,
        };
        let actual = super::encode_record(&env).len();
        assert!(
            actual <= bound && bound <= actual + 16,
            "{}: {actual} vs {bound}",
            env.event.type_name()
        );
    }
}
