//! The operator subcommands over a log written by the real binary: `replay` (counts and
//! speed), `events` (JSON lines, with `--stream` and `--from`) and `verify`.

use std::collections::HashMap;
use std::path::Path;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::durability::{
    addresses_path, allocate, create_block, dir_str, event_count, spawn_with_env,
};
use crate::support::run_cli;

/// What the test wrote, to compare the subcommands' output with.
struct Written {
    block: String,
    events: u64,
}

/// Writes a small but varied log with the real binary and stops it cleanly.
async fn write_log(dir: &Path) -> Written {
    let proc = spawn_with_env(dir, &[]);
    let c = proc.client.clone();
    let res = c
        .post(
            "/v0.1/ipam/tenants/t1/policies",
            json!({"policy": {"name": "p"}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let block = create_block(&c, "t1", "10.4.0.0/24").await;
    let other = create_block(&c, "t2", "10.5.0.0/24").await;
    let mut addrs = Vec::new();
    for i in 0..10 {
        addrs.push(allocate(&c, "t1", &block).await);
        if i % 3 == 0 {
            allocate(&c, "t2", &other).await;
        }
    }
    let res = c
        .delete(&format!("{}/{}", addresses_path("t1", &block), addrs[0]))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let events = event_count(&c).await;
    proc.terminate();
    Written { block, events }
}

fn cli(args: &[&str]) -> String {
    let (ok, out, err) = run_cli(args);
    assert!(
        ok,
        "ipledger {args:?} failed:\nstdout: {out}\nstderr: {err}"
    );
    out
}

/// Parses `ipledger events` output: one JSON envelope per line.
fn parse_lines(out: &str) -> Vec<Value> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

fn positions(lines: &[Value]) -> Vec<u64> {
    lines
        .iter()
        .map(|e| {
            e["position"]
                .as_u64()
                .unwrap_or_else(|| panic!("no position: {e}"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_prints_the_log_as_json_lines() {
    // Guards against the auditors' export skipping, repeating or misnumbering events, and
    // against its filters leaking other streams or starting at the wrong position.
    let tmp = tempfile::tempdir().expect("tempdir");
    let w = write_log(tmp.path()).await;
    let dir = dir_str(tmp.path());

    let all = parse_lines(&cli(&["events", "--data-dir", dir]));
    assert_eq!(all.len() as u64, w.events);
    assert_eq!(
        positions(&all),
        (0..w.events).collect::<Vec<_>>(),
        "positions are consecutive from 0"
    );
    let mut versions: HashMap<String, u64> = HashMap::new();
    for e in &all {
        let stream = e["stream"].as_str().expect("stream").to_string();
        let v = versions.entry(stream.clone()).or_insert(0);
        assert_eq!(
            e["version"].as_u64(),
            Some(*v),
            "stream {stream} versions are consecutive from 0"
        );
        *v += 1;
        assert!(
            e["event"].is_object() && e["event"].as_object().unwrap().len() == 1,
            "event is {{Type: payload}}: {e}"
        );
        assert!(
            e["event_id"].is_string() && e["recorded_at"].is_string() && e["actor"].is_string(),
            "envelope fields: {e}"
        );
    }

    let stream = format!("block-{}", w.block);
    let only = parse_lines(&cli(&["events", "--data-dir", dir, "--stream", &stream]));
    assert_eq!(
        only.len(),
        1 + 10 + 1,
        "BlockCreated, 10 AddressAllocated, AddressDeallocated"
    );
    assert!(
        only.iter().all(|e| e["stream"] == stream.as_str()),
        "another stream leaked in"
    );
    let expected: Vec<&Value> = all
        .iter()
        .filter(|e| e["stream"] == stream.as_str())
        .collect();
    assert_eq!(
        only.iter().collect::<Vec<_>>(),
        expected,
        "--stream gives the stream's events unchanged"
    );
    assert!(only[0]["event"].get("BlockCreated").is_some());
    assert!(only.last().unwrap()["event"]
        .get("AddressDeallocated")
        .is_some());

    let from = 5;
    let tail = parse_lines(&cli(&[
        "events",
        "--data-dir",
        dir,
        "--from",
        &from.to_string(),
    ]));
    assert_eq!(positions(&tail), (from..w.events).collect::<Vec<_>>());
    assert_eq!(tail[..], all[from as usize..]);

    let both = parse_lines(&cli(&[
        "events",
        "--data-dir",
        dir,
        "--stream",
        &stream,
        "--from",
        "8",
    ]));
    let want: Vec<&Value> = expected
        .iter()
        .copied()
        .filter(|e| e["position"].as_u64().unwrap() >= 8)
        .collect();
    assert!(!want.is_empty() && want.len() < expected.len());
    assert_eq!(both.iter().collect::<Vec<_>>(), want);

    let past_end = cli(&[
        "events",
        "--data-dir",
        dir,
        "--from",
        &(w.events + 10).to_string(),
    ]);
    assert!(
        past_end.trim().is_empty(),
        "--from past the end prints nothing: {past_end}"
    );
    let none = cli(&[
        "events",
        "--data-dir",
        dir,
        "--stream",
        "block-00000000-0000-0000-0000-000000000000",
    ]);
    assert!(
        none.trim().is_empty(),
        "an unknown stream prints nothing: {none}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_reports_counts_and_speed() {
    // Guards against `replay` folding a different log than the service does (wrong counts)
    // or omitting the figures operators read (events_per_second).
    let tmp = tempfile::tempdir().expect("tempdir");
    let w = write_log(tmp.path()).await;
    let out = cli(&["replay", "--data-dir", dir_str(tmp.path())]);
    let fields: HashMap<&str, &str> = out.lines().filter_map(|l| l.split_once(": ")).collect();
    let number = |k: &str| -> &str {
        fields
            .get(k)
            .unwrap_or_else(|| panic!("no {k:?} line in:\n{out}"))
    };
    assert_eq!(
        number("events").parse::<u64>().ok(),
        Some(w.events),
        "{out}"
    );
    assert_eq!(number("blocks"), "2", "{out}");
    assert_eq!(number("policies"), "1", "{out}");
    assert_eq!(number("addresses"), "14 (13 live)", "{out}");
    let eps: f64 = number("events_per_second")
        .parse()
        .unwrap_or_else(|_| panic!("events_per_second is not a number:\n{out}"));
    assert!(eps.is_finite() && eps > 0.0, "{out}");
    let secs: f64 = number("seconds")
        .parse()
        .unwrap_or_else(|_| panic!("seconds is not a number:\n{out}"));
    assert!(secs.is_finite() && secs >= 0.0, "{out}");
    // replay opens the log for writing (torn-tail recovery): the log stays good afterwards.
    let (ok, out, err) = run_cli(&["verify", "--data-dir", dir_str(tmp.path())]);
    assert!(ok, "verify after replay:\n{out}\n{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_exits_zero_on_a_good_log() {
    // Guards against `verify` crying wolf on a healthy log (operators would learn to ignore
    // it) and against it changing the log it checks.
    let tmp = tempfile::tempdir().expect("tempdir");
    let w = write_log(tmp.path()).await;
    let before = crate::durability::segments(tmp.path())
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect::<Vec<_>>();
    let out = cli(&["verify", "--data-dir", dir_str(tmp.path())]);
    assert!(
        out.lines().any(|l| l.trim() == "ok"),
        "verify prints ok:\n{out}"
    );
    assert!(!out.contains("PROBLEM"), "{out}");
    assert!(
        out.contains("addresses held: 14"),
        "addresses held counts soft-deallocated ones too:\n{out}"
    );
    let after = crate::durability::segments(tmp.path())
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect::<Vec<_>>();
    assert!(before == after, "verify changed the log");
    // The service still opens the log and sees every event.
    let proc = spawn_with_env(tmp.path(), &[]);
    assert_eq!(event_count(&proc.client).await, w.events);
    proc.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_counts_the_holds_of_pending_requests() {
    // A pending IP request holds its address like an allocation: verify must count it, and
    // must not mistake the allocation that follows an approval for a second holder.
    let tmp = tempfile::tempdir().expect("tempdir");
    let proc = spawn_with_env(tmp.path(), &[]);
    let c = &proc.client;
    let r = c
        .post(
            "/v0.1/ipam/tenants/acme/ip_blocks",
            json!({"ip_block": {"type": "private", "cidr": "10.9.9.0/24"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    for ip in ["10.9.9.5", "10.9.9.6", "10.9.9.7"] {
        let r = c.post("/v1/agent/ipam/request", json!({"ip": ip})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let list = c.get("/v1/ipam/requests").await.json["requests"].clone();
    let id = |i: usize| list[i]["id"].as_str().unwrap().to_string();
    c.post(&format!("/v1/ipam/requests/{}/approve", id(0)), json!({}))
        .await;
    c.post(&format!("/v1/ipam/requests/{}/reject", id(1)), json!({}))
        .await;
    proc.terminate();
    let out = cli(&["verify", "--data-dir", dir_str(tmp.path())]);
    assert!(out.lines().any(|l| l.trim() == "ok"), "{out}");
    // 10.9.9.5 allocated on approval, 10.9.9.7 still held; 10.9.9.6 was freed.
    assert!(out.contains("addresses held: 2"), "{out}");
}
