//! How timestamps are serialized in events and records: RFC 3339 text for human-readable
//! formats (the JSON that auditors read), integer microseconds since the epoch for binary
//! ones (the MessagePack log, where parsing text dominated replay time).

use chrono::{DateTime, TimeZone, Utc};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        t.serialize(s)
    } else {
        s.serialize_i64(t.timestamp_micros())
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    if d.is_human_readable() {
        DateTime::<Utc>::deserialize(d)
    } else {
        let micros = i64::deserialize(d)?;
        Utc.timestamp_micros(micros)
            .single()
            .ok_or_else(|| D::Error::custom("timestamp out of range"))
    }
}

/// The same for optional timestamps.
pub mod option {
    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Wrap(#[serde(with = "super")] DateTime<Utc>);

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        t.map(Wrap).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
    }
}
