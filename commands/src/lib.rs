//! Commands and their handlers: `decide(state, command) -> events or a rejection`, plus the
//! single writer that decides commands in arrival order, appends each batch durably with one
//! write and one fdatasync (group commit), and only then publishes the events to the read
//! views and answers the callers.

pub mod clock;
pub mod command;
pub mod decide;
mod decide_addresses;
mod decide_blocks;
mod decide_policies;
pub mod writer;

#[cfg(test)]
mod tests;

pub use clock::{Clock, ManualClock, SystemClock, UuidV7Source};
pub use command::*;
pub use decide::{decide, Context, Decision};
pub use writer::{CommandError, Meta, Writer, WriterConfig};
