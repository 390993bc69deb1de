//! The HTTP surface of ipledger: one warp filter that takes every request, a router that
//! dispatches on method and path segments, the Melange v0.1 handlers, wire formats, and the
//! single place that maps errors to HTTP. Also the configuration and the CLI's subcommands;
//! `main.rs` is the composition root.

pub mod app;
pub mod auth;
pub mod auth_tokens;
pub mod body;
pub mod body_interfaces;
pub mod cli;
pub mod config;
pub mod console;
pub mod fault;
pub mod ipam_requests;
pub mod melange;
pub mod melange_instances;
pub mod melange_interfaces;
pub mod melange_macs;
pub mod melange_nat;
pub mod melange_networks;
pub mod melange_policies;
pub mod melange_routes;
pub mod ops;
pub mod outbox;
pub mod request;
pub mod retention;
pub mod routes;
pub mod server;
pub mod wire;
pub mod wire_interfaces;
pub mod wire_requests;
pub mod xml;

#[cfg(test)]
mod tidy;
