//! The tamper-evident log (issue 11 item 6): every record written now carries SHA-256 of the
//! previous record's hash and its own bytes. A byte changed by someone who also fixed the
//! record's CRC passes every frame check, and only the chain names it: `ipledger verify`
//! must say exactly which position. `GET /v1/audit/head` gives what an auditor writes down,
//! and a log written before the chain existed keeps working, the chain starting later.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ipledger_commands::SystemClock;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::old_log::copy_dir;
use crate::support::{run_cli, TestServer};

/// Bytes before the first frame of a format-2 or format-3 segment.
const SEGMENT_HEADER: usize = 4096;
/// A frame: `[u32 length][u32 crc32c(flags + body)][u8 flags][body]`.
const FRAME_HEADER: usize = 9;

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read the data dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    found.sort();
    found
}

/// Changes one byte of the first record holding `marker` (its last byte, a letter, to
/// another letter: the record still decodes) and writes the frame's CRC for the changed
/// bytes, so that every frame check passes. Returns the record's position.
fn tamper(segment: &Path, marker: &[u8]) -> u64 {
    let mut bytes = std::fs::read(segment).expect("read the segment");
    let mut offset = SEGMENT_HEADER;
    let mut position = 0u64;
    while offset + FRAME_HEADER <= bytes.len() {
        let len = u32::from_le_bytes(bytes[offset..offset + 4].try_into().expect("4 bytes"));
        let end = offset + FRAME_HEADER + len as usize;
        let body = offset + FRAME_HEADER..end;
        if let Some(at) = bytes[body.clone()]
            .windows(marker.len())
            .position(|w| w == marker)
        {
            let byte = body.start + at + marker.len() - 1;
            bytes[byte] = if bytes[byte] == b'z' { b'y' } else { b'z' };
            let crc = crc32c::crc32c(&bytes[offset + 8..end]);
            bytes[offset + 4..offset + 8].copy_from_slice(&crc.to_le_bytes());
            std::fs::write(segment, &bytes).expect("write the segment");
            return position;
        }
        offset = end;
        position += 1;
    }
    panic!("no record holds {}", String::from_utf8_lossy(marker));
}

fn verify(dir: &Path) -> (bool, String) {
    let (ok, out, err) = run_cli(&["verify", "--data-dir", dir.to_str().expect("utf-8")]);
    (ok, format!("{out}{err}"))
}

/// A server over `dir` with nothing scheduled (no purge, no registration cleanup): the test
/// alone decides what is appended.
async fn server(dir: &Path) -> TestServer {
    TestServer::start_configured(dir, Arc::new(SystemClock), |c| {
        c.purge_interval_seconds = 0;
        c.registration_cleanup_interval_seconds = 0;
    })
    .await
}

async fn audit_head(srv: &TestServer) -> Value {
    let r = srv.get("/v1/audit/head").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_byte_changed_with_its_crc_fixed_is_named_by_verify() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let srv = server(&dir).await;
    let empty = audit_head(&srv).await;
    assert_eq!(
        empty,
        json!({"position": null, "hash": null, "chained_from": 0})
    );
    let tenant = srv
        .post(
            "/v1/auth/tokens",
            json!({"name": "t", "role": "tenant:acme"}),
        )
        .await;
    for i in 0..6 {
        let body =
            json!({"policy": {"name": format!("p{i}"), "description": format!("marker-{i}-zzz")}});
        let r = srv.post("/v0.1/ipam/tenants/acme/policies", body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let head = audit_head(&srv).await;
    let position = head["position"].as_u64().expect("a chained record");
    let hash = head["hash"].as_str().expect("its hash").to_string();
    assert_eq!(
        (head["chained_from"].as_u64(), hash.len()),
        (Some(0), 64),
        "{head}"
    );
    let secret = tenant.json["token"]["secret"].as_str().expect("secret");
    let r = srv.with_token(secret).get("/v1/audit/head").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "admins only");
    srv.stop().await;

    // Untouched, the log verifies and its chain head is the one the service answered.
    let (ok, out) = verify(&dir);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("chain: positions 0 to {position}, head {hash}")),
        "verify shows the head the service answered: {out}"
    );

    let segs = segments(&dir);
    assert_eq!(segs.len(), 1);
    let changed = tamper(&segs[0], b"marker-3-zzz");
    let (ok, out) = verify(&dir);
    assert!(!ok, "a changed record fails verify: {out}");
    assert!(
        out.contains(&format!("chain: BROKEN at position {changed}: ")),
        "verify names position {changed}: {out}"
    );
    assert!(
        out.contains(&format!("hash chain broken at position {changed}")),
        "{out}"
    );
    assert!(
        !out.contains("corrupt") && !out.contains("torn"),
        "every frame check passed: {out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_from_before_the_chain_verifies_and_the_chain_starts_at_the_next_append() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/log-v2/data");
    copy_dir(&fixture, &dir);
    let (ok, out) = verify(&dir);
    assert!(ok, "{out}");
    assert!(
        out.contains(
            "chain: none yet; all 399 records were written before the chain existed \
             (it starts at position 399, the next append)"
        ),
        "{out}"
    );

    let srv = server(&dir).await;
    assert_eq!(
        audit_head(&srv).await,
        json!({"position": null, "hash": null, "chained_from": 399})
    );
    let body = json!({"ip_block": {"type": "private", "cidr": "10.250.0.0/24"}});
    let r = srv.post("/v0.1/ipam/tenants/acme/ip_blocks", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let head = audit_head(&srv).await;
    assert_eq!(head["chained_from"], json!(399), "{head}");
    let last = head["position"].as_u64().expect("chained now");
    let hash = head["hash"].as_str().expect("hash").to_string();
    srv.stop().await;

    // The old segment stays as it was; the chain lives in a new one.
    assert_eq!(segments(&dir).len(), 2);
    let (ok, out) = verify(&dir);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!(
            "chain: positions 399 to {last}, head {hash}; positions 0 to 398 were written \
             before the chain existed (unchained)"
        )),
        "{out}"
    );
}
