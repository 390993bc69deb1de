//! The wire form of events and of stored records. Owns the mapping between the domain's
//! [`Event`] enum and the bytes kept forever in the log:
//!
//! * an event payload is its inner struct as MessagePack with field names
//!   (`rmp_serde::to_vec_named`), so optional fields can be added later without a new
//!   version; its `(type name, version)` pair travels beside it;
//! * decoding matches `(type, version)` explicitly, one arm per pair ever written, so an old
//!   payload keeps decoding (and is upcast) after its struct changes;
//! * a stored record is the envelope around the payload, also MessagePack, decoded with as
//!   few copies as possible because replay speed bounds start-up time.

use std::borrow::Cow;

use chrono::DateTime;
use ipledger_domain::{Envelope, Event, NewEvent};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Encodes an event payload: `(wire type name, version, MessagePack bytes)`.
pub fn encode_event(event: &Event) -> (&'static str, u16, Vec<u8>) {
    let mut buf = Vec::with_capacity(192);
    encode_event_into(event, &mut buf);
    (event.type_name(), event.version(), buf)
}

/// Appends the payload of `event` to `buf`; the allocation-free core of [`encode_event`].
fn encode_event_into(event: &Event, buf: &mut Vec<u8>) {
    // Events reach the log only after [`record_len`] accepted them (the writer asks the
    // store's `check_record` before applying a command's events), so a failure here is a
    // broken invariant, not bad input.
    if let Err(e) = try_encode_event_into(event, buf) {
        unreachable!("event payload {} failed to encode: {e}", event.type_name());
    }
}

fn try_encode_event_into(event: &Event, buf: &mut Vec<u8>) -> Result<(), rmp_serde::encode::Error> {
    // One arm per variant, no wildcard: a new event type does not compile until it is
    // given a wire form here (and a decode arm and a golden file below).
    match event {
        Event::BlockCreated(e) => named(buf, e),
        Event::BlockUpdated(e) => named(buf, e),
        Event::BlockDeleted(e) => named(buf, e),
        Event::AddressAllocated(e) => named(buf, e),
        Event::AddressDeallocated(e) => named(buf, e),
        Event::AddressRestored(e) => named(buf, e),
        Event::AddressPurged(e) => named(buf, e),
        Event::PolicyCreated(e) => named(buf, e),
        Event::PolicyUpdated(e) => named(buf, e),
        Event::PolicyDeleted(e) => named(buf, e),
        Event::UnusableRangeCreated(e) => named(buf, e),
        Event::UnusableRangeUpdated(e) => named(buf, e),
        Event::UnusableRangeDeleted(e) => named(buf, e),
        Event::UnusableOctetCreated(e) => named(buf, e),
        Event::UnusableOctetUpdated(e) => named(buf, e),
        Event::UnusableOctetDeleted(e) => named(buf, e),
        Event::CommandRecorded(e) => named(buf, e),
        Event::CommandForgotten(e) => named(buf, e),
        Event::InterfaceCreated(e) => named(buf, e),
        Event::InterfaceDeleted(e) => named(buf, e),
        Event::MacAddressAllocated(e) => named(buf, e),
        Event::MacAddressReleased(e) => named(buf, e),
        Event::MacRangeCreated(e) => named(buf, e),
        Event::MacRangeDeleted(e) => named(buf, e),
        Event::AllowedIpAdded(e) => named(buf, e),
        Event::AllowedIpRemoved(e) => named(buf, e),
        Event::TokenIssued(e) => named(buf, e),
        Event::TokenRevoked(e) => named(buf, e),
        Event::RouteCreated(e) => named(buf, e),
        Event::RouteUpdated(e) => named(buf, e),
        Event::RouteDeleted(e) => named(buf, e),
        Event::NatAssigned(e) => named(buf, e),
        Event::NatRemoved(e) => named(buf, e),
        Event::RequestSubmitted(e) => named(buf, e),
        Event::RequestApproved(e) => named(buf, e),
        Event::RequestRejected(e) => named(buf, e),
        Event::NotificationDelivered(e) => named(buf, e),
    }
}

