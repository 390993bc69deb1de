//! The `ipledger` command line: `serve`, `replay`, `verify`, `events` and `migrate`.

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
    /// Run the HTTP service over the event log (the embedded file log, or PostgreSQL).
    Serve {
        /// Where the embedded event log lives (default ./data); the same as --store file:DIR.
        #[arg(long, conflicts_with = "store")]
        data_dir: Option<PathBuf>,
        /// The event log: file:DIR (default file:./data) or postgres://user@host:port/db[?schema=NAME].
        #[arg(long)]
        store: Option<String>,
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
        #[arg(long, required_unless_present = "store", conflicts_with = "store")]
        data_dir: Option<PathBuf>,
        /// The log to check: file:DIR or a PostgreSQL URL (instead of --data-dir).
        #[arg(long)]
        store: Option<String>,
    },
    /// Copy a whole log to an empty store (file log to PostgreSQL or back), every event with
    /// its envelope and position, then check that both ends hold the same events.
    Migrate {
        /// The log to copy: file:DIR or a PostgreSQL URL. Nothing is changed there.
        #[arg(long)]
        from: String,
        /// The empty store to copy into: file:DIR or a PostgreSQL URL.
        #[arg(long)]
        to: String,
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
