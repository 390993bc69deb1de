//! The service's own log files and their forwarding, like the original ipam-api's
//! (issue 10 item 8): JSON lines in `log_dir`: `ipledger.log` (the application's tracing
//! events) and `http.log` (one line per answered request), each rotated by size
//! (`file-rotate`), and optionally forwarded to a Splunk HTTP Event Collector (`hec.rs`).
//!
//! Nothing here may block or fail a request: a line is handed to a bounded in-memory queue
//! (`tracing-appender`'s non-blocking writer for the files, `hec.rs`'s queue for Splunk) and
//! a full queue drops it, counted. The files are written by one background thread each; a
//! write error (a full disk) drops that line, counted, instead of stopping the thread. The
//! counts are exported in `/metrics`.
//!
//! The application log is a tracing layer, and tracing's subscriber is global to the
//! process: [`app_layer`] is installed once by `ops::init_logging` and writes to the
//! service that [`Logs::attach`] named (the one running; a test process that starts
//! several in-process servers logs to the last one started). `http.log` belongs to each
//! running service: `server.rs` writes it through [`Logs::http`].

pub mod hec;
pub mod http;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};
use parking_lot::RwLock;
use tracing_appender::non_blocking::{ErrorCounter, NonBlocking, NonBlockingBuilder, WorkerGuard};

pub use hec::{Hec, HecSettings};

/// The application log's file name in `log_dir`.
pub const APP_LOG: &str = "ipledger.log";
/// The request log's file name in `log_dir`.
pub const HTTP_LOG: &str = "http.log";
/// Default `log_dir`: the original's `./logs`.
pub const LOG_DIR_DEFAULT: &str = "./logs";
/// Default size at which a log file is rotated (`log_file_bytes_max`).
pub const LOG_FILE_BYTES_MAX_DEFAULT: u64 = 10 << 20;
/// Default number of rotated files kept beside the live one (`log_files_kept`): with the
/// default size, at most ~60 MiB per log.
pub const LOG_FILES_KEPT_DEFAULT: usize = 5;
/// Lines a log file's writer queues for its thread before it drops (counted).
pub const LOG_QUEUE_LINES: usize = 64 * 1024;

/// Where the files go and how they rotate (config `log_dir`, `log_file_bytes_max`,
/// `log_files_kept`), and the Splunk forwarding if configured.
#[derive(Debug, Clone)]
pub struct LogSettings {
    pub dir: PathBuf,
    pub file_bytes_max: u64,
    pub files_kept: usize,
    pub hec: Option<HecSettings>,
}

/// One size-rotated JSON-lines file behind a non-blocking writer.
struct LogFile {
    writer: NonBlocking,
    /// Lines dropped because the queue was full.
    queue_full: ErrorCounter,
    /// Lines the file refused (a write error: a full disk, a removed directory).
    failed: Arc<AtomicU64>,
    /// Flushes the queue when dropped (the service's shutdown).
    _guard: WorkerGuard,
}

impl LogFile {
    fn open(dir: &Path, name: &str, bytes_max: u64, kept: usize) -> std::io::Result<LogFile> {
        let failed = Arc::new(AtomicU64::new(0));
        let path = dir.join(name);
        // Opened here first: an unwritable directory fails the start with its reason, and
        // `FileRotate::new` (which panics on it) then only reopens a file that works.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        let rotate = FileRotate::new(
            &path,
            AppendCount::new(kept.max(1)),
            // Rotated after the line that crossed the size: a line is never split across
            // two files.
            ContentLimit::BytesSurpassed(usize::try_from(bytes_max.max(1)).unwrap_or(usize::MAX)),
            Compression::None,
            None,
        );
        let (writer, guard) = NonBlockingBuilder::default()
            .lossy(true)
            .buffered_lines_limit(LOG_QUEUE_LINES)
            .thread_name(name)
            .finish(Lossy {
                inner: rotate,
                failed: failed.clone(),
            });
        Ok(LogFile {
            queue_full: writer.error_counter(),
            writer,
            failed,
            _guard: guard,
        })
    }

    /// Hands one whole line (newline included) to the writer thread; never waits.
    fn write_line(&self, line: &[u8]) {
        let _ = self.writer.clone().write(line);
    }

    fn dropped(&self) -> u64 {
        self.queue_full.dropped_lines() as u64 + self.failed.load(Ordering::Relaxed)
    }
}

