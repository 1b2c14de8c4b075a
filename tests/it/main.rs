//! Integration tests: one binary, one module per area. Everything talks to real parts:
//! the simulator as an HTTP server on 127.0.0.1, DuckDB files, Parquet files read back.

mod support;

mod bad_input;
mod bots;
mod cli;
mod client;
mod commands;
mod completions;
mod config_table;
mod crash;
mod faults;
mod fixtures;
mod fx_early;
mod glitches;
mod init;
mod interop;
mod json_output;
mod lake;
mod lake_fs;
mod lake_support;
mod nightly;
mod old_duckdb;
mod parquet_history;
mod reconcile;
mod reports;
mod s3_proxy;
mod schedule;
mod secrets;
mod sql_files;
mod sql_reports;
mod structure;
mod sync;
mod terminal;
