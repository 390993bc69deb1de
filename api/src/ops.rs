//! What the subcommands do: start the service, replay, verify and export the log. The
//! service start is also what the integration tests call to run a real server in-process.

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use ipledger_commands::decide::Settings;
use ipledger_commands::store::{EventStore, StreamAppend};
use ipledger_commands::{Clock, Published, SystemClock, Writer, WriterConfig};
use ipledger_domain::{Envelope, Event, ExpectedVersion, NewEvent};
use ipledger_infra::filelog::{FileLog, FileLogOptions};
use ipledger_infra::postgres::{PostgresLocation, PostgresOptions, PostgresStore};
use ipledger_projections::State;
use tokio::sync::oneshot;

use crate::app::App;
use crate::asof::Checkpoints;
use crate::config::{Config, StoreSpec};

/// The process's tracing subscriber: the stderr log as configured (`IPLEDGER_LOG`,
/// `log_format`) and the application log file and forwarding (`logs::app_layer`), each
/// with its own filter.
pub fn init_logging(format: &str) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::Layer as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("IPLEDGER_LOG")
        .unwrap_or_else(|_| "info,warp::server=off".into());
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let stderr = if format == "json" {
        stderr.json().with_filter(filter).boxed()
    } else {
        stderr.with_filter(filter).boxed()
    };
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(crate::logs::app_layer())
        .try_init();
}

/// A running service: its address, and a handle to stop it.
pub struct Running {
    pub addr: SocketAddr,
    pub app: App,
    /// The admin token generated at this start (none configured, none live in the log):
    /// shown once by `serve`, stored only as a digest.
    pub bootstrap_secret: Option<String>,
    /// The `metrics_listen` address actually bound, if configured.
    pub metrics_addr: Option<SocketAddr>,
    /// The position of the snapshot the start-up began from (it folded only the log after
    /// it); None: a full replay.
    pub snapshot_loaded: Option<u64>,
    /// The periodic snapshots and the one at shutdown; None when turned off.
    snapshots: Option<Snapshots>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    /// The scheduled retention purge (`retention.rs`), stopped with the server.
    purge: Option<tokio::task::JoinHandle<()>>,
    /// The scheduled registration cleanup (`retention.rs`), stopped with the server.
    cleanup: Option<tokio::task::JoinHandle<()>>,
    /// Keeps published versions as as-of checkpoints (`asof.rs`), stopped with the server.
    checkpoints: Option<tokio::task::JoinHandle<()>>,
    /// The notification outbox (`outbox.rs`) and its stop, stopped after the server.
    outbox: Stoppable,
    /// The public metrics listener (`metrics_listen`) and its stop.
    metrics: Stoppable,
    /// The webhook deliverer (`webhooks/deliver.rs`) and its stop, stopped after the server.
    webhooks: Stoppable,
    /// How long the outbox gets to finish its pass at shutdown (`shutdown_grace_ms`).
    grace: std::time::Duration,
}

impl Running {
    /// The graceful shutdown (SIGTERM, SIGINT, or a test): stops accepting connections and
    /// lets the in-flight requests finish (bounded by `shutdown_grace_ms`, `connections.rs`),
    /// then lets the outbox finish its pass (every mail sent is recorded as delivered, within
    /// the same grace, else it is stopped where it is), then stops the scheduled purge. Every
    /// acknowledged write is already durable (nothing is acknowledged before its append).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
        if let Some((task, stop)) = self.metrics.take() {
            let _ = stop.send(());
            let _ = task.await;
        }
        for (name, stoppable) in [
            ("outbox", self.outbox.take()),
            ("webhook deliverer", self.webhooks.take()),
        ] {
            let Some((mut task, stop)) = stoppable else {
                continue;
            };
            let _ = stop.send(());
            if tokio::time::timeout(self.grace, &mut task).await.is_err() {
                tracing::warn!(
                    task = name,
                    "did not finish its pass within the shutdown grace: stopped"
                );
                task.abort();
                let _ = task.await;
            }
        }
        for task in [
            self.purge.take(),
            self.cleanup.take(),
            self.checkpoints.take(),
        ]
        .into_iter()
        .flatten()
        {
            // Wait for the cancellation: the task holds a writer handle, and the log stays
            // locked until every handle is gone.
            task.abort();
            let _ = task.await;
        }
        if let Some(snapshots) = self.snapshots.take() {
            snapshots.stop_and_take_last(&self.app).await;
        }
        // Last: the shutdown's own lines still reach the files and the collector.
        self.app.logs.detach().await;
    }
}

