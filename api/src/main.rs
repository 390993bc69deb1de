//! The composition root: the only place that names concrete infrastructure (the embedded
//! file log, the system clock) and wires it to the writer and the HTTP server.

use clap::Parser;
use ipledger_api::cli::{Cli, Cmd};
use ipledger_api::config::{Config, StoreSpec};
use ipledger_api::ops;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Serve {
            data_dir,
            store,
            listen,
            config,
            insecure_no_auth,
        } => Config::load(config.as_deref()).and_then(|mut c| {
            c.insecure_no_auth = insecure_no_auth;
            if let Some(d) = data_dir {
                c.data_dir = d;
                c.store = None;
            }
            if let Some(s) = store {
                s.parse::<StoreSpec>()?;
                c.store = Some(s);
            }
            if let Some(l) = listen {
                c.listen = l;
            }
            ops::init_logging(&c.log_format);
            ops::serve_blocking(c)
        }),
        Cmd::Replay { log } => log.spec().and_then(|spec| ops::replay(&spec)),
        Cmd::Verify { log } => log.spec().and_then(|spec| ops::verify(&spec)),
        Cmd::Snapshot { log, snapshot_dir } => log
            .spec()
            .and_then(|spec| ops::snapshot(&spec, snapshot_dir, false)),
        Cmd::Rebuild { log, snapshot_dir } => log
            .spec()
            .and_then(|spec| ops::snapshot(&spec, snapshot_dir, true)),
        Cmd::Events { log, stream, from } => log
            .spec()
            .and_then(|spec| ops::events(&spec, stream.as_deref(), from)),
        Cmd::Export {
            log,
            format: _,
            from,
            to,
        } => log.spec().and_then(|spec| ops::export(&spec, from, to)),
        Cmd::Migrate { from, to } => from
            .parse()
            .and_then(|from| Ok((from, to.parse()?)))
            .and_then(|(from, to)| ops::migrate(&from, &to)),
        Cmd::Backup { url, token, out } => {
            ipledger_api::cli_backup::backup(&url, token.as_deref(), &out)
        }
        Cmd::Restore { from, data_dir } => ops::restore(&from, &data_dir),
        Cmd::Version => {
            println!("ipledger {}", env!("CARGO_PKG_VERSION"));
            Ok(std::process::ExitCode::SUCCESS)
        }
        Cmd::Registrations {
            url,
            token,
            json,
            command,
        } => ipledger_api::cli_registrations::run(&url, token.as_deref(), json, command),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ipledger: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
