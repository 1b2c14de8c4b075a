//! A run's lake publication: each bot's owed partitions are built and uploaded as soon
//! as that bot's streams are in (while the other bots still sync, on a blocking thread
//! with its own warehouse connection), and once every bot is done, each table gets one
//! commit carrying every bot's files.
//!
//! Staging changes when files go up, not what a commit holds: a bot's marks are read
//! after its last stream committed (nothing else in the run writes its synced tables),
//! its files are uploaded under unique names no version references, and on a `file://`
//! lake synced to disk; the commit and the clearing of the marks come at the end, as
//! before. A run killed before the commits leaves unreferenced files and its marks, and
//! the next run publishes those partitions again. A bot not staged (its staging failed,
//! or the run never staged it) is built at publication time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arrow::datatypes::SchemaRef;
use deltalake::DeltaTable;
use deltalake::kernel::{Add, StructField};
use duckdb::Connection;
use futures::stream::{FuturesUnordered, StreamExt};
use object_store::ObjectStore;
use object_store::path::Path as StorePath;
use tokio::sync::{OnceCell, mpsc};
use tracing::{debug, info, warn};

use super::commit::{self, Committed, NewFile};
use super::datafile::{self, DataFile};
use super::error::LakeError;
use super::owed::{self, Owed};
use super::{
    LakeOutcome, LakeSettings, TablePublished, UPLOADS_IN_FLIGHT, durable, file_path,
    halt_before_commit, partition_values, table, upload,
};
use crate::bot_id::BotId;
use crate::streams::mirrored_tables;
use crate::streams::table::TableSpec;
use crate::warehouse::error::DbContext;

/// One bot's share of a table's publication: what it owes and its files, uploaded.
#[derive(Debug)]
struct BotFiles {
    owed: Owed,
    files: Vec<NewFile>,
    rows: u64,
}

/// One table's publication, gathered and not yet committed.
struct ReadyTable {
    spec: &'static TableSpec,
    columns: Vec<StructField>,
    signature: String,
    delta: DeltaTable,
    owed: Vec<Owed>,
    files: Vec<NewFile>,
    partitions: usize,
    rows: u64,
}

/// The lake publication of one run (see the module's description).
pub struct LakeRun<'a> {
    lake: &'a LakeSettings,
    run_id: i64,
    /// Each table's object store, opened (and the table created) once per run.
    stores: HashMap<&'static str, OnceCell<Arc<dyn ObjectStore>>>,
    /// Staged bots by (table, bot): taken by the table's commit.
    staged: Mutex<HashMap<(&'static str, BotId), BotFiles>>,
}

