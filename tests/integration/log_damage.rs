//! Log damage a crash cannot cause, at the process level (issue 8, defects 4 and 5).
//! Guards against the service starting over a log whose acknowledged tail was zeroed or
//! whose last segment was emptied after a clean stop — it used to cut the damage off as a
//! torn tail (or not notice at all), drop acknowledged allocations and hand their addresses
//! out again, after which `verify` said ok. Both `serve` and `verify` must refuse, naming
//! the segment and the offset. (Every kind of damage is in the file log's table test,
//! infra/src/filelog/tests/kinds.rs.)

use std::path::Path;

use crate::durability::{
    allocate, create_block, dir_str, event_count, segments, serve_expecting_refusal, timed_client,
};
use crate::support::{run_cli, Process};

/// Starts `serve` and `verify` over `dir` and checks that both refuse, naming the segment
/// (and, for `serve`, an offset).
fn both_refuse(dir: &Path, seg_name: &str, what: &str) {
    let (status, stderr) = serve_expecting_refusal(dir);
    assert!(!status.success(), "{what}: serve started");
    assert!(
        stderr.contains(seg_name) && stderr.contains("offset"),
        "{what}: serve's error does not name segment {seg_name} and an offset: {stderr}"
    );
    let (ok, out, err) = run_cli(&["verify", "--data-dir", dir_str(dir)]);
    assert!(!ok, "{what}: verify exited 0:\n{out}\n{err}");
    assert!(
        format!("{out}{err}").contains(seg_name),
        "{what}: verify does not name {seg_name}:\n{out}\n{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damage_to_acknowledged_data_after_a_clean_stop_refuses_to_start() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = tmp.path().join("base");
    std::fs::create_dir(&base).expect("mkdir");
    let proc = Process::spawn(&base);
    let c = timed_client(&proc.client.base);
    let block = create_block(&c, "t1", "10.8.0.0/22").await;
    for _ in 0..40 {
        allocate(&c, "t1", &block).await;
    }
    assert_eq!(event_count(&c).await, 41);
    proc.terminate();
    let seg = segments(&base).pop().expect("a segment");
    let seg_name = seg
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();

    let zeroed = tmp.path().join("zeroed");
    crate::old_log::copy_dir(&base, &zeroed);
    let path = zeroed.join(&seg_name);
    let mut bytes = std::fs::read(&path).expect("read");
    let n = bytes.len();
    assert!(n > 8192, "the segment holds more than 4 KiB of records");
    bytes[n - 4096..].fill(0);
    std::fs::write(&path, &bytes).expect("write");
    both_refuse(&zeroed, &seg_name, "last 4 KiB zeroed");
    assert_eq!(
        std::fs::read(&path).expect("read"),
        bytes,
        "the refused start changed nothing"
    );

    let emptied = tmp.path().join("emptied");
    crate::old_log::copy_dir(&base, &emptied);
    std::fs::write(emptied.join(&seg_name), b"").expect("empty");
    both_refuse(&emptied, &seg_name, "last segment emptied");

    let deleted = tmp.path().join("deleted");
    crate::old_log::copy_dir(&base, &deleted);
    std::fs::remove_file(deleted.join(&seg_name)).expect("remove");
    both_refuse(&deleted, &seg_name, "last segment deleted");
}
