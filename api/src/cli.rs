//! The `ipledger` command line: `serve`, `replay`, `verify` and `events`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ipledger",
    version,
    about = "Event-sourced IP address management"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run the HTTP service over the embedded event log.
    Serve {
        /// Where the event log lives (default ./data).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Address to listen on (default 127.0.0.1:9898).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// A TOML config file; IPLEDGER_* environment variables override it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Turn authentication off: every request acts as an admin. For local experiments only.
        #[arg(long)]
        insecure_no_auth: bool,
    },
    /// Rebuild the projections from the log and report counts and speed.
    Replay {
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Check every record of the log and that no address is held twice.
    Verify {
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Print the log as JSON lines, for auditors.
    Events {
        #[arg(long)]
        data_dir: PathBuf,
        /// Only this stream (e.g. block-<id>).
        #[arg(long)]
        stream: Option<String>,
        /// Start at this global position.
        #[arg(long, default_value_t = 0)]
        from: u64,
    },
}
