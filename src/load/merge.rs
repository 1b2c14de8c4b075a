//! Staging and merging one stream: batches are appended to a temporary staging table as
//! pages arrive (memory stays bounded), then one merge upserts the changed rows, soft-
//! deletes what a full scan no longer returned, and marks the Parquet partitions whose
//! rows changed, all inside the caller's transaction.
//!
//! Unchanged rows are compared column by column and not written at all, so a run with no
//! changes writes nothing to DuckDB and rewrites no Parquet.

use duckdb::{Connection, params};

use super::batch::BatchWriter;
use super::error::{DbContext, LoadError};
use super::state::RunStamp;
use super::table::TableSpec;

/// SQL for "this run's timestamp" from a microseconds parameter (generated statements;
/// the ones in `sql/` spell it out).
pub(super) const RUN_TS: &str = "make_timestamp(?)::TIMESTAMPTZ";

/// Appends rows of one table to its staging table, a batch at a time.
pub struct Stager<'c> {
    conn: &'c Connection,
    spec: &'static TableSpec,
    writer: BatchWriter,
    batch_rows: usize,
    next_seq: i64,
}

impl<'c> Stager<'c> {
    /// Creates (or empties) the staging table.
    pub fn new(
        conn: &'c Connection,
        spec: &'static TableSpec,
        batch_rows: usize,
    ) -> Result<Stager<'c>, LoadError> {
        conn.execute_batch(&spec.stage_ddl())
            .during(|| format!("creating staging table for {}", spec.name))?;
        Ok(Stager {
            conn,
            spec,
            writer: BatchWriter::new(spec),
            batch_rows: batch_rows.max(1),
            next_seq: 0,
        })
    }

    /// Stages one row written by `write`, flushing when the batch is full. `write` either
    /// writes every column or, failing, none (then nothing is staged and its error comes
    /// back inside `Ok`).
    pub fn push<E>(
        &mut self,
        write: impl FnOnce(&mut BatchWriter) -> Result<(), E>,
    ) -> Result<Result<(), E>, LoadError> {
        if let Err(e) = write(&mut self.writer) {
            return Ok(Err(e));
        }
        self.writer.end_row(self.next_seq);
        self.next_seq += 1;
        if self.writer.rows() >= self.batch_rows {
            self.flush()?;
        }
        Ok(Ok(()))
    }

    /// Appends what is buffered to the staging table.
    pub fn flush(&mut self) -> Result<(), LoadError> {
        if self.writer.rows() == 0 {
            return Ok(());
        }
        let batch = self.writer.finish().map_err(|source| LoadError::Arrow {
            table: self.spec.name.to_string(),
            source,
        })?;
        let stage = self.spec.stage_name();
        let mut appender = self
            .conn
            .appender(&stage)
            .during(|| format!("opening an appender on {stage}"))?;
        appender
            .append_record_batch(batch)
            .during(|| format!("appending to {stage}"))?;
        appender.flush().during(|| format!("flushing {stage}"))?;
        Ok(())
    }
}

/// What a merge changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MergeOutcome {
    /// Rows inserted or updated (changed, new, or back from deletion).
    pub written: u64,
    /// Rows newly soft-deleted.
    pub deleted: u64,
}

