//! `ipledger backup` under write load and `ipledger restore` (issue 10 item 7): the backup
//! is the log's exact prefix at one position although writes go on, the restored log passes
//! `verify`, and its events — hence its state, a fold of them — equal the original's up to
//! that position.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::json;

use crate::support::{run_cli, Process, ADMIN_TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_write_load_restores_to_the_same_prefix() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let file = tmp.path().join("backup.jsonl");
    let proc = Process::spawn(&a);
    let c = proc.client.clone();
    let r = c
        .post(
            "/v0.1/ipam/tenants/t1/ip_blocks",
            json!({"ip_block": {"type": "private", "cidr": "10.30.0.0/20"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let block = r.json["ip_block"]["id"].as_str().unwrap().to_string();
    let path = format!("/v0.1/ipam/tenants/t1/ip_blocks/{block}/ip_addresses");
    for _ in 0..50 {
        assert_eq!(c.post(&path, json!({})).await.status, 201);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (c, path, stop) = (c.clone(), path.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                assert_eq!(c.post(&path, json!({})).await.status, 201);
                n += 1;
            }
            n
        })
    };
    let args: Vec<String> = vec![
        "backup".into(),
        "--url".into(),
        c.base.clone(),
        "--token".into(),
        ADMIN_TOKEN.into(),
        "--out".into(),
        file.display().to_string(),
    ];
    let (okay, out, err) = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        run_cli(&refs)
    })
    .await
    .unwrap();
    assert!(okay, "backup: {out}\n{err}");
    // A few more writes after the backup's position.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    stop.store(true, Ordering::SeqCst);
    let during = load.await.unwrap();
    assert!(during > 0, "no write went on during the backup");
    proc.terminate();

    let (okay, out, err) = run_cli(&[
        "restore",
        "--from",
        file.to_str().unwrap(),
        "--data-dir",
        b.to_str().unwrap(),
    ]);
    assert!(okay, "restore: {out}\n{err}");
    assert!(out.contains("\nok"), "{out}");
    let (okay, original, err) = run_cli(&["events", "--data-dir", a.to_str().unwrap()]);
    assert!(okay, "{err}");
    let (okay, restored, err) = run_cli(&["events", "--data-dir", b.to_str().unwrap()]);
    assert!(okay, "{err}");
    let (original, restored): (Vec<&str>, Vec<&str>) =
        (original.lines().collect(), restored.lines().collect());
    assert!(
        restored.len() > 50 && restored.len() < original.len(),
        "{} of {}",
        restored.len(),
        original.len()
    );
    assert_eq!(
        restored[..],
        original[..restored.len()],
        "the restored log is the original's prefix"
    );
    // Restoring over an existing log is refused.
    let (okay, ..) = run_cli(&[
        "restore",
        "--from",
        file.to_str().unwrap(),
        "--data-dir",
        b.to_str().unwrap(),
    ]);
    assert!(!okay);
}