/// The snapshot task (`snapshots.rs`): every `interval` events the published views are
/// snapshotted into `dir`, and once more at shutdown if anything was folded since.
struct Snapshots {
    dir: std::path::PathBuf,
    /// The position of the newest snapshot written or loaded.
    last: Arc<AtomicU64>,
    /// The periodic snapshots' write rate; hurried at shutdown.
    pace: crate::snapshots::Pace,
    task: Stoppable,
}

impl Snapshots {
    fn start(
        app: &App,
        dir: std::path::PathBuf,
        interval: u64,
        last: u64,
        pace: crate::snapshots::Pace,
    ) -> Snapshots {
        let last = Arc::new(AtomicU64::new(last));
        let (stop, mut stopped) = oneshot::channel::<()>();
        let (views, metrics) = (app.writer.views().clone(), app.metrics.clone());
        let (task_dir, task_last, task_pace) = (dir.clone(), last.clone(), pace.clone());
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = &mut stopped => return,
                    _ = tick.tick() => {}
                }
                let position = views.read().position();
                if position < task_last.load(Ordering::Acquire).saturating_add(interval) {
                    continue;
                }
                let (views, dir, metrics) = (views.clone(), task_dir.clone(), metrics.clone());
                let pace = task_pace.clone();
                match tokio::task::spawn_blocking(move || {
                    snapshot_views(&views, &dir, &metrics, &pace, true)
                })
                .await
                {
                    Ok(Ok(at)) => task_last.store(at, Ordering::Release),
                    Ok(Err(e)) => tracing::warn!(error = %e, "snapshot failed"),
                    Err(e) => tracing::warn!(error = %e, "snapshot task failed"),
                }
            }
        });
        Snapshots {
            dir,
            last,
            pace,
            task: Some((task, stop)),
        }
    }

    /// Stops the periodic task and writes the shutdown snapshot, unless the newest one is
    /// already at the views' position.
    async fn stop_and_take_last(mut self, app: &App) {
        if let Some((task, stop)) = self.task.take() {
            // A periodic snapshot being written finishes at full speed: the shutdown waits.
            self.pace.hurry.store(true, Ordering::Release);
            let _ = stop.send(());
            let _ = task.await;
        }
        let views = app.writer.views().clone();
        if views.read().position() == self.last.load(Ordering::Acquire) {
            return;
        }
        let (dir, metrics) = (self.dir.clone(), app.metrics.clone());
        let pace = crate::snapshots::Pace::unthrottled();
        match tokio::task::spawn_blocking(move || {
            snapshot_views(&views, &dir, &metrics, &pace, false)
        })
        .await
        {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "the shutdown snapshot failed"),
            Err(e) => tracing::warn!(error = %e, "the shutdown snapshot failed"),
        }
    }
}

/// Snapshots the published views into `dir`: serialized from one published version (an
/// immutable `Arc`, so nobody waits: the writer goes on publishing newer versions), written
/// and synced. Returns the snapshot's position.
fn snapshot_views(
    views: &Published,
    dir: &Path,
    metrics: &crate::metrics::Metrics,
    pace: &crate::snapshots::Pace,
    periodic: bool,
) -> anyhow::Result<u64> {
    let started = Instant::now();
    // A periodic snapshot encodes on this one thread (the requests keep the other core); a
    // shutdown's, which the process waits for, on all of them.
    let encoded = crate::snapshots::encode(&views.read(), !periodic)?;
    let encoding = started.elapsed();
    crate::snapshots::write(dir, &encoded, pace)?;
    metrics.snapshot_written();
    tracing::info!(
        position = encoded.position,
        bytes = encoded.file_bytes(),
        encode_ms = encoding.as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "snapshot written"
    );
    Ok(encoded.position)
}

