//! Rows → Arrow batches → DuckDB (staging, merge, state) and the Parquet mirror.

pub mod batch;
pub mod error;
pub mod merge;
pub mod parquet;
pub mod schema;
pub mod state;
pub mod table;
pub mod warehouse;

pub use error::LoadError;
pub use warehouse::Warehouse;
