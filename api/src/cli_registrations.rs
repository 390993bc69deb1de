//! `ipledger registrations ...`: the original ipam-cli's commands as a client of a running
//! server (`--url`/`IPLEDGER_URL`, `--token`/`IPLEDGER_TOKEN`, an admin token), over the
//! registration routes. Tables for people, `--json` for scripts. `show-secret` is
//! `check-secret`: a secret is stored as a keyed hash and cannot be shown.

use std::process::ExitCode;

use anyhow::Context;
use serde_json::{json, Value};

use crate::cli::RegistrationCmd;

pub fn run(
    url: &str,
    token: Option<&str>,
    as_json: bool,
    cmd: RegistrationCmd,
) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let base = url.trim_end_matches('/').to_string();
    let (method, path, body) = request(&cmd);
    let answer = rt.block_on(async {
        let client = reqwest::Client::new();
        let mut req = client.request(method, format!("{base}{path}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("reaching {base}"))?;
        let status = resp.status();
        let text = resp.text().await?;
        anyhow::Ok((status, text))
    })?;
    let (status, text) = answer;
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
    if !status.is_success() {
        eprintln!("ipledger: the server answered {status}: {text}");
        return Ok(ExitCode::FAILURE);
    }
    if as_json {
        println!("{value}");
    } else {
        print!("{}", table(&cmd, &value));
    }
    // A secret that does not open the registration fails the command, for scripts.
    let refused = matches!(cmd, RegistrationCmd::CheckSecret { .. }) && value["opens"] != true;
    Ok(if refused {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn request(cmd: &RegistrationCmd) -> (reqwest::Method, String, Option<Value>) {
    use reqwest::Method;
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let bare = |a: &str| {
        a.trim_end_matches("/32")
            .trim_end_matches("/128")
            .to_string()
    };
    match cmd {
        RegistrationCmd::ShowServices { zone, address } => {
            let mut q = format!("/v1/registrations?zone={}", enc(zone));
            if let Some(a) = address {
                q.push_str(&format!("&address={}", enc(&bare(a))));
            }
            (Method::GET, q, None)
        }
        RegistrationCmd::DeleteService {
            zone,
            address,
            service_name,
            namespace_id,
            cluster_id,
        } => (
            Method::POST,
            format!("/v1/registrations/{zone}/{}/services/expire", bare(address)),
            Some(
                json!({"service_name": service_name, "namespace_id": namespace_id, "cluster_id": cluster_id}),
            ),
        ),
        RegistrationCmd::DeleteCluster { cluster_id } => (
            Method::POST,
            format!("/v1/registrations/clusters/{cluster_id}/expire"),
            Some(json!({})),
        ),
        RegistrationCmd::ReplaceSecret {
            zone,
            address,
            new_secret,
        } => (
            Method::PUT,
            format!("/v1/registrations/{zone}/{}/secret", bare(address)),
            Some(json!({"new_secret": new_secret})),
        ),
        RegistrationCmd::CheckSecret {
            zone,
            address,
            secret,
        } => (
            Method::POST,
            format!("/v1/registrations/{zone}/{}/check-secret", bare(address)),
            Some(json!({"secret": secret})),
        ),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// Columns padded to their widest cell.
fn render(rows: Vec<Vec<String>>) -> String {
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn table(cmd: &RegistrationCmd, v: &Value) -> String {
    match cmd {
        RegistrationCmd::ShowServices { .. } => {
            let mut rows = vec![[
                "ZONE",
                "ADDRESS",
                "SERVICE",
                "NAMESPACE",
                "CLUSTER",
                "RETENTION",
                "DENY_CLEANUP",
                "EXPIRES",
            ]
            .map(String::from)
            .to_vec()];
            for r in v["registrations"].as_array().into_iter().flatten() {
                for s in r["services"].as_array().into_iter().flatten() {
                    rows.push(vec![
                        text(&r["zone"]),
                        text(&r["address"]),
                        text(&s["service_name"]),
                        text(&s["namespace_id"]),
                        text(&s["cluster_id"]),
                        text(&s["retention_period_days"]),
                        text(&s["deny_external_cleanup"]),
                        text(&s["expires_at"]),
                    ]);
                }
            }
            render(rows)
        }
        RegistrationCmd::DeleteService { .. } | RegistrationCmd::DeleteCluster { .. } => {
            let mut rows = vec![["RESULT", "ZONE", "ADDRESS", "SERVICE", "CLUSTER"]
                .map(String::from)
                .to_vec()];
            for (kind, label) in [
                ("expired", "expired"),
                ("skipped", "skipped (deny_external_cleanup)"),
            ] {
                for s in v[kind].as_array().into_iter().flatten() {
                    rows.push(vec![
                        label.to_string(),
                        text(&s["zone"]),
                        text(&s["address"]),
                        text(&s["service_name"]),
                        text(&s["cluster_id"]),
                    ]);
                }
            }
            render(rows)
        }
        RegistrationCmd::ReplaceSecret { .. } => {
            format!("secret replaced for {}\n", text(&v["address"]))
        }
        RegistrationCmd::CheckSecret { .. } => {
            let verdict = if v["opens"] == true {
                "opens"
            } else {
                "does NOT open"
            };
            format!(
                "the secret {verdict} the registration of {} in zone {}\n",
                text(&v["address"]),
                text(&v["zone"])
            )
        }
    }
}