fn key_match(spec: &TableSpec, left: &str, right: &str) -> String {
    std::iter::once("bot_id")
        .chain(spec.keys.iter().copied())
        .map(|k| format!("{left}.{k} = {right}.{k}"))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// The SQL expression of a row's Parquet partition (`''` or `'YYYY-MM'`).
pub(super) fn partition_expr(spec: &TableSpec, alias: &str) -> String {
    match spec.month_partition {
        // strftime on a TIMESTAMP (UTC): no ICU needed.
        Some(column) => format!("strftime({alias}.{column}::TIMESTAMP, '%Y-%m')"),
        None => "''".to_string(),
    }
}

/// Merges the staging table into the target table for one bot. Must run inside a
/// transaction; `full_scan` soft-deletes the bot's rows that were not staged.
///
/// The order keeps DuckDB's working set small (it is capped, see `warehouse`): the
/// staging table is de-duplicated in place rather than copied, and the soft delete runs
/// before the upsert, while the target holds only committed rows that DuckDB can page
/// out; run after a large insert, its anti-join over the same transaction's new rows did
/// not fit the cap. The two steps touch disjoint keys (staged and not staged), so their
/// order does not change the result.
pub(super) fn merge(
    conn: &Connection,
    spec: &'static TableSpec,
    bot_id: i64,
    run: RunStamp,
    full_scan: bool,
) -> Result<MergeOutcome, LoadError> {
    let table = spec.name;
    let stage = spec.stage_name();
    let changed = format!("_changed_{table}");
    let keys = std::iter::once("bot_id")
        .chain(spec.keys.iter().copied())
        .collect::<Vec<_>>()
        .join(", ");
    let ctx = |what: &str| format!("{what} {table}");

    // 1. The last copy of each key wins (offset drift can deliver a row twice).
    conn.execute_batch(&format!(
        "DELETE FROM {stage} WHERE _seq IN (SELECT _seq FROM {stage} \
         QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY _seq DESC) > 1)"
    ))
    .during(|| ctx("de-duplicating"))?;

    // 2. A full scan soft-deletes the rows it no longer saw.
    let mut deleted = 0;
    if full_scan {
        let gone = format!(
            "t.bot_id = ? AND t._deleted_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM {stage} s WHERE {on})",
            on = key_match(spec, "t", "s"),
        );
        mark_dirty(
            conn,
            &format!(
                "SELECT DISTINCT t.bot_id, '{table}', {part} FROM {table} t WHERE {gone}",
                part = partition_expr(spec, "t")
            ),
            params![bot_id],
        )
        .during(|| ctx("marking deleted partitions of"))?;
        deleted = conn
            .execute(
                &format!(
                    "UPDATE {table} AS t SET _deleted_at = {RUN_TS}, _synced_at = {RUN_TS}, _run_id = ? WHERE {gone}"
                ),
                params![run.at_micros, run.at_micros, run.run_id, bot_id],
            )
            .during(|| ctx("soft-deleting from"))?;
    }

    // 3. Keep only rows that are new, changed, or back from deletion.
    let differs: Vec<String> = spec
        .value_columns()
        .map(|c| {
            if spec.kept_when_null.contains(&c) {
                format!("(s.{c} IS NOT NULL AND s.{c} IS DISTINCT FROM t.{c})")
            } else {
                format!("s.{c} IS DISTINCT FROM t.{c}")
            }
        })
        .collect();
    let differs = if differs.is_empty() {
        "false".to_string()
    } else {
        differs.join(" OR ")
    };
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE {changed} AS SELECT s.* EXCLUDE (_seq), {old_partition} AS _old_partition, \
         t.bot_id IS NOT NULL AS _existed FROM {stage} s LEFT JOIN {table} t ON {on} \
         WHERE t.bot_id IS NULL OR t._deleted_at IS NOT NULL OR {differs}",
        on = key_match(spec, "t", "s"),
        old_partition = partition_or_null(spec, "t"),
    ))
    .during(|| ctx("comparing"))?;

    // 4. Mark the Parquet partitions these rows live in (before and after).
    mark_dirty(
        conn,
        &format!(
            "SELECT DISTINCT bot_id, '{table}', {new} FROM {changed} \
             UNION SELECT DISTINCT bot_id, '{table}', _old_partition FROM {changed} WHERE _old_partition IS NOT NULL",
            new = partition_expr(spec, &changed),
        ),
        [],
    )
    .during(|| ctx("marking partitions of"))?;

    // 5. Upsert the changed rows (nothing else writes this table meanwhile, so whether
    //    a row existed at step 3 still holds).
    let staged_cols: Vec<&str> = spec.columns.iter().map(|c| c.name).collect();
    let mut target_cols: Vec<String> = staged_cols.iter().map(|c| c.to_string()).collect();
    let mut source_exprs: Vec<String> = staged_cols.iter().map(|c| format!("s.{c}")).collect();
    for derived in spec.derived {
        target_cols.push(derived.name.to_string());
        source_exprs.push(derived.expr.to_string());
    }
    let set_list: Vec<String> = target_cols
        .iter()
        .zip(&source_exprs)
        .filter(|(c, _)| *c != "bot_id" && !spec.keys.contains(&c.as_str()))
        .map(|(c, e)| {
            if spec.kept_when_null.contains(&c.as_str()) {
                format!("{c} = coalesce({e}, t.{c})")
            } else {
                format!("{c} = {e}")
            }
        })
        .collect();
    let updated = conn
        .execute(
            &format!(
                "UPDATE {table} AS t SET {sets}, _synced_at = {RUN_TS}, _run_id = ?, _deleted_at = NULL \
                 FROM {changed} AS s WHERE s._existed AND {on}",
                sets = set_list.join(", "),
                on = key_match(spec, "t", "s"),
            ),
            params![run.at_micros, run.run_id],
        )
        .during(|| ctx("updating"))?;
    let inserted = conn
        .execute(
            &format!(
                "INSERT INTO {table} ({cols}, _synced_at, _run_id, _deleted_at) \
                 SELECT {exprs}, {RUN_TS}, ?, NULL FROM {changed} AS s WHERE NOT s._existed",
                cols = target_cols.join(", "),
                exprs = source_exprs.join(", "),
            ),
            params![run.at_micros, run.run_id],
        )
        .during(|| ctx("inserting into"))?;

    conn.execute_batch(&format!(
        "DROP TABLE IF EXISTS {changed}; DELETE FROM {stage};"
    ))
    .during(|| ctx("cleaning up staging of"))?;
    Ok(MergeOutcome {
        written: (updated + inserted) as u64,
        deleted: deleted as u64,
    })
}

