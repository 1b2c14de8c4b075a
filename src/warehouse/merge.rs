//! Staging and merging one stream: batches are appended to a temporary staging table as
//! pages arrive (memory stays bounded), then one merge upserts the changed rows, soft-
//! deletes what a full scan no longer returned, and marks the Parquet partitions whose
//! rows changed, all inside the caller's transaction.
//!
//! Unchanged rows are compared column by column and not written at all, so a run with no
//! changes writes nothing to DuckDB and rewrites no Parquet.

use duckdb::{Connection, params};

use super::error::{DbContext, LoadError};
use super::state::RunStamp;
use crate::bot_id::BotId;
use crate::streams::batch::BatchWriter;
use crate::streams::table::TableSpec;

/// SQL for "this run's timestamp" from a microseconds parameter (generated statements;
/// the ones in `sql/` spell it out).
pub(super) const RUN_TS: &str = "make_timestamp(?)::TIMESTAMPTZ";

/// Appends rows of one table to its staging table, a batch at a time.
pub(crate) struct Stager<'c> {
    conn: &'c Connection,
    spec: &'static TableSpec,
    writer: BatchWriter,
    batch_rows: usize,
    next_seq: i64,
}

impl<'c> Stager<'c> {
    /// Creates (or empties) the staging table.
    pub(crate) fn new(
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
    pub(crate) fn push<E>(
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
    pub(crate) fn flush(&mut self) -> Result<(), LoadError> {
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
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct MergeOutcome {
    /// Rows inserted or updated (changed, new, or back from deletion).
    pub written: u64,
    /// Rows newly soft-deleted.
    pub deleted: u64,
    /// Soft deletes the full scan called for and the merge refused: the rows are kept.
    pub refused: Option<RefusedDeletes>,
}

/// Soft deletes refused: `gone` of the `live` rows, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RefusedDeletes {
    pub gone: u64,
    pub live: u64,
    pub reason: String,
}

/// How much a full scan may soft-delete in one run: an answer that shrank implausibly
/// (an empty list where rows are live, or more than `max_share` of the live rows gone at
/// once, beyond `floor_rows`) is a glitch until the user says otherwise (`allow_large`,
/// `sync --allow-large-deletes`, for one run).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeleteGuard {
    pub max_share: f64,
    pub floor_rows: u64,
    pub allow_large: bool,
}

impl DeleteGuard {
    /// Why soft-deleting `gone` of `live` rows after a scan that read `staged` rows is
    /// refused, if it is.
    pub fn refuses(&self, gone: u64, live: u64, staged: u64) -> Option<String> {
        if gone == 0 || self.allow_large {
            return None;
        }
        if staged == 0 {
            return Some("the scan read no row (an empty answer)".to_string());
        }
        let allowed = self
            .floor_rows
            .max((self.max_share * live as f64).floor() as u64);
        (gone > allowed).then(|| {
            format!(
                "more than max_delete_share ({}) of the live rows vanished at once",
                self.max_share
            )
        })
    }
}

/// What a full scan may soft-delete: nothing past its guard, never a row the scan
/// rejected under a readable key (`protected`, key text as the stream's `key_of` gives
/// it), and nothing at all after rejected rows whose key could not be read (they may be
/// any live row), unless the guard allows large deletes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deletes<'a> {
    pub guard: DeleteGuard,
    pub protected: &'a [String],
    pub keyless_rejects: u64,
}

fn key_match(spec: &TableSpec, left: &str, right: &str) -> String {
    std::iter::once("bot_id")
        .chain(spec.keys.iter().copied())
        .map(|k| format!("{left}.{k} = {right}.{k}"))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// The SQL expression of a row's Parquet partition (`''` or `'YYYY-MM'`).
pub(crate) fn partition_expr(spec: &TableSpec, alias: &str) -> String {
    match spec.month_partition {
        // strftime on a TIMESTAMP (UTC): no ICU needed.
        Some(column) => format!("strftime({alias}.{column}::TIMESTAMP, '%Y-%m')"),
        None => "''".to_string(),
    }
}

/// Merges the staging table into the target table for one bot. Must run inside a
/// transaction; after a full scan (`deletes`), soft-deletes the bot's rows that were not
/// staged, unless [`Deletes`] refuses (then [`MergeOutcome::refused`] says why).
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
    bot_id: BotId,
    run: RunStamp,
    deletes: Option<Deletes<'_>>,
) -> Result<MergeOutcome, LoadError> {
    let m = MergeTables::of(conn, spec);
    // 1. The last copy of each key wins (offset drift can deliver a row twice).
    m.deduplicate_stage()?;
    // 2. A full scan soft-deletes the rows it no longer saw, within its guard.
    let (deleted, refused) = match deletes {
        Some(deletes) => m.delete_unseen(bot_id, run, deletes)?,
        None => (0, None),
    };
    // 3. Keep only rows that are new, changed, or back from deletion.
    m.collect_changed()?;
    // 4. Mark the Parquet partitions these rows live in (before and after).
    m.mark_changed_partitions()?;
    // 5. Upsert the changed rows (nothing else writes this table meanwhile, so whether
    //    a row existed at step 3 still holds).
    let written = m.upsert_changed(run)?;
    m.clean_up()?;
    Ok(MergeOutcome {
        written,
        deleted,
        refused,
    })
}

/// The tables one [`merge`] works on: the target, its staging table and the temporary
/// table of the changed rows.
struct MergeTables<'c> {
    conn: &'c Connection,
    spec: &'static TableSpec,
    table: &'static str,
    stage: String,
    changed: String,
}

