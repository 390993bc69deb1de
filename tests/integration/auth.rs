//! Access tokens over real HTTP (issue 3 item 10, decision 24): issuing, listing and revoking
//! tokens, hash-only storage, 401/403 with Melange's fault body, the actor named in the log,
//! the bootstrap admin token of a first start (the real binary), and `--insecure-no-auth`.
//! Route-by-route isolation lives in `isolation.rs`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use ipledger_commands::SystemClock;
use serde_json::{json, Value};

use crate::support::{binary, http_client, Client, KillOnDrop, Res, TestServer};

const TOKENS: &str = "/v1/auth/tokens";

/// Asserts the status and Melange's fault shape under `name`; returns the detail.
fn fault(r: &Res, status: u16, name: &str) -> String {
    assert_eq!(r.status, status, "unexpected status; body: {}", r.text);
    let inner = &r.json[name];
    assert_eq!(inner["code"], status, "fault body: {}", r.text);
    assert!(inner["message"].is_string(), "fault body: {}", r.text);
    inner["detail"].as_str().unwrap_or_default().to_string()
}

/// A 401 carries the fault body and `WWW-Authenticate: Bearer`.
fn unauthorized(r: &Res) {
    fault(r, 401, "Unauthorized");
    let challenge = r
        .headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok());
    assert!(
        challenge.is_some_and(|c| c.starts_with("Bearer")),
        "WWW-Authenticate: {challenge:?}"
    );
}

fn forbidden(r: &Res) {
    fault(r, 403, "Forbidden");
}

/// Issues a token as admin; returns (id, secret).
async fn issue(admin: &Client, name: &str, role: &str) -> (String, String) {
    let r = admin
        .post(TOKENS, json!({"name": name, "role": role}))
        .await;
    assert_eq!(r.status, 201, "issue {name}: {}", r.text);
    let t = &r.json["token"];
    (
        t["id"].as_str().expect("id").to_string(),
        t["secret"].as_str().expect("secret").to_string(),
    )
}

fn blocks(tenant: &str) -> String {
    format!("/v0.1/ipam/tenants/{tenant}/ip_blocks")
}

fn block_body(cidr: &str) -> Value {
    json!({"ip_block": {"type": "private", "cidr": cidr}})
}