/// Opens the log files, then the log, folds it into the state, starts the writer and the
/// HTTP server.
pub async fn start(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Running> {
    let logs = Arc::new(crate::logs::Logs::open(&config.log_settings()?)?);
    logs.attach();
    let running = start_logging_to(config, clock, logs.clone()).await;
    if running.is_err() {
        // A refused start still leaves its lines in the files (flushed as `logs` goes).
        logs.detach().await;
    }
    running
}

async fn start_logging_to(
    config: &Config,
    clock: Arc<dyn Clock>,
    logs: Arc<crate::logs::Logs>,
) -> anyhow::Result<Running> {
    let started = Instant::now();
    let Folded {
        store,
        state,
        snapshot_loaded,
        checkpoints,
    } = open_and_fold(config).await?;
    let log_dir = match config.store_spec()? {
        StoreSpec::File(dir) => Some(dir),
        StoreSpec::Postgres(_) => None,
    };
    let metrics = Arc::new(crate::metrics::Metrics::new(log_dir));
    let store: Arc<dyn EventStore> = Arc::new(crate::metrics::MeteredStore {
        inner: store,
        metrics: metrics.clone(),
    });
    tracing::info!(
        events = state.position(),
        blocks = state.block_count(),
        millis = started.elapsed().as_millis() as u64,
        from_snapshot = snapshot_loaded,
        "projections rebuilt from the log"
    );
    let snapshot_dir = config
        .snapshot_dir()?
        .filter(|_| config.snapshot_interval_events > 0);
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
    // Every node of a shared log must hash registration secrets with one key: a key file of
    // one node's own would make the secrets registered through it open nothing elsewhere.
    let registration_key = match (&config.registration_secret_key, config.store_spec()?) {
        (Some(key), _) => Some(key.clone()),
        (None, crate::config::StoreSpec::File(dir)) => Some(
            crate::registrations::key::RegistrationKey::load_or_create(&dir)?,
        ),
        (None, crate::config::StoreSpec::Postgres(_)) => {
            tracing::warn!("registrations are off: a shared log needs registration_secret_key (IPLEDGER_REGISTRATION_SECRET_KEY), the same on every node");
            None
        }
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
        stream: config.stream,
        ready_lag_max: config.ready_lag_max,
        metrics,
        webhooks: Arc::default(),
        // Past states start from the snapshots (those present, even when none are written).
        as_of: Arc::new(crate::asof::AsOf::with_checkpoints(
            config.snapshot_dir()?.map(|dir| {
                Arc::new(crate::snapshots::SnapshotDir(dir)) as Arc<dyn crate::asof::StartingStates>
            }),
            checkpoints,
        )),
        logs,
    };
    let bootstrap_secret = crate::auth::admit::bootstrap(&app)
        .await
        .map_err(|f| anyhow::anyhow!("issuing the bootstrap admin token: {}", f.detail))?;
    let listener = crate::connections::bind(config.listen)
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let limits = config.connection_limits();
    let grace = limits.shutdown_grace;
    let task = tokio::spawn(crate::connections::serve(
        app.clone(),
        listener,
        limits,
        async {
            let _ = stopped.await;
        },
    ));
    let purge = crate::admin::retention::schedule(&app.writer, config.purge_interval_seconds);
    let checkpoints = Some(keep_checkpoints(&app));
    let cleanup = crate::admin::retention::schedule_cleanup(
        &app.writer,
        config.registration_cleanup_interval_seconds,
    );
    let outbox = start_outbox(&app, config)?;
    let webhooks = start_webhooks(&app, config)?;
    let snapshots = snapshot_dir.map(|dir| {
        let last = snapshot_loaded.unwrap_or(0);
        let pace = crate::snapshots::Pace {
            bytes_per_second: config.snapshot_write_bytes_per_second,
            hurry: Arc::default(),
        };
        Snapshots::start(&app, dir, config.snapshot_interval_events, last, pace)
    });
    let mut metrics_addr = None;
    let metrics = match config.metrics_listen {
        Some(at) => {
            let listener = crate::connections::bind(at)
                .with_context(|| format!("binding metrics_listen {at}"))?;
            let bound = listener.local_addr()?;
            metrics_addr = Some(bound);
            tracing::info!(addr = %bound, "metrics listening (GET /metrics, no authentication)");
            let (stop, stopped) = oneshot::channel::<()>();
            let task = tokio::spawn(crate::admin::metrics::serve_public(
                app.clone(),
                listener,
                async {
                    let _ = stopped.await;
                },
            ));
            Some((task, stop))
        }
        None => None,
    };
    tracing::info!(%addr, "ipledger listening");
    Ok(Running {
        addr,
        app,
        bootstrap_secret,
        metrics_addr,
        snapshot_loaded,
        snapshots,
        stop: Some(stop),
        task,
        purge,
        cleanup,
        checkpoints,
        outbox,
        metrics,
        webhooks,
        grace,
    })
}

/// Opens the configured log (the only place naming the backends) and folds it into a state:
/// from the newest valid snapshot at or below the log's head, if there is one (its position
/// is returned), folding only the events after it; else from the start.
/// What the start-up fold gives: the opened log, the state at its head, the position of the
/// snapshot it started from (None: a full replay) and the past versions kept on the way.
struct Folded {
    store: Arc<dyn EventStore>,
    state: State,
    snapshot_loaded: Option<u64>,
    checkpoints: Checkpoints,
}

async fn open_and_fold(config: &Config) -> anyhow::Result<Folded> {
    let snapshots = config.snapshot_dir()?;
    let newest = move |head: u64| {
        let state = snapshots
            .as_deref()
            .and_then(|dir| crate::snapshots::newest_at_or_below(dir, head, true));
        let loaded = state.as_ref().map(State::position);
        if let Some(position) = loaded {
            tracing::info!(
                position,
                head,
                "starting from a snapshot: folding the log after it"
            );
        }
        (state.unwrap_or_default(), loaded)
    };
    match config.store_spec()? {
        StoreSpec::File(dir) => {
            let opts = FileLogOptions {
                segment_bytes_max: config.segment_bytes_max,
                ..FileLogOptions::default()
            };
            tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
                let log = FileLog::open(&dir, opts)
                    .with_context(|| format!("opening the event log in {}", dir.display()))?;
                let (mut state, snapshot_loaded) = newest(log.head());
                let mut checkpoints = Checkpoints::default();
                log.replay(state.position(), |env| {
                    state.apply_owned(env);
                    keep_checkpoint(&mut checkpoints, &state);
                })?;
                Ok(Folded {
                    store: Arc::new(log),
                    state,
                    snapshot_loaded,
                    checkpoints,
                })
            })
            .await?
        }
        StoreSpec::Postgres(url) => {
            let store = open_postgres(&url).await?;
            let (state, snapshot_loaded) = newest(store.head());
            let mut checkpoints = Checkpoints::default();
            let state = fold(&store, state, &mut checkpoints).await?;
            Ok(Folded {
                store: Arc::new(store),
                state,
                snapshot_loaded,
                checkpoints,
            })
        }
    }
}

