//! One stream's write to the warehouse, all or nothing: [`StreamLoad`] owns the stream's
//! transaction. Its rows (merged, or appended as a snapshot), the partitions they leave
//! owed (their marks), re-read orders, rejected rows, the stream's new state and its figures go in
//! together, and nothing of it stays unless [`StreamLoad::commit`] is reached: dropped
//! before that (an error, a panic), the transaction rolls back.

use duckdb::{Connection, Transaction, params};

use super::error::{DbContext, LoadError};
use super::merge::{Deletes, MergeOutcome, RUN_TS, append_snapshot, merge, partition_expr};
use super::state::{self, RunStamp, StreamFigures, StreamState};
use crate::bot_id::BotId;
use crate::sql_files::sql_file;
use crate::streams::table::{Layout, TableSpec};

/// A stream's open transaction.
pub(crate) struct StreamLoad<'c> {
    tx: Transaction<'c>,
    spec: &'static TableSpec,
    stream: &'static str,
    bot_id: BotId,
    run: RunStamp,
}

/// An order read again by key (`/orders/{order_key}`): its status, and the email only
/// that endpoint carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OrderUpdate {
    pub order_key: String,
    pub order_status: String,
    pub member_email: Option<String>,
}

impl<'c> StreamLoad<'c> {
    /// Opens the transaction of `stream` (whose rows are staged for `spec`).
    pub(crate) fn begin(
        conn: &'c Connection,
        spec: &'static TableSpec,
        stream: &'static str,
        bot_id: BotId,
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

    /// Moves the staged rows into the table: merged by key (a full scan, `deletes`,
    /// soft-deletes what it did not see, within its guard), or appended as this run's
    /// snapshot. Marks the Parquet partitions
    /// whose rows changed.
    pub(crate) fn write_staged(
        &mut self,
        deletes: Option<Deletes<'_>>,
    ) -> Result<MergeOutcome, LoadError> {
        match self.spec.layout {
            Layout::Merged => merge(&self.tx, self.spec, self.bot_id, self.run, deletes),
            Layout::Snapshot => append_snapshot(&self.tx, self.spec, self.run),
        }
    }

    /// Applies orders re-read by key: their status may have moved on, and
    /// `member_email`, which only `/orders/{order_key}` carries, is stored (a NULL there
    /// keeps the stored one). The single-order endpoint names the gateway by code and
    /// sends no amount, so the list's display name and amount are kept. Returns how many
    /// rows it changed that the merge had not already written in this run.
    ///
    /// Set-based: the orders whose status moved on or whose email is new go into a
    /// temporary table, and a fixed handful of statements marks, counts and updates them
    /// all (a statement per order cost DuckDB a parse and plan each: about 1 s for the
    /// 50 re-reads after a bot's first full scan).
    pub(crate) fn apply_order_updates(&mut self, orders: &[OrderUpdate]) -> Result<u64, LoadError> {
        let conn: &Connection = &self.tx;
        let (bot_id, run) = (self.bot_id, self.run);
        let table = self.spec.name;
        let stored = stored_statuses(conn, table, bot_id, orders)?;
        // Only orders whose status moved on, whose email is new, or that are not in the
        // warehouse as read; one row per key (the last read wins).
        let mut moved: std::collections::BTreeMap<&str, &OrderUpdate> = Default::default();
        for o in orders.iter().filter(|o| {
            stored.get(&o.order_key).is_none_or(|(status, email)| {
                status.as_deref() != Some(o.order_status.as_str())
                    || (o.member_email.is_some() && *email != o.member_email)
            })
        }) {
            moved.insert(o.order_key.as_str(), o);
        }
        if moved.is_empty() {
            return Ok(0);
        }
        let context = || "applying re-read orders".to_string();
        conn.execute_batch(sql_file!("warehouse/reread_orders_create.sql").text)
            .during(context)?;
        {
            let mut insert = conn
                .prepare(sql_file!("warehouse/reread_orders_insert.sql").text)
                .during(context)?;
            for o in moved.values() {
                insert
                    .execute(params![o.order_key, o.order_status, o.member_email])
                    .during(context)?;
            }
        }
        // The statements below name the stream's table (its TableSpec) and the mark tables
        // (OWED_MARKS), so they are built here rather than read from sql/.
        let part = partition_expr(self.spec, "t");
        // The rows a re-read changes: a status that moved on, or a new email.
        let moved_on = "t.order_key = u.order_key AND t.bot_id = ? \
             AND (t.order_status IS DISTINCT FROM u.order_status \
             OR (u.member_email IS NOT NULL AND t.member_email IS DISTINCT FROM u.member_email))";
        let changes = format!("FROM {table} t JOIN _reread_orders u ON {moved_on}");
        for marks in super::merge::OWED_MARKS {
            conn.execute(
                &format!(
                    "INSERT OR IGNORE INTO {marks} (bot_id, table_name, partition) \
                     SELECT DISTINCT t.bot_id, '{table}', {part} {changes}"
                ),
                params![bot_id],
            )
            .during(|| "marking re-read orders' partitions".into())?;
        }
        // Rows the merge already wrote in this run count once (after a full scan, the
        // re-read adds the email to rows just inserted).
        let changed = conn
            .query_row(
                &format!("SELECT count(*) {changes} AND t._run_id IS DISTINCT FROM ?"),
                params![bot_id, run.run_id],
                |r| r.get::<_, i64>(0),
            )
            .during(|| "counting re-read orders".into())?;
        conn.execute(
            &format!(
                "UPDATE {table} AS t SET order_status = u.order_status, \
                 member_email = coalesce(u.member_email, t.member_email), \
                 _synced_at = {RUN_TS}, _run_id = ? FROM _reread_orders u WHERE {moved_on}"
            ),
            params![run.at_micros, run.run_id, bot_id],
        )
        .during(|| "updating re-read orders".into())?;
        conn.execute_batch(sql_file!("warehouse/reread_orders_drop.sql").text)
            .during(context)?;
        Ok(changed.max(0) as u64)
    }

    /// Keeps rows that could not be read, for diagnosis.
    pub(crate) fn reject(&mut self, rejects: &[(String, String)]) -> Result<(), LoadError> {
        for (reason, raw) in rejects {
            state::reject(&self.tx, self.run, self.bot_id, self.stream, reason, raw)?;
        }
        Ok(())
    }

    /// The stream's new state.
    pub(crate) fn set_state(&mut self, state: StreamState) -> Result<(), LoadError> {
        state::write_state(&self.tx, self.bot_id, self.stream, state, self.run)
    }

    /// The stream's figures in this run.
    pub(crate) fn record(&mut self, figures: &StreamFigures) -> Result<(), LoadError> {
        state::record_stream(&self.tx, self.run.run_id, self.bot_id, self.stream, figures)
    }

    /// Commits everything above at once.
    pub(crate) fn commit(self) -> Result<(), LoadError> {
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
    bot_id: BotId,
    orders: &[OrderUpdate],
) -> Result<std::collections::HashMap<String, StoredOrder>, LoadError> {
    let context = || "reading the statuses of re-read orders".to_string();
    let mut out = std::collections::HashMap::new();
    for chunk in orders.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let mut stmt = conn
            .prepare(&format!(
                "SELECT order_key, order_status, member_email FROM {table} WHERE bot_id = ? \
                 AND order_key IN ({marks})"
            ))
            .during(context)?;
        let params = std::iter::once(duckdb::types::Value::BigInt(bot_id.as_i64())).chain(
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
