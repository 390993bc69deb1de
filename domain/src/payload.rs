//! The registration of event types: what a payload struct must say about itself once, and
//! the one table that turns the registered payloads into the [`Event`] enum.
//!
//! Adding an event type used to mean editing seven hand-kept lists in `events.rs` and
//! `infra/src/codec.rs` (the enum, `EVENT_TYPES`, `type_name`, `stream`, a re-export, the
//! codec's encode match and its decode match), two of which only a test would notice were
//! missing. Now a payload declares its wire name, current version and stream next to its
//! struct with `payload!`, and one name in the `events!` table in `events.rs` makes it an
//! event: the enum variant, `type_name`, `version`, `stream`, `EVENT_TYPES`,
//! `From<payload> for Event`, the encode dispatch and the decode arm of its current version
//! are all generated from that table. Upcasters of old versions are not: each is an
//! explicit arm in `infra::codec`, because an old shape is history no table can derive.
//!
//! The domain stays free of any codec crate: the codec hands in a [`PayloadVisitor`] to
//! encode and a [`PayloadDecoder`] to decode, and the generated code is generic over both,
//! so it is monomorphized into the same `match` a hand-written codec would have (a match on
//! the type name, no map of boxed decoders: replay decodes every event of the log).

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::events::Event;

/// An event payload: a struct that is serialized forever under a wire name and a version,
/// and that names the stream guarding its invariant. Implement it with `payload!`.
pub trait Payload: Serialize + DeserializeOwned + Into<Event> {
    /// The wire name of the event type; stable forever (it is written beside every payload,
    /// so renaming the struct must not change it).
    const TYPE: &'static str;
    /// The version new events of this type are written with. Bump it when the payload's
    /// meaning changes, and add an upcaster for the old version to `infra::codec`.
    const VERSION: u16;
    /// The stream whose expected version guards this event's invariant.
    fn stream(&self) -> String;
}

/// What the codec supplies to encode a payload: [`Event::visit_payload`] calls `visit` with
/// the payload as its own type.
pub trait PayloadVisitor {
    type Output;
    fn visit<P: Payload>(self, payload: &P) -> Self::Output;
}

/// What the codec supplies to decode one payload of the current version: it knows the
/// bytes and the format, the generated table knows which payload type they hold.
pub trait PayloadDecoder {
    type Error;
    /// Reads the payload as a `P`.
    fn decode<P: Payload>(self) -> Result<P, Self::Error>;
    /// The error for a `(type, version)` that is no current version of a registered type.
    fn unknown(self) -> Self::Error;
}

/// Implements [`Payload`] for a payload struct in one line, next to the struct:
///
/// ```ignore
/// payload! { BlockCreated, "BlockCreated", 1, |e| block_stream(e.block_id) }
/// ```
///
/// That is: the struct, its wire name, its current version, and a closure-like expression
/// that binds `&self` and returns the stream name, so the rule choosing a stream stays with
/// the resource that owns it. The wire name equals the struct's name (the golden-file test
/// checks it against the enum's variants) but is spelled out, so that renaming the struct
/// cannot silently change what the log holds. Invoked with braces because rustfmt leaves
/// those alone, and a registration reads best on one line.
macro_rules! payload {
    ($ty:ty, $name:literal, $version:literal, |$e:pat_param| $stream:expr $(,)?) => {
        impl $crate::payload::Payload for $ty {
            const TYPE: &'static str = $name;
            const VERSION: u16 = $version;
            fn stream(&self) -> String {
                let $e = self;
                $stream
            }
        }
    };
}
pub(crate) use payload;

