//! The Parquet tree as other tools read it: DuckDB's `read_parquet(..., hive_partitioning
//! = true)` and pyarrow's datasets (Python, installed by `.ci/run`).

use std::process::Command;

use crate::support::*;
use crate::sync::{open, sync_once};

const READER: &str = r#"
import json, sys
import duckdb, pyarrow.dataset as ds
root = sys.argv[1]
con = duckdb.connect()
duck = con.execute(
    "SELECT count(*), sum(amount)::VARCHAR, count(DISTINCT order_key), min(bot_id), "
    "count(DISTINCT order_month), count(*) FILTER (WHERE _deleted_at IS NULL) "
    f"FROM read_parquet('{root}/orders/**/*.parquet', hive_partitioning = true)"
).fetchone()
members = con.execute(
    f"SELECT count(*) FROM read_parquet('{root}/members/**/*.parquet', hive_partitioning = true)"
).fetchone()[0]
table = ds.dataset(f"{root}/orders", format="parquet", partitioning="hive").to_table()
print(json.dumps({
    "rows": duck[0], "sum": duck[1], "keys": duck[2], "bot_id": duck[3], "months": duck[4],
    "live": duck[5], "members": members, "arrow_rows": table.num_rows,
    "arrow_amount_type": str(table.schema.field("amount").type),
}))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duckdb_and_pyarrow_read_the_parquet_tree() {
    let probe = Command::new("python3")
        .args(["-c", "import duckdb, pyarrow"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        skip_unless_ci(
            "duckdb_and_pyarrow_read_the_parquet_tree",
            "python3 with duckdb and pyarrow is not available",
        );
        return;
    }
    let server = start_sim(sim_options(1_800, 400)).await;
    let dir = tempdir();
    let settings = settings_for(&server, dir.path());
    sync_once(&settings).await;
    let root = settings.parquet_dir.clone().expect("parquet on");
    let out = Command::new("python3")
        .arg("-c")
        .arg(READER)
        .arg(&root)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "reader failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).expect("reader prints JSON");

    let conn = open(&settings);
    let (rows, sum, months, members): (i64, String, i64, i64) = conn
        .query_row(
            "SELECT count(*), sum(amount)::VARCHAR, count(DISTINCT strftime(order_date::TIMESTAMP, '%Y-%m')), \
             (SELECT count(*) FROM members) FROM orders",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .expect("warehouse figures");
    assert_eq!(got["rows"], rows);
    assert_eq!(got["keys"], rows, "each order once in the tree");
    assert_eq!(got["live"], rows);
    assert_eq!(
        got["sum"],
        sum.as_str(),
        "exact decimal amounts survive the round trip"
    );
    assert_eq!(
        got["bot_id"], BOT_ID,
        "bot_id comes from the partition path"
    );
    assert_eq!(got["months"], months, "one order_month partition per month");
    assert_eq!(got["members"], members);
    assert_eq!(got["arrow_rows"], rows);
    assert_eq!(got["arrow_amount_type"], "decimal128(38, 18)");
    server.shutdown().await;
}