impl<'c> MergeTables<'c> {
    fn of(conn: &'c Connection, spec: &'static TableSpec) -> MergeTables<'c> {
        MergeTables {
            conn,
            spec,
            table: spec.name,
            stage: spec.stage_name(),
            changed: format!("_changed_{}", spec.name),
        }
    }

    /// An error's context: `{what} {table}`.
    fn ctx(&self, what: &str) -> String {
        format!("{what} {}", self.table)
    }

    /// Step 1: deletes all but the last staged copy of each key.
    fn deduplicate_stage(&self) -> Result<(), LoadError> {
        let stage = &self.stage;
        let keys = std::iter::once("bot_id")
            .chain(self.spec.keys.iter().copied())
            .collect::<Vec<_>>()
            .join(", ");
        self.conn
            .execute_batch(&format!(
                "DELETE FROM {stage} WHERE _seq IN (SELECT _seq FROM {stage} \
                 QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY _seq DESC) > 1)"
            ))
            .during(|| self.ctx("de-duplicating"))
    }

    /// Step 2: soft-deletes the bot's live rows the full scan did not stage (nor reject
    /// under a readable key), unless [`refusal`] says why not.
    fn delete_unseen(
        &self,
        bot_id: BotId,
        run: RunStamp,
        deletes: Deletes<'_>,
    ) -> Result<(u64, Option<RefusedDeletes>), LoadError> {
        let (table, stage, spec) = (self.table, &self.stage, self.spec);
        let protected = format!("_protected_{table}");
        self.list_protected_keys(&protected, deletes.protected)?;
        let gone = format!(
            "t.bot_id = ? AND t._deleted_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM {stage} s WHERE {on}) \
             AND NOT EXISTS (SELECT 1 FROM {protected} p WHERE p.key = {key_text})",
            on = key_match(spec, "t", "s"),
            key_text = key_text_expr(spec, "t"),
        );
        let gone_rows = self.count_bot_rows(
            format!("SELECT count(*) FROM {table} t WHERE {gone}"),
            bot_id,
        )?;
        let live = self.count_bot_rows(
            format!("SELECT count(*) FROM {table} t WHERE t.bot_id = ? AND t._deleted_at IS NULL"),
            bot_id,
        )?;
        let staged: i64 = self
            .conn
            .query_row(&format!("SELECT count(*) FROM {stage}"), [], |r| r.get(0))
            .during(|| self.ctx("counting the staged rows of"))?;
        let mut deleted = 0;
        let mut refused = None;
        if let Some(reason) = refusal(&deletes, gone_rows, live, staged.max(0) as u64) {
            refused = Some(RefusedDeletes {
                gone: gone_rows,
                live,
                reason,
            });
        } else if gone_rows > 0 {
            deleted = soft_delete(self.conn, spec, bot_id, run, &gone)?;
        }
        self.conn
            .execute_batch(&format!("DROP TABLE IF EXISTS {protected}"))
            .during(|| self.ctx("listing rejected keys of"))?;
        Ok((deleted, refused))
    }

    /// Fills the temporary table `protected` with the keys a full scan must not delete.
    fn list_protected_keys(&self, protected: &str, keys: &[String]) -> Result<(), LoadError> {
        self.conn
            .execute_batch(&format!(
                "CREATE OR REPLACE TEMP TABLE {protected} (key VARCHAR)"
            ))
            .during(|| self.ctx("listing rejected keys of"))?;
        let mut insert = self
            .conn
            .prepare(&format!("INSERT INTO {protected} VALUES (?)"))
            .during(|| self.ctx("listing rejected keys of"))?;
        for key in keys {
            insert
                .execute(params![key])
                .during(|| self.ctx("listing rejected keys of"))?;
        }
        Ok(())
    }

    /// A `count(*)` bound to the bot.
    fn count_bot_rows(&self, sql: String, bot_id: BotId) -> Result<u64, LoadError> {
        self.conn
            .query_row(&sql, params![bot_id], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
            .during(|| self.ctx("counting rows to delete from"))
    }

    /// Step 3: the staged rows that are new, changed, or back from deletion, into the
    /// changed table, with the partition each lived in and whether it existed.
    fn collect_changed(&self) -> Result<(), LoadError> {
        let (table, stage, changed) = (self.table, &self.stage, &self.changed);
        self.conn
            .execute_batch(&format!(
                "CREATE OR REPLACE TEMP TABLE {changed} AS SELECT s.* EXCLUDE (_seq), {old_partition} AS _old_partition, \
                 t.bot_id IS NOT NULL AS _existed FROM {stage} s LEFT JOIN {table} t ON {on} \
                 WHERE t.bot_id IS NULL OR t._deleted_at IS NOT NULL OR {differs}",
                on = key_match(self.spec, "t", "s"),
                old_partition = partition_or_null(self.spec, "t"),
                differs = differs_expr(self.spec),
            ))
            .during(|| self.ctx("comparing"))
    }

    /// Step 4: marks the partitions of the changed rows, where they were and where they go.
    fn mark_changed_partitions(&self) -> Result<(), LoadError> {
        let (table, changed) = (self.table, &self.changed);
        mark_owed(
            self.conn,
            &format!(
                "SELECT DISTINCT bot_id, '{table}', {new} FROM {changed} \
                 UNION SELECT DISTINCT bot_id, '{table}', _old_partition FROM {changed} WHERE _old_partition IS NOT NULL",
                new = partition_expr(self.spec, changed),
            ),
            [],
        )
        .during(|| self.ctx("marking partitions of"))?;
        Ok(())
    }

    /// Step 5: updates the changed rows that existed and inserts the others; the rows
    /// written.
    fn upsert_changed(&self, run: RunStamp) -> Result<u64, LoadError> {
        let (table, changed) = (self.table, &self.changed);
        let columns = UpsertColumns::of(self.spec);
        let updated = self
            .conn
            .execute(
                &format!(
                    "UPDATE {table} AS t SET {sets}, _synced_at = {RUN_TS}, _run_id = ?, _deleted_at = NULL \
                     FROM {changed} AS s WHERE s._existed AND {on}",
                    sets = columns.set_list(self.spec).join(", "),
                    on = key_match(self.spec, "t", "s"),
                ),
                params![run.at_micros, run.run_id],
            )
            .during(|| self.ctx("updating"))?;
        let inserted = self
            .conn
            .execute(
                &format!(
                    "INSERT INTO {table} ({cols}, _synced_at, _run_id, _deleted_at) \
                     SELECT {exprs}, {RUN_TS}, ?, NULL FROM {changed} AS s WHERE NOT s._existed",
                    cols = columns.target.join(", "),
                    exprs = columns.source.join(", "),
                ),
                params![run.at_micros, run.run_id],
            )
            .during(|| self.ctx("inserting into"))?;
        Ok((updated + inserted) as u64)
    }

    fn clean_up(&self) -> Result<(), LoadError> {
        let (stage, changed) = (&self.stage, &self.changed);
        self.conn
            .execute_batch(&format!(
                "DROP TABLE IF EXISTS {changed}; DELETE FROM {stage};"
            ))
            .during(|| self.ctx("cleaning up staging of"))
    }
}