fn partition_or_null(spec: &TableSpec, alias: &str) -> String {
    match spec.month_partition {
        Some(_) => format!(
            "CASE WHEN {alias}.bot_id IS NULL THEN NULL ELSE {} END",
            partition_expr(spec, alias)
        ),
        None => "NULL".to_string(),
    }
}

fn mark_dirty<P: duckdb::Params>(
    conn: &Connection,
    select: &str,
    params: P,
) -> Result<usize, duckdb::Error> {
    conn.execute(
        &format!("INSERT OR IGNORE INTO _parquet_dirty (bot_id, table_name, partition) {select}"),
        params,
    )
}

/// Appends the staged row(s) of a snapshot table as this run's snapshot (replacing one
/// this run already took). Must run inside a transaction.
pub(super) fn append_snapshot(
    conn: &Connection,
    spec: &'static TableSpec,
    run: RunStamp,
) -> Result<MergeOutcome, LoadError> {
    let table = spec.name;
    let stage = spec.stage_name();
    let values: Vec<&str> = spec
        .columns
        .iter()
        .map(|c| c.name)
        .filter(|c| *c != "bot_id")
        .collect();
    let written = conn
        .execute(
            &format!(
                "INSERT OR REPLACE INTO {table} (bot_id, run_id, captured_at, {cols}) \
                 SELECT bot_id, ?, {RUN_TS}, {cols} FROM {stage} \
                 QUALIFY row_number() OVER (PARTITION BY bot_id ORDER BY _seq DESC) = 1",
                cols = values.join(", "),
            ),
            params![run.run_id, run.at_micros],
        )
        .during(|| format!("recording the snapshot of {table}"))?;
    conn.execute_batch(&format!("DELETE FROM {stage};"))
        .during(|| format!("cleaning up staging of {table}"))?;
    Ok(MergeOutcome {
        written: written as u64,
        deleted: 0,
    })
}
