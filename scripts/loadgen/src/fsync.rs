//! Measures this machine's fsync latency the way the log pays it: append 4 KiB to a file and
//! fdatasync, N times; prints p50/p99 in microseconds as JSON.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Instant;

fn main() -> std::io::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    let n: usize = std::env::args()
        .nth(2)
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let path = std::path::Path::new(&dir).join("fsync-probe.tmp");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)?;
    let block = vec![0xA5u8; 4096];
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f.write_all(&block)?;
        f.sync_data()?;
        lat.push(t.elapsed().as_micros() as u64);
    }
    std::fs::remove_file(&path)?;
    lat.sort_unstable();
    let p = |q: f64| lat[((lat.len() - 1) as f64 * q).round() as usize];
    println!(
        "{{\"fsyncs\": {n}, \"p50_us\": {}, \"p99_us\": {}, \"max_us\": {}}}",
        p(0.5),
        p(0.99),
        p(1.0)
    );
    Ok(())
}
