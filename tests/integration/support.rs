//! Test harness: an in-process server on 127.0.0.1:0 over a temporary data directory, the
//! real binary as a child process, and a small JSON client.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use ipledger_api::config::Config;
use ipledger_api::ops::{self, Running};
use ipledger_commands::{Clock, ManualClock, SystemClock};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The bootstrap admin token every test server is configured with (`IPLEDGER_ADMIN_TOKEN`
/// for the real binary); the default [`Client`] sends it on every request.
pub const ADMIN_TOKEN: &str = "ipl_integration-tests-admin-token";

/// A reqwest client that sends `Authorization: Bearer <token>` on every request when given
/// one, and gives up after `timeout` when given one.
pub fn http_client(token: Option<&str>, timeout: Option<Duration>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token {
        let value = format!("Bearer {token}")
            .parse()
            .expect("token is a header value");
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    client_with_headers(headers, timeout)
}

/// A reqwest client that sends `headers` on every request.
fn client_with_headers(
    headers: reqwest::header::HeaderMap,
    timeout: Option<Duration>,
) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .default_headers(headers);
    if let Some(t) = timeout {
        builder = builder.timeout(t);
    }
    builder.build().expect("client")
}

/// A JSON client bound to one server; [`Client::new`] acts as the bootstrap admin.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
}

/// A response: status, headers and the body parsed as JSON (Null when empty or not JSON).
#[derive(Debug)]
pub struct Res {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Client {
    pub fn new(base: String) -> Self {
        let http = http_client(Some(ADMIN_TOKEN), None);
        Client { base, http }
    }

    /// The same server, with `Authorization: Bearer <secret>` instead of the admin token.
    pub fn with_token(&self, secret: &str) -> Client {
        Client {
            base: self.base.clone(),
            http: http_client(Some(secret), None),
        }
    }

    /// The same server, with the secret as `X-Auth-Token: <secret>` (the keystone
    /// convention of python-melangeclient) and no Authorization header.
    pub fn with_x_auth_token(&self, secret: &str) -> Client {
        let mut headers = reqwest::header::HeaderMap::new();
        let value = secret.parse().expect("token is a header value");
        headers.insert("x-auth-token", value);
        Client {
            base: self.base.clone(),
            http: client_with_headers(headers, None),
        }
    }

