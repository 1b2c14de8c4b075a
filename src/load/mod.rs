//! Rows → Arrow batches → DuckDB (staging, merge, state) and the Parquet mirror.
//!
//! Every write transaction of the program is opened here: a stream's by
//! [`stream::StreamLoad`], the report inputs' by [`inputs`], the run records' and the
//! re-read rotation's by [`state`], the lake output's bookkeeping by [`lake_marks`]; the
//! rest of the code hands rows and figures over.

pub mod batch;
pub mod error;
pub mod inputs;
pub mod lake_marks;
pub mod merge;
pub mod parquet;
pub mod schema;
pub mod state;
pub mod stream;
pub mod table;
pub mod warehouse;

pub use error::LoadError;
pub use state::RunStamp;
pub use warehouse::Warehouse;
