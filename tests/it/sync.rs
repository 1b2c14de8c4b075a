//! The sync end to end: simulator → DuckDB file → Parquet files read back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::compute::{SortColumn, concat_batches, lexsort_to_indices, take_record_batch};
use arrow::util::pretty::pretty_format_batches;
use duckdb::Connection;
use rust_decimal::Decimal;
use tgm_sync::config::Settings;
use tgm_sync::money::Amount;
use tgm_sync::sim::SimData;
use tgm_sync::streams::StreamName;
use tgm_sync::streams::mirrored_tables;
use tgm_sync::sync::{self, RunOutcome, SyncOptions};

use crate::support::*;

pub async fn sync_once(settings: &Settings) -> RunOutcome {
    let outcome = sync::run(settings, &SyncOptions::default())
        .await
        .expect("sync runs");
    let failures: Vec<String> = outcome
        .failures()
        .map(|(_, s, f)| format!("{}: {}", s.stream, f.message))
        .collect();
    assert!(failures.is_empty(), "streams failed: {failures:?}");
    outcome
}

pub fn open(settings: &Settings) -> Connection {
    Connection::open(&settings.warehouse).expect("warehouse opens")
}

fn figures(outcome: &RunOutcome, stream: StreamName) -> tgm_sync::warehouse::state::StreamFigures {
    outcome.bots[0]
        .streams
        .iter()
        .find(|s| s.stream == stream)
        .map(|s| s.figures.clone())
        .expect("stream ran")
}

fn dec(text: &str) -> Decimal {
    Amount::parse(text)
        .expect("decimal")
        .to_decimal()
        .expect("fits")
}

/// Live orders in the warehouse: key → (date, status, amount, currency, plan_name, gateway, member).
type OrderRow = (
    i64,
    String,
    Decimal,
    String,
    Option<String>,
    Option<String>,
    i64,
);

pub fn warehouse_orders(conn: &Connection) -> BTreeMap<String, OrderRow> {
    let mut stmt = conn
        .prepare(
            "SELECT order_key, epoch(order_date::TIMESTAMP)::BIGINT, order_status, amount::VARCHAR, currency, \
             plan_name, payment_gateway, member_id FROM orders WHERE _deleted_at IS NULL",
        )
        .expect("query");
    stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            (
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                dec(&r.get::<_, String>(3)?),
                r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, i64>(7)?,
            ),
        ))
    })
    .expect("rows")
    .collect::<Result<_, _>>()
    .expect("rows")
}

pub fn sim_orders(data: &SimData) -> BTreeMap<String, OrderRow> {
    data.orders
        .iter()
        .map(|o| {
            (
                o.order_key.clone(),
                (
                    o.order_date,
                    o.order_status.as_str().to_string(),
                    o.amount,
                    o.currency.code().to_string(),
                    data.plan(o.plan_id).map(|p| p.plan_name.clone()),
                    Some(o.gateway.display_name.to_string()),
                    o.member_id as i64,
                ),
            )
        })
        .collect()
}

