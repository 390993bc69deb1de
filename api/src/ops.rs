//! What the subcommands do: start the service, replay, verify and export the log. The
//! service start is also what the integration tests call to run a real server in-process.

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use ipledger_commands::decide::Settings;
use ipledger_commands::store::EventStore;
use ipledger_commands::{Clock, SystemClock, Writer, WriterConfig};
use ipledger_domain::{Envelope, Event};
use ipledger_infra::filelog::{FileLog, FileLogOptions};
use ipledger_projections::State;
use tokio::sync::oneshot;

use crate::app::App;
use crate::config::Config;

pub fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("IPLEDGER_LOG")
        .unwrap_or_else(|_| "info,warp::server=off".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// A running service: its address, and a handle to stop it.
pub struct Running {
    pub addr: SocketAddr,
    pub app: App,
    /// The admin token generated at this start (none configured, none live in the log):
    /// shown once by `serve`, stored only as a digest.
    pub bootstrap_secret: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    /// The scheduled retention purge (`retention.rs`), stopped with the server.
    purge: Option<tokio::task::JoinHandle<()>>,
    /// The scheduled registration cleanup (`retention.rs`), stopped with the server.
    cleanup: Option<tokio::task::JoinHandle<()>>,
    /// The notification outbox (`outbox.rs`), stopped with the server.
    outbox: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops accepting connections and waits for in-flight requests.
    pub async fn shutdown(mut self) {
        if let Some(outbox) = self.outbox.take() {
            outbox.abort();
            let _ = outbox.await;
        }
        for task in [self.purge.take(), self.cleanup.take()]
            .into_iter()
            .flatten()
        {
            // Wait for the cancellation: the task holds a writer handle, and the log stays
            // locked until every handle is gone.
            task.abort();
            let _ = task.await;
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.task.await;
    }
}

/// Opens the log, folds it into the state, starts the writer and the HTTP server.
pub async fn start(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Running> {
    let opts = FileLogOptions {
        segment_bytes_max: config.segment_bytes_max,
        ..FileLogOptions::default()
    };
    let dir = config.data_dir.clone();
    let (log, state, elapsed) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let started = Instant::now();
        let log = FileLog::open(&dir, opts)
            .with_context(|| format!("opening the event log in {}", dir.display()))?;
        let mut state = State::default();
        log.replay(0, |env| state.apply_owned(env))?;
        Ok((log, state, started.elapsed()))
    })
    .await??;
    tracing::info!(
        events = state.position(),
        blocks = state.block_count(),
        millis = elapsed.as_millis() as u64,
        "projections rebuilt from the log"
    );
    let store: Arc<dyn EventStore> = Arc::new(log);
    let settings = Settings {
        dns1: config.dns1,
        dns2: config.dns2,
        keep_deallocated_days: Some(config.keep_deallocated_ips_for_days),
        idempotency_keep_days: Some(config.idempotency_keep_days),
        ipv6_generator: config.ipv6_generator,
        request_holds_per_agent_max: Some(config.request_holds_per_agent_max)
            .filter(|max| *max > 0),
        request_pending_expiry_hours: Some(config.request_pending_expiry_hours)
            .filter(|hours| *hours > 0),
    };
    let writer_config = WriterConfig {
        batch_commands_max: config.batch_commands_max,
        settings,
        ..WriterConfig::default()
    };
    let ids = Box::new(ipledger_commands::UuidV7Source::default());
    let writer = Writer::start(store.clone(), state, clock, ids, writer_config);
    let registration_key = match &config.registration_secret_key {
        Some(key) => key.clone(),
        None => crate::registrations::key::RegistrationKey::load_or_create(&config.data_dir)?,
    };
    let auth = crate::config::AuthConfig {
        registrations_open: config.registrations_open,
        registration_key,
        ..crate::config::AuthConfig::new(config.admin_token.as_deref(), config.insecure_no_auth)
    };
    if config.registrations_open {
        tracing::warn!("REGISTRATIONS ARE OPEN (registrations_open): POST/DELETE / and /v2/... accept requests without a token; anyone who can reach this server can register addresses");
    }
    if config.insecure_no_auth {
        tracing::warn!("AUTHENTICATION IS OFF (--insecure-no-auth): every request acts as an admin; never expose this server");
    }
    let deliveries = config
        .smtp
        .as_ref()
        .map(|_| Arc::new(crate::requests::outbox::DeliveryLog::default()));
    let app = App {
        writer,
        store,
        auth: Arc::new(auth),
        deliveries,
        region: config.region.as_str().into(),
    };
    let bootstrap_secret = crate::auth::admit::bootstrap(&app)
        .await
        .map_err(|f| anyhow::anyhow!("issuing the bootstrap admin token: {}", f.detail))?;
    let listener = crate::connections::bind(config.listen)
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let limits = config.connection_limits();
    let task = tokio::spawn(crate::connections::serve(
        app.clone(),
        listener,
        limits,
        async {
            let _ = stopped.await;
        },
    ));
    let purge = crate::admin::retention::schedule(&app.writer, config.purge_interval_seconds);
    let cleanup = crate::admin::retention::schedule_cleanup(
        &app.writer,
        config.registration_cleanup_interval_seconds,
    );
    let outbox = start_outbox(&app, config)?;
    tracing::info!(%addr, "ipledger listening");
    Ok(Running {
        addr,
        app,
        bootstrap_secret,
        stop: Some(stop),
        task,
        purge,
        cleanup,
        outbox,
    })
}

/// The notification outbox over the configured SMTP server (the only place naming it).
fn start_outbox(app: &App, config: &Config) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let (Some(smtp), Some(log)) = (&config.smtp, &app.deliveries) else {
        return Ok(None);
    };
    let mailer = ipledger_infra::mail::SmtpMailer::new(&smtp.server).map_err(anyhow::Error::msg)?;
    let recipients = crate::requests::outbox::Recipients {
        support: smtp.support_email.clone(),
    };
    tracing::info!(host = %smtp.server.host, port = smtp.server.port, "notification outbox started");
    Ok(Some(crate::requests::outbox::start(
        app.writer.clone(),
        Arc::new(mailer),
        recipients,
        log.clone(),
    )))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

pub fn serve_blocking(config: Config) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let running = start(&config, Arc::new(SystemClock)).await?;
        if let Some(secret) = &running.bootstrap_secret {
            // The only time this secret is ever shown: the log keeps its digest alone.
            println!("admin token (shown once): {secret}");
        }
        println!(
            "ipledger listening on http://{} (data in {})",
            running.addr,
            config.data_dir.display()
        );
        let _ = std::io::stdout().flush();
        shutdown_signal().await;
        tracing::info!("shutting down");
        running.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// `ipledger replay`: rebuilds the projections and reports counts and events/s.
pub fn replay(dir: &Path) -> anyhow::Result<ExitCode> {
    let log = FileLog::open(dir, FileLogOptions::default())?;
    let total = log.head();
    let bar = std::io::stderr()
        .is_terminal()
        .then(|| indicatif::ProgressBar::new(total));
    let started = Instant::now();
    let mut state = State::default();
    let mut n = 0u64;
    log.replay(0, |env| {
        state.apply_owned(env);
        n += 1;
        if n % 65_536 == 0 {
            if let Some(b) = &bar {
                b.set_position(n);
            }
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let secs = started.elapsed().as_secs_f64();
    let counts = state.counts();
    println!("events: {n}");
    println!("blocks: {}", counts.blocks);
    println!(
        "addresses: {} ({} live)",
        counts.addresses, counts.live_addresses
    );
    println!("policies: {}", counts.policies);
    println!("seconds: {secs:.3}");
    println!("events_per_second: {:.0}", n as f64 / secs.max(1e-9));
    Ok(ExitCode::SUCCESS)
}

/// What `verify` tracks while folding: occupied addresses, and the hold of each pending
/// IP request (a hold occupies its address like an allocation).
#[derive(Default)]
struct Held {
    addresses: HashSet<(uuid::Uuid, IpAddr)>,
    holds: std::collections::HashMap<uuid::Uuid, (uuid::Uuid, IpAddr)>,
}

/// Folds the log without trusting it: reports every address held twice instead of stopping.
fn held_twice(envelopes: &[Envelope], held: &mut Held, problems: &mut Vec<String>) {
    for env in envelopes {
        let taken = match &env.event {
            Event::AddressAllocated(e) => Some((e.block_id, e.address, "allocated")),
            Event::RequestSubmitted(e) => {
                held.holds.insert(e.request_id, (e.block_id, e.ip));
                Some((e.block_id, e.ip, "held by a request"))
            }
            Event::RequestApproved(e) => release(held, e.request_id),
            Event::RequestRejected(e) => release(held, e.request_id),
            Event::RequestExpired(e) => release(held, e.request_id),
            Event::AddressPurged(e) => {
                held.addresses.remove(&(e.block_id, e.address));
                None
            }
            _ => None,
        };
        if let Some((block, address, how)) = taken {
            if !held.addresses.insert((block, address)) {
                problems.push(format!(
                    "position {}: address {address} {how} in block {block} while already held",
                    env.position
                ));
            }
        }
    }
}

fn release(held: &mut Held, request: uuid::Uuid) -> Option<(uuid::Uuid, IpAddr, &'static str)> {
    if let Some(at) = held.holds.remove(&request) {
        held.addresses.remove(&at);
    }
    None
}

/// `ipledger verify`: every record's frame and checksum, then the no-duplicate invariant.
pub fn verify(dir: &Path) -> anyhow::Result<ExitCode> {
    let report = FileLog::verify(dir)?;
    println!("{report}");
    let mut problems: Vec<String> = report.problems.clone();
    if problems.is_empty() {
        let log = FileLog::open_read_only(dir)?;
        let mut held = Held::default();
        let mut chunk = Vec::with_capacity(4096);
        log.replay(0, |env| {
            chunk.push(env);
            if chunk.len() == 4096 {
                held_twice(&chunk, &mut held, &mut problems);
                chunk.clear();
            }
        })?;
        held_twice(&chunk, &mut held, &mut problems);
        println!("addresses held: {}", held.addresses.len());
    }
    for p in &problems {
        println!("PROBLEM: {p}");
    }
    Ok(if problems.is_empty() {
        println!("ok");
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `ipledger events`: the log as JSON lines.
pub fn events(dir: &Path, stream: Option<&str>, from: u64) -> anyhow::Result<ExitCode> {
    let log = FileLog::open_read_only(dir)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = None;
    log.replay(from, |env| {
        if failed.is_some() || stream.is_some_and(|s| s != env.stream) {
            return;
        }
        if let Err(e) = serde_json::to_writer(&mut out, &env)
            .map_err(anyhow::Error::from)
            .and_then(|_| Ok(out.write_all(b"\n")?))
        {
            failed = Some(e);
        }
    })?;
    out.flush()?;
    match failed {
        // A closed pipe (`| head`) is not an error for a listing.
        Some(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(ExitCode::SUCCESS)
        }
        Some(e) => Err(e),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// `ipledger restore --from FILE --data-dir DIR`: a new log in an empty `DIR` holding the
/// backup's events with their positions, versions, ids, times and actors, then `verify`.
pub fn restore(from: &Path, dir: &Path) -> anyhow::Result<ExitCode> {
    use ipledger_commands::store::StreamAppend;
    use ipledger_domain::{ExpectedVersion, NewEvent};
    let envelopes = crate::cli_backup::read(from)?;
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        anyhow::bail!(
            "{} is not empty: restore only into a new directory",
            dir.display()
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let log = FileLog::open(dir, FileLogOptions::default())?;
        for chunk in envelopes.chunks(1000) {
            let batch: Vec<StreamAppend> = chunk
                .iter()
                .map(|e| StreamAppend {
                    stream: e.stream.clone(),
                    expected: ExpectedVersion::Any,
                    events: vec![NewEvent {
                        event_id: e.event_id,
                        recorded_at: e.recorded_at,
                        actor: e.actor.clone(),
                        correlation_id: e.correlation_id.clone(),
                        idempotency_key: e.idempotency_key.clone(),
                        event: e.event.clone(),
                    }],
                })
                .collect();
            let stored = log
                .append(batch)
                .await
                .map_err(|e| anyhow::anyhow!("appending the backup: {e:?}"))?;
            for (s, e) in stored.iter().zip(chunk) {
                anyhow::ensure!(
                    s == e,
                    "position {} came back different from the backup",
                    e.position
                );
            }
        }
        anyhow::Ok(())
    })?;
    println!("restored {} events into {}", envelopes.len(), dir.display());
    verify(dir)
}
