//! Durability at the process level: kill -9 in the middle of a burst of allocations, clean
//! restarts that must give identical answers, and damaged segment files (a torn tail is cut
//! off at open; corruption before the tail refuses to start and is named).

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{binary, http_client, run_cli, Client, Process, TestServer, ADMIN_TOKEN};

// ---------------------------------------------------------------------------------------
// Helpers shared by the process tests (also used by concurrency, idempotency and cli).
// ---------------------------------------------------------------------------------------

/// A client whose requests give up after a while instead of hanging a test forever.
pub(crate) fn timed_client(base: &str) -> Client {
    let http = http_client(Some(ADMIN_TOKEN), Some(Duration::from_secs(15)));
    Client {
        base: base.to_string(),
        http,
    }
}

/// Like `Client::send`, but a transport error (the server was killed) is returned, not a panic.
pub(crate) async fn try_send(
    c: &Client,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Result<(StatusCode, Value), reqwest::Error> {
    let mut req = c.http.request(method, c.url(path));
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = req.send().await?;
    let status = resp.status();
    let text = resp.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// Creates a private block and returns its id.
pub(crate) async fn create_block(c: &Client, tenant: &str, cidr: &str) -> String {
    let res = c
        .post(
            &format!("/v0.1/ipam/tenants/{tenant}/ip_blocks"),
            json!({"ip_block": {"type": "private", "cidr": cidr}}),
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::CREATED,
        "create block {cidr}: {}",
        res.text
    );
    res.json["ip_block"]["id"]
        .as_str()
        .expect("block id")
        .to_string()
}

pub(crate) fn addresses_path(tenant: &str, block: &str) -> String {
    format!("/v0.1/ipam/tenants/{tenant}/ip_blocks/{block}/ip_addresses")
}

/// Allocates the next free address of a block (empty body) and returns it.
pub(crate) async fn allocate(c: &Client, tenant: &str, block: &str) -> String {
    let res = c
        .send(Method::POST, &addresses_path(tenant, block), None, &[])
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "allocate: {}", res.text);
    res.json["ip_address"]["address"]
        .as_str()
        .expect("address")
        .to_string()
}

/// Every item of a paginated collection, following the `<key>_links` next hrefs.
pub(crate) async fn list_all(c: &Client, path: &str, key: &str) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut url = c.url(&format!("{path}{sep}limit=1000"));
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let resp = c.http.get(&url).send().await.expect("list request");
        let status = resp.status();
        let text = resp.text().await.expect("list body");
        assert_eq!(status, StatusCode::OK, "GET {url}: {text}");
        let page: Value = serde_json::from_str(&text).expect("list is JSON");
        out.extend(
            page[key]
                .as_array()
                .unwrap_or_else(|| panic!("no {key} in {text}"))
                .iter()
                .cloned(),
        );
        match page[format!("{key}_links")][0]["href"].as_str() {
            Some(next) => url = next.to_string(),
            None => return out,
        }
    }
    panic!("pagination of {path} did not end");
}

/// The addresses (as text) of every record in a block, deallocated ones included.
pub(crate) async fn block_addresses(c: &Client, tenant: &str, block: &str) -> Vec<String> {
    list_all(c, &addresses_path(tenant, block), "ip_addresses")
        .await
        .iter()
        .map(|a| a["address"].as_str().expect("address field").to_string())
        .collect()
}

/// The number of events in the log, as `/healthz` reports it.
pub(crate) async fn event_count(c: &Client) -> u64 {
    let res = c.get("/healthz").await;
    assert_eq!(res.status, StatusCode::OK, "healthz: {}", res.text);
    res.json["events"]
        .as_u64()
        .unwrap_or_else(|| panic!("no event count in {}", res.text))
}

/// `Process::spawn` with extra environment (e.g. a small `IPLEDGER_SEGMENT_BYTES_MAX`).
pub(crate) fn spawn_with_env(dir: &Path, env: &[(&str, &str)]) -> Process {
    let mut cmd = Command::new(binary());
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("IPLEDGER_LOG_DIR", crate::support::log_dir_of(dir))
        .env("IPLEDGER_LOG", "warn")
        .env("IPLEDGER_ADMIN_TOKEN", ADMIN_TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn ipledger");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read listening line");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("ipledger did not start: first stdout line {line:?}"))
        .to_string();
    Process {
        child,
        client: timed_client(&format!("http://{addr}")),
        _logs: None,
    }
}

