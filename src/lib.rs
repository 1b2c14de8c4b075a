//! tgm-sync: copies a bot's data out of the TGmembership API into DuckDB and Parquet.
//!
//! The data path, folder by folder (ARCHITECTURE.md draws it): `api` talks to the
//! service (client, retry policy, pager, models); `streams` declares each endpoint's key,
//! row, table and strategy; `sync` runs a bot's passes (fetch, sink, the orders strategy,
//! the bot fan-out); `warehouse` is DuckDB, the one writer (schema, merge, state, every
//! transaction); `mirror` writes the Parquet tree and `lake` the Delta tables; `fx` reads
//! exchange rates off `/revenue`; `report` renders and verifies the reports. `config`
//! resolves settings once; `cli` is the command line, with what a person at a terminal
//! sees (`progress`, `logging` beside it); `sim` is a built-in simulator of the API for
//! demos and tests; `sql_files` carries the SQL statements kept under `sql/`.

// `pub` is the library's contract with the binary, the tests and the benchmark; the rest
// is `pub(crate)` (ARCHITECTURE.md).
#![warn(unreachable_pub)]

pub mod api;
pub mod bot_id;
pub mod cli;
pub mod clock;
pub mod config;
pub mod currency;
pub mod error;
pub mod exit;
pub mod fx;
pub mod lake;
pub mod logging;
pub mod mirror;
pub mod money;
pub mod progress;
pub mod quoted;
pub(crate) mod report;
pub mod secret;
pub mod sim;
pub(crate) mod sql_files;
pub mod streams;
pub mod sync;
pub mod warehouse;
