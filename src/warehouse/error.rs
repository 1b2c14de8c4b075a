//! Warehouse and Parquet failures, each naming the file or table at fault.

use std::path::PathBuf;

use super::schema::SchemaError;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Another tgm-sync run holds this warehouse's lock file.
    #[error(
        "another tgm-sync run is using the warehouse {path} (lock file {lock} is held); try again when it has finished"
    )]
    LockHeld { path: PathBuf, lock: PathBuf },

    /// Another process (a BI tool, the duckdb CLI) has the DuckDB file open.
    #[error(
        "the warehouse {path} is open in another process ({detail}); close it there, and point BI tools at the Parquet mirror instead"
    )]
    InUse { path: PathBuf, detail: String },

    #[error("{name}={value:?} is not a memory size DuckDB accepts, such as 96MB or 1GB ({detail})")]
    BadMemoryLimit {
        name: &'static str,
        value: String,
        detail: String,
    },

    #[error(
        "storage_version={value:?} is not a DuckDB storage version, such as v1.0.0, v1.4.0 or latest ({detail})"
    )]
    BadStorageVersion { value: String, detail: String },

    #[error("cannot write the Parquet mirror at {path}: {detail}")]
    ParquetNotWritable { path: PathBuf, detail: String },

    #[error("{path} is not a DuckDB database ({detail})")]
    NotDuckDb { path: PathBuf, detail: String },

    /// Opened read-only, the warehouse file does not exist (`cli` adds the advice: sync).
    #[error("{path} is not a DuckDB database (no such file)")]
    NoSuchFile { path: PathBuf },

    #[error("cannot write the warehouse at {path}: {detail}")]
    NotWritable { path: PathBuf, detail: String },

    #[error("warehouse schema: {0}")]
    Schema(#[from] SchemaError),

    #[error("DuckDB failed while {context}: {source}")]
    Db {
        context: String,
        #[source]
        source: duckdb::Error,
    },

    #[error("building Arrow batch for {table}: {source}")]
    Arrow {
        table: String,
        #[source]
        source: arrow::error::ArrowError,
    },

    #[error("writing Parquet file {path}: {detail}")]
    Parquet { path: PathBuf, detail: String },

    #[error("{context} {path}: {source}")]
    Io {
        context: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Adds "while ..." context to DuckDB results.
pub(crate) trait DbContext<T> {
    fn during(self, context: impl FnOnce() -> String) -> Result<T, LoadError>;
}

impl<T> DbContext<T> for Result<T, duckdb::Error> {
    fn during(self, context: impl FnOnce() -> String) -> Result<T, LoadError> {
        self.map_err(|source| LoadError::Db {
            context: context(),
            source,
        })
    }
}
