//! `GET /metrics` (Admin) and the public `metrics_listen` listener: read the running
//! service's gauges and render the registry of `crate::metrics`.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::app::App;
use crate::kit::{Answer, Body, Call, Resp};
use crate::metrics::{BlockUse, Gauges, CONTENT_TYPE, TOP_BLOCKS};

/// The gauges as the service stands: the log's progress, the writer's queue, the outbox's
/// backlog and the [`TOP_BLOCKS`] largest blocks' utilization (one pass over the blocks of
/// one published version).
fn gauges(app: &App) -> Gauges {
    let (position, head, _) = crate::admin::health::progress(app);
    let views = app.writer.views().read();
    let mut largest: Vec<_> = views.all_blocks().collect();
    let n = TOP_BLOCKS.min(largest.len());
    if n > 0 && n < largest.len() {
        largest.select_nth_unstable_by(n - 1, |a, b| b.free.size().cmp(&a.free.size()));
    }
    let largest_blocks = largest[..n]
        .iter()
        .map(|b| BlockUse {
            block_id: b.record.id.to_string(),
            cidr: b.record.cidr.to_string(),
            tenant: b.record.tenant_id.clone(),
            ratio: b.free.used_count() as f64 / b.free.size().max(1) as f64,
        })
        .collect();
    Gauges {
        position,
        head,
        queue_depth: app.writer.queued() as u64,
        outbox_backlog: views.request_queue().owed.len() as u64,
        webhook_backlog: views
            .webhooks()
            .map(|w| head.saturating_sub(w.delivered_to))
            .sum(),
        webhooks_failing: app.webhooks.failing_count() as u64,
        logs: app.logs.counts(),
        blocks: views.block_count() as u64,
        largest_blocks,
    }
}

fn render(app: &App) -> String {
    app.metrics.render(&gauges(app))
}

/// `GET /metrics` on the main address (an Admin row).
/// `GET /metrics`: the Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "admin",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
pub async fn scrape(c: Call<'_>) -> Answer {
    Ok(Resp {
        status: warp::http::StatusCode::OK,
        body: Body::Text {
            content_type: CONTENT_TYPE,
            text: render(c.app),
        },
    })
}

/// Longest request head the public metrics listener reads.
const HEAD_BYTES_MAX: usize = 8192;
/// How long it waits for that head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// The `metrics_listen` address: answers `GET /metrics` to anyone (404 to anything else),
/// one request per connection, until `stop` resolves. Kept apart from the main server so a
/// scraper needs no token and the API no open route.
pub async fn serve_public(
    app: App,
    listener: tokio::net::TcpListener,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let mut stop = std::pin::pin!(stop);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => { tokio::time::sleep(Duration::from_millis(20)).await; continue; }
            },
            () = &mut stop => return,
        };
        let app = app.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(HEAD_TIMEOUT, answer_public(app, stream)).await;
        });
    }
}

async fn answer_public(app: App, mut stream: tokio::net::TcpStream) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < HEAD_BYTES_MAX {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let wanted = line.starts_with(b"GET /metrics") && matches!(line.get(12), Some(b' ' | b'?'));
    let (status, content_type, body) = if wanted {
        ("200 OK", CONTENT_TYPE, render(&app))
    } else {
        (
            "404 Not Found",
            "text/plain",
            "only GET /metrics here\n".into(),
        )
    };
    let answer = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(answer.as_bytes()).await?;
    stream.shutdown().await
}
