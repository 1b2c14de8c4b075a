//! How a synced table looks to the loader: its staged columns, key and partitioning.
//!
//! The target tables themselves are created by the migrations (`sql/NNN_*.sql`); a
//! [`TableSpec`] lists the columns a stream stages (in Arrow order) so that staging DDL,
//! Arrow schema and merge SQL are all generated from one list. The list itself comes
//! from the stream's row declaration (`streams::row::staged_row!`), and a test
//! (`streams::tests`) checks every spec against the schema the migrations create.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

use crate::money::{PRECISION, SCALE};

/// A staged column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Int,
    Bool,
    /// `DECIMAL(38,18)`.
    Money,
    /// `TIMESTAMPTZ`, from UNIX seconds.
    Timestamp,
    IntList,
    TextList,
}

impl ColumnType {
    pub fn sql(self) -> &'static str {
        match self {
            ColumnType::Text => "VARCHAR",
            ColumnType::Int => "BIGINT",
            ColumnType::Bool => "BOOLEAN",
            ColumnType::Money => "DECIMAL(38,18)",
            ColumnType::Timestamp => "TIMESTAMPTZ",
            ColumnType::IntList => "BIGINT[]",
            ColumnType::TextList => "VARCHAR[]",
        }
    }

    pub fn arrow(self) -> DataType {
        match self {
            ColumnType::Text => DataType::Utf8,
            ColumnType::Int => DataType::Int64,
            ColumnType::Bool => DataType::Boolean,
            ColumnType::Money => DataType::Decimal128(PRECISION, SCALE as i8),
            ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            ColumnType::IntList => {
                DataType::List(Arc::new(Field::new("item", DataType::Int64, true)))
            }
            ColumnType::TextList => {
                DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
            }
        }
    }
}

/// One staged column.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
}

pub(crate) const fn col(name: &'static str, ty: ColumnType) -> Column {
    Column { name, ty }
}

/// A target column computed from staged ones in SQL.
#[derive(Debug, Clone, Copy)]
pub struct Derived {
    pub name: &'static str,
    /// Its DuckDB type, as the schema declares it.
    pub sql_type: &'static str,
    /// The expression over the staged row `s.`.
    pub expr: &'static str,
}

/// How staged rows reach the target table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Merged by key: upserted when changed, soft-deleted when a full scan no longer
    /// returns them; the table carries `_synced_at`, `_run_id` and `_deleted_at` and is
    /// mirrored to Parquet.
    Merged,
    /// One snapshot per run: appended with the run's `run_id` and `captured_at`, never
    /// merged, not mirrored.
    Snapshot,
}

/// A synced table as the loader sees it.
#[derive(Debug)]
pub struct TableSpec {
    /// Target table name (in `sql/001_schema.sql`).
    pub name: &'static str,
    /// Key columns after `bot_id`.
    pub keys: &'static [&'static str],
    /// Staged columns in order, `bot_id` first; `_extra` last if the table has it.
    pub columns: &'static [Column],
    /// Target columns computed from staged ones in SQL.
    pub derived: &'static [Derived],
    /// For orders: the timestamp column whose UTC month names the Parquet partition.
    pub month_partition: Option<&'static str>,
    /// Value columns that only some answers carry (orders' `member_email` comes from
    /// `/orders/{order_key}` alone, never from the `/orders` list): a row staged with
    /// NULL there keeps the stored value instead of erasing it.
    pub kept_when_null: &'static [&'static str],
    pub layout: Layout,
}

impl TableSpec {
    /// The staging table's name (a temporary table of the loading connection).
    pub(crate) fn stage_name(&self) -> String {
        format!("_stage_{}", self.name)
    }

    /// Arrow schema of a staged batch: the columns plus `_seq` (arrival order).
    pub(crate) fn arrow_schema(&self) -> Arc<Schema> {
        let mut fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| Field::new(c.name, c.ty.arrow(), true))
            .collect();
        fields.push(Field::new("_seq", DataType::Int64, false));
        Arc::new(Schema::new(fields))
    }

    /// `CREATE OR REPLACE TEMP TABLE _stage_x (...)`.
    pub(crate) fn stage_ddl(&self) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("{} {}", c.name, c.ty.sql()))
            .collect();
        format!(
            "CREATE OR REPLACE TEMP TABLE {} ({}, _seq BIGINT)",
            self.stage_name(),
            cols.join(", ")
        )
    }

    /// Columns compared to decide whether a row changed: all staged columns but the key.
    pub(crate) fn value_columns(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns
            .iter()
            .map(|c| c.name)
            .filter(|name| *name != "bot_id" && !self.keys.contains(name))
    }
}
