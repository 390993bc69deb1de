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
                s.parse::<ipledger_api::config::StoreSpec>()?;
                c.store = Some(s);
            }
            if let Some(l) = listen {
                c.listen = l;
            }
            ops::init_logging(&c.log_format);
            ops::serve_blocking(c)
        }),
        Cmd::Replay { data_dir } => ops::replay(&data_dir),
        Cmd::Verify { data_dir, store } => match (data_dir, store) {
            (Some(dir), _) => ops::verify(&StoreSpec::File(dir)),
            (None, Some(s)) => s.parse().and_then(|spec| ops::verify(&spec)),
            (None, None) => Err(anyhow::anyhow!("verify needs --data-dir or --store")),
        },
        Cmd::Migrate { from, to } => from
            .parse()
            .and_then(|from| Ok((from, to.parse()?)))
            .and_then(|(from, to)| ops::migrate(&from, &to)),
        Cmd::Events {
            data_dir,
            stream,
            from,
        } => ops::events(&data_dir, stream.as_deref(), from),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ipledger: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
