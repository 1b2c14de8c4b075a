//! One stream's write to the warehouse, all or nothing: [`StreamLoad`] owns the stream's
//! transaction. Its rows (merged, or appended as a snapshot), the Parquet partitions they
//! dirty, re-read orders, rejected rows, the stream's new state and its figures go in
//! together, and nothing of it stays unless [`StreamLoad::commit`] is reached: dropped
//! before that (an error, a panic), the transaction rolls back.

use duckdb::{Connection, Transaction, params};

use super::error::{DbContext, LoadError};
use super::merge::{MergeOutcome, RUN_TS, append_snapshot, merge, partition_expr};
use super::state::{self, RunStamp, StreamFigures, StreamState};
use super::table::{Layout, TableSpec};

/// A stream's open transaction.
pub struct StreamLoad<'c> {
    tx: Transaction<'c>,
    spec: &'static TableSpec,
    stream: &'static str,
    bot_id: i64,
    run: RunStamp,
}

/// An order read again by key (`/orders/{order_key}`): its status, and the email only
/// that endpoint carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderUpdate {
    pub order_key: String,
    pub order_status: String,
    pub member_email: Option<String>,
}

impl<'c> StreamLoad<'c> {
    /// Opens the transaction of `stream` (whose rows are staged for `spec`).
    pub fn begin(
        conn: &'c Connection,
        spec: &'static TableSpec,
        stream: &'static str,
        bot_id: i64,
        run: RunStamp,
    ) -> Result<StreamLoad<'c>, LoadError> {
        let tx = conn
            .unchecked_transaction()
            .during(|| format!("starting the {stream} transaction"))?;
        Ok(StreamLoad {
            tx,
            spec,
            stream,
            bot_id,
            run,
        })
    }

    /// Moves the staged rows into the table: merged by key (a full scan soft-deletes what
    /// it did not see), or appended as this run's snapshot. Marks the Parquet partitions
    /// whose rows changed.
    pub fn write_staged(&mut self, full_scan: bool) -> Result<MergeOutcome, LoadError> {
        match self.spec.layout {
            Layout::Merged => merge(&self.tx, self.spec, self.bot_id, self.run, full_scan),
            Layout::Snapshot => append_snapshot(&self.tx, self.spec, self.run),
        }
    }

    /// Applies orders re-read by key: their status may have moved on, and
    /// `member_email`, which only `/orders/{order_key}` carries, is stored (a NULL there
    /// keeps the stored one). The single-order endpoint names the gateway by code and
    /// sends no amount, so the list's display name and amount are kept. Returns how many
    /// rows it changed that the merge had not already written in this run.
    pub fn apply_order_updates(&mut self, orders: &[OrderUpdate]) -> Result<u64, LoadError> {
        let conn: &Connection = &self.tx;
        let (bot_id, run) = (self.bot_id, self.run);
        let table = self.spec.name;
        let part = partition_expr(self.spec, table);
        let stored = stored_statuses(conn, table, bot_id, orders)?;
        let mut changed = 0;
        // Two statements per order cost DuckDB milliseconds each: only orders whose status
        // moved on, whose email is new, or that are not in the warehouse as read go
        // through them.
        let moved = orders.iter().filter(|o| {
            stored.get(&o.order_key).is_none_or(|(status, email)| {
                status.as_deref() != Some(o.order_status.as_str())
                    || (o.member_email.is_some() && *email != o.member_email)
            })
        });
        let condition = "bot_id = ? AND order_key = ? AND (order_status IS DISTINCT FROM ? \
                         OR (CAST(? AS VARCHAR) IS NOT NULL AND member_email IS DISTINCT FROM ?))";
        for order in moved {
            let email = order.member_email.as_deref();
            conn.execute(
                &format!(
                    "INSERT OR IGNORE INTO _parquet_dirty (bot_id, table_name, partition) \
                     SELECT bot_id, '{table}', {part} FROM {table} WHERE {condition}"
                ),
                params![bot_id, order.order_key, order.order_status, email, email],
            )
            .during(|| "marking a re-fetched order's partition".into())?;
            // Rows the merge already wrote in this run count once (after a full scan, the
            // re-fetch adds the email to rows just inserted).
            changed += conn
                .query_row(
                    &format!(
                        "SELECT count(*) FROM {table} WHERE {condition} AND _run_id IS DISTINCT FROM ?"
                    ),
                    params![
                        bot_id,
                        order.order_key,
                        order.order_status,
                        email,
                        email,
                        run.run_id
                    ],
                    |r| r.get::<_, i64>(0),
                )
                .during(|| "checking a re-fetched order".into())? as u64;
            conn.execute(
                &format!(
                    "UPDATE {table} SET order_status = ?, member_email = coalesce(CAST(? AS VARCHAR), member_email), \
                     _synced_at = {RUN_TS}, _run_id = ? WHERE {condition}"
                ),
                params![
                    order.order_status,
                    email,
                    run.at_micros,
                    run.run_id,
                    bot_id,
                    order.order_key,
                    order.order_status,
                    email,
                    email
                ],
            )
            .during(|| "updating a re-fetched order".into())?;
        }
        Ok(changed)
    }

    /// Keeps rows that could not be read, for diagnosis.
    pub fn reject(&mut self, rejects: &[(String, String)]) -> Result<(), LoadError> {
        for (reason, raw) in rejects {
            state::reject(&self.tx, self.run, self.bot_id, self.stream, reason, raw)?;
        }
        Ok(())
    }

    /// The stream's new state.
    pub fn set_state(&mut self, state: StreamState) -> Result<(), LoadError> {
        state::write_state(&self.tx, self.bot_id, self.stream, state, self.run)
    }

    /// The stream's figures in this run.
    pub fn record(&mut self, figures: &StreamFigures) -> Result<(), LoadError> {
        state::record_stream(&self.tx, self.run.run_id, self.bot_id, self.stream, figures)
    }

    /// Commits everything above at once.
    pub fn commit(self) -> Result<(), LoadError> {
        let stream = self.stream;
        self.tx.commit().during(|| format!("committing {stream}"))
    }
}

/// An order's stored `(order_status, member_email)`.
type StoredOrder = (Option<String>, Option<String>);

/// The warehouse's status and email of each of `orders`, by key (one query per 500).
fn stored_statuses(
    conn: &Connection,
    table: &str,
    bot_id: i64,
    orders: &[OrderUpdate],
) -> Result<std::collections::HashMap<String, StoredOrder>, LoadError> {
    let context = || "reading the statuses of re-fetched orders".to_string();
    let mut out = std::collections::HashMap::new();
    for chunk in orders.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let mut stmt = conn
            .prepare(&format!(
                "SELECT order_key, order_status, member_email FROM {table} WHERE bot_id = ? \
                 AND order_key IN ({marks})"
            ))
            .during(context)?;
        let params = std::iter::once(duckdb::types::Value::BigInt(bot_id)).chain(
            chunk
                .iter()
                .map(|o| duckdb::types::Value::Text(o.order_key.clone())),
        );
        let rows = stmt
            .query_map(duckdb::params_from_iter(params), |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    (
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                    ),
                ))
            })
            .during(context)?;
        for row in rows {
            let (key, stored) = row.during(context)?;
            out.insert(key, stored);
        }
    }
    Ok(out)
}