    /// The same server, without any Authorization header.
    pub fn anonymous(&self) -> Client {
        Client {
            base: self.base.clone(),
            http: http_client(None, None),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends `body` as JSON (with Content-Type) when given; extra headers as pairs.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Res {
        let mut req = self.http.request(method, self.url(path));
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("request sent");
        Res::read(resp).await
    }

    pub async fn get(&self, path: &str) -> Res {
        self.send(Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Res {
        self.send(Method::POST, path, Some(&body), &[]).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Res {
        self.send(Method::PUT, path, Some(&body), &[]).await
    }

    pub async fn delete(&self, path: &str) -> Res {
        self.send(Method::DELETE, path, None, &[]).await
    }

    /// Sends raw bytes with an optional Content-Type (for malformed-input tests).
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> Res {
        let mut req = self
            .http
            .request(method, self.url(path))
            .body(body.to_string());
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        Res::read(req.send().await.expect("request sent")).await
    }
}

impl Res {
    pub async fn read(resp: reqwest::Response) -> Res {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Res {
            status,
            headers,
            text,
            json,
        }
    }
}

/// A real server in this process, over its own data directory.
pub struct TestServer {
    pub client: Client,
    pub dir: PathBuf,
    /// Its `log_dir` (`ipledger.log`, `http.log`): a temporary directory of its own, so no
    /// test writes `./logs` and a data directory holds only what the log put there.
    pub log_dir: PathBuf,
    running: Option<Running>,
    _tmp: Option<tempfile::TempDir>,
    _logs: Arc<tempfile::TempDir>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut s = TestServer::start_in(&dir, Arc::new(SystemClock)).await;
        s._tmp = Some(tmp);
        s
    }

    /// A server whose clock only moves when the test says so.
    pub async fn start_with_clock(clock: Arc<ManualClock>) -> TestServer {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut s = TestServer::start_in(&dir, clock).await;
        s._tmp = Some(tmp);
        s
    }

    pub async fn start_in(dir: &Path, clock: Arc<dyn Clock>) -> TestServer {
        TestServer::start_configured(dir, clock, |_| {}).await
    }

    /// A server over `dir` whose test configuration (admin token [`ADMIN_TOKEN`], loopback
    /// port 0, the sample DNS servers) `adjust` may change first.
    pub async fn start_configured(
        dir: &Path,
        clock: Arc<dyn Clock>,
        adjust: impl FnOnce(&mut Config),
    ) -> TestServer {
        TestServer::start_logging_to(dir, Arc::new(tempdir()), clock, adjust).await
    }

    async fn start_logging_to(
        dir: &Path,
        logs: Arc<tempfile::TempDir>,
        clock: Arc<dyn Clock>,
        adjust: impl FnOnce(&mut Config),
    ) -> TestServer {
        // The application log file is a tracing layer (global): installed once per test
        // process, as `serve` does. The stderr part is captured by the test runner.
        ops::init_logging("text");
        let mut config = Config {
            data_dir: dir.to_path_buf(),
            listen: "127.0.0.1:0".parse().unwrap(),
            dns1: Some("8.8.8.8".parse().unwrap()),
            dns2: Some("8.8.4.4".parse().unwrap()),
            admin_token: Some(ADMIN_TOKEN.into()),
            log_dir: logs.path().to_path_buf(),
            ..Config::default()
        };
        adjust(&mut config);
        let running = ops::start(&config, clock).await.expect("server starts");
        let client = Client::new(format!("http://{}", running.addr));
        TestServer {
            client,
            dir: dir.to_path_buf(),
            log_dir: config.log_dir.clone(),
            running: Some(running),
            _tmp: None,
            _logs: logs,
        }
    }

    /// Keeps the server's `log_dir` after the server is stopped (until dropped).
    pub fn log_dir_guard(&self) -> Arc<tempfile::TempDir> {
        self._logs.clone()
    }

    /// The position of the snapshot the server started from (None: a full replay).
    pub fn snapshot_loaded(&self) -> Option<u64> {
        self.running.as_ref().and_then(|r| r.snapshot_loaded)
    }

    /// The `metrics_listen` address the server bound, if configured.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.running.as_ref().and_then(|r| r.metrics_addr)
    }

    /// Stops the server (a clean shutdown: every handle on the log is released).
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }

    /// Stops the server and starts a new one over the same directory (a clean restart).
    pub async fn restart(mut self) -> TestServer {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
        let tmp = self._tmp.take();
        let mut s = TestServer::start_logging_to(
            &self.dir,
            self._logs.clone(),
            Arc::new(SystemClock),
            |_| {},
        )
        .await;
        s._tmp = tmp;
        s
    }
}

impl std::ops::Deref for TestServer {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// The `log_dir` a test gives the binary serving `data_dir`: inside the data directory's
/// temporary directory (the file log ignores a subdirectory), never `./logs`.
pub fn log_dir_of(data_dir: &Path) -> PathBuf {
    data_dir.join("logs")
}

/// The `ipledger` binary built by `scripts/test` next to this test executable.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("ipledger");
    assert!(
        bin.exists(),
        "{} is missing: build it first (scripts/test does)",
        bin.display()
    );
    bin
}

/// A child process that is killed and reaped when dropped: a failed assertion (a panic) in
/// a test must not leave an `ipledger serve` running after the test binary exits.
pub struct KillOnDrop(pub Child);

impl std::ops::Deref for KillOnDrop {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // Both fail harmlessly when the test already reaped it.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The real binary as a child process over `dir`, listening on a free loopback port.
pub struct Process {
    pub child: Child,
    pub client: Client,
    /// Its `log_dir` when it has no data directory to hold it (a PostgreSQL log).
    pub _logs: Option<tempfile::TempDir>,
}

impl Process {
    pub fn spawn(dir: &Path) -> Process {
        Process::spawn_with_env(dir, &[])
    }

    /// Like [`Process::spawn`], with more environment variables (e.g. the SMTP settings).
    pub fn spawn_with_env(dir: &Path, env: &[(&str, &str)]) -> Process {
        let logs = log_dir_of(dir);
        let dir = dir.as_os_str();
        Process::spawn_serving(&[std::ffi::OsStr::new("--data-dir"), dir], env, &logs, None)
    }

    /// The binary serving the log at `store` (`--store`: a PostgreSQL URL or `file:DIR`).
    pub fn spawn_on_store(store: &str) -> Process {
        let logs = tempdir();
        let at = logs.path().to_path_buf();
        Process::spawn_serving(
            &[std::ffi::OsStr::new("--store"), store.as_ref()],
            &[],
            &at,
            Some(logs),
        )
    }

    fn spawn_serving(
        log: &[&std::ffi::OsStr],
        env: &[(&str, &str)],
        log_dir: &Path,
        logs: Option<tempfile::TempDir>,
    ) -> Process {
        let mut child = Command::new(binary())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(log)
            .env("IPLEDGER_LOG_DIR", log_dir)
            .envs(env.iter().copied())
            .env("IPLEDGER_LOG", "warn")
            .env("IPLEDGER_ADMIN_TOKEN", ADMIN_TOKEN)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn ipledger");
        let stdout = child.stdout.take().expect("stdout");
        let line = listening_line(stdout);
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected first line from ipledger: {line:?}"))
            .to_string();
        Process {
            child,
            client: Client::new(format!("http://{addr}")),
            _logs: logs,
        }
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(mut self) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the child's stdout up to the `ipledger listening on http://...` line (earlier lines,
/// such as a generated admin token, are skipped) and returns that line.
pub fn listening_line(stdout: impl std::io::Read) -> String {
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .expect("read the child's stdout");
        if n == 0 || line.contains("http://") {
            return line;
        }
    }
}

/// Runs `ipledger <args>` to completion: (exit success, stdout, stderr).
pub fn run_cli(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(binary())
        .args(args)
        .output()
        .expect("run ipledger");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