/// The writer thread's file: a line it cannot write is dropped and counted, never retried
/// (a full disk must not stop the log for good, nor grow memory), and never a panic.
struct Lossy<W> {
    inner: W,
    failed: Arc<AtomicU64>,
}

impl<W: Write> Write for Lossy<W> {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let inner = &mut self.inner;
        // `file-rotate` panics when it cannot recreate a removed log directory.
        let written =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.write_all(line)));
        if !matches!(written, Ok(Ok(()))) {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let inner = &mut self.inner;
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.flush()));
        Ok(())
    }
}

/// A running service's log files and forwarder.
pub struct Logs {
    app: Option<LogFile>,
    http: Option<LogFile>,
    hec: Option<Arc<Hec>>,
}

/// What `/metrics` reads off the logs at a scrape.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogCounts {
    /// Lines the log files dropped (queue full or write error), both files.
    pub file_lines_dropped: u64,
    /// Events waiting in the HEC queue.
    pub hec_queued: u64,
    /// Events the HEC forwarder dropped (queue full, or refused by the collector).
    pub hec_dropped: u64,
    /// Events the collector accepted.
    pub hec_sent: u64,
    /// Posts to the collector that failed and were retried.
    pub hec_failed_posts: u64,
}

impl Logs {
    /// No files, no forwarding (unit tests of the server).
    pub fn off() -> Logs {
        Logs {
            app: None,
            http: None,
            hec: None,
        }
    }

    /// Creates `dir` and opens both files; starts the HEC forwarder (on the current tokio
    /// runtime) if configured.
    pub fn open(settings: &LogSettings) -> anyhow::Result<Logs> {
        use anyhow::Context as _;
        let dir = &settings.dir;
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the log directory {}", dir.display()))?;
        let open = |name| {
            LogFile::open(dir, name, settings.file_bytes_max, settings.files_kept)
                .with_context(|| format!("opening {}", dir.join(name).display()))
        };
        let hec = match &settings.hec {
            Some(s) => Some(Hec::start(s)?),
            None => None,
        };
        Ok(Logs {
            app: Some(open(APP_LOG)?),
            http: Some(open(HTTP_LOG)?),
            hec,
        })
    }

    /// Makes this service the destination of the process's application log
    /// ([`app_layer`]), until [`Logs::detach`].
    pub fn attach(self: &Arc<Self>) {
        *ATTACHED.write() = Some(self.clone());
    }

    /// Stops sending the application log here (if it still is) and stops the forwarder
    /// after one last bounded attempt to send what it holds.
    pub async fn detach(self: &Arc<Self>) {
        {
            let mut attached = ATTACHED.write();
            if attached.as_ref().is_some_and(|a| Arc::ptr_eq(a, self)) {
                *attached = None;
            }
        }
        if let Some(hec) = &self.hec {
            hec.stop().await;
        }
    }

    /// One request's line (`http.rs` builds it), to `http.log` and the forwarder.
    pub fn http(&self, line: &http::HttpLine<'_>) {
        if self.http.is_none() && self.hec.is_none() {
            return;
        }
        let mut text = serde_json::to_vec(line).unwrap_or_default();
        if let Some(hec) = &self.hec {
            hec.offer(hec::Kind::Http, &text);
        }
        if let Some(file) = &self.http {
            text.push(b'\n');
            file.write_line(&text);
        }
    }

