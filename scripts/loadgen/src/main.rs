//! A small HTTP load generator for the benchmarks: N keep-alive HTTP/1.1 connections on
//! 127.0.0.1 each POSTing allocations in a loop, either as fast as answers come back
//! (closed loop: throughput) or at a fixed total rate (open loop: latency measured from the
//! scheduled send time, so a stall is not hidden by coordinated omission). `--page` makes
//! each connection a reader instead: it GETs `--path` page after page by the answers' next
//! links (starting over at the end). Bounded by `--seconds` (and `--requests-max`); it
//! stops by itself.

use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

#[derive(Parser, Debug, Clone)]
struct Args {
    /// host:port of the server (loopback only).
    #[arg(long, default_value = "127.0.0.1:9898")]
    addr: String,
    /// Request path to POST to (e.g. /v0.1/ipam/tenants/t/ip_blocks/<id>/ip_addresses).
    #[arg(long)]
    path: String,
    #[arg(long, default_value_t = 128)]
    connections: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Total requests per second across all connections; 0 = as fast as possible.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Bearer token sent on every request (the server's admin token).
    #[arg(long, env = "IPLEDGER_TOKEN")]
    token: Option<String>,
    /// The JSON body of each POST.
    #[arg(long, default_value = r#"{"ip_address": {"used_by_device": "bench"}}"#)]
    body: String,
    /// Page through `--path` with GETs (following `ip_addresses_links`) instead of POSTing.
    #[arg(long)]
    page: bool,
    /// Stop after this many successful requests in all (0: no cap; approximate, per connection).
    #[arg(long, default_value_t = 0)]
    requests_max: u64,
}

#[derive(Default)]
struct Tally {
    ok: u64,
    failed: u64,
    latencies_us: Vec<u32>,
}

async fn connection(args: Args, index: usize) -> anyhow::Result<Tally> {
    let stream = tokio::net::TcpStream::connect(&args.addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut tally = Tally::default();
    let end = Instant::now() + Duration::from_secs(args.seconds);
    let interval = (args.rate > 0)
        .then(|| Duration::from_secs_f64(args.connections as f64 / args.rate as f64));
    // Spread the connections' schedules over one interval.
    let mut next = Instant::now()
        + interval.map_or(Duration::ZERO, |i| {
            i.mul_f64(index as f64 / args.connections as f64)
        });
    let body = Bytes::from(args.body.clone());
    let cap = (args.requests_max > 0).then(|| args.requests_max.div_ceil(args.connections as u64));
    let mut target = args.path.clone();
    while Instant::now() < end && cap.is_none_or(|c| tally.ok < c) {
        if interval.is_some() {
            tokio::time::sleep_until(next.into()).await;
        }
        let scheduled = if interval.is_some() {
            next
        } else {
            Instant::now()
        };
        let method = if args.page { "GET" } else { "POST" };
        let mut req = Request::builder()
            .method(method)
            .uri(&target)
            .header("host", &args.addr)
            .header("content-type", "application/json");
        if let Some(token) = &args.token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let req = req.body(Full::new(if args.page {
            Bytes::new()
        } else {
            body.clone()
        }))?;
        let resp = sender.send_request(req).await?;
        let status = resp.status();
        let answer = resp.into_body().collect().await?.to_bytes();
        if args.page {
            target = next_page(&answer).unwrap_or_else(|| args.path.clone());
        }
        tally
            .latencies_us
            .push(scheduled.elapsed().as_micros().min(u32::MAX as u128) as u32);
        if status.as_u16() == 201 || (args.page && status.as_u16() == 200) {
            tally.ok += 1
        } else {
            tally.failed += 1
        }
        if let Some(i) = interval {
            next += i;
        }
    }
    Ok(tally)
}

/// The path of the next page named by a listing's `*_links`, if any.
fn next_page(answer: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(answer).ok()?;
    let href = v.get("ip_addresses_links")?.get(0)?.get("href")?.as_str()?;
    let after_scheme = href.split_once("://").map_or(href, |(_, rest)| rest);
    after_scheme
        .find('/')
        .map(|i| after_scheme[i..].to_string())
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx] as f64 / 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.addr.starts_with("127.") || args.addr.starts_with("localhost"),
        "loopback targets only"
    );
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.connections)
        .map(|i| tokio::spawn(connection(args.clone(), i)))
        .collect();
    let mut total = Tally::default();
    for t in tasks {
        let tally = t.await??;
        total.ok += tally.ok;
        total.failed += tally.failed;
        total.latencies_us.extend(tally.latencies_us);
    }
    let secs = started.elapsed().as_secs_f64();
    total.latencies_us.sort_unstable();
    let l = &total.latencies_us;
    println!(
        "{}",
        serde_json::json!({
            "connections": args.connections, "seconds": secs, "target_rate": args.rate,
            "ok": total.ok, "failed": total.failed, "ok_per_second": total.ok as f64 / secs,
            "p50_ms": percentile(l, 0.50), "p99_ms": percentile(l, 0.99), "p999_ms": percentile(l, 0.999),
            "max_ms": percentile(l, 1.0),
        })
    );
    Ok(())
}
