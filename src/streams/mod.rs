//! The streams: each declared once, in its own module, as a [`StreamDef`]: its endpoint,
//! its key, its table (columns and types, from its row declaration), whether it is a
//! dimension or a fact, how a row is read and written, and which strategy keeps it
//! current. Adding a column is one line in the stream's row declaration plus a migration.
//!
//! | stream | endpoint | key (after bot_id) | strategy |
//! |---|---|---|---|
//! | orders | /orders | order_key | newest-first with a lookback window, periodic full scan |
//! | members | /members | member_id, plan_id, project_id | full scan, soft deletes |
//! | plans | /plans | plan_id | full scan, soft deletes |
//! | projects | /projects | project_id | full scan, soft deletes |
//! | coupons | /coupons | name | full scan, soft deletes |
//! | payment_methods | /paymentMethods | name | full scan, soft deletes |
//! | users_count | /users/count | run | one snapshot per run |

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use crate::api::Method;
use crate::api::row::RowError;
use crate::bot_id::BotId;
use crate::streams::batch::BatchWriter;
use crate::streams::table::{Layout, TableSpec};

pub(crate) mod batch;
pub mod coupons;
pub mod members;
pub mod orders;
pub mod payment_methods;
pub mod plans;
pub mod projects;
pub(crate) mod row;
pub mod table;
pub mod users_count;

/// A stream the user can name in `--streams`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StreamName {
    Plans,
    Projects,
    Coupons,
    PaymentMethods,
    Members,
    Orders,
    UsersCount,
}

impl StreamName {
    /// All streams, in the order a run reports them.
    pub const ALL: [StreamName; 7] = [
        StreamName::Plans,
        StreamName::Projects,
        StreamName::Coupons,
        StreamName::PaymentMethods,
        StreamName::Members,
        StreamName::Orders,
        StreamName::UsersCount,
    ];

    /// The stream's declaration.
    pub(crate) fn def(self) -> &'static StreamDef {
        match self {
            StreamName::Plans => &plans::STREAM,
            StreamName::Projects => &projects::STREAM,
            StreamName::Coupons => &coupons::STREAM,
            StreamName::PaymentMethods => &payment_methods::STREAM,
            StreamName::Members => &members::STREAM,
            StreamName::Orders => &orders::STREAM,
            StreamName::UsersCount => &users_count::STREAM,
        }
    }

    /// Reference data the other streams point at; synced first.
    pub(crate) fn is_dimension(self) -> bool {
        self.def().role == Role::Dimension
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StreamName::Plans => "plans",
            StreamName::Projects => "projects",
            StreamName::Coupons => "coupons",
            StreamName::PaymentMethods => "payment_methods",
            StreamName::Members => "members",
            StreamName::Orders => "orders",
            StreamName::UsersCount => "users_count",
        }
    }
}

/// Whether other streams refer to this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Reference data (plans, projects, coupons, payment methods): synced first.
    Dimension,
    /// Rows that refer to the dimensions (orders, members) or stand alone.
    Fact,
}

/// How an endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A list read page by page (`limit`/`offset`), `limit` rows a page.
    Paged { limit: u32 },
    /// A list in one answer.
    List,
    /// One object: the stream's single row.
    Object,
}

/// How a stream is kept current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Read whole every run; what is gone is soft-deleted.
    FullScan,
    /// One snapshot row per run.
    Snapshot,
    /// Newest first down to a lookback window, reconciled against `/revenue`, with a
    /// periodic full scan (`sync::orders`).
    NewestFirst,
}

/// One stream, declared once.
#[derive(Debug)]
pub struct StreamDef {
    pub name: StreamName,
    pub role: Role,
    pub method: Method,
    pub answer: Answer,
    /// The row key as text, for the pager's already-seen check.
    pub key_of: fn(&Value) -> Option<String>,
    pub table: &'static TableSpec,
    pub strategy: Strategy,
    /// Reads one row and, if it reads, writes it ([`row::stage_row`]).
    pub stage: fn(Value, BotId, &mut BatchWriter) -> Result<(), RowError>,
    /// Reads one row without keeping it ([`row::check_row`]).
    pub check: fn(Value) -> Result<(), RowError>,
}

/// Every stream's declaration, in [`StreamName::ALL`] order.
pub fn registry() -> impl Iterator<Item = &'static StreamDef> {
    StreamName::ALL.into_iter().map(StreamName::def)
}

/// The tables mirrored to Parquet (every merged table).
pub fn mirrored_tables() -> impl Iterator<Item = &'static TableSpec> {
    registry()
        .map(|d| d.table)
        .filter(|t| t.layout == Layout::Merged)
}

