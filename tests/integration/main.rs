//! The one integration-test crate: black-box tests over real HTTP against a real server on
//! 127.0.0.1:0, and process tests that run (and kill -9) the real `ipledger` binary.

mod auth;
mod auth_header;
mod cli;
mod concurrency;
mod connections;
mod console;
mod durability;
mod durability_mix;
mod http_addresses;
mod http_blocks;
mod http_errors;
mod http_instances;
mod http_interfaces;
mod http_macs;
mod http_nat;
mod http_networks;
mod http_policies;
mod http_request_holds;
mod http_requests;
mod http_routes;
mod idempotency;
mod interfaces_support;
mod isolation;
mod limits;
mod log_damage;
mod nodes;
mod old_log;
mod postgres;
mod retention;
mod scaleway;
mod smtp;
mod smtp_support;
mod support;
mod tidy;
mod xml;
