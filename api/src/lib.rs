//! The HTTP surface of ipledger: one warp filter that takes every request, a router that
//! dispatches on method and path segments, the Melange v0.1 handlers, wire formats, and the
//! single place that maps errors to HTTP. Also the configuration and the CLI's subcommands;
//! `main.rs` is the composition root.

pub mod app;
#[path = "auth/admit.rs"]
pub mod auth;
#[path = "auth/tokens.rs"]
pub mod auth_tokens;
#[path = "melange/body.rs"]
pub mod body;
#[path = "melange/body_interfaces.rs"]
pub mod body_interfaces;
pub mod cli;
pub mod config;
#[path = "requests/console.rs"]
pub mod console;
pub mod fault;
#[path = "requests/ipam.rs"]
pub mod ipam_requests;
#[path = "melange/blocks.rs"]
pub mod melange;
#[path = "melange/instances.rs"]
pub mod melange_instances;
#[path = "melange/interfaces.rs"]
pub mod melange_interfaces;
#[path = "melange/macs.rs"]
pub mod melange_macs;
#[path = "melange/nat.rs"]
pub mod melange_nat;
#[path = "melange/networks.rs"]
pub mod melange_networks;
#[path = "melange/policies.rs"]
pub mod melange_policies;
#[path = "melange/ip_routes.rs"]
pub mod melange_routes;
pub mod ops;
#[path = "requests/outbox.rs"]
pub mod outbox;
pub mod request;
#[path = "admin/retention.rs"]
pub mod retention;
pub mod routes;
pub mod server;
#[path = "melange/wire.rs"]
pub mod wire;
#[path = "melange/wire_interfaces.rs"]
pub mod wire_interfaces;
#[path = "requests/wire.rs"]
pub mod wire_requests;
pub mod xml;

#[cfg(test)]
mod tidy;