async fn open_postgres(url: &str) -> anyhow::Result<PostgresStore> {
    let shown = StoreSpec::Postgres(url.to_string());
    let location: PostgresLocation = url
        .parse()
        .map_err(|e| anyhow::anyhow!("store {shown}: {e}"))?;
    PostgresStore::open(&location, PostgresOptions::default())
        .await
        .with_context(|| format!("opening the event log at {shown}"))
}

/// Events read per call when folding or copying a log through the port.
const CHUNK_EVENTS: usize = 8192;

/// Folds a log through the port into `state`, from its position on (the file log has a
/// faster replay of its own), keeping checkpoints on the way.
async fn fold(
    store: &dyn EventStore,
    mut state: State,
    checkpoints: &mut Checkpoints,
) -> anyhow::Result<State> {
    loop {
        let chunk = store.read_all(state.position(), CHUNK_EVENTS).await?;
        if chunk.is_empty() {
            return Ok(state);
        }
        for env in chunk {
            state.apply_owned(env);
            keep_checkpoint(checkpoints, &state);
        }
    }
}

/// Offers the newest published version as a checkpoint once a second until aborted (kept
/// only once a spacing of events has passed since the last one: an `Arc` copy otherwise).
fn keep_checkpoints(app: &App) -> tokio::task::JoinHandle<()> {
    let (writer, as_of) = (app.writer.clone(), app.as_of.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tick.tick().await;
            as_of.offer(writer.views().read());
        }
    })
}

