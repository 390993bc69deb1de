//! Given/when/then tests of decide.

mod addresses;
mod allowed_ips;
mod auth;
mod block_changes;
mod block_index;
mod block_scopes;
mod blocks;
mod given;
mod instances;
mod interfaces;
mod macs;
mod networks;
mod policies;
mod policy_search;
mod pools;
mod registrations;
mod request_holds;
mod requests;
mod routing;
mod scaleway;
mod subnets;
mod views;
mod writer;