/// Runs `ipledger serve` over a directory it must refuse: returns its exit status and stderr.
/// Panics if it announces that it is listening, or is still running after a while.
pub(crate) fn serve_expecting_refusal(dir: &Path) -> (ExitStatus, String) {
    let mut child = Command::new(binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("IPLEDGER_LOG_DIR", crate::support::log_dir_of(dir))
        .env("IPLEDGER_LOG", "info")
        .env("IPLEDGER_ADMIN_TOKEN", ADMIN_TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ipledger");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        let started = match rx.try_recv() {
            Ok(line) if !line.is_empty() => Some(line),
            _ if Instant::now() > deadline => Some("(no output, still running)".to_string()),
            _ => None,
        };
        if let Some(line) = started {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ipledger serve started on a log it should refuse: {line:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    let _ = child.stderr.take().map(|mut s| s.read_to_string(&mut err));
    (status, err)
}

pub(crate) fn dir_str(dir: &Path) -> &str {
    dir.to_str().expect("utf-8 temp path")
}

/// The segment files of a log directory, in log order (their names sort by position).
pub(crate) fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read data dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    segs.sort();
    segs
}

/// One frame of a segment: `[u32 LE body length][u32 LE crc32c][u8 flags][body]`
/// (infra/src/filelog/frame.rs). Offsets are file offsets.
#[derive(Debug, Clone, Copy)]
struct Frame {
    offset: usize,
    body_len: usize,
}

const FRAME_HEADER: usize = 9;

impl Frame {
    fn end(&self) -> usize {
        self.offset + FRAME_HEADER + self.body_len
    }
}

/// Bytes before the first frame of a format-2 segment (infra/src/filelog/header.rs).
pub(crate) const SEGMENT_HEADER: usize = 4096;

/// Walks the frames of an undamaged segment; they must tile the file exactly (after the
/// header of a format-2 segment).
fn frames(bytes: &[u8]) -> Vec<Frame> {
    let mut out = Vec::new();
    let mut at = if bytes.starts_with(b"IPLG") {
        SEGMENT_HEADER
    } else {
        0
    };
    while at < bytes.len() {
        assert!(
            at + FRAME_HEADER <= bytes.len(),
            "segment does not parse as frames: header cut at {at}"
        );
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let f = Frame {
            offset: at,
            body_len: len,
        };
        assert!(
            f.end() <= bytes.len(),
            "segment does not parse as frames: frame at {at} overruns"
        );
        out.push(f);
        at = f.end();
    }
    out
}

/// Copies a data directory (files and subdirectories) so one log can be damaged several ways.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("file type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy file");
        }
    }
}

fn assert_verify_ok(dir: &Path) {
    let (ok, out, err) = run_cli(&["verify", "--data-dir", dir_str(dir)]);
    assert!(
        ok,
        "ipledger verify failed on a good log:\nstdout: {out}\nstderr: {err}"
    );
}

// ---------------------------------------------------------------------------------------
// (a) kill -9 during a burst
// ---------------------------------------------------------------------------------------

const BURST_TASKS: usize = 32;
const BURST_PER_TASK: usize = 400;
const KILL_AFTER_ACKS: usize = 300;
const KILL_ROUNDS: usize = 3;