/// The largest size the stored record of `new` can take in the log (its position and
/// stream version counted at their widest), or why it cannot be encoded at all.
pub fn record_len(new: &NewEvent) -> Result<usize, String> {
    let mut data = Vec::with_capacity(192);
    try_encode_event_into(&new.event, &mut data).map_err(|e| e.to_string())?;
    let stream = new.event.stream();
    let record = StoredRecord {
        position: u64::MAX,
        stream: Cow::Borrowed(&stream),
        version: u64::MAX,
        event_id: new.event_id,
        recorded_at_micros: new.recorded_at.timestamp_micros(),
        actor: Cow::Borrowed(&new.actor),
        correlation_id: new.correlation_id.as_deref().map(Cow::Borrowed),
        idempotency_key: new.idempotency_key.as_deref().map(Cow::Borrowed),
        event_type: new.event.type_name(),
        event_version: new.event.version(),
        data: &data,
    };
    let mut buf = Vec::with_capacity(data.len() + 128);
    record
        .serialize(&mut rmp_serde::Serializer::new(&mut buf))
        .map_err(|e| e.to_string())?;
    Ok(buf.len())
}

fn named<T: Serialize>(buf: &mut Vec<u8>, value: &T) -> Result<(), rmp_serde::encode::Error> {
    value.serialize(&mut rmp_serde::Serializer::new(buf).with_struct_map())
}

/// Decodes an event payload written as `(type_name, version)`, upcasting old versions to
/// the current payload struct.
pub fn decode_event(type_name: &str, version: u16, data: &[u8]) -> Result<Event, String> {
    // Every (type, version) ever written keeps its arm forever. When a payload changes,
    // bump its version in `EVENT_TYPES`, keep the old struct (e.g. `BlockCreatedV1`) and
    // turn its arm into `("BlockCreated", 1) => upcast_v1(payload::<BlockCreatedV1>(..)?)`.
    let event = match (type_name, version) {
        ("BlockCreated", 1) => Event::BlockCreated(payload(type_name, version, data)?),
        ("BlockUpdated", 1) => Event::BlockUpdated(payload(type_name, version, data)?),
        ("BlockDeleted", 1) => Event::BlockDeleted(payload(type_name, version, data)?),
        ("AddressAllocated", 1) => Event::AddressAllocated(payload(type_name, version, data)?),
        ("AddressDeallocated", 1) => Event::AddressDeallocated(payload(type_name, version, data)?),
        ("AddressRestored", 1) => Event::AddressRestored(payload(type_name, version, data)?),
        ("AddressPurged", 1) => Event::AddressPurged(payload(type_name, version, data)?),
        ("PolicyCreated", 1) => Event::PolicyCreated(payload(type_name, version, data)?),
        ("PolicyUpdated", 1) => Event::PolicyUpdated(payload(type_name, version, data)?),
        ("PolicyDeleted", 1) => Event::PolicyDeleted(payload(type_name, version, data)?),
        ("UnusableRangeCreated", 1) => {
            Event::UnusableRangeCreated(payload(type_name, version, data)?)
        }
        ("UnusableRangeUpdated", 1) => {
            Event::UnusableRangeUpdated(payload(type_name, version, data)?)
        }
        ("UnusableRangeDeleted", 1) => {
            Event::UnusableRangeDeleted(payload(type_name, version, data)?)
        }
        ("UnusableOctetCreated", 1) => {
            Event::UnusableOctetCreated(payload(type_name, version, data)?)
        }
        ("UnusableOctetUpdated", 1) => {
            Event::UnusableOctetUpdated(payload(type_name, version, data)?)
        }
        ("UnusableOctetDeleted", 1) => {
            Event::UnusableOctetDeleted(payload(type_name, version, data)?)
        }
        ("CommandRecorded", 1) => Event::CommandRecorded(
            payload::<upcast::CommandRecordedV1>(type_name, version, data)?.into(),
        ),
        ("CommandRecorded", 2) => Event::CommandRecorded(payload(type_name, version, data)?),
        ("CommandForgotten", 1) => Event::CommandForgotten(payload(type_name, version, data)?),
        ("InterfaceCreated", 1) => Event::InterfaceCreated(payload(type_name, version, data)?),
        ("InterfaceDeleted", 1) => Event::InterfaceDeleted(payload(type_name, version, data)?),
        ("MacAddressAllocated", 1) => {
            Event::MacAddressAllocated(payload(type_name, version, data)?)
        }
        ("MacAddressReleased", 1) => Event::MacAddressReleased(payload(type_name, version, data)?),
        ("MacRangeCreated", 1) => Event::MacRangeCreated(payload(type_name, version, data)?),
        ("MacRangeDeleted", 1) => Event::MacRangeDeleted(payload(type_name, version, data)?),
        ("AllowedIpAdded", 1) => Event::AllowedIpAdded(payload(type_name, version, data)?),
        ("AllowedIpRemoved", 1) => Event::AllowedIpRemoved(payload(type_name, version, data)?),
        ("TokenIssued", 1) => Event::TokenIssued(payload(type_name, version, data)?),
        ("TokenRevoked", 1) => Event::TokenRevoked(payload(type_name, version, data)?),
        ("RouteCreated", 1) => Event::RouteCreated(payload(type_name, version, data)?),
        ("RouteUpdated", 1) => Event::RouteUpdated(payload(type_name, version, data)?),
        ("RouteDeleted", 1) => Event::RouteDeleted(payload(type_name, version, data)?),
        ("NatAssigned", 1) => Event::NatAssigned(payload(type_name, version, data)?),
        ("NatRemoved", 1) => Event::NatRemoved(payload(type_name, version, data)?),
        ("RequestSubmitted", 1) => Event::RequestSubmitted(payload(type_name, version, data)?),
        ("RequestApproved", 1) => Event::RequestApproved(payload(type_name, version, data)?),
        ("RequestRejected", 1) => Event::RequestRejected(payload(type_name, version, data)?),
        ("NotificationDelivered", 1) => {
            Event::NotificationDelivered(payload(type_name, version, data)?)
        }
        _ => return Err(format!("unknown event type {type_name} version {version}")),
    };
    Ok(event)
}