fn strings(conn: &Connection, sql: &str) -> BTreeSet<String> {
    let mut stmt = conn.prepare(sql).expect("query");
    stmt.query_map([], |r| r.get::<_, String>(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// The warehouse holds exactly the simulator's data (live rows) and has soft-deleted the rest.
pub fn assert_equals_sim(conn: &Connection, data: &SimData) {
    // orders and members carry no PRIMARY KEY index (migration 003): the merge alone
    // keeps their keys unique, deleted rows included.
    for (table, key) in [
        ("orders", "bot_id, order_key"),
        ("members", "bot_id, member_id, plan_id, project_id"),
    ] {
        let repeated: i64 = conn
            .query_row(
                &format!(
                    "SELECT count(*) FROM (SELECT {key} FROM {table} GROUP BY ALL HAVING count(*) > 1)"
                ),
                [],
                |r| r.get(0),
            )
            .expect("count repeated keys");
        assert_eq!(repeated, 0, "{table}: keys held by more than one row");
    }
    let ours = warehouse_orders(conn);
    let theirs = sim_orders(data);
    let missing: Vec<&String> = theirs.keys().filter(|k| !ours.contains_key(*k)).collect();
    let extra: Vec<&String> = ours.keys().filter(|k| !theirs.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "orders missing {missing:?}, extra {extra:?}"
    );
    for (key, want) in &theirs {
        assert_eq!(&ours[key], want, "order {key}");
    }

    let members = strings(
        conn,
        "SELECT member_id || '/' || plan_id || '/' || project_id || '/' || epoch(membership_end::TIMESTAMP)::BIGINT \
         FROM members WHERE _deleted_at IS NULL",
    );
    let want: BTreeSet<String> = data
        .memberships
        .iter()
        .map(|m| format!("{}/{}/{}/{}", m.member_id, m.plan_id, m.project_id, m.end))
        .collect();
    assert_eq!(members, want, "memberships");

    let mut stmt = conn
        .prepare("SELECT plan_id, plan_name, price::VARCHAR FROM plans WHERE _deleted_at IS NULL ORDER BY plan_id")
        .expect("query");
    let plans: Vec<(i64, String, Decimal)> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, dec(&r.get::<_, String>(2)?)))
        })
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    let mut want: Vec<(i64, String, Decimal)> = data
        .plans
        .iter()
        .map(|p| (p.plan_id as i64, p.plan_name.clone(), p.price))
        .collect();
    want.sort_by_key(|p| p.0);
    assert_eq!(plans, want, "plans");

    let coupons = strings(conn, "SELECT name FROM coupons WHERE _deleted_at IS NULL");
    assert_eq!(
        coupons,
        data.coupons.iter().map(|c| c.name.clone()).collect(),
        "coupons"
    );
    let projects = strings(
        conn,
        "SELECT project_id || '=' || project_name FROM projects WHERE _deleted_at IS NULL",
    );
    assert_eq!(
        projects,
        data.projects
            .iter()
            .map(|p| format!("{}={}", p.project_id, p.project_name))
            .collect(),
        "projects"
    );
}

/// Every Parquet file of a table, read back with the parquet crate, sorted by key.
fn parquet_table(root: &Path, table: &str) -> Option<RecordBatch> {
    let paths: Vec<PathBuf> = files_under(&root.join(table))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    let mut batches = Vec::new();
    for path in paths {
        let file = std::fs::File::open(&path).expect("parquet file");
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet header")
            .build()
            .expect("reader");
        for batch in reader {
            batches.push(batch.expect("batch"));
        }
    }
    let schema = batches.first()?.schema();
    Some(concat_batches(&schema, &batches).expect("concat"))
}

fn sorted_by_first_columns(batch: &RecordBatch, keys: usize) -> RecordBatch {
    let columns: Vec<SortColumn> = (0..keys)
        .map(|i| SortColumn {
            values: batch.column(i).clone(),
            options: None,
        })
        .collect();
    let indices = lexsort_to_indices(&columns, None).expect("sort");
    take_record_batch(batch, &indices).expect("take")
}

