//! The one integration-test crate: black-box tests over real HTTP against a real server on
//! 127.0.0.1:0, and process tests that run (and kill -9) the real `ipledger` binary.

mod support;
mod tidy;
mod durability;
mod concurrency;
mod idempotency;
mod cli;
mod http_addresses;
mod http_blocks;
mod http_errors;
mod http_policies;