/// Why a full scan's soft deletes of `gone` of `live` rows (`staged` rows read) are
/// refused, if they are: rejected rows without a readable key may be any live row, else
/// the guard decides.
fn refusal(deletes: &Deletes<'_>, gone: u64, live: u64, staged: u64) -> Option<String> {
    if gone > 0 && deletes.keyless_rejects > 0 && !deletes.guard.allow_large {
        Some(format!(
            "{} rows without a readable key were rejected (see _rejected)",
            deletes.keyless_rejects
        ))
    } else {
        deletes.guard.refuses(gone, live, staged)
    }
}

/// SQL that is true when a staged row `s` differs from its target row `t` in a value
/// column (a null in a column kept when null is no difference).
fn differs_expr(spec: &TableSpec) -> String {
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
    if differs.is_empty() {
        "false".to_string()
    } else {
        differs.join(" OR ")
    }
}

/// The target's columns an upsert writes, and the expression over the changed row `s`
/// that gives each: the staged columns, then the derived ones.
struct UpsertColumns {
    target: Vec<String>,
    source: Vec<String>,
}

impl UpsertColumns {
    fn of(spec: &TableSpec) -> UpsertColumns {
        let staged_cols: Vec<&str> = spec.columns.iter().map(|c| c.name).collect();
        let mut target: Vec<String> = staged_cols.iter().map(|c| c.to_string()).collect();
        let mut source: Vec<String> = staged_cols.iter().map(|c| format!("s.{c}")).collect();
        for derived in spec.derived {
            target.push(derived.name.to_string());
            source.push(derived.expr.to_string());
        }
        UpsertColumns { target, source }
    }