/// Parquet read back equals the DuckDB table, table by table.
pub fn assert_parquet_equals_duckdb(conn: &Connection, root: &Path) {
    for spec in mirrored_tables() {
        let keys = spec.keys.join(", ");
        let sql = format!(
            "SELECT {keys}, * EXCLUDE (bot_id, {keys}) {replace} FROM {table} ORDER BY {keys}",
            table = spec.name,
            replace = if spec.name == "plans" {
                "REPLACE (CAST(duration_interval AS VARCHAR) AS duration_interval)"
            } else {
                ""
            },
        );
        let duck: Vec<RecordBatch> = conn
            .prepare(&sql)
            .expect("query")
            .query_arrow([])
            .expect("arrow")
            .collect();
        let duck = pretty_format_batches(&duck).expect("format").to_string();
        let parquet = parquet_table(root, spec.name).expect("parquet files exist");
        // Same column order as the DuckDB query: keys first.
        let order: Vec<usize> = spec
            .keys
            .iter()
            .map(|k| parquet.schema().index_of(k).expect("key column"))
            .chain((0..parquet.num_columns()).filter(|i| {
                !spec
                    .keys
                    .contains(&parquet.schema().field(*i).name().as_str())
            }))
            .collect();
        let parquet = parquet.project(&order).expect("project");
        let parquet = sorted_by_first_columns(&parquet, spec.keys.len());
        let parquet = pretty_format_batches(&[parquet])
            .expect("format")
            .to_string();
        assert_eq!(parquet, duck, "Parquet mirror of {}", spec.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_sync_equals_the_simulator_and_a_quiet_second_sync_writes_nothing() {
    let server = start_sim(sim_options(2_345, 700)).await;
    let dir = tempdir();
    let settings = settings_for(&server, dir.path());

    let first = sync_once(&settings).await;
    let data = server.handle.data();
    {
        let conn = open(&settings);
        assert_equals_sim(&conn, &data);
        assert_parquet_equals_duckdb(&conn, settings.parquet_dir.as_deref().expect("parquet on"));
        let sql_named: i64 = conn
            .query_row(
                "SELECT count(*) FROM plans WHERE plan_name = ?",
                [tgm_sync::sim::SQL_PLAN_NAME],
                |r| r.get(0),
            )
            .expect("query");
        assert_eq!(
            sql_named, 1,
            "a plan named with quotes and SQL round-trips unchanged"
        );
        let snapshots: i64 = conn
            .query_row("SELECT count(*) FROM users_count_history", [], |r| r.get(0))
            .expect("q");
        assert_eq!(snapshots, 1);
    }
    assert_eq!(figures(&first, StreamName::Orders).rows_written, 2_345);

    // No changes: nothing is written, and /orders is read only as far as the lookback needs.
    let parquet_root = settings.parquet_dir.clone().expect("parquet on");
    let mtimes = file_times(&parquet_root);
    server.handle.reset_counts();
    let second = sync_once(&settings).await;
    for stream in [
        StreamName::Orders,
        StreamName::Members,
        StreamName::Plans,
        StreamName::Projects,
        StreamName::Coupons,
        StreamName::PaymentMethods,
    ] {
        let f = figures(&second, stream);
        assert_eq!(
            (f.rows_written, f.rows_deleted),
            (0, 0),
            "{stream} wrote nothing"
        );
    }
    let newest = data.orders.front().expect("orders").order_date;
    let in_window = data
        .orders
        .iter()
        .filter(|o| o.order_date >= newest - 3 * 86_400)
        .count() as u64;
    // Pages of 100 overlap by 2 rows: offsets 0, 98, 196, ... up to the first page wholly
    // older than the window.
    assert_eq!(
        server.handle.requests().get("orders"),
        in_window.div_ceil(98) + 1,
        "/orders requests of the quiet run"
    );
    assert_eq!(
        file_times(&parquet_root),
        mtimes,
        "no Parquet file rewritten"
    );
    server.shutdown().await;
}

/// The mirror's files and their times, but the history tables' (which gain a snapshot,
/// and so a new file, on every run).
fn file_times(root: &Path) -> BTreeMap<PathBuf, std::time::SystemTime> {
    files_under(root)
        .into_iter()
        .filter(|p| {
            !tgm_sync::mirror::HISTORY_TABLES
                .iter()
                .any(|t| p.starts_with(root.join(t)))
        })
        .filter_map(|p| {
            let t = std::fs::metadata(&p).and_then(|m| m.modified()).ok()?;
            Some((p, t))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_in_the_api_are_brought_over_by_one_sync() {
    let server = start_sim(sim_options(1_500, 500)).await;
    let dir = tempdir();
    let settings = settings_for(&server, dir.path());
    sync_once(&settings).await;

    let h = &server.handle;
    let completed = h.complete_pending(15);
    let refunded = h.refund(10);
    let removed = h.remove_memberships(12);
    let plan_id = h.data().plans[1].plan_id;
    h.rename_plan(plan_id, "Renamed 'Gold' plan");
    let added = h.add_orders(40);
    assert!(
        !completed.is_empty() && !refunded.is_empty() && removed.len() == 12 && added.len() == 40
    );

    let outcome = sync_once(&settings).await;
    let data = h.data();
    let conn = open(&settings);
    assert_equals_sim(&conn, &data);
    assert_parquet_equals_duckdb(&conn, settings.parquet_dir.as_deref().expect("parquet on"));
    let deleted: i64 = conn
        .query_row(
            "SELECT count(*) FROM members WHERE _deleted_at IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .expect("query");
    assert_eq!(deleted, 12, "removed memberships are soft-deleted");
    assert_eq!(figures(&outcome, StreamName::Members).rows_deleted, 12);
    drop(conn);

    // A removed membership that comes back loses its deletion mark.
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_created_while_paging_are_neither_lost_nor_duplicated() {
    let server = start_sim(sim_options(1_200, 50)).await;
    let dir = tempdir();
    let settings = settings_for(&server, dir.path());
    let before = server.handle.data();
    server.handle.set_drift(1);
    sync_once(&settings).await;
    server.handle.set_drift(0);
    {
        let conn = open(&settings);
        let ours = warehouse_orders(&conn);
        let missing: Vec<&String> = before
            .orders
            .iter()
            .map(|o| &o.order_key)
            .filter(|k| !ours.contains_key(*k))
            .collect();
        assert!(
            missing.is_empty(),
            "orders present before the run are all synced: missing {missing:?}"
        );
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM orders", [], |r| r.get(0))
            .expect("q");
        assert_eq!(rows as usize, ours.len(), "each order once");
    }
    // The next run collects the orders created during the first one.
    sync_once(&settings).await;
    let conn = open(&settings);
    assert_equals_sim(&conn, &server.handle.data());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_run_is_refused_with_its_exit_code() {
    let server = start_sim(sim_options(50, 20)).await;
    let dir = tempdir();
    let settings = settings_for(&server, dir.path());
    let holder = tgm_sync::warehouse::Warehouse::open(&settings.warehouse)
        .expect("first run holds the lock");
    let out = sync_command(&server.base_url(), dir.path())
        .output()
        .expect("binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(5),
        "lock held exit code; stderr: {stderr}"
    );
    assert!(stderr.contains("another tgm-sync run"), "{stderr}");
    assert_eq!(
        server.handle.requests().total,
        0,
        "no request made while locked out"
    );
    drop(holder);
    server.shutdown().await;
}

/// `/coupons` documents no query parameters: a sync asks it once, with none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coupons_are_asked_once_without_query_parameters() {
    let mut options = sim_options(50, 20);
    options.coupons = 7;
    let server = start_sim(options).await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    server.handle.set_response_hook(Some(std::sync::Arc::new(
        move |info: &tgm_sync::sim::RequestInfo, _: &mut serde_json::Value| {
            if info.method_path == "coupons" {
                sink.lock().expect("log").push(info.query.clone());
            }
        },
    )));
    let dir = tempdir();
    let settings = settings_for(&server, dir.path());
    sync_once(&settings).await;
    let asked = seen.lock().expect("log").clone();
    assert_eq!(
        asked,
        vec![Vec::<(String, String)>::new()],
        "one request, no parameters"
    );
    let conn = open(&settings);
    let coupons: i64 = conn
        .query_row(
            "SELECT count(*) FROM coupons WHERE _deleted_at IS NULL",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(coupons, 7);
    server.shutdown().await;
}

/// `fetch_member_emails` (off by default): each new COMPLETED order without
/// `member_email` is re-read by key, one request each; later runs re-read only new ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_emails_are_fetched_for_new_sales_when_asked() {
    let server = start_sim(sim_options(300, 50)).await;
    let sales_without_email = |settings: &Settings| -> (i64, i64) {
        open(settings)
            .query_row(
                "SELECT count(*), count(*) FILTER (WHERE member_email IS NULL) FROM orders \
                 WHERE order_status = 'COMPLETED' AND _deleted_at IS NULL",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("counts")
    };
    // Off: sales are left without an email.
    let off_dir = tempdir();
    let mut off = settings_for(&server, off_dir.path());
    off.orders.pending_reread_limit = 0;
    server.handle.reset_counts();
    sync_once(&off).await;
    let by_key_off = server.handle.requests().get("orders/key");
    let (sales, missing) = sales_without_email(&off);
    assert!(
        missing > 0 && sales > 0,
        "{missing} of {sales} sales without email"
    );

    // On, from scratch: every sale gets its email, one request per sale more.
    let on_dir = tempdir();
    let mut on = settings_for(&server, on_dir.path());
    on.orders.pending_reread_limit = 0;
    on.orders.fetch_member_emails = true;
    server.handle.reset_counts();
    sync_once(&on).await;
    let by_key_on = server.handle.requests().get("orders/key");
    assert_eq!(sales_without_email(&on), (sales, 0));
    assert_eq!(
        by_key_on - by_key_off,
        missing as u64,
        "one request per sale"
    );

    // A new sale: one more request, for it alone.
    let data = server.handle.data();
    let plan = data.plans.first().expect("a plan").clone();
    let newest = newest_order_date(&data);
    server
        .handle
        .add_sale(plan.plan_id, plan.price, plan.currency, newest + 60);
    server.handle.reset_counts();
    sync_once(&on).await;
    assert_eq!(server.handle.requests().get("orders/key"), 1);
    assert_eq!(sales_without_email(&on), (sales + 1, 0));
    server.shutdown().await;
}
