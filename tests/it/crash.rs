//! Crash safety: the sync is SIGKILLed at many points, rerun, and must end equal to a
//! clean run, in DuckDB and in Parquet; temporary Parquet files are cleaned up.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use arrow::util::pretty::pretty_format_batches;
use duckdb::Connection;
use tgm_sync::sim::FaultOptions;
use tgm_sync::streams::mirrored_tables;

use crate::support::*;

fn quiet_sync(base_url: &str, dir: &Path) -> std::process::Command {
    let mut cmd = sync_command(base_url, dir);
    cmd.args(["-q", "--batch-rows", "500"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Every synced table without the columns that name the run, sorted: what a rerun must reproduce.
fn dump_duckdb(dir: &Path) -> String {
    let conn = Connection::open(dir.join("warehouse.duckdb")).expect("warehouse");
    let mut out = String::new();
    for spec in mirrored_tables() {
        let keys = spec.keys.join(", ");
        let sql = format!(
            "SELECT * EXCLUDE (_synced_at, _run_id, _deleted_at), _deleted_at IS NULL AS live FROM {} ORDER BY bot_id, {keys}",
            spec.name
        );
        let batches: Vec<_> = conn
            .prepare(&sql)
            .expect("query")
            .query_arrow([])
            .expect("arrow")
            .collect();
        out.push_str(&format!(
            "{}\n{}\n",
            spec.name,
            pretty_format_batches(&batches).expect("format")
        ));
    }
    let owed: i64 = conn
        .query_row("SELECT count(*) FROM _parquet_dirty", [], |r| r.get(0))
        .expect("q");
    out.push_str(&format!("owed partitions: {owed}\n"));
    out
}

/// The Parquet tree: file list and, per file, its rows without the run columns. The
/// history tables are left out, as in [`dump_duckdb`]: each run adds its own snapshot.
fn dump_parquet(dir: &Path) -> String {
    let files = files_under(&dir.join("parquet")).into_iter().filter(|p| {
        !tgm_sync::mirror::HISTORY_TABLES
            .iter()
            .any(|t| p.starts_with(dir.join("parquet").join(t)))
    });
    let mut out = String::new();
    for path in files {
        let rel = path
            .strip_prefix(dir)
            .expect("inside")
            .display()
            .to_string();
        let file = std::fs::File::open(&path).expect("file");
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap_or_else(|e| panic!("{rel} is not a whole Parquet file: {e}"))
            .build()
            .expect("reader");
        let batches: Vec<_> = reader
            .map(|b| {
                let b = b.expect("batch");
                let keep: Vec<usize> = (0..b.num_columns())
                    .filter(|i| {
                        !matches!(
                            b.schema().field(*i).name().as_str(),
                            "_synced_at" | "_run_id" | "_deleted_at"
                        )
                    })
                    .collect();
                b.project(&keep).expect("project")
            })
            .collect();
        out.push_str(&format!(
            "{rel}\n{}\n",
            pretty_format_batches(&batches).expect("format")
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_runs_end_equal_to_a_clean_run_after_a_rerun() {
    let mut options = sim_options(3_000, 1_500);
    options.faults = FaultOptions {
        latency_ms: 2,
        ..FaultOptions::default()
    };
    let server = start_sim(options).await;
    let url = server.base_url();

    let clean = tempdir();
    let started = Instant::now();
    let status = quiet_sync(&url, clean.path()).status().expect("clean run");
    assert!(status.success(), "clean run: {status}");
    let clean_time = started.elapsed();
    let (want_db, want_pq) = (dump_duckdb(clean.path()), dump_parquet(clean.path()));

    // Kill points spread over the whole run: paging, loading, merging, Parquet rewrites.
    let fractions = [
        0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0,
    ];
    let mut killed = 0;
    for fraction in fractions {
        let dir = tempdir();
        let mut child = quiet_sync(&url, dir.path()).spawn().expect("spawn");
        std::thread::sleep(clean_time.mul_f64(fraction));
        if child.try_wait().expect("poll").is_none() {
            child.kill().expect("SIGKILL");
            killed += 1;
        }
        let _ = child.wait();
        let status = quiet_sync(&url, dir.path()).status().expect("rerun");
        assert!(
            status.success(),
            "rerun after a kill at {fraction}: {status}"
        );
        assert_eq!(
            dump_duckdb(dir.path()),
            want_db,
            "DuckDB after a kill at {:.0}% of the run",
            fraction * 100.0
        );
        assert_eq!(
            dump_parquet(dir.path()),
            want_pq,
            "Parquet after a kill at {:.0}% of the run",
            fraction * 100.0
        );
    }
    assert!(
        killed >= fractions.len() / 2,
        "most kill points landed inside a run ({killed})"
    );
    assert!(clean_time < Duration::from_secs(60));
    server.shutdown().await;
}
