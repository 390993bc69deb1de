//! The HTTP surface of ipledger, laid out by surface: `melange/` (the Melange v0.1 API),
//! `auth/` (admission and access tokens), `requests/` (the IP request workflow, its console
//! and outbox), `admin/` (health, events, retention). Each surface lists its route rows in
//! its `mod.rs`; `routes.rs` concatenates them; `server.rs` is the one warp filter that finds
//! a request's row, admits it and calls the row's handler; `connections.rs` is the accept loop
//! that caps and time-boxes connections. `kit/` is the toolkit every handler
//! imports (it depends on no surface); `fault.rs` is the single place that maps errors to
//! HTTP. Also the configuration and the CLI's subcommands; `main.rs` is the composition root.

pub mod admin;
pub mod app;
pub mod asof;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod cli_backup;
pub mod cli_registrations;
pub mod config;
pub mod connections;
pub mod docs;
pub mod fault;
pub mod history;
pub mod kit;
pub mod logs;
pub mod melange;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod pools;
pub mod registrations;
pub mod request;
pub mod requests;
pub mod routes;
pub mod scaleway;
pub mod server;
pub mod snapshots;
pub mod webhooks;
pub mod xml;

#[cfg(test)]
mod tidy;
