//! Given/when/then tests of decide.

mod addresses;
mod block_changes;
mod blocks;
mod given;
mod policies;
mod subnets;
mod views;
