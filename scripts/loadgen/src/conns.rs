//! `conn-flood`: the connection-limits benchmark's client (issue 8, defect 3). It keeps
//! `--idle` keep-alive connections that made one request and went quiet, `--slowloris`
//! connections trickling one header line a second, and `--slow-bodies` POSTs trickling one
//! body byte a second open against the server — each reconnecting as soon as the server
//! closes it, so the pressure lasts the whole run — while a probe asks `GET /healthz` on a
//! fresh connection every `--probe-ms` and records its latency. Loopback only; it stops by
//! itself after `--seconds` and prints one JSON object (plus a line per second on stderr).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Parser, Debug, Clone)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9898")]
    addr: String,
    #[arg(long, default_value_t = 2000)]
    idle: usize,
    #[arg(long, default_value_t = 1000)]
    slowloris: usize,
    #[arg(long, default_value_t = 200)]
    slow_bodies: usize,
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    #[arg(long, default_value_t = 20)]
    probe_ms: u64,
}

#[derive(Default)]
struct Counters {
    /// Attack connections open right now (connected, not yet closed by the server).
    open: AtomicU64,
    /// Attack connections the server closed (each one then reconnects).
    closed_by_server: AtomicU64,
    /// Attack connections answered 503 (over the cap) or 408 (slow body).
    answered_503: AtomicU64,
    answered_408: AtomicU64,
    connect_errors: AtomicU64,
}

#[derive(Clone, Copy)]
enum Kind {
    Idle,
    Slowloris,
    SlowBody,
}

/// One attacker: connect, stall in its way until the server closes, reconnect; until `end`.
async fn attacker(addr: String, kind: Kind, end: Instant, c: Arc<Counters>) {
    while Instant::now() < end {
        let Ok(mut s) = TcpStream::connect(&addr).await else {
            c.connect_errors.fetch_add(1, Relaxed);
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        c.open.fetch_add(1, Relaxed);
        let seen = tokio::time::timeout_at(end.into(), stall(&mut s, kind)).await;
        c.open.fetch_sub(1, Relaxed);
        let Ok(seen) = seen else { return };
        c.closed_by_server.fetch_add(1, Relaxed);
        if seen.starts_with("HTTP/1.1 503") {
            c.answered_503.fetch_add(1, Relaxed);
        } else if seen.contains("HTTP/1.1 408") {
            c.answered_408.fetch_add(1, Relaxed);
        }
        // Don't spin when the server refuses at once.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Stalls on `s` until the server closes it; returns what the server sent after the stall.
async fn stall(s: &mut TcpStream, kind: Kind) -> String {
    let (first, trickle): (&[u8], &[u8]) = match kind {
        Kind::Idle => (b"GET /healthz HTTP/1.1\r\nHost: b\r\n\r\n", b""),
        Kind::Slowloris => (b"GET /healthz HTTP/1.1\r\nHost: b\r\n", b"X-a: b\r\n"),
        Kind::SlowBody => (
            b"POST /v0.1/ipam/tenants/b/ip_blocks HTTP/1.1\r\nHost: b\r\n\
              Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{",
            b" ",
        ),
    };
    let mut got = Vec::new();
    if s.write_all(first).await.is_err() {
        return String::new();
    }
    let mut buf = [0u8; 4096];
    loop {
        let tick = tokio::time::sleep(Duration::from_secs(1));
        tokio::select! {
            r = s.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                // An idle connection's first answer is its own request's; keep only later ones.
                Ok(n) => {
                    if matches!(kind, Kind::Idle) && got.is_empty() && buf.starts_with(b"HTTP/1.1 200") {
                        got.push(b' ');
                    } else {
                        got.extend_from_slice(&buf[..n]);
                    }
                }
            },
            () = tick => {
                if !trickle.is_empty() && s.write_all(trickle).await.is_err() {
                    break;
                }
            }
        }
    }
    String::from_utf8_lossy(&got).trim_start().to_string()
}

/// One `GET /healthz` on a fresh connection: (latency, status or 0 on failure).
async fn probe(addr: &str) -> (Duration, u16) {
    let started = Instant::now();
    let status = async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.ok()?;
        String::from_utf8_lossy(&got)
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let status = tokio::time::timeout(Duration::from_secs(10), status)
        .await
        .ok()
        .flatten()
        .unwrap_or(0);
    (started.elapsed(), status)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize] as f64 / 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.addr.starts_with("127."), "loopback targets only");
    let started = Instant::now();
    let end = started + Duration::from_secs(args.seconds);
    let c = Arc::new(Counters::default());
    let kinds = [
        (Kind::Idle, args.idle),
        (Kind::Slowloris, args.slowloris),
        (Kind::SlowBody, args.slow_bodies),
    ];
    for (kind, n) in kinds {
        for _ in 0..n {
            tokio::spawn(attacker(args.addr.clone(), kind, end, c.clone()));
        }
    }
    let mut latencies_us = Vec::new();
    let (mut not_200, mut peak_open) = (0u64, 0u64);
    let mut second = (Instant::now(), Vec::<u64>::new());
    while Instant::now() < end {
        let (took, status) = probe(&args.addr).await;
        latencies_us.push(took.as_micros() as u64);
        second.1.push(took.as_micros() as u64);
        if status != 200 {
            not_200 += 1;
        }
        let open = c.open.load(Relaxed);
        peak_open = peak_open.max(open);
        if second.0.elapsed() >= Duration::from_secs(1) {
            second.1.sort_unstable();
            eprintln!(
                "t={:>3}s stalled_open={open:>5} closed_by_server={:>6} healthz n={} p50={:.2}ms max={:.2}ms not_200={not_200}",
                started.elapsed().as_secs(),
                c.closed_by_server.load(Relaxed),
                second.1.len(),
                percentile(&second.1, 0.5),
                percentile(&second.1, 1.0),
            );
            second = (Instant::now(), Vec::new());
        }
        tokio::time::sleep(Duration::from_millis(args.probe_ms).saturating_sub(took)).await;
    }
    latencies_us.sort_unstable();
    let l = &latencies_us;
    println!(
        "{}",
        serde_json::json!({
            "idle": args.idle, "slowloris": args.slowloris, "slow_bodies": args.slow_bodies,
            "seconds": args.seconds, "peak_stalled_open": peak_open,
            "closed_by_server": c.closed_by_server.load(Relaxed),
            "answered_503": c.answered_503.load(Relaxed), "answered_408": c.answered_408.load(Relaxed),
            "connect_errors": c.connect_errors.load(Relaxed),
            "healthz_probes": l.len(), "healthz_not_200": not_200,
            "healthz_p50_ms": percentile(l, 0.50), "healthz_p99_ms": percentile(l, 0.99),
            "healthz_max_ms": percentile(l, 1.0),
        })
    );
    Ok(())
}
