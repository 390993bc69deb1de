//! `ipledger backup --out FILE`: an online, consistent copy of a running server's log up to
//! one position, through `/v1/events` (an admin token). The log is append-only, so every
//! event before the head read at the start is final: the copy is the log's exact prefix at
//! that position, taken while writes go on. Written as JSON lines of envelopes to
//! `FILE.partial`, checked (positions 0..head, each line decodes) and renamed, so a FILE
//! that exists is whole. `ipledger restore` (`ops::restore`) brings it back.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use ipledger_domain::limits::EVENTS_PAGE_MAX;
use ipledger_domain::Envelope;
use serde_json::Value;

pub fn backup(url: &str, token: Option<&str>, out: &Path) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let base = url.trim_end_matches('/').to_string();
    let partial = out.with_extension("partial");
    let head = rt.block_on(async {
        let client = reqwest::Client::new();
        let get = |path: String| {
            let mut req = client.get(format!("{base}{path}"));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req
        };
        let health: Value = get("/healthz".into())
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let head = health["events"]
            .as_u64()
            .context("/healthz gave no event count")?;
        let mut file = std::io::BufWriter::new(std::fs::File::create(&partial)?);
        let mut next = 0u64;
        while next < head {
            let page: Value = get(format!("/v1/events?from={next}&limit={EVENTS_PAGE_MAX}"))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let events = page["events"].as_array().context("no events in the page")?;
            anyhow::ensure!(!events.is_empty(), "the log ends at {next}, before {head}");
            for e in events {
                let env: Envelope = serde_json::from_value(e.clone())
                    .with_context(|| format!("event at {next} does not decode"))?;
                if env.position >= head {
                    break;
                }
                anyhow::ensure!(
                    env.position == next,
                    "expected position {next}, got {}",
                    env.position
                );
                serde_json::to_writer(&mut file, &env)?;
                file.write_all(b"\n")?;
                next += 1;
            }
        }
        file.flush()?;
        file.get_ref().sync_all()?;
        anyhow::Ok(head)
    })?;
    let copied = check(&partial)?;
    anyhow::ensure!(copied == head, "the copy holds {copied} events, not {head}");
    std::fs::rename(&partial, out)?;
    println!(
        "backup of {head} events (positions 0..{head}) written to {}",
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The envelopes of a backup file, checked: every line decodes, positions are 0, 1, 2, ...
pub fn read(file: &Path) -> anyhow::Result<Vec<Envelope>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let env: Envelope = serde_json::from_str(line)
            .with_context(|| format!("line {} does not decode", i + 1))?;
        anyhow::ensure!(
            env.position == i as u64,
            "line {} holds position {}",
            i + 1,
            env.position
        );
        out.push(env);
    }
    Ok(out)
}

fn check(file: &Path) -> anyhow::Result<u64> {
    Ok(read(file)?.len() as u64)
}