/// A field of a row as key text: a string as is, a number in decimal.
pub(crate) fn text_of(row: &Value, field: &str) -> Option<String> {
    match row.get(field)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A row's key fields (`TableSpec::keys`) as one text, `/`-separated.
pub(crate) fn key_text(row: &Value, keys: &[&str]) -> Option<String> {
    let mut parts = Vec::with_capacity(keys.len());
    for key in keys {
        parts.push(text_of(row, key)?);
    }
    Some(parts.join("/"))
}

impl fmt::Display for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StreamName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace(['-', '/'], "_");
        let found = match norm.as_str() {
            "paymentmethods" => Some(StreamName::PaymentMethods),
            "userscount" | "users" => Some(StreamName::UsersCount),
            "memberships" => Some(StreamName::Members),
            _ => StreamName::ALL.into_iter().find(|n| n.as_str() == norm),
        };
        found.ok_or_else(|| {
            format!(
                "unknown stream; expected one of {}",
                StreamName::ALL.map(|n| n.as_str()).join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_aliases_parse() {
        for s in StreamName::ALL {
            assert_eq!(s.as_str().parse::<StreamName>(), Ok(s));
        }
        assert_eq!(
            "paymentMethods".parse::<StreamName>(),
            Ok(StreamName::PaymentMethods)
        );
        assert_eq!(
            "users/count".parse::<StreamName>(),
            Ok(StreamName::UsersCount)
        );
        assert!("bogus".parse::<StreamName>().is_err());
    }

    #[test]
    fn each_declaration_is_filed_under_its_own_name() {
        for s in StreamName::ALL {
            assert_eq!(
                s.def().name,
                s,
                "{s} points at another stream's declaration"
            );
        }
    }

    #[test]
    fn every_merged_table_is_keyed_by_columns_it_stages() {
        for def in registry() {
            let t = def.table;
            assert_eq!(
                t.columns.first().map(|c| c.name),
                Some("bot_id"),
                "{}",
                t.name
            );
            for key in t.keys.iter().chain(t.kept_when_null) {
                assert!(
                    t.columns.iter().any(|c| c.name == *key),
                    "{}: {key} is not a staged column",
                    t.name
                );
            }
            assert_eq!(
                t.layout == Layout::Snapshot,
                def.strategy == Strategy::Snapshot,
                "{}: a snapshot table goes with the snapshot strategy",
                t.name
            );
        }
    }

    /// DuckDB's own name of a type (`TIMESTAMPTZ` → `TIMESTAMP WITH TIME ZONE`).
    fn canonical(conn: &duckdb::Connection, sql_type: &str) -> String {
        conn.query_row(
            &format!("SELECT typeof(CAST(NULL AS {sql_type}))"),
            [],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("{sql_type} is not a DuckDB type: {e}"))
    }

    /// Every stream's table spec against the table the migrations create: the same
    /// columns with the same types (staged, derived, and the bookkeeping columns of its
    /// layout), nothing the spec does not know, and the staged columns in the table's
    /// order.
    #[test]
    fn every_table_spec_matches_the_schema_the_migrations_create() {
        let conn = duckdb::Connection::open_in_memory().expect("in-memory DuckDB");
        conn.execute_batch(crate::warehouse::open::CONNECTION_SETUP)
            .expect("connection settings");
        crate::warehouse::schema::migrate(&conn).expect("migrations");
        for def in registry() {
            let t = def.table;
            let mut stmt = conn
                .prepare(
                    "SELECT column_name, data_type FROM information_schema.columns \
                     WHERE table_name = ? ORDER BY ordinal_position",
                )
                .expect("query");
            let in_schema: Vec<(String, String)> = stmt
                .query_map([t.name], |r| Ok((r.get(0)?, r.get(1)?)))
                .expect("columns")
                .collect::<Result<_, _>>()
                .expect("columns");
            assert!(!in_schema.is_empty(), "{}: no such table", t.name);
            let bookkeeping: &[(&str, &str)] = match t.layout {
                Layout::Merged => &[
                    ("_synced_at", "TIMESTAMPTZ"),
                    ("_run_id", "BIGINT"),
                    ("_deleted_at", "TIMESTAMPTZ"),
                ],
                Layout::Snapshot => &[("run_id", "BIGINT"), ("captured_at", "TIMESTAMPTZ")],
            };
            let mut declared: Vec<(String, String)> = t
                .columns
                .iter()
                .map(|c| (c.name.to_string(), canonical(&conn, c.ty.sql())))
                .chain(
                    t.derived
                        .iter()
                        .map(|d| (d.name.to_string(), canonical(&conn, d.sql_type))),
                )
                .chain(
                    bookkeeping
                        .iter()
                        .map(|(name, ty)| (name.to_string(), canonical(&conn, ty))),
                )
                .collect();
            let mut found = in_schema.clone();
            declared.sort();
            found.sort();
            assert_eq!(
                declared, found,
                "{}: the spec's columns (left) and the schema's (right) differ",
                t.name
            );
            let staged: Vec<&str> = t.columns.iter().map(|c| c.name).collect();
            let schema_order: Vec<&str> = in_schema
                .iter()
                .map(|(name, _)| name.as_str())
                .filter(|name| staged.contains(name))
                .collect();
            assert_eq!(
                staged, schema_order,
                "{}: staged columns (left) in another order than the table's (right)",
                t.name
            );
        }
    }
}