fn payload<T: DeserializeOwned>(type_name: &str, version: u16, data: &[u8]) -> Result<T, String> {
    rmp_serde::from_slice(data)
        .map_err(|e| format!("cannot decode {type_name} version {version} payload: {e}"))
}

/// The body of one stored record. Encoded positionally (a MessagePack array, not a map):
/// the envelope is read for every event at start-up, and field names would double its
/// size and decode time. New envelope fields may only be appended at the end with
/// `#[serde(default)]`, which decodes older, shorter arrays.
///
/// Strings are `Cow` so that encoding borrows from the envelope and decoding borrows from
/// the read buffer where it can; `data` always borrows, since the payload is decoded in place.
#[derive(Serialize, Deserialize)]
struct StoredRecord<'a> {
    position: u64,
    #[serde(borrow)]
    stream: Cow<'a, str>,
    version: u64,
    event_id: Uuid,
    recorded_at_micros: i64,
    #[serde(borrow)]
    actor: Cow<'a, str>,
    correlation_id: Option<Cow<'a, str>>,
    idempotency_key: Option<Cow<'a, str>>,
    event_type: &'a str,
    event_version: u16,
    #[serde(borrow, with = "bin")]
    data: &'a [u8],
}

/// Encodes the stored form of `env` (the record body, without framing).
pub fn encode_record(env: &Envelope) -> Vec<u8> {
    let mut buf = Vec::with_capacity(320);
    encode_record_into(env, &mut buf);
    buf
}