    /// The `SET` items of an update: every column but the keys (a column kept when null
    /// keeps its value when the new one is null).
    fn set_list(&self, spec: &TableSpec) -> Vec<String> {
        self.target
            .iter()
            .zip(&self.source)
            .filter(|(c, _)| *c != "bot_id" && !spec.keys.contains(&c.as_str()))
            .map(|(c, e)| {
                if spec.kept_when_null.contains(&c.as_str()) {
                    format!("{c} = coalesce({e}, t.{c})")
                } else {
                    format!("{c} = {e}")
                }
            })
            .collect()
    }
}

/// Soft-deletes the rows `gone` selects (bound to `bot_id`), marking their partitions.
fn soft_delete(
    conn: &Connection,
    spec: &TableSpec,
    bot_id: BotId,
    run: RunStamp,
    gone: &str,
) -> Result<u64, LoadError> {
    let table = spec.name;
    mark_owed(
        conn,
        &format!(
            "SELECT DISTINCT t.bot_id, '{table}', {part} FROM {table} t WHERE {gone}",
            part = partition_expr(spec, "t")
        ),
        params![bot_id],
    )
    .during(|| format!("marking deleted partitions of {table}"))?;
    let deleted = conn
        .execute(
            &format!(
                "UPDATE {table} AS t SET _deleted_at = {RUN_TS}, _synced_at = {RUN_TS}, _run_id = ? WHERE {gone}"
            ),
            params![run.at_micros, run.at_micros, run.run_id, bot_id],
        )
        .during(|| format!("soft-deleting from {table}"))?;
    Ok(deleted as u64)
}

/// A row's key as text, `/`-separated, as a stream's `key_of` writes it from JSON.
fn key_text_expr(spec: &TableSpec, alias: &str) -> String {
    let parts: Vec<String> = spec
        .keys
        .iter()
        .map(|k| format!("CAST({alias}.{k} AS VARCHAR)"))
        .collect();
    format!("concat_ws('/', {})", parts.join(", "))
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

/// The tables of marks (partitions owed): the Parquet mirror's and the lake output's. Each output
/// clears its own marks once it has published the partition.
pub(crate) const OWED_MARKS: [&str; 2] = ["_parquet_dirty", "_lake_dirty"];

fn mark_owed<P: duckdb::Params + Copy>(
    conn: &Connection,
    select: &str,
    params: P,
) -> Result<usize, duckdb::Error> {
    let mut marked = Vec::with_capacity(OWED_MARKS.len());
    for marks in OWED_MARKS {
        marked.push(conn.execute(
            &format!("INSERT OR IGNORE INTO {marks} (bot_id, table_name, partition) {select}"),
            params,
        )?);
    }
    // What the Parquet mirror's marks counted, as before the lake's were added.
    Ok(marked.first().copied().unwrap_or(0))
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
        refused: None,
    })
}
