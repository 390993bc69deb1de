//! The accept loop in front of the warp filter (issue 8, defect 3): warp's own server keeps
//! every connection for as long as the client likes, so a few thousand idle, half-sent or
//! trickling sockets used to exhaust the descriptors and stall `/healthz` and every write.
//! Here each connection holds a permit of a semaphore of `connections_max` (one more gets a
//! minimal 503 with `Retry-After` and is closed at once, before anything is read), and hyper
//! closes a connection whose request headers are not complete `header_read_timeout` after it
//! opened or after its previous response (hyper starts that timer whenever it waits for a
//! request head, so it is also the keep-alive idle timeout). The body's deadline is the
//! handler's (`server.rs`, 408). At start the soft open-files limit is raised to the hard
//! one, and `connections_max` lowered below it, so the process keeps descriptors for its log
//! and for the health check.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::app::App;
use crate::config::ConnectionLimits;
use crate::fault::Fault;

/// Descriptors kept out of `connections_max`: the log's segments, the listener, the runtime,
/// stdio, an SMTP connection, with room to spare.
pub const RESERVED_DESCRIPTORS: u64 = 128;

/// Connections the kernel may hold accepted-but-not-yet-taken (clamped to `somaxconn`):
/// tokio's default of 1024 overflows when thousands of clients connect at once, and an
/// overflowed SYN is retried only after a second — a health check among them waits that long.
const LISTEN_BACKLOG: u32 = 4096;

/// Binds the service's listener, with a backlog of [`LISTEN_BACKLOG`].
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As std's and tokio's own bind do: a restart may rebind while old connections linger.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Accepts connections until `shutdown` resolves, then stops accepting (the listener is
/// closed: new connections are refused) and lets the open ones finish (bounded by
/// `limits.shutdown_grace`): hyper answers the request in progress on each, with
/// `Connection: close`, and closes idle keep-alive connections at once, so no client is cut
/// in the middle of an answer unless a handler outlives the grace.
pub async fn serve(
    app: App,
    listener: TcpListener,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let connections_max = affordable(limits.connections_max, raise_open_files_limit());
    let permits = Arc::new(Semaphore::new(connections_max));
    let refusal = over_limit_answer();
    let filter = crate::server::routes(app, limits.body_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut tasks = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // EMFILE and friends: the descriptors come back as connections close.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            // Written without waiting: a client that does not read loses the answer, not
            // the server a descriptor.
            let _ = stream.try_write(&refusal);
            continue;
        };
        let service = TowerToHyperService::new(warp::service(filter.clone()));
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tasks.spawn(async move {
            let _permit: OwnedSemaphorePermit = permit;
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection closed");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period: dropped");
    }
    tasks.shutdown().await;
}

/// The raw HTTP answer to a connection over `connections_max`: Melange's fault shape, 503
/// with `Retry-After`, and `Connection: close`.
fn over_limit_answer() -> Vec<u8> {
    let fault = Fault::unavailable("Too many open connections; retry later");
    let body = serde_json::to_vec(&fault.body()).unwrap_or_default();
    let mut answer = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        fault.status.as_u16(),
        fault.status.canonical_reason().unwrap_or(""),
        body.len()
    );
    if let Some(secs) = fault.retry_after() {
        answer.push_str(&format!("retry-after: {secs}\r\n"));
    }
    answer.push_str("\r\n");
    let mut answer = answer.into_bytes();
    answer.extend_from_slice(&body);
    answer
}

/// `configured`, lowered so that the connections leave [`RESERVED_DESCRIPTORS`] free under
/// the soft open-files limit `open_files` (None: unknown, taken as is).
fn affordable(configured: usize, open_files: Option<u64>) -> usize {
    let Some(open_files) = open_files else {
        return configured;
    };
    let room = open_files.saturating_sub(RESERVED_DESCRIPTORS).max(1);
    let room = usize::try_from(room).unwrap_or(usize::MAX);
    if configured > room {
        tracing::warn!(
            configured,
            open_files,
            connections_max = room,
            "connections_max lowered to fit the open-files limit (ulimit -n)"
        );
    }
    configured.min(room)
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (the common soft 1024 is far below what
/// a server with thousands of clients needs); returns the soft limit now in force.
#[cfg(unix)]
fn raise_open_files_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed by pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is u64 on Linux, not everywhere.
    Some(lim.rlim_cur as u64)
}

#[cfg(not(unix))]
fn raise_open_files_limit() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_max_leaves_descriptors_for_the_rest_of_the_process() {
        assert_eq!(
            affordable(10_000, Some(1024)),
            1024 - RESERVED_DESCRIPTORS as usize
        );
        assert_eq!(affordable(50, Some(1024)), 50);
        assert_eq!(affordable(50, None), 50);
        assert_eq!(affordable(50, Some(10)), 1);
    }

    #[test]
    fn the_over_limit_answer_is_a_503_with_retry_after() {
        let text = String::from_utf8(over_limit_answer()).expect("ascii");
        assert!(
            text.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nretry-after: "), "{text}");
        assert!(text.contains("\r\nconnection: close\r\n"), "{text}");
        assert!(text.ends_with('}'), "{text}");
    }
}
