//! The follower's wake-up: a task that keeps the store's head watch up to date with what
//! other nodes commit. It holds its own connection (LISTEN needs a session of its own, not a
//! pooled one) and listens on the log's channel; every append notifies the new head inside
//! its transaction, so a note arrives only once the commit is visible. Notes are not
//! durable (a dropped connection misses them), so the task also reads the head every poll
//! interval, and reconnects with the same interval while the database is away. The table
//! is the truth; the note only saves waiting.

use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};

use super::Shared;

pub(super) fn start(
    shared: Arc<Shared>,
    config: tokio_postgres::Config,
    poll: Duration,
) -> AbortOnDrop {
    let weak = Arc::downgrade(&shared);
    drop(shared);
    AbortOnDrop(tokio::spawn(run(weak, config, poll)))
}

async fn run(shared: Weak<Shared>, config: tokio_postgres::Config, poll: Duration) {
    loop {
        if let Err(e) = listen(&shared, &config, poll).await {
            tracing::debug!(error = %e, "event store follower connection lost; polling until it is back");
        }
        if shared.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(poll).await;
        // The pool's connection may work when the listener's does not: keep the head moving.
        let Some(s) = shared.upgrade() else { return };
        if let Ok(head) = s.read_head().await {
            s.advance(head);
        }
    }
}

/// One listening session: returns when its connection fails.
async fn listen(
    shared: &Weak<Shared>,
    config: &tokio_postgres::Config,
    poll: Duration,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let (notes, mut noted) = mpsc::unbounded_channel::<Option<u64>>();
    let pump = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    let _ = notes.send(n.payload().parse().ok());
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        // Dropping `notes` tells the listener the connection is gone.
    });
    let _stop_pump = AbortOnDrop(pump);
    let (channel, head_sql) = {
        let Some(s) = shared.upgrade() else {
            return Ok(());
        };
        (s.channel.clone(), s.sql.head.clone())
    };
    client
        .batch_execute(&format!("LISTEN \"{channel}\""))
        .await?;
    loop {
        // Read the head on every (re)connection and poll: notes sent while nobody listened
        // are lost.
        let head = client.query_one(&head_sql, &[]).await?.get::<_, i64>(0) as u64;
        match shared.upgrade() {
            Some(s) => s.advance(head),
            None => return Ok(()),
        }
        let deadline = tokio::time::sleep(poll);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                note = noted.recv() => match note {
                    Some(Some(head)) => match shared.upgrade() {
                        Some(s) => s.advance(head),
                        None => return Ok(()),
                    },
                    Some(None) => break,
                    // The connection ended: the next query reports why.
                    None => {
                        client.query_one("SELECT 1", &[]).await?;
                        return Ok(());
                    }
                },
            }
        }
    }
}

/// Stops a task when dropped: the follower when the last clone of the store goes, the
/// message pump when its listening session ends.
pub(super) struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
