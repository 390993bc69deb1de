//! A [`State`] serialized as independent parts, one per field, encoded and decoded on threads
//! of their own (issue 11 item 5, issue 13: start-up from a snapshot).
//!
//! Loading a snapshot is mostly rebuilding persistent B-trees one insert at a time (a profile
//! of a 1M-address load: ~60 % B-tree inserts and the allocations they make), work that
//! cannot be shortened without bulk-building the trees, which `imbl` does not offer. But the
//! fields of a `State` are independent of each other, so one thread per field turns a load
//! that ran on one core into one that uses every core the machine has at start-up, when
//! nothing else runs. Each part carries one field's own serialization, so the format of the
//! bytes stays with the caller ([`PartCodec`]: the snapshot file's MessagePack).

use crate::state::State;

/// How one part is turned into bytes and back: the port the snapshot store implements.
pub trait PartCodec: Sync {
    type Error: Send;
    fn encode<T: serde::Serialize + Sync>(&self, value: &T) -> Result<Vec<u8>, Self::Error>;
    fn decode<T: serde::de::DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, Self::Error>;
}

/// Why parts could not be decoded into a state.
#[derive(Debug)]
pub enum PartsError<E> {
    /// Not as many parts as this binary's `State` has fields.
    Count { found: usize, expected: usize },
    /// One part did not decode.
    Part { field: &'static str, error: E },
    /// A decoding thread panicked (a codec bug: user data reaches it only after a checksum).
    Panicked { field: &'static str },
}

impl<E: std::fmt::Display> std::fmt::Display for PartsError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            PartsError::Count { found, expected } => {
                write!(f, "{found} parts, this binary's state has {expected}")
            }
            PartsError::Part { field, error } => write!(f, "part `{field}`: {error}"),
            PartsError::Panicked { field } => write!(f, "decoding part `{field}` panicked"),
        }
    }
}

/// Every field of `State`, largest first (threads start in this order). The struct literal
/// in `from_parts` names each one, so a field added to `State` and not here does not compile.
macro_rules! parts {
    ($($field:ident),* $(,)?) => {
        /// The names of the parts, in their order.
        pub const PART_NAMES: &[&str] = &[$(stringify!($field)),*];

        impl State {
            /// Each field serialized by `codec`, in [`PART_NAMES`] order: on threads of their
            /// own when `parallel` (a start-up or shutdown, when nothing else needs the cores),
            /// one after the other on this thread otherwise (a running service's periodic
            /// snapshot, which must not take every core from the requests).
            pub fn to_parts<C: PartCodec>(
                &self,
                codec: &C,
                parallel: bool,
            ) -> Result<Vec<Vec<u8>>, C::Error> {
                if !parallel {
                    return Ok(vec![$(codec.encode(&self.$field)?),*]);
                }
                std::thread::scope(|s| {
                    let handles = [$(s.spawn(|| codec.encode(&self.$field))),*];
                    // A panic while encoding our own state is a bug: let it surface.
                    handles
                        .into_iter()
                        .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                        .collect()
                })
            }

            /// The state whose fields `parts` hold (as [`State::to_parts`] wrote them), each
            /// decoded on a thread of its own.
            pub fn from_parts<C: PartCodec>(
                codec: &C,
                parts: &[&[u8]],
            ) -> Result<State, PartsError<C::Error>> {
                if parts.len() != PART_NAMES.len() {
                    return Err(PartsError::Count {
                        found: parts.len(),
                        expected: PART_NAMES.len(),
                    });
                }
                std::thread::scope(|s| {
                    let mut next = parts.iter().copied();
                    $(
                        let $field = {
                            let bytes = next.next().unwrap_or_default();
                            s.spawn(move || codec.decode(bytes))
                        };
                    )*
                    Ok(State {
                        $(
                            $field: $field
                                .join()
                                .map_err(|_| PartsError::Panicked { field: stringify!($field) })?
                                .map_err(|error| PartsError::Part {
                                    field: stringify!($field),
                                    error,
                                })?,
                        )*
                    })
                })
            }
        }
    };
}

parts!(
    addresses,
    live_by_device,
    live_addresses,
    live_by_tenant,
    nics,
    blocks,
    commands,
    stream_versions,
    retention,
    requests,
    pools,
    registrations,
    scaleway,
    routes,
    nat,
    block_index,
    blocks_by_tenant,
    blocks_ever,
    policies,
    policies_by_tenant,
    tokens,
    webhooks,
    next_position,
);