/// Keeps the state as an as-of checkpoint when one is due (a cheap persistent clone). Asked
/// after every event of the start-up fold, so the common answer is one division: only
/// multiples of the spacing are kept, as the as-of rebuilds do.
fn keep_checkpoint(checkpoints: &mut Checkpoints, state: &State) {
    let position = state.position();
    if position % checkpoints.spacing() == 0 && checkpoints.wants(position) {
        checkpoints.offer(Arc::new(state.clone()));
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// The notification outbox over the configured SMTP server (the only place naming it).
type Stoppable = Option<(tokio::task::JoinHandle<()>, oneshot::Sender<()>)>;

fn start_outbox(app: &App, config: &Config) -> anyhow::Result<Stoppable> {
    let (Some(smtp), Some(log)) = (&config.smtp, &app.deliveries) else {
        return Ok(None);
    };
    let mailer = ipledger_infra::mail::SmtpMailer::new(&smtp.server).map_err(anyhow::Error::msg)?;
    let recipients = crate::requests::outbox::Recipients {
        support: smtp.support_email.clone(),
    };
    tracing::info!(host = %smtp.server.host, port = smtp.server.port, "notification outbox started");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = crate::requests::outbox::start(
        app.writer.clone(),
        Arc::new(mailer),
        recipients,
        log.clone(),
        async {
            let _ = stopped.await;
        },
    );
    Ok(Some((task, stop)))
}

/// The webhook deliverer, unless this node leaves deliveries to another
/// (`webhook_delivery = false`) or has no key to open the secrets with.
fn start_webhooks(app: &App, config: &Config) -> anyhow::Result<Stoppable> {
    let Some(key) = app.auth.registration_key.clone() else {
        return Ok(None);
    };
    if !config.webhook_delivery {
        tracing::info!("webhook delivery is off on this node (webhook_delivery = false)");
        return Ok(None);
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let task = crate::webhooks::deliver::start(
        app.writer.clone(),
        app.store.clone(),
        key,
        app.webhooks.clone(),
        async {
            let _ = stopped.await;
        },
    )?;
    Ok(Some((task, stop)))
}

/// Resolves on SIGTERM or SIGINT. The handlers are installed when this is called, not when
/// the future is first polled: a SIGTERM right after the listening line (a supervisor, a
/// test) must start the graceful shutdown, not kill the process by the default action.
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

pub fn serve_blocking(config: Config) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    rt.block_on(async {
        let stop = shutdown_signal()?;
        let running = start(&config, Arc::new(SystemClock)).await?;
        if let Some(secret) = &running.bootstrap_secret {
            // The only time this secret is ever shown: the log keeps its digest alone.
            println!("admin token (shown once): {secret}");
        }
        println!(
            "ipledger listening on http://{} (log in {})",
            running.addr,
            config.store_spec()?
        );
        let _ = std::io::stdout().flush();
        stop.await;
        tracing::info!("shutting down");
        running.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// `ipledger snapshot` (and, `rebuild`, `ipledger rebuild`): offline (the file log's writer
/// lock keeps a running service out), folds the log — from the newest valid snapshot, or,
/// rebuilding, from the start after deleting every snapshot — and writes a snapshot at its
/// head into `snapshot_dir` (default `<data dir>/snapshots`; required for PostgreSQL).
pub fn snapshot(
    spec: &StoreSpec,
    snapshot_dir: Option<std::path::PathBuf>,
    rebuild: bool,
) -> anyhow::Result<ExitCode> {
    let mut config = Config::default();
    match spec {
        StoreSpec::File(dir) => config.data_dir = dir.clone(),
        StoreSpec::Postgres(url) => config.store = Some(url.clone()),
    }
    config.snapshot_dir = snapshot_dir;
    let dir = config
        .snapshot_dir()?
        .ok_or_else(|| anyhow::anyhow!("a PostgreSQL log needs --snapshot-dir DIR"))?;
    if rebuild {
        let dropped = crate::snapshots::drop_all(&dir)?;
        println!("dropped {dropped} snapshots from {}", dir.display());
    }
    let started = Instant::now();
    let Folded {
        state,
        snapshot_loaded: loaded,
        ..
    } = runtime()?.block_on(open_and_fold(&config))?;
    let folded = started.elapsed();
    let encoded = crate::snapshots::encode(&state, true)?;
    let path = crate::snapshots::write(&dir, &encoded, &crate::snapshots::Pace::unthrottled())?;
    match loaded {
        Some(from) => println!("folded from the snapshot at position {from}"),
        None => println!("folded the whole log"),
    }
    println!("position: {}", encoded.position);
    println!("bytes: {}", encoded.file_bytes());
    println!("fold_seconds: {:.3}", folded.as_secs_f64());
    println!("written: {}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// `ipledger replay`: rebuilds the projections and reports counts and events/s.
pub fn replay(spec: &StoreSpec) -> anyhow::Result<ExitCode> {
    let dir = match spec {
        StoreSpec::File(dir) => dir,
        StoreSpec::Postgres(url) => {
            let started = Instant::now();
            let state = runtime()?.block_on(async {
                let store = open_postgres(url).await?;
                fold(&store, State::default(), &mut Checkpoints::default()).await
            })?;
            let n = state.position();
            print_replay(n, &state, started.elapsed().as_secs_f64());
            return Ok(ExitCode::SUCCESS);
        }
    };
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
    print_replay(n, &state, started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

fn print_replay(n: u64, state: &State, secs: f64) {
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

/// `ipledger verify`: the file log's frames and checksums, or a database log's rows, then
/// the no-duplicate invariant.
pub fn verify(spec: &StoreSpec) -> anyhow::Result<ExitCode> {
    match spec {
        StoreSpec::File(dir) => verify_file(dir),
        StoreSpec::Postgres(url) => runtime()?.block_on(async {
            let store = open_postgres(url).await?;
            let mut problems = verify_through_port(&store).await;
            let chain = store.check_chain().await?;
            println!("{}", chain.summary(store.head()));
            if let Some((position, why)) = &chain.broken {
                problems.push(format!("hash chain broken at position {position}: {why}"));
            }
            Ok(verdict(&problems))
        }),
    }
}

/// Checks a log through the port: every row decodes, positions run 0, 1, 2, ... without a
/// gap, each stream's versions run 0, 1, 2, ..., and no address is held twice.
async fn verify_through_port(store: &dyn EventStore) -> Vec<String> {
    let mut problems = Vec::new();
    let mut held = Held::default();
    let mut versions: std::collections::HashMap<String, u64> = Default::default();
    let mut next = 0u64;
    loop {
        let chunk = match store.read_all(next, CHUNK_EVENTS).await {
            Ok(chunk) => chunk,
            Err(e) => {
                problems.push(format!("reading from position {next}: {e}"));
                break;
            }
        };
        if chunk.is_empty() {
            break;
        }
        for env in &chunk {
            if env.position != next {
                problems.push(format!(
                    "position {next} is missing; found {}",
                    env.position
                ));
            }
            let expected = versions.get(&env.stream).map_or(0, |v| v + 1);
            if env.version != expected {
                problems.push(format!(
                    "position {}: stream {} at version {} where {expected} was due",
                    env.position, env.stream, env.version
                ));
            }
            versions.insert(env.stream.clone(), env.version);
            next = env.position + 1;
        }
        held_twice(&chunk, &mut held, &mut problems);
    }
    println!("records: {next}");
    println!("streams: {}", versions.len());
    println!("addresses held: {}", held.addresses.len());
    problems
}

fn verdict(problems: &[String]) -> ExitCode {
    for p in problems {
        println!("PROBLEM: {p}");
    }
    if problems.is_empty() {
        println!("ok");
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn verify_file(dir: &Path) -> anyhow::Result<ExitCode> {
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
    Ok(verdict(&problems))
}

/// Opens a log for `migrate`: the source read-only (a file log is neither locked nor
/// repaired), the destination for appends.
async fn open_for_migrate(spec: &StoreSpec, source: bool) -> anyhow::Result<Arc<dyn EventStore>> {
    Ok(match spec {
        StoreSpec::File(dir) if source => Arc::new(
            FileLog::open_read_only(dir)
                .with_context(|| format!("opening the event log in {}", dir.display()))?,
        ),
        StoreSpec::File(dir) => Arc::new(
            FileLog::open(dir, FileLogOptions::default())
                .with_context(|| format!("opening the event log in {}", dir.display()))?,
        ),
        StoreSpec::Postgres(url) => Arc::new(open_postgres(url).await?),
    })
}

/// `ipledger migrate`: copies every event of `from` into the empty store `to`, with its
/// envelope, position and stream version, then reads both ends again and compares them
/// event by event. The source is only read; run it while no node appends to the source.
pub fn migrate(from: &StoreSpec, to: &StoreSpec) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let source = open_for_migrate(from, true).await?;
        let dest = open_for_migrate(to, false).await?;
        anyhow::ensure!(
            dest.head() == 0,
            "{to} already holds {} events: migrate copies into an empty store only",
            dest.head()
        );
        let started = Instant::now();
        let mut copied = 0u64;
        loop {
            let chunk = source.read_all(copied, CHUNK_EVENTS).await?;
            if chunk.is_empty() {
                break;
            }
            let stored = dest
                .append(as_appends(&chunk))
                .await
                .with_context(|| format!("appending positions {copied}.. to {to}"))?;
            // An empty destination numbers the copies as the source did; say so if not.
            for (a, b) in chunk.iter().zip(&stored) {
                anyhow::ensure!(
                    (a.position, a.version) == (b.position, b.version),
                    "position {} (version {}) was stored at position {} (version {})",
                    a.position,
                    a.version,
                    b.position,
                    b.version
                );
            }
            copied += chunk.len() as u64;
        }
        println!("copied: {copied} events from {from} to {to}");
        let compared = compare(&*source, &*dest).await?;
        println!("compared: {compared} events, both ends equal");
        println!("seconds: {:.3}", started.elapsed().as_secs_f64());
        Ok(ExitCode::SUCCESS)
    })
}

/// A chunk of stored events as appends: runs of one stream, each expecting the version
/// before its first event, so that the destination checks the numbering as it goes.
fn as_appends(chunk: &[Envelope]) -> Vec<StreamAppend> {
    let mut appends: Vec<StreamAppend> = Vec::new();
    for env in chunk {
        let new = NewEvent {
            event_id: env.event_id,
            recorded_at: env.recorded_at,
            actor: env.actor.clone(),
            correlation_id: env.correlation_id.clone(),
            idempotency_key: env.idempotency_key.clone(),
            event: env.event.clone(),
        };
        match appends.last_mut() {
            Some(last) if last.stream == env.stream => last.events.push(new),
            _ => appends.push(StreamAppend {
                stream: env.stream.clone(),
                expected: match env.version {
                    0 => ExpectedVersion::NoStream,
                    v => ExpectedVersion::Exact(v - 1),
                },
                events: vec![new],
            }),
        }
    }
    appends
}

/// Reads both logs from 0 and compares them event by event; the count compared.
async fn compare(a: &dyn EventStore, b: &dyn EventStore) -> anyhow::Result<u64> {
    let mut at = 0u64;
    loop {
        let (x, y) = (
            a.read_all(at, CHUNK_EVENTS).await?,
            b.read_all(at, CHUNK_EVENTS).await?,
        );
        if let Some((i, (p, q))) = x.iter().zip(&y).enumerate().find(|(_, (p, q))| p != q) {
            anyhow::bail!(
                "the logs differ at position {}: {p:?} / {q:?}",
                at + i as u64
            );
        }
        anyhow::ensure!(
            x.len() == y.len(),
            "the logs differ in length after position {at}"
        );
        if x.is_empty() {
            return Ok(at);
        }
        at += x.len() as u64;
    }
}

/// Calls `f` with every event from position `from` on, in log order, without changing the
/// log: the file log opened read-only, a database log read through the port in chunks.
fn each_event(spec: &StoreSpec, from: u64, mut f: impl FnMut(Envelope)) -> anyhow::Result<()> {
    match spec {
        StoreSpec::File(dir) => {
            FileLog::open_read_only(dir)?.replay(from, f)?;
            Ok(())
        }
        StoreSpec::Postgres(url) => runtime()?.block_on(async {
            let store = open_postgres(url).await?;
            let mut at = from;
            loop {
                let chunk = store.read_all(at, CHUNK_EVENTS).await?;
                if chunk.is_empty() {
                    return Ok(());
                }
                at += chunk.len() as u64;
                chunk.into_iter().for_each(&mut f);
            }
        }),
    }
}

/// `ipledger events`: the log as JSON lines.
pub fn events(spec: &StoreSpec, stream: Option<&str>, from: u64) -> anyhow::Result<ExitCode> {
    json_lines(
        spec,
        from,
        None,
        |env| stream.is_none_or(|s| s == env.stream),
        None,
    )
}

/// `ipledger export --format ndjson`: events `from..to` as JSON lines, with a progress bar
/// on stderr (drawn only on a terminal).
pub fn export(spec: &StoreSpec, from: u64, to: Option<u64>) -> anyhow::Result<ExitCode> {
    let head = match spec {
        StoreSpec::File(dir) => FileLog::open_read_only(dir)?.head(),
        StoreSpec::Postgres(url) => {
            runtime()?.block_on(async { anyhow::Ok(open_postgres(url).await?.head()) })?
        }
    };
    let to = to.unwrap_or(head).min(head);
    if from > to {
        anyhow::bail!("--from {from} is past --to {to} (the log holds {head} events)");
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(to - from),
        indicatif::ProgressDrawTarget::stderr(),
    );
    let outcome = json_lines(spec, from, Some(to), |_| true, Some(&bar));
    bar.finish_and_clear();
    if outcome.is_ok() {
        eprintln!("exported events {from}..{to}");
    }
    outcome
}

/// Writes the events from `from` (before `to`) that `keep` admits to stdout, one JSON
/// object a line; a closed pipe (`| head`) ends it quietly.
fn json_lines(
    spec: &StoreSpec,
    from: u64,
    to: Option<u64>,
    keep: impl Fn(&Envelope) -> bool,
    bar: Option<&indicatif::ProgressBar>,
) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = None;
    each_event(spec, from, |env| {
        if failed.is_some() || to.is_some_and(|to| env.position >= to) || !keep(&env) {
            return;
        }
        if let Some(bar) = bar {
            bar.set_position(env.position + 1 - from);
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
    verify(&crate::config::StoreSpec::File(dir.to_path_buf()))
}
