//! The one integration-test crate: black-box tests over real HTTP against a real server on
//! 127.0.0.1:0, and process tests that run (and kill -9) the real `ipledger` binary.

mod cli;
mod concurrency;
mod durability;
mod http_addresses;
mod http_blocks;
mod http_errors;
mod http_policies;
mod idempotency;
mod support;
mod tidy;
