//! tgm-sync: copies a bot's data out of the TGmembership API into DuckDB and Parquet.
//!
//! The data path, module by module: `config` resolves settings; `api` talks to the
//! service (client, retry policy, pager, models); `streams` knows each endpoint's key and
//! incremental strategy; `sync` runs fetchers and loaders; `load` turns rows into Arrow
//! batches, DuckDB upserts and Parquet files; `lake` writes the tables as Delta Lake
//! tables on S3 or a file system; `sim` is a built-in simulator of the API
//! for demos and tests; `cli` is the command line; `progress` and `hint` are what a
//! person at a terminal sees; `sql_files` carries the SQL statements kept under `sql/`.

pub mod api;
pub mod cli;
pub mod clock;
pub mod config;
pub mod currency;
pub mod error;
pub mod exit;
pub mod hint;
pub mod lake;
pub mod load;
pub mod logging;
pub mod metrics;
pub mod money;
pub mod progress;
pub mod quoted;
pub mod report;
pub mod secret;
pub mod sim;
pub mod sql_files;
pub mod streams;
pub mod sync;
