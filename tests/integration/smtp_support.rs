//! A real SMTP server for the notification tests: Debian's aiosmtpd (`python3-aiosmtpd`, run
//! with the system `/usr/bin/python3`, installed by `scripts/install-test-deps`) listening on
//! 127.0.0.1, delivering every mail into a Maildir the test reads.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ipledger_api::config::SmtpConfig;
use ipledger_infra::mail::{SmtpSettings, SmtpTls};

pub const SUPPORT: &str = "support@example.com";
pub const FROM: &str = "ipledger@example.com";
const PYTHON: &str = "/usr/bin/python3";

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

pub struct SmtpServer {
    pub port: u16,
    maildir: PathBuf,
    child: Option<Child>,
    _tmp: tempfile::TempDir,
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut s = SmtpServer {
            port: free_port(),
            maildir: tmp.path().join("mail"),
            child: None,
            _tmp: tmp,
        };
        s.run();
        s
    }

    /// Starts (again) on the same port and Maildir.
    pub fn run(&mut self) {
        let listen = format!("127.0.0.1:{}", self.port);
        let child = Command::new(PYTHON)
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &listen,
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(&self.maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start aiosmtpd (scripts/install-test-deps installs python3-aiosmtpd)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&listen).is_err() {
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on {listen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Every mail received so far (raw RFC 5322 text), in no particular order.
    pub fn mails(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .collect()
    }

    /// Waits until at least `n` mails arrived; returns them all.
    pub async fn wait_for(&self, n: usize, seconds: u64) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            let mails = self.mails();
            if mails.len() >= n || Instant::now() > deadline {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn config(&self) -> SmtpConfig {
        SmtpConfig {
            server: SmtpSettings {
                host: "127.0.0.1".into(),
                port: self.port,
                from: FROM.into(),
                username: None,
                password: None,
                tls: SmtpTls::None,
                timeout_seconds: 5,
            },
            support_email: Some(SUPPORT.into()),
        }
    }

    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("IPLEDGER_SMTP_HOST", "127.0.0.1".into()),
            ("IPLEDGER_SMTP_PORT", self.port.to_string()),
            ("IPLEDGER_SMTP_FROM", FROM.into()),
            ("IPLEDGER_SUPPORT_EMAIL", SUPPORT.into()),
        ]
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The mails sent to `to` whose subject contains `subject`.
pub fn matching<'a>(mails: &'a [String], to: &str, subject: &str) -> Vec<&'a String> {
    mails
        .iter()
        .filter(|m| {
            m.lines().any(|l| l.starts_with("To:") && l.contains(to))
                && m.lines()
                    .any(|l| l.starts_with("Subject:") && l.contains(subject))
        })
        .collect()
}