/// The table of event types. Each group names the module holding the payloads (`self` for
/// `events.rs` itself; other modules' payloads are re-exported from `events`), and each
/// payload becomes the variant of [`Event`] of the same name. See the module docs for what
/// is generated.
macro_rules! events {
    // Accumulate the payload names of every group (re-exporting those of other modules),
    // then emit the enum once: a macro cannot emit one enum from several places.
    (@munch [$($acc:ident)*] self { $($ty:ident),* $(,)? } $($rest:tt)*) => {
        $crate::payload::events!(@munch [$($acc)* $($ty)*] $($rest)*);
    };
    (@munch [$($acc:ident)*] $($seg:ident)::+ { $($ty:ident),* $(,)? } $($rest:tt)*) => {
        pub use $($seg)::+::{$($ty),*};
        $crate::payload::events!(@munch [$($acc)* $($ty)*] $($rest)*);
    };
    (@munch [$($ty:ident)*]) => {
        $crate::payload::events!(@emit $($ty)*);
    };
    (@munch [$($acc:ident)*] $($bad:tt)*) => {
        compile_error!(concat!(
            "events!: expected `self { Payload, .. }` or `module::path { Payload, .. }` at: ",
            stringify!($($bad)*)
        ));
    };
    (@emit $($ty:ident)*) => {
        /// Every fact the log records: one variant per registered payload, named after it
        /// (serde's JSON form `{"BlockCreated": {..}}` is what the golden files hold).
        #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub enum Event {
            $($ty($ty),)*
        }

        /// Every (wire name, current version) pair; the golden-file test checks that each
        /// has a file.
        pub const EVENT_TYPES: &[(&str, u16)] = &[
            $((
                <$ty as $crate::payload::Payload>::TYPE,
                <$ty as $crate::payload::Payload>::VERSION,
            ),)*
        ];

        $(
            impl From<$ty> for Event {
                fn from(payload: $ty) -> Event {
                    Event::$ty(payload)
                }
            }
        )*

        impl Event {
            /// The wire name of the event type; stable forever.
            pub fn type_name(&self) -> &'static str {
                match self {
                    $(Event::$ty(_) => <$ty as $crate::payload::Payload>::TYPE,)*
                }
            }

            /// The version written for new events of this type.
            pub fn version(&self) -> u16 {
                match self {
                    $(Event::$ty(_) => <$ty as $crate::payload::Payload>::VERSION,)*
                }
            }

            /// The stream whose expected version guards this event's invariant.
            pub fn stream(&self) -> String {
                match self {
                    $(Event::$ty(e) => $crate::payload::Payload::stream(e),)*
                }
            }

            /// Hands the payload, as its own type, to `visitor`: how the codec encodes an
            /// event without a match of its own.
            // `#[inline]` keeps the instance in its caller's codegen unit, beside the
            // codec's generic `visit`: the same code shape as a hand-written match.
            #[inline]
            pub fn visit_payload<V: $crate::payload::PayloadVisitor>(
                &self,
                visitor: V,
            ) -> V::Output {
                match self {
                    $(Event::$ty(e) => visitor.visit(e),)*
                }
            }

            /// Decodes a payload written as `(type_name, version)` if that pair is the current
            /// version of a registered type, else `decoder.unknown()` (old versions are the
            /// codec's upcasters' business). A match on the name as a hand-written one would
            /// be, and the result is returned as is, not re-wrapped: replay calls this for
            /// every event in the log.
            #[inline] // As `visit_payload`: keep the instance with the codec's code.
            pub fn decode_current<D: $crate::payload::PayloadDecoder>(
                type_name: &str,
                version: u16,
                decoder: D,
            ) -> Result<Event, D::Error> {
                match (type_name, version) {
                    $(
                        (
                            <$ty as $crate::payload::Payload>::TYPE,
                            <$ty as $crate::payload::Payload>::VERSION,
                        ) => decoder.decode::<$ty>().map(Event::$ty),
                    )*
                    _ => Err(decoder.unknown()),
                }
            }
        }
    };
    ($($groups:tt)*) => {
        $crate::payload::events!(@munch [] $($groups)*);
    };
}
pub(crate) use events;

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::{Payload, PayloadDecoder};
    use crate::events::{Event, EVENT_TYPES};

    /// Answers which payload type the table asked for, instead of decoding anything.
    struct Which;

    impl PayloadDecoder for Which {
        type Error = &'static str;
        fn decode<P: Payload>(self) -> Result<P, &'static str> {
            Err(P::TYPE)
        }
        fn unknown(self) -> &'static str {
            "unknown"
        }
    }

    /// Two payloads registered under one wire name would make the second's decode arm
    /// unreachable: its events would be read back as the first type.
    #[test]
    fn wire_names_are_unique() {
        let names: BTreeSet<&str> = EVENT_TYPES.iter().map(|(n, _)| *n).collect();
        assert_eq!(names.len(), EVENT_TYPES.len(), "{EVENT_TYPES:?}");
    }

    #[test]
    fn each_current_version_decodes_as_its_own_payload_and_nothing_else_decodes() {
        for (name, version) in EVENT_TYPES {
            let which = |name, version| Event::decode_current(name, version, Which).unwrap_err();
            assert_eq!(which(name, *version), *name);
            // Older and newer versions are the codec's business (upcasters), not the table's.
            assert_eq!(which(name, version - 1), "unknown");
            assert_eq!(which(name, version + 1), "unknown");
        }
        assert_eq!(
            Event::decode_current("BlockExploded", 1, Which).unwrap_err(),
            "unknown"
        );
    }
}
