//! The history tables BI tools need beside the synced ones (captured exchange rates, the
//! `/users/count` snapshots) in the Parquet tree: one file per bot with every column but
//! `bot_id`, read back with arrow-rs and compared with the warehouse, run after run.

use std::path::Path;

use arrow::array::RecordBatch;
use arrow::util::pretty::pretty_format_batches;
use duckdb::Connection;
use tgm_sync::bot_id::BotId;
use tgm_sync::mirror::{HISTORY_TABLES, PART_FILE};

use crate::support::*;
use crate::sync::sync_once;

/// One bot's rows of `table` as the warehouse has them, in the mirror's order.
fn warehouse_rows(conn: &Connection, table: &str, bot_id: BotId) -> (usize, String) {
    let sql = format!("SELECT * EXCLUDE (bot_id) FROM {table} WHERE bot_id = ? ORDER BY ALL");
    let batches: Vec<RecordBatch> = conn
        .prepare(&sql)
        .expect("query")
        .query_arrow([bot_id])
        .expect("arrow")
        .collect();
    let rows = batches.iter().map(RecordBatch::num_rows).sum();
    (
        rows,
        pretty_format_batches(&batches).expect("format").to_string(),
    )
}

/// The bot's file of `table`, read back with the parquet crate.
fn mirrored_rows(root: &Path, table: &str, bot_id: BotId) -> (usize, String) {
    let path = root
        .join(table)
        .join(format!("bot_id={bot_id}"))
        .join(PART_FILE);
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let batches: Vec<RecordBatch> =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet header")
            .build()
            .expect("reader")
            .map(|b| b.expect("batch"))
            .collect();
    let rows = batches.iter().map(RecordBatch::num_rows).sum();
    (
        rows,
        pretty_format_batches(&batches).expect("format").to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rates_and_user_counts_are_mirrored_per_bot_equal_to_the_warehouse() {
    let mut options = sim_options(400, 80);
    options.bots = 2;
    let server = start_sim(options).await;
    let dir = tempdir();
    let settings = settings_for_every_bot(&server, dir.path());
    let root = settings.parquet_dir.clone().expect("parquet on");
    for run in 1..=2 {
        sync_once(&settings).await;
        let conn = Connection::open(&settings.warehouse).expect("warehouse");
        for bot in &settings.bots {
            for table in HISTORY_TABLES {
                let (want_rows, want) = warehouse_rows(&conn, table, bot.bot_id);
                let (got_rows, got) = mirrored_rows(&root, table, bot.bot_id);
                assert!(want_rows > 0, "{table} of bot {} has rows", bot.bot_id);
                assert_eq!(
                    got_rows, want_rows,
                    "{table} of bot {} after run {run}",
                    bot.bot_id
                );
                assert_eq!(got, want, "{table} of bot {} after run {run}", bot.bot_id);
            }
        }
        let (snapshots, _) = warehouse_rows(&conn, "users_count_history", settings.bots[0].bot_id);
        assert_eq!(snapshots, run, "one /users/count snapshot per run");
    }
    server.shutdown().await;
}