#[tokio::test]
async fn a_token_is_issued_listed_and_revoked() {
    let srv = TestServer::start().await;
    let r = srv
        .post(TOKENS, json!({"name": "ci", "role": "tenant:acme"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let token = r.json["token"].clone();
    let keys: Vec<&str> = token
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 5, "{token}");
    assert_eq!(token["name"], "ci");
    assert_eq!(token["role"], "tenant:acme");
    assert!(
        token["created_at"].as_str().is_some_and(|t| t.len() == 19),
        "{token}"
    );
    let (id, secret) = (
        token["id"].as_str().unwrap(),
        token["secret"].as_str().unwrap(),
    );
    assert!(secret.len() >= 32, "a long random secret: {secret}");

    let tenant = srv.with_token(secret);
    assert_eq!(tenant.get(&blocks("acme")).await.status, 200);

    let listed = srv.get(TOKENS).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(
        listed.json["tokens"],
        json!([{"id": id, "name": "ci", "role": "tenant:acme", "created_at": token["created_at"]}])
    );
    assert!(
        !listed.text.contains(secret),
        "the list never shows a secret"
    );

    let revoked = srv.delete(&format!("{TOKENS}/{id}")).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert!(
        revoked.text.is_empty(),
        "empty body on delete: {}",
        revoked.text
    );
    unauthorized(&tenant.get(&blocks("acme")).await);
    assert_eq!(srv.get(TOKENS).await.json["tokens"], json!([]));
    assert!(fault(
        &srv.delete(&format!("{TOKENS}/{id}")).await,
        404,
        "NotFound"
    )
    .contains("Token"));
    fault(
        &srv.delete(&format!("{TOKENS}/not-a-uuid")).await,
        404,
        "NotFound",
    );
}

#[tokio::test]
async fn the_token_list_is_paginated() {
    let srv = TestServer::start().await;
    for name in ["a", "b", "c"] {
        issue(&srv, name, "agent").await;
    }
    let first = srv.get(&format!("{TOKENS}?limit=2")).await;
    let names: Vec<&str> = first.json["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
    let next = first.json["tokens_links"][0]["href"]
        .as_str()
        .expect("next link");
    let marker = next.split("marker=").nth(1).expect("marker");
    let rest = srv.get(&format!("{TOKENS}?limit=2&marker={marker}")).await;
    assert_eq!(rest.json["tokens"][0]["name"], "c");
    assert!(rest.json.get("tokens_links").is_none());
    fault(
        &srv.get(&format!("{TOKENS}?limit=0")).await,
        400,
        "BadRequest",
    );
}

/// Every file under `dir`, concatenated: the whole stored state of a server.
fn stored_bytes(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("data dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(stored_bytes(&path));
        } else {
            out.extend(std::fs::read(&path).unwrap_or_default());
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn only_a_digest_of_the_secret_is_stored() {
    let srv = TestServer::start().await;
    let r = srv
        .send(
            reqwest::Method::POST,
            TOKENS,
            Some(&json!({"name": "ci", "role": "admin"})),
            &[("idempotency-key", "k1")],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let secret = r.json["token"]["secret"]
        .as_str()
        .expect("secret")
        .to_string();
    let stored = stored_bytes(&srv.dir);
    assert!(
        !contains(&stored, &secret),
        "the secret is in the data directory"
    );
    // The search itself works: the name and the digest are there.
    assert!(contains(&stored, "ci"));
    let digest = sha256_hex(&secret);
    assert!(contains(&stored, &digest), "the digest is stored");
    // An idempotent retry answers from the recorded reply, which never had the secret.
    let retry = srv
        .send(
            reqwest::Method::POST,
            TOKENS,
            Some(&json!({"name": "ci", "role": "admin"})),
            &[("idempotency-key", "k1")],
        )
        .await;
    assert_eq!(retry.status, 201, "{}", retry.text);
    assert_eq!(retry.json["token"]["id"], r.json["token"]["id"]);
    assert!(
        retry.json["token"].get("secret").is_none(),
        "{}",
        retry.text
    );
    assert_eq!(srv.with_token(&secret).get(TOKENS).await.status, 200);
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

#[tokio::test]
async fn bad_token_requests_are_refused() {
    let srv = TestServer::start().await;
    issue(&srv, "ci", "agent").await;
    let r = srv
        .post(TOKENS, json!({"name": "ci", "role": "admin"}))
        .await;
    assert!(fault(&r, 409, "Conflict").contains("ci"), "{}", r.text);
    let r = srv.post(TOKENS, json!({"name": "x", "role": "root"})).await;
    fault(&r, 400, "BadRequest");
    assert!(
        r.json["BadRequest"]["errors"]["role"].is_array(),
        "{}",
        r.text
    );
    for role in ["tenant:", "tenant:a/b", "Admin", ""] {
        let r = srv.post(TOKENS, json!({"name": "y", "role": role})).await;
        fault(&r, 400, "BadRequest");
    }
    let r = srv.post(TOKENS, json!({"role": "admin"})).await;
    assert!(
        r.json["BadRequest"]["errors"]["name"].is_array(),
        "{}",
        r.text
    );
    fault(
        &srv.post(
            TOKENS,
            json!({"name": "z", "role": "admin", "secret": "mine"}),
        )
        .await,
        400,
        "BadRequest",
    );
    fault(
        &srv.post(TOKENS, json!({"name": "admin-bootstrap", "role": "admin"}))
            .await,
        409,
        "Conflict",
    );
    fault(
        &srv.raw(reqwest::Method::POST, TOKENS, Some("text/plain"), "{}")
            .await,
        415,
        "UnsupportedMediaType",
    );
    fault(
        &srv.raw(reqwest::Method::POST, TOKENS, Some("application/json"), "{")
            .await,
        400,
        "BadRequest",
    );
    fault(
        &srv.raw(reqwest::Method::POST, TOKENS, Some("application/json"), "")
            .await,
        400,
        "BadRequest",
    );
    fault(&srv.put(TOKENS, json!({})).await, 405, "MethodNotAllowed");
}

#[tokio::test]
async fn requests_without_a_valid_token_are_401() {
    let srv = TestServer::start().await;
    let (id, secret) = issue(&srv, "ci", "admin").await;
    let path = blocks("acme");
    unauthorized(&srv.anonymous().get(&path).await);
    unauthorized(&srv.anonymous().post(&path, block_body("10.0.0.0/24")).await);
    unauthorized(&srv.with_token("ipl_wrong").get(&path).await);
    unauthorized(&srv.with_token(&format!("{secret}x")).get(TOKENS).await);
    let basic = srv
        .anonymous()
        .send(
            reqwest::Method::GET,
            &path,
            None,
            &[("authorization", "Basic YWRtaW46YWRtaW4=")],
        )
        .await;
    unauthorized(&basic);
    let empty = srv
        .anonymous()
        .send(
            reqwest::Method::GET,
            &path,
            None,
            &[("authorization", "Bearer")],
        )
        .await;
    unauthorized(&empty);
    // The scheme is case-insensitive (RFC 7235).
    let lower = srv
        .anonymous()
        .send(
            reqwest::Method::GET,
            &path,
            None,
            &[("authorization", &format!("bearer {secret}"))],
        )
        .await;
    assert_eq!(lower.status, 200, "{}", lower.text);
    srv.delete(&format!("{TOKENS}/{id}")).await;
    unauthorized(&srv.with_token(&secret).get(&path).await);
    // Nothing was created by the refused requests.
    assert_eq!(srv.get(&path).await.json["ip_blocks"], json!([]));
}

#[tokio::test]
async fn a_tenant_token_is_confined_to_its_tenant_paths() {
    let srv = TestServer::start().await;
    let (_, acme) = issue(&srv, "acme-ci", "tenant:acme").await;
    let acme = srv.with_token(&acme);
    let r = acme.post(&blocks("acme"), block_body("10.0.0.0/24")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let block = r.json["ip_block"]["id"].as_str().unwrap().to_string();
    forbidden(&acme.get(&blocks("globex")).await);
    forbidden(
        &acme
            .post(&blocks("globex"), block_body("10.1.0.0/24"))
            .await,
    );
    for admin_only in [TOKENS, "/v1/events", "/v0.1/ipam/allocated_ip_addresses"] {
        forbidden(&acme.get(admin_only).await);
    }
    forbidden(
        &acme
            .post(TOKENS, json!({"name": "escalate", "role": "admin"}))
            .await,
    );
    // Another tenant's object under that tenant's own path is simply not there.
    let (_, globex) = issue(&srv, "globex-ci", "tenant:globex").await;
    let r = srv
        .with_token(&globex)
        .get(&format!("{}/{block}", blocks("globex")))
        .await;
    fault(&r, 404, "NotFound");
    // Public routes need no token and ignore the role.
    for public in ["/", "/healthz", "/v0.1", "/v0.1/extensions"] {
        assert_eq!(srv.anonymous().get(public).await.status, 200, "{public}");
        assert_eq!(acme.get(public).await.status, 200, "{public}");
    }
}

#[tokio::test]
async fn an_agent_token_may_not_call_melange_routes() {
    let srv = TestServer::start().await;
    let (_, agent) = issue(&srv, "agent-1", "agent").await;
    let agent = srv.with_token(&agent);
    forbidden(&agent.get(&blocks("acme")).await);
    forbidden(&agent.post(&blocks("acme"), block_body("10.0.0.0/24")).await);
    forbidden(&agent.get("/v0.1/ipam/allocated_ip_addresses").await);
    forbidden(&agent.get(TOKENS).await);
    assert_eq!(agent.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_404_and_405_before_auth() {
    let srv = TestServer::start().await;
    let anon = srv.anonymous();
    fault(&anon.get("/v0.1/ipam/nowhere").await, 404, "NotFound");
    fault(&anon.get("/v2").await, 404, "NotFound");
    let patch = anon
        .send(reqwest::Method::PATCH, &blocks("acme"), None, &[])
        .await;
    fault(&patch, 405, "MethodNotAllowed");
    fault(&anon.delete("/healthz").await, 405, "MethodNotAllowed");
}

/// The actor of the events in `stream`, read as admin.
async fn actors(srv: &TestServer, stream: &str) -> Vec<String> {
    let r = srv.get(&format!("/v1/events?stream={stream}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["actor"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn the_token_name_is_the_actor_and_scopes_idempotency_keys() {
    let srv = TestServer::start().await;
    let (_, secret) = issue(&srv, "acme-ci", "tenant:acme").await;
    let acme = srv.with_token(&secret);
    let key = [("idempotency-key", "same-key")];
    let path = blocks("acme");
    let mine = acme
        .send(
            reqwest::Method::POST,
            &path,
            Some(&block_body("10.0.0.0/24")),
            &key,
        )
        .await;
    assert_eq!(mine.status, 201, "{}", mine.text);
    // The same key from another actor is another key: not a replay, not a 422.
    let admins = srv
        .send(
            reqwest::Method::POST,
            &path,
            Some(&block_body("10.9.0.0/24")),
            &key,
        )
        .await;
    assert_eq!(admins.status, 201, "{}", admins.text);
    assert_ne!(mine.json["ip_block"]["id"], admins.json["ip_block"]["id"]);
    let stream = |r: &Res| format!("block-{}", r.json["ip_block"]["id"].as_str().unwrap());
    assert_eq!(actors(&srv, &stream(&mine)).await, ["acme-ci"]);
    assert_eq!(actors(&srv, &stream(&admins)).await, ["admin-bootstrap"]);
    assert_eq!(actors(&srv, "auth-tokens").await, ["admin-bootstrap"]);
}

#[tokio::test]
async fn insecure_no_auth_lets_anyone_act_as_admin() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let srv = TestServer::start_configured(tmp.path(), Arc::new(SystemClock), |c| {
        c.admin_token = None;
        c.insecure_no_auth = true;
    })
    .await;
    let anon = srv.anonymous();
    let r = anon.post(&blocks("acme"), block_body("10.0.0.0/24")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        anon.get(TOKENS).await.json["tokens"],
        json!([]),
        "no bootstrap token without auth"
    );
    let stream = format!("block-{}", r.json["ip_block"]["id"].as_str().unwrap());
    assert_eq!(actors(&srv, &stream).await, ["anonymous"]);
}

#[test]
fn the_config_file_can_hold_the_admin_token() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("ipledger.toml");
    std::fs::write(
        &path,
        "admin_token = \"from-the-file-0123456789abcdefghijkl\"\n",
    )
    .expect("write config");
    let config = ipledger_api::config::Config::load(Some(&path)).expect("config loads");
    // The environment wins over the file; the test environment may set it for the binary.
    let expected = std::env::var("IPLEDGER_ADMIN_TOKEN")
        .ok()
        .filter(|v| !v.is_empty());
    assert_eq!(
        config.admin_token.as_deref(),
        Some(
            expected
                .as_deref()
                .unwrap_or("from-the-file-0123456789abcdefghijkl")
        )
    );
    assert!(!config.insecure_no_auth);
}

// ---------------------------------------------------------------------------------------
// The real binary: bootstrap token on first start, --insecure-no-auth.
// ---------------------------------------------------------------------------------------

/// `ipledger serve` over `dir` without any configured admin token; returns the child, the
/// stdout lines before the listening line, and a client without a token.
fn serve_unconfigured(dir: &Path, extra: &[&str]) -> (KillOnDrop, Vec<String>, String) {
    let mut child = KillOnDrop(
        Command::new(binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .args(extra)
            .env("IPLEDGER_LOG_DIR", crate::support::log_dir_of(dir))
            .env_remove("IPLEDGER_ADMIN_TOKEN")
            .env("IPLEDGER_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ipledger"),
    );
    let stdout = child.stdout.take().expect("stdout");
    let mut before = Vec::new();
    let mut reader = std::io::BufReader::new(stdout);
    let listening = loop {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut reader, &mut line).expect("stdout");
        assert!(n > 0, "ipledger exited before listening; lines: {before:?}");
        if line.contains("http://") {
            break line;
        }
        before.push(line.trim_end().to_string());
    };
    let addr = listening
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("address");
    (child, before, format!("http://{addr}"))
}

/// SIGTERM, wait, and return what the child wrote on stderr.
fn stop(mut child: KillOnDrop) -> String {
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    // Read to the end first (it closes at exit), so a full pipe cannot block the exit.
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        std::io::Read::read_to_string(&mut err, &mut stderr).expect("stderr");
    }
    child.wait().expect("wait");
    stderr
}

fn client(base: &str, token: Option<&str>) -> Client {
    Client {
        base: base.to_string(),
        http: http_client(token, Some(std::time::Duration::from_secs(15))),
    }
}

#[tokio::test]
async fn the_first_start_prints_a_bootstrap_token_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (child, lines, base) = serve_unconfigured(tmp.path(), &[]);
    let prefix = "admin token (shown once): ";
    let secret = lines
        .iter()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no token line in {lines:?}"))
        .to_string();
    let admin = client(&base, Some(&secret));
    let listed = admin.get(TOKENS).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.json["tokens"][0]["name"], "bootstrap-admin");
    assert_eq!(listed.json["tokens"][0]["role"], "admin");
    unauthorized(&client(&base, None).get(TOKENS).await);
    stop(child);
    assert!(
        !contains(&stored_bytes(tmp.path()), &secret),
        "only the digest is stored"
    );

    let (child, lines, base) = serve_unconfigured(tmp.path(), &[]);
    assert!(
        lines.iter().all(|l| !l.contains("admin token")),
        "a second start prints no token: {lines:?}"
    );
    let again = client(&base, Some(&secret)).get(TOKENS).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(
        again.json["tokens"].as_array().map(Vec::len),
        Some(1),
        "{}",
        again.text
    );
    stop(child);
}

#[tokio::test]
async fn insecure_no_auth_is_explicit_and_warned_about() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (child, lines, base) = serve_unconfigured(tmp.path(), &["--insecure-no-auth"]);
    assert!(
        lines.iter().all(|l| !l.contains("admin token")),
        "{lines:?}"
    );
    let r = client(&base, None).get("/v1/events").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let stderr = stop(child);
    assert!(stderr.contains("AUTHENTICATION IS OFF"), "stderr: {stderr}");
    assert!(stderr.contains("WARN"), "a warning: {stderr}");
}