/// Appends the stored form of `env` to `buf`; used by the log writer to build one batch
/// buffer without a per-record allocation (the payload scratch is only a small Vec).
pub fn encode_record_into(env: &Envelope, buf: &mut Vec<u8>) {
    let mut data = Vec::with_capacity(192);
    encode_event_into(&env.event, &mut data);
    let record = StoredRecord {
        position: env.position,
        stream: Cow::Borrowed(&env.stream),
        version: env.version,
        event_id: env.event_id,
        recorded_at_micros: env.recorded_at.timestamp_micros(),
        actor: Cow::Borrowed(&env.actor),
        correlation_id: env.correlation_id.as_deref().map(Cow::Borrowed),
        idempotency_key: env.idempotency_key.as_deref().map(Cow::Borrowed),
        event_type: env.event.type_name(),
        event_version: env.event.version(),
        data: &data,
    };
    if let Err(e) = record.serialize(&mut rmp_serde::Serializer::new(buf)) {
        unreachable!("stored record failed to encode: {e}");
    }
}

/// Decodes a stored record body into its envelope.
pub fn decode_record(bytes: &[u8]) -> Result<Envelope, String> {
    let r: StoredRecord<'_> =
        rmp_serde::from_slice(bytes).map_err(|e| format!("bad record envelope: {e}"))?;
    let event = decode_event(r.event_type, r.event_version, r.data)?;
    let recorded_at = DateTime::from_timestamp_micros(r.recorded_at_micros)
        .ok_or_else(|| format!("recorded_at out of range: {}", r.recorded_at_micros))?;
    Ok(Envelope {
        position: r.position,
        stream: r.stream.into_owned(),
        version: r.version,
        event_id: r.event_id,
        recorded_at,
        actor: r.actor.into_owned(),
        correlation_id: r.correlation_id.map(Cow::into_owned),
        idempotency_key: r.idempotency_key.map(Cow::into_owned),
        event,
    })
}

/// The fields the log needs to index a record at open: decoding only these skips the
/// payload, the strings it would otherwise allocate, and the timestamp conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHead<'a> {
    pub position: u64,
    pub stream: &'a str,
    pub version: u64,
}

/// Decodes the leading fields of a stored record, borrowing the stream name.
pub fn decode_record_head(bytes: &[u8]) -> Result<RecordHead<'_>, String> {
    rmp_serde::from_slice(bytes).map_err(|e| format!("bad record envelope: {e}"))
}

impl<'de: 'a, 'a> Deserialize<'de> for RecordHead<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_tuple(3, HeadVisitor)
    }
}

/// Reads the first three array elements of a [`StoredRecord`] and skips the rest (the
/// MessagePack reader insists that an array is consumed to its end).
struct HeadVisitor;

impl<'de> serde::de::Visitor<'de> for HeadVisitor {
    type Value = RecordHead<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a stored record array")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        use serde::de::Error;
        let missing = |i| A::Error::invalid_length(i, &"a stored record");
        let position = seq.next_element()?.ok_or_else(|| missing(0))?;
        let stream = seq.next_element()?.ok_or_else(|| missing(1))?;
        let version = seq.next_element()?.ok_or_else(|| missing(2))?;
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(RecordHead {
            position,
            stream,
            version,
        })
    }
}

/// `#[serde(with)]` helper writing a byte slice as MessagePack `bin` (serde's default for
/// `&[u8]` is an array of integers: bigger and much slower) and reading it back borrowed.
mod bin {
    use serde::de::{Deserializer, Error, Visitor};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(bytes: &&[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub fn deserialize<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<&'a [u8], D::Error> {
        d.deserialize_bytes(Borrowed)
    }

    struct Borrowed;

    impl<'de> Visitor<'de> for Borrowed {
        type Value = &'de [u8];

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("borrowed bytes")
        }

        fn visit_borrowed_bytes<E: Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
            Ok(v)
        }
    }
}

#[cfg(test)]
pub(crate) mod golden;
#[cfg(test)]
mod tests;
mod upcast;
