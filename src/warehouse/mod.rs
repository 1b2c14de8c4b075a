//! DuckDB, the one writer: the file opened and locked, the schema and its migrations,
//! staging and merge, state, run records, rejects and the marks of owed partitions.
//!
//! Every write transaction of the program is opened here: the migrations' and the report
//! layer's by [`schema`], a stream's by [`stream::StreamLoad`], the report inputs' by
//! [`inputs`], the run records' and the re-read rotation's by [`state`], the lake
//! output's bookkeeping by [`lake_marks`]; the rest of the code hands rows (as Arrow
//! batches, built by `streams::batch`) and figures over.

pub(crate) mod error;
pub(crate) mod inputs;
pub(crate) mod lake_marks;
pub(crate) mod merge;
pub mod open;
pub mod schema;
pub mod state;
pub(crate) mod stream;

pub use error::LoadError;
pub use open::Warehouse;
pub use state::RunStamp;

use error::DbContext;

/// The first column of a query's rows, as text (partitions, order keys, ...); `what`
/// names the work for an error.
pub(crate) fn query_strings(
    conn: &duckdb::Connection,
    sql: &str,
    params: &[&dyn duckdb::ToSql],
    what: impl Fn() -> String,
) -> Result<Vec<String>, LoadError> {
    let mut stmt = conn.prepare(sql).during(&what)?;
    let rows = stmt
        .query_map(params, |r| r.get::<_, String>(0))
        .during(&what)?;
    rows.collect::<Result<_, _>>().during(&what)
}
