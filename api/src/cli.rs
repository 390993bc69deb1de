//! The `ipledger` command line: `serve`, `replay`, `verify`, `snapshot`, `rebuild`, `events`, `export`, `migrate`,
//! `backup`, `restore`, `version`, and `registrations` (a client of a running server:
//! `cli_registrations.rs`).

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
        #[command(flatten)]
        log: LogArgs,
    },
    /// Check every record of the log and that no address is held twice.
    Verify {
        #[command(flatten)]
        log: LogArgs,
    },
    /// Offline: fold the log (from the newest valid snapshot) and write a snapshot at its
    /// head (into `--snapshot-dir`, default `<data dir>/snapshots`; required for PostgreSQL).
    Snapshot {
        #[command(flatten)]
        log: LogArgs,
        #[arg(long)]
        snapshot_dir: Option<PathBuf>,
    },
    /// Offline: delete every snapshot, fold the whole log and write a fresh snapshot.
    Rebuild {
        #[command(flatten)]
        log: LogArgs,
        #[arg(long)]
        snapshot_dir: Option<PathBuf>,
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
        #[command(flatten)]
        log: LogArgs,
        /// Only this stream (e.g. block-<id>).
        #[arg(long)]
        stream: Option<String>,
        /// Start at this global position.
        #[arg(long, default_value_t = 0)]
        from: u64,
    },
    /// Print the version.
    Version,
    /// Copy a running server's log up to its current position into FILE (online, verified).
    Backup {
        #[arg(long, env = "IPLEDGER_URL", default_value = "http://127.0.0.1:9898")]
        url: String,
        #[arg(long, env = "IPLEDGER_TOKEN", hide_env_values = true)]
        token: Option<String>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Rebuild a log in an empty DIR from a backup FILE, then verify it.
    Restore {
        #[arg(long)]
        from: PathBuf,
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Zone registrations on a running server (vitistack ipam-cli's commands).
    Registrations {
        /// The server (env IPLEDGER_URL).
        #[arg(long, env = "IPLEDGER_URL", default_value = "http://127.0.0.1:9898")]
        url: String,
        /// An admin token (env IPLEDGER_TOKEN).
        #[arg(long, env = "IPLEDGER_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// JSON for scripts instead of tables for people.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        command: RegistrationCmd,
    },
    /// Copy events FROM..TO (TO exclusive, default the end) out of the log, one JSON
    /// object a line, with a progress bar on stderr (the same as GET /v1/events/export).
    Export {
        #[command(flatten)]
        log: LogArgs,
        /// The output format: ndjson (one event envelope per line).
        #[arg(long, value_enum, default_value_t = ExportFormat::Ndjson)]
        format: ExportFormat,
        /// Start at this global position.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Stop before this global position (default: the end of the log).
        #[arg(long)]
        to: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RegistrationCmd {
    /// The services of a registration (or of every registration of the zone).
    ShowServices {
        #[arg(long)]
        zone: String,
        #[arg(long)]
        address: Option<String>,
    },
    /// Expire one service now (a deny_external_cleanup service is skipped and listed).
    DeleteService {
        #[arg(long)]
        zone: String,
        #[arg(long)]
        address: String,
        #[arg(long)]
        service_name: String,
        #[arg(long)]
        namespace_id: String,
        #[arg(long)]
        cluster_id: String,
    },
    /// Expire every service of a cluster now, skipping and listing deny_external_cleanup ones.
    DeleteCluster {
        #[arg(long)]
        cluster_id: String,
    },
    /// Replace a registration's secret.
    ReplaceSecret {
        #[arg(long)]
        zone: String,
        #[arg(long)]
        address: String,
        #[arg(long, env = "IPLEDGER_NEW_SECRET", hide_env_values = true)]
        new_secret: String,
    },
    /// Whether a secret opens a registration (secrets cannot be shown: only checked).
    CheckSecret {
        #[arg(long)]
        zone: String,
        #[arg(long)]
        address: String,
        #[arg(long, env = "IPLEDGER_SECRET", hide_env_values = true)]
        secret: String,
    },
}

/// What `export` writes.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    Ndjson,
}

/// Which log a command reads: `--data-dir DIR` (the file log) or `--store STORE`.
#[derive(Debug, clap::Args)]
pub struct LogArgs {
    /// The file log's directory (the same as --store file:DIR).
    #[arg(long, required_unless_present = "store", conflicts_with = "store")]
    pub data_dir: Option<PathBuf>,
    /// The log: file:DIR or postgres://user@host:port/db[?schema=NAME].
    #[arg(long)]
    pub store: Option<String>,
}

impl LogArgs {
    pub fn spec(self) -> anyhow::Result<crate::config::StoreSpec> {
        match (self.data_dir, self.store) {
            (Some(dir), _) => Ok(crate::config::StoreSpec::File(dir)),
            (None, Some(store)) => store.parse(),
            (None, None) => anyhow::bail!("name the log with --data-dir or --store"),
        }
    }
}