impl<'a> LakeRun<'a> {
    pub fn new(lake: &'a LakeSettings, run_id: i64) -> LakeRun<'a> {
        super::credentials::register_credentials();
        LakeRun {
            lake,
            run_id,
            stores: mirrored_tables()
                .map(|spec| (spec.name, OnceCell::new()))
                .collect(),
            staged: Mutex::new(HashMap::new()),
        }
    }

    /// Builds and uploads what `bot_id` owes the lake, every table; `warehouse` is any
    /// connection to the warehouse (the work runs on a connection of its own). A failure
    /// is logged and leaves the bot to the publication, which builds it again.
    pub(crate) async fn stage_bot(&self, warehouse: &Connection, bot_id: BotId) {
        for spec in mirrored_tables() {
            match self.stage_table(warehouse, spec, bot_id).await {
                Ok(files) => {
                    debug!(
                        table = spec.name,
                        partitions = files.owed.partitions.len(),
                        files = files.files.len(),
                        "lake files uploaded, to be committed at the end of the run"
                    );
                    if let Ok(mut staged) = self.staged.lock() {
                        staged.insert((spec.name, bot_id), files);
                    }
                }
                Err(e) => warn!(
                    table = spec.name,
                    error = %e,
                    "lake files not staged; the publication builds them again"
                ),
            }
        }
    }

    /// Publishes what the warehouse owes the lake for `bot_ids`: one commit per table
    /// that has owed partitions, with the files staged for each bot (or built now). The
    /// tables commit at once (each has its own log); then the warehouse clears the marks
    /// of every table that committed, in one transaction. A table that fails to commit
    /// keeps its marks, and the first failure is returned.
    pub async fn publish(
        &self,
        conn: &Connection,
        bot_ids: &[BotId],
    ) -> Result<LakeOutcome, LakeError> {
        let mut ready = Vec::new();
        for spec in mirrored_tables() {
            if let Some(table) = self.ready_table(conn, spec, bot_ids).await? {
                ready.push(table);
            }
        }
        if let Some(table) = ready.iter().find(|t| !t.files.is_empty()) {
            halt_before_commit(table.spec.name);
        }
        let commits = ready.iter_mut().map(|t| self.commit_table(t));
        let results = futures::future::join_all(commits).await;
        let mut outcome = LakeOutcome::default();
        let mut settled = Vec::new();
        let mut failure = None;
        for (table, result) in ready.iter().zip(results) {
            match result {
                Ok(committed) => {
                    settled.push(owed::TableCommit {
                        spec: table.spec,
                        owed: &table.owed,
                        version: committed.version,
                        columns: &table.signature,
                    });
                    outcome.tables.push(TablePublished {
                        table: table.spec.name,
                        committed,
                        partitions: table.partitions,
                        rows: table.rows,
                    });
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        let now = crate::clock::now_micros();
        owed::settle(conn, &self.lake.url.shown(), &settled, now)?;
        if let Some(e) = failure {
            return Err(e);
        }
        for done in &outcome.tables {
            info!(
                table = done.table,
                version = done.committed.version,
                files_added = done.committed.added,
                files_removed = done.committed.removed,
                partitions = done.partitions,
                rows = done.rows,
                "lake table committed"
            );
        }
        Ok(outcome)
    }

    /// A table's commit, gathered: every bot's staged files (the others built now) and
    /// the table opened.
    async fn ready_table(
        &self,
        conn: &Connection,
        spec: &'static TableSpec,
        bot_ids: &[BotId],
    ) -> Result<Option<ReadyTable>, LakeError> {
        let schema = datafile::file_schema(conn, spec)?;
        let columns = table::delta_columns(spec, &schema)?;
        let signature = table::columns_signature(&columns);
        let mut bots = Vec::new();
        for bot_id in bot_ids {
            let staged = self
                .staged
                .lock()
                .ok()
                .and_then(|mut s| s.remove(&(spec.name, *bot_id)));
            let files = match staged {
                Some(files) => files,
                None => self.stage_table(conn, spec, *bot_id).await?,
            };
            if !files.owed.is_empty() {
                bots.push(files);
            }
        }
        if bots.is_empty() {
            return Ok(None);
        }
        let delta = table::open_or_create(&self.lake.url, spec, &schema).await?;
        let partitions = bots.iter().map(|b| b.owed.partitions.len()).sum();
        let rows = bots.iter().map(|b| b.rows).sum();
        let (owed, files): (Vec<Owed>, Vec<Vec<NewFile>>) =
            bots.into_iter().map(|b| (b.owed, b.files)).unzip();
        Ok(Some(ReadyTable {
            spec,
            columns,
            signature,
            delta,
            owed,
            files: files.into_iter().flatten().collect(),
            partitions,
            rows,
        }))
    }

    /// One table's Delta commit, synced to disk on a `file://` lake.
    async fn commit_table(&self, t: &mut ReadyTable) -> Result<Committed, LakeError> {
        let committed = commit::commit(
            &self.lake.url,
            &mut t.delta,
            t.spec,
            &t.owed,
            &t.files,
            &t.columns,
            self.run_id,
        )
        .await?;
        if let Some(root) = self.lake.url.local_root()
            && committed.version >= 0
        {
            let (spec, dir) = (t.spec, root.join(t.spec.name));
            blocking(spec, move || {
                durable::sync_commit(spec.name, &dir, committed.version)
            })
            .await?;
        }
        Ok(committed)
    }

    /// The table's object store, the table created on first use.
    async fn store(
        &self,
        spec: &'static TableSpec,
        schema: &SchemaRef,
    ) -> Result<Arc<dyn ObjectStore>, LakeError> {
        let open = || async {
            let delta = table::open_or_create(&self.lake.url, spec, schema).await?;
            Ok::<_, LakeError>(delta.log_store().object_store(None))
        };
        match self.stores.get(spec.name) {
            Some(cell) => cell.get_or_try_init(open).await.cloned(),
            None => open().await,
        }
    }

    /// What one bot's table owes, its files built on a blocking thread (each as soon as
    /// the previous ones are on their way) and uploaded [`UPLOADS_IN_FLIGHT`] at a time,
    /// then (`file://`) synced to disk.
    async fn stage_table(
        &self,
        warehouse: &Connection,
        spec: &'static TableSpec,
        bot_id: BotId,
    ) -> Result<BotFiles, LakeError> {
        let conn = warehouse
            .try_clone()
            .during(|| format!("opening a connection to export {} for the lake", spec.name))?;
        let lake_url = self.lake.url.shown();
        let (conn, schema, owed) = blocking(spec, move || {
            let schema = datafile::file_schema(&conn, spec)?;
            let columns = table::delta_columns(spec, &schema)?;
            let signature = table::columns_signature(&columns);
            let owed = owed::owed(&conn, &lake_url, spec, bot_id, &signature)?;
            Ok((conn, schema, owed))
        })
        .await?;
        if owed.is_empty() {
            return Ok(BotFiles {
                owed,
                files: Vec::new(),
                rows: 0,
            });
        }
        let store = self.store(spec, &schema).await?;
        // One built file waits while the uploads are busy: at most UPLOADS_IN_FLIGHT + 2
        // files of a bot in memory.
        let (tx, mut built) = mpsc::channel::<(String, DataFile)>(1);
        let partitions = owed.partitions.clone();
        // Spawned now (a future would not start before it is awaited).
        let builder = tokio::task::spawn(blocking(spec, move || {
            for partition in partitions {
                let Some(file) = datafile::write_partition(&conn, spec, bot_id, &partition)? else {
                    continue;
                };
                if tx.blocking_send((partition, file)).is_err() {
                    // The uploads stopped on an error, which the caller reports.
                    break;
                }
            }
            Ok(())
        }));
        let upload_failed = |e| {
            table::store_error(
                &self.lake.url,
                spec.name,
                deltalake::DeltaTableError::from(e),
            )
        };
        let mut uploads = FuturesUnordered::new();
        let mut files = Vec::new();
        let mut rows = 0;
        let mut building = true;
        loop {
            tokio::select! {
                next = built.recv(), if building && uploads.len() < UPLOADS_IN_FLIGHT => {
                    let Some((partition, file)) = next else {
                        building = false;
                        continue;
                    };
                    rows += file.rows;
                    let add = new_add(spec, bot_id, &partition, self.run_id, &file);
                    let store = Arc::clone(&store);
                    uploads.push(async move {
                        let at = StorePath::from(add.path.as_str());
                        upload::upload(store.as_ref(), &at, file.bytes.into())
                            .await
                            .map(|_| add)
                    });
                }
                Some(done) = uploads.next(), if !uploads.is_empty() => {
                    files.push(NewFile { add: done.map_err(upload_failed)? });
                }
                else => break,
            }
        }
        builder.await.map_err(|e| thread_failed(spec, e))??;
        let files = match self.lake.url.local_root() {
            Some(root) => {
                let dir = root.join(spec.name);
                blocking(spec, move || {
                    durable::sync_data_files(spec.name, &dir, &files)?;
                    Ok(files)
                })
                .await?
            }
            None => files,
        };
        Ok(BotFiles { owed, files, rows })
    }
}

/// The Delta `Add` of a new data file of `partition`.
fn new_add(spec: &TableSpec, bot_id: BotId, partition: &str, run_id: i64, file: &DataFile) -> Add {
    let values = partition_values(spec, bot_id, partition);
    Add {
        path: file_path(&values, run_id),
        partition_values: values,
        size: file.bytes.len() as i64,
        modification_time: chrono::Utc::now().timestamp_millis(),
        data_change: true,
        stats: Some(file.stats.clone()),
        ..Default::default()
    }
}

/// Runs warehouse or file-system work for the lake on a blocking thread.
async fn blocking<T: Send + 'static>(
    spec: &'static TableSpec,
    work: impl FnOnce() -> Result<T, LakeError> + Send + 'static,
) -> Result<T, LakeError> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work))
        .await
        .map_err(|e| thread_failed(spec, e))?
}

/// The lake's export work for `spec` panicked or was cancelled.
fn thread_failed(spec: &TableSpec, e: tokio::task::JoinError) -> LakeError {
    LakeError::Parquet {
        table: spec.name,
        detail: format!("the export thread failed: {e}"),
    }
}
