//! The log's tables, created and migrated by the binary. Each migration is a numbered SQL
//! script applied once, in order, and recorded in `schema_migrations`; a released script is
//! never edited (a change is a new one). Migrating runs in one transaction under the log's
//! advisory lock, so nodes starting together migrate once, and no append runs meanwhile.

use super::db;
use crate::StoreError;

/// `(version, name, script)`; `{s}` is the quoted schema name.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "events",
        "CREATE TABLE {s}.events (
        position        bigint      PRIMARY KEY CHECK (position >= 0),
        stream          text        NOT NULL,
        version         bigint      NOT NULL CHECK (version >= 0),
        event_type      text        NOT NULL,
        event_version   integer     NOT NULL,
        payload         bytea       NOT NULL,
        event_id        uuid        NOT NULL,
        recorded_at     timestamptz NOT NULL,
        actor           text        NOT NULL,
        correlation_id  text,
        idempotency_key text,
        chain_hash      bytea,
        UNIQUE (stream, version)
    )",
    ),
    (
        2,
        "chain",
        // From here on every row carries its chain hash (issue 11 item 6), so the rows without
        // one are the log's start: this index finds where the chain begins without a scan. The
        // version also keeps binaries that write no hash away from a chained log.
        "CREATE INDEX events_unchained ON {s}.events (position) WHERE chain_hash IS NULL",
    ),
];

/// The newest schema version this binary knows.
pub const SCHEMA_VERSION: i32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// Creates the schema and applies the migrations it lacks. Refuses a schema migrated by a
/// newer binary: this one would not know its columns.
pub(super) async fn migrate(
    client: &mut deadpool_postgres::Client,
    schema: &str,
    lock_key: i64,
) -> Result<(), StoreError> {
    let s = format!("\"{schema}\"");
    let tx = client.transaction().await.map_err(db)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key])
        .await
        .map_err(db)?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {s};
         CREATE TABLE IF NOT EXISTS {s}.schema_migrations (
             version    integer     PRIMARY KEY,
             name       text        NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         );"
    ))
    .await
    .map_err(db)?;
    let row = tx
        .query_one(
            &format!("SELECT coalesce(max(version), 0) FROM {s}.schema_migrations"),
            &[],
        )
        .await
        .map_err(db)?;
    let at: i32 = row.get(0);
    if at > SCHEMA_VERSION {
        return Err(StoreError::Database(format!(
            "schema {schema} is at version {at}, newer than this binary's {SCHEMA_VERSION}: upgrade ipledger"
        )));
    }
    for (version, name, script) in MIGRATIONS.iter().filter(|(v, _, _)| *v > at) {
        tx.batch_execute(&script.replace("{s}", &s))
            .await
            .map_err(|e| StoreError::Database(format!("migration {version} ({name}): {e}")))?;
        tx.execute(
            &format!("INSERT INTO {s}.schema_migrations (version, name) VALUES ($1, $2)"),
            &[version, name],
        )
        .await
        .map_err(db)?;
        tracing::info!(schema, version, name, "event store schema migrated");
    }
    tx.commit().await.map_err(db)
}