/// Fires `BURST_TASKS` looping allocators at the process and SIGKILLs it (from another task)
/// once `KILL_AFTER_ACKS` have been acknowledged. Returns every acknowledged address.
async fn burst_and_kill(proc: Process, path: &str) -> Vec<String> {
    let c = proc.client.clone();
    let pid = proc.child.id() as libc::pid_t;
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let odd = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut workers = Vec::new();
    for _ in 0..BURST_TASKS {
        let (c, path, acked, count, odd) = (
            c.clone(),
            path.to_string(),
            acked.clone(),
            count.clone(),
            odd.clone(),
        );
        workers.push(tokio::spawn(async move {
            for _ in 0..BURST_PER_TASK {
                match try_send(&c, Method::POST, &path, None).await {
                    Ok((StatusCode::CREATED, body)) => {
                        let addr = body["ip_address"]["address"]
                            .as_str()
                            .expect("address")
                            .to_string();
                        acked.lock().unwrap().push(addr);
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok((status, body)) => odd.lock().unwrap().push(format!("{status}: {body}")),
                    Err(_) => break, // the server is gone
                }
            }
        }));
    }
    let killer = {
        let count = count.clone();
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            while count.load(Ordering::SeqCst) < KILL_AFTER_ACKS && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let seen = count.load(Ordering::SeqCst);
            // SAFETY: kill(2) on our own child's pid; the child is not reaped before this.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
            seen
        })
    };
    let acks_at_kill = killer.await.expect("killer");
    for w in workers {
        w.await.expect("worker");
    }
    proc.kill9(); // reaps the child
    assert!(
        acks_at_kill >= KILL_AFTER_ACKS,
        "only {acks_at_kill} allocations acknowledged before the deadline"
    );
    let odd = odd.lock().unwrap().clone();
    assert!(odd.is_empty(), "non-201 answers before the kill: {odd:?}");
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() < BURST_TASKS * BURST_PER_TASK,
        "the burst finished before the kill"
    );
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_mid_burst_loses_no_acknowledged_allocation() {
    // Guards against answering 201 before the allocation's event is durable (or handing out an
    // address twice after recovery): every acknowledged address must survive a SIGKILL, and
    // recovery of a killed log must itself survive the next kill.
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    // Small segments so that the bursts also roll over segment files.
    let env = [("IPLEDGER_SEGMENT_BYTES_MAX", "16384")];
    let proc = spawn_with_env(dir, &env);
    let block = create_block(&proc.client, "t1", "10.0.0.0/16").await;
    let path = addresses_path("t1", &block);

    let mut acked: Vec<String> = Vec::new();
    let mut proc = Some(proc);
    for round in 1..=KILL_ROUNDS {
        acked.extend(burst_and_kill(proc.take().expect("a running server"), &path).await);
        let acked_set: HashSet<&String> = acked.iter().collect();
        assert_eq!(
            acked_set.len(),
            acked.len(),
            "round {round}: two requests were acknowledged the same address"
        );

        let next = spawn_with_env(dir, &env);
        let c = next.client.clone();
        let listed = block_addresses(&c, "t1", &block).await;
        let listed_set: HashSet<&String> = listed.iter().collect();
        assert_eq!(
            listed_set.len(),
            listed.len(),
            "round {round}: an address is listed twice after recovery"
        );
        let lost: Vec<&&String> = acked_set.difference(&listed_set).collect();
        assert!(
            lost.is_empty(),
            "round {round}: {} acknowledged allocations lost by kill -9, e.g. {:?}",
            lost.len(),
            &lost[..lost.len().min(5)]
        );
        assert_eq!(
            event_count(&c).await,
            1 + listed.len() as u64,
            "round {round}: BlockCreated and one event per listed address"
        );
        // The rebuilt free map must not hand out an address that survived the crash.
        for _ in 0..10 {
            let a = allocate(&c, "t1", &block).await;
            assert!(
                !listed_set.contains(&a),
                "round {round}: {a} handed out again after recovery"
            );
            acked.push(a);
        }
        proc = Some(next);
    }
    assert!(
        segments(dir).len() >= 2,
        "the bursts never rolled over a segment: {:?}",
        segments(dir)
    );
    proc.take().unwrap().terminate();
    assert_verify_ok(dir);
}

// ---------------------------------------------------------------------------------------
// (b) a restart answers every query exactly as before
// ---------------------------------------------------------------------------------------