    /// One formatted application line (JSON, newline-terminated), from [`app_layer`].
    fn app(&self, line: &[u8]) {
        if let Some(hec) = &self.hec {
            hec.offer(hec::Kind::App, line.trim_ascii_end());
        }
        if let Some(file) = &self.app {
            file.write_line(line);
        }
    }

    pub fn counts(&self) -> LogCounts {
        let file = |f: &Option<LogFile>| f.as_ref().map_or(0, LogFile::dropped);
        let mut c = LogCounts {
            file_lines_dropped: file(&self.app) + file(&self.http),
            ..LogCounts::default()
        };
        if let Some(hec) = &self.hec {
            hec.count_into(&mut c);
        }
        c
    }
}

/// The service the application log goes to (see the module's doc).
static ATTACHED: RwLock<Option<Arc<Logs>>> = RwLock::new(None);

/// The application log's tracing layer: every event that passes its filter as one JSON
/// line (time, level, target, message and fields, the request span with its `request_id`)
/// to the attached service's `ipledger.log` and forwarder. Its filter is `IPLEDGER_LOG_FILE`
/// (the `IPLEDGER_LOG` syntax; default `info`), with the HTTP client and server crates
/// always off: the forwarder's own requests must not feed the log they ship.
pub fn app_layer<S>() -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use tracing_subscriber::Layer as _;
    let level = std::env::var("IPLEDGER_LOG_FILE").unwrap_or_else(|_| "info".into());
    let filter = tracing_subscriber::EnvFilter::try_new(format!(
        "{level},hyper=off,hyper_util=off,reqwest=off,h2=off,warp::server=off"
    ))
    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt::layer()
        .json()
        .with_ansi(false)
        .with_writer(|| AppSink)
        .with_filter(filter)
}

/// Where the JSON formatter writes: it formats a whole event first and hands it over in
/// one `write_all`, so each `write` here is one line.
struct AppSink;

impl Write for AppSink {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        if let Some(logs) = ATTACHED.read().as_ref() {
            logs.app(line);
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A disk that is full, then one whose writer panics (a removed directory).
    struct Failing {
        panics: bool,
    }

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            if self.panics {
                panic!("create dir");
            }
            Err(std::io::Error::other("No space left on device"))
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::Error::other("No space left on device"))
        }
    }

    #[test]
    fn a_line_the_file_refuses_is_dropped_and_counted_never_an_error() {
        for panics in [false, true] {
            let failed = Arc::new(AtomicU64::new(0));
            let mut w = Lossy {
                inner: Failing { panics },
                failed: failed.clone(),
            };
            for _ in 0..3 {
                assert_eq!(w.write(b"{\"a\":1}\n").expect("never an error"), 8);
            }
            assert!(w.flush().is_ok());
            assert_eq!(failed.load(Ordering::Relaxed), 3, "panics: {panics}");
        }
    }

    #[test]
    fn the_files_rotate_past_the_size_and_keep_so_many() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = LogFile::open(dir.path(), HTTP_LOG, 100, 2).expect("open");
        for i in 0..40 {
            file.write_line(
                format!("{{\"line\":{i:03},\"pad\":\"................\"}}\n").as_bytes(),
            );
        }
        drop(file); // flushes the queue
        let rotated = |n: usize| dir.path().join(format!("{HTTP_LOG}.{n}"));
        assert!(rotated(1).exists() && rotated(2).exists());
        assert!(!rotated(3).exists(), "two rotated files kept");
        let live = std::fs::read_to_string(dir.path().join(HTTP_LOG)).expect("live file");
        assert!(live.contains("\"line\":039"), "{live}");
        for path in [dir.path().join(HTTP_LOG), rotated(1), rotated(2)] {
            let text = std::fs::read_to_string(&path).expect("file");
            assert!(text.len() <= 100 + 64, "{}: {}", path.display(), text.len());
            assert!(
                text.lines().all(|l| l.starts_with('{') && l.ends_with('}')),
                "whole lines: {text}"
            );
        }
    }
}
