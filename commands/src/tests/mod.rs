//! Given/when/then tests of decide.

mod addresses;
mod auth;
mod block_changes;
mod blocks;
mod given;
mod policies;
mod requests;
mod routing;
mod subnets;
mod views;
mod writer;