/// GET every path and render the answers as one JSON text, with this server's base URL (it
/// appears in next-page links and changes across restarts) replaced by a placeholder.
async fn snapshot(c: &Client, paths: &[String]) -> Value {
    let mut out = serde_json::Map::new();
    for p in paths {
        let res = c.get(p).await;
        assert_eq!(res.status, StatusCode::OK, "GET {p}: {}", res.text);
        let text = res.text.replace(&c.base, "BASE");
        let host = c.base.trim_start_matches("http://");
        let text = text.replace(host, "HOST");
        out.insert(p.clone(), serde_json::from_str(&text).expect("json"));
    }
    Value::Object(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_gives_identical_query_results() {
    // Guards against a projection that folds differently at start-up than it did live (a
    // field not carried by its event, an index built only on the write path).
    let s = TestServer::start().await;
    let t = "/v0.1/ipam/tenants/t1";

    let res = s
        .post(
            &format!("{t}/policies"),
            json!({"policy": {"name": "edge", "description": "no low hosts"}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let policy = res.json["policy"]["id"].as_str().unwrap().to_string();
    let pol = format!("{t}/policies/{policy}");
    let res = s
        .post(
            &format!("{pol}/unusable_ip_ranges"),
            json!({"ip_range": {"offset": 2, "length": 3}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let range = res.json["ip_range"]["id"].as_str().unwrap().to_string();
    let res = s
        .put(
            &format!("{pol}/unusable_ip_ranges/{range}"),
            json!({"ip_range": {"length": 4}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    for octet in [9, 10, 11] {
        let res = s
            .post(
                &format!("{pol}/unusable_ip_octets"),
                json!({"ip_octet": {"octet": octet}}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    }
    let octets = s.get(&format!("{pol}/unusable_ip_octets")).await;
    let first_octet = octets.json["ip_octets"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = s
        .delete(&format!("{pol}/unusable_ip_octets/{first_octet}"))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = s.put(&pol, json!({"policy": {"name": "edge-2"}})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);

    let res = s.post(&format!("{t}/ip_blocks"), json!({"ip_block": {"type": "private", "cidr": "10.1.0.0/24", "policy_id": policy, "network_id": "net-a"}})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let a = res.json["ip_block"]["id"].as_str().unwrap().to_string();
    let b = create_block(&s, "t1", "10.2.0.0/28").await;
    let parent = create_block(&s, "t1", "10.3.0.0/16").await;
    let res = s
        .post(
            &format!("{t}/ip_blocks/{parent}/subnets"),
            json!({"subnet": {"cidr": "10.3.1.0/24"}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let res = s
        .put(
            &format!("{t}/ip_blocks/{b}"),
            json!({"ip_block": {"dns1": "1.1.1.1", "network_id": "net-b"}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);

    let mut in_a = Vec::new();
    for i in 0..20 {
        let body = json!({"ip_address": {"used_by_device": format!("vm-{}", i % 3), "interface_id": format!("if-{i}"), "tenant_id": if i % 2 == 0 { "t1" } else { "t2" }}});
        let res = s.post(&addresses_path("t1", &a), body).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        in_a.push(
            res.json["ip_address"]["address"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let res = s
        .post(
            &addresses_path("t1", &b),
            json!({"ip_address": {"address": "10.2.0.9"}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    for _ in 0..3 {
        allocate(&s, "t1", &b).await;
    }
    for addr in &in_a[3..6] {
        let res = s
            .delete(&format!("{}/{addr}", addresses_path("t1", &a)))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    }
    let res = s
        .send(
            Method::PUT,
            &format!("{}/{}/restore", addresses_path("t1", &a), in_a[4]),
            None,
            &[],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);

    let paths = vec![
        format!("{t}/ip_blocks"),
        format!("{t}/ip_blocks?limit=2"),
        format!("{t}/ip_blocks?type=private"),
        format!("{t}/ip_blocks/{a}"),
        format!("{t}/ip_blocks/{b}"),
        format!("{t}/ip_blocks/{parent}/subnets"),
        addresses_path("t1", &a),
        format!("{}?limit=7", addresses_path("t1", &a)),
        addresses_path("t1", &b),
        format!("{}/{}", addresses_path("t1", &a), in_a[0]),
        format!("{}/{}", addresses_path("t1", &a), in_a[3]),
        format!("{}/{}", addresses_path("t1", &a), in_a[4]),
        format!("{t}/allocated_ip_addresses"),
        "/v0.1/ipam/tenants/t2/allocated_ip_addresses".to_string(),
        "/v0.1/ipam/allocated_ip_addresses?used_by_device=vm-1".to_string(),
        "/v0.1/ipam/allocated_ip_addresses?limit=5".to_string(),
        format!("{t}/policies"),
        pol.clone(),
        format!("{pol}/unusable_ip_ranges"),
        format!("{pol}/unusable_ip_ranges/{range}"),
        format!("{pol}/unusable_ip_octets"),
        "/v1/events".to_string(),
        format!("/v1/events?stream=block-{a}"),
        "/healthz".to_string(),
    ];
    let before = snapshot(&s, &paths).await;
    let s = s.restart().await;
    let after = snapshot(&s, &paths).await;
    for p in &paths {
        assert_eq!(
            before[p.as_str()],
            after[p.as_str()],
            "GET {p} differs after a restart"
        );
    }
    // And a second restart over a log the first restart opened (and possibly recovered).
    let s = s.restart().await;
    assert_eq!(
        before,
        snapshot(&s, &paths).await,
        "answers differ after a second restart"
    );
    // The writer's state was rebuilt too: the next allocation does not reuse an address.
    let next = allocate(&s, "t1", &a).await;
    let taken: HashSet<&String> = in_a.iter().collect();
    assert!(!taken.contains(&next), "{next} handed out twice");
}

// ---------------------------------------------------------------------------------------
// (c) damaged segment files
// ---------------------------------------------------------------------------------------

/// Builds a log of one block with `n` sequential allocations (one event per group commit),
/// stops the server cleanly, and returns the block id, the addresses in order and the event
/// count.
async fn sequential_log(dir: &Path, n: usize) -> (String, Vec<String>, u64) {
    let proc = Process::spawn(dir);
    let c = timed_client(&proc.client.base);
    let block = create_block(&c, "t1", "10.5.0.0/22").await;
    let mut addrs = Vec::new();
    for _ in 0..n {
        addrs.push(allocate(&c, "t1", &block).await);
    }
    let events = event_count(&c).await;
    proc.terminate();
    (block, addrs, events)
}

fn last_segment(dir: &Path) -> PathBuf {
    let segs = segments(dir);
    let last = segs
        .last()
        .cloned()
        .unwrap_or_else(|| panic!("no *.seg file in {}", dir.display()));
    assert!(
        std::fs::metadata(&last).unwrap().len() > 0,
        "the last segment {} is empty",
        last.display()
    );
    last
}

fn append_bytes(file: &Path, bytes: &[u8]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(file)
        .expect("open segment");
    f.write_all(bytes).expect("append");
    f.sync_all().expect("sync");
}

/// Starts over a damaged copy, expects exactly `expect` (in order) in the block, then checks
/// that a new write lands after the cut and survives another restart.
async fn recovers(dir: &Path, block: &str, expect: &[String], what: &str) -> String {
    let proc = Process::spawn(dir);
    let c = timed_client(&proc.client.base);
    let mut listed = block_addresses(&c, "t1", block).await;
    listed.sort();
    let mut want = expect.to_vec();
    want.sort();
    assert_eq!(listed, want, "{what}: addresses after recovery");
    assert_eq!(
        event_count(&c).await,
        expect.len() as u64 + 1,
        "{what}: events after recovery"
    );
    // The next free address is the lowest one: the recovered log's free map decides it.
    let next = allocate(&c, "t1", block).await;
    assert!(!expect.contains(&next), "{what}: {next} handed out twice");
    proc.terminate();
    let proc = Process::spawn(dir);
    let c = timed_client(&proc.client.base);
    let listed = block_addresses(&c, "t1", block).await;
    assert_eq!(
        listed.len(),
        expect.len() + 1,
        "{what}: the write after recovery did not survive a restart"
    );
    assert!(
        listed.contains(&next),
        "{what}: {next} lost after the second restart"
    );
    proc.terminate();
    assert_verify_ok(dir);
    next
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torn_tail_is_cut_and_the_service_starts() {
    // Guards against a crash mid-write (garbage after the last frame) keeping the service
    // down, or against new records being appended after the
    // garbage instead of at the cut (which would turn the next open into a refusal).
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = tmp.path().join("base");
    std::fs::create_dir(&base).unwrap();
    let (block, addrs, events) = sequential_log(&base, 40).await;
    assert_eq!(events, 41, "one BlockCreated and 40 AddressAllocated");
    let seg_name = last_segment(&base).file_name().unwrap().to_owned();
    let last_frame = {
        let bytes = std::fs::read(base.join(&seg_name)).unwrap();
        let fs = frames(&bytes);
        bytes[fs.last().unwrap().offset..].to_vec()
    };

    // (A last frame cut short after a clean stop is no longer a torn tail: the segment's
    // synced-end record proves it was acknowledged, and the service refuses to start;
    // log_damage.rs tests that.)

    // 2. Bytes after the last frame: a header whose length runs past the end of the file.
    let d = tmp.path().join("ff");
    copy_dir(&base, &d);
    append_bytes(&d.join(&seg_name), &[0xff; 13]);
    recovers(&d, &block, &addrs, "13 bytes of 0xff appended").await;

    // 3. A torn copy of a real frame (its first half).
    let d = tmp.path().join("half");
    copy_dir(&base, &d);
    append_bytes(&d.join(&seg_name), &last_frame[..last_frame.len() / 2]);
    recovers(&d, &block, &addrs, "half a frame appended").await;

    // 4. Fewer bytes than a frame header.
    let d = tmp.path().join("short");
    copy_dir(&base, &d);
    append_bytes(&d.join(&seg_name), &last_frame[..4]);
    recovers(&d, &block, &addrs, "4 bytes appended").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_filled_tail_is_cut_and_the_service_starts() {
    // Guards against a crash that leaves the file longer than the data written (the size
    // extended, the pages never written: zeros after the last record) keeping the service
    // down. Nothing after the last complete append was ever acknowledged, so the zeros are a
    // torn tail, not corruption.
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = tmp.path().join("base");
    std::fs::create_dir(&base).unwrap();
    let (block, addrs, _) = sequential_log(&base, 10).await;
    let seg_name = last_segment(&base).file_name().unwrap().to_owned();
    let d = tmp.path().join("zeros");
    copy_dir(&base, &d);
    append_bytes(&d.join(&seg_name), &[0u8; 4096]);
    recovers(&d, &block, &addrs, "4096 zero bytes appended").await;
}

/// Builds a log of many records with concurrent allocations, then stops it cleanly.
async fn busy_log(dir: &Path, env: &[(&str, &str)]) {
    let proc = spawn_with_env(dir, env);
    let c = proc.client.clone();
    let block = create_block(&c, "t1", "10.6.0.0/20").await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (c, block) = (c.clone(), block.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..40 {
                allocate(&c, "t1", &block).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("allocating task");
    }
    assert_eq!(event_count(&c).await, 321);
    proc.terminate();
}

#[derive(Debug, Clone, Copy)]
enum Damage {
    /// One byte of a record body flipped: the checksum no longer matches.
    BodyByte,
    /// The high byte of a record's length field set: the frame claims to run past the end
    /// of the file, which is what a torn tail looks like, but valid records follow it.
    LengthField,
}

/// Damages the frame in the middle of `seg`; returns the damaged frame's offset.
fn damage_middle(seg: &Path, damage: Damage) -> usize {
    let mut bytes = std::fs::read(seg).expect("read segment");
    let fs = frames(&bytes);
    assert!(
        fs.len() >= 20,
        "{} holds only {} records",
        seg.display(),
        fs.len()
    );
    let f = fs[fs.len() / 2];
    match damage {
        Damage::BodyByte => bytes[f.offset + FRAME_HEADER + f.body_len / 2] ^= 0x55,
        Damage::LengthField => bytes[f.offset + 3] = 0x40,
    }
    std::fs::write(seg, &bytes).expect("write segment");
    f.offset
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corruption_before_the_tail_refuses_to_start() {
    // Guards against a damaged record in the middle of the log being skipped or treated as a
    // torn tail (silently dropping every acknowledged record after it): the service must
    // refuse to start, naming the segment and offset, and `ipledger verify` must fail.
    let tmp = tempfile::tempdir().expect("tempdir");
    let multi = tmp.path().join("multi");
    let single = tmp.path().join("single");
    std::fs::create_dir(&multi).unwrap();
    std::fs::create_dir(&single).unwrap();
    busy_log(&multi, &[("IPLEDGER_SEGMENT_BYTES_MAX", "16384")]).await;
    busy_log(&single, &[]).await;
    assert!(
        segments(&multi).len() >= 3,
        "expected several segments, got {:?}",
        segments(&multi)
    );
    assert_eq!(segments(&single).len(), 1, "expected one segment");

    for (base, label) in [
        (&multi, "first of several segments"),
        (&single, "the only (last) segment"),
    ] {
        for damage in [Damage::BodyByte, Damage::LengthField] {
            let what = format!("{damage:?} in the middle of {label}");
            let d = tmp.path().join(format!(
                "{}-{damage:?}",
                base.file_name().unwrap().to_string_lossy()
            ));
            copy_dir(base, &d);
            let seg = segments(&d)[0].clone();
            let seg_name = seg.file_name().unwrap().to_string_lossy().into_owned();
            let before = std::fs::metadata(&seg).unwrap().len();
            let offset = damage_middle(&seg, damage);

            let (status, stderr) = serve_expecting_refusal(&d);
            assert!(!status.success(), "{what}: serve exited successfully");
            assert!(
                stderr.contains(&seg_name),
                "{what}: stderr does not name segment {seg_name}: {stderr}"
            );
            assert!(
                stderr.contains("offset"),
                "{what}: stderr does not name an offset: {stderr}"
            );
            assert!(
                stderr.contains(&offset.to_string()),
                "{what}: stderr does not name offset {offset}: {stderr}"
            );
            assert_eq!(
                std::fs::metadata(&seg).unwrap().len(),
                before,
                "{what}: the refused open changed the segment"
            );

            let (ok, out, err) = run_cli(&["verify", "--data-dir", dir_str(&d)]);
            assert!(!ok, "{what}: verify exited 0:\n{out}\n{err}");
            assert!(
                format!("{out}{err}").contains(&seg_name),
                "{what}: verify does not name {seg_name}:\n{out}\n{err}"
            );
        }
    }
}
