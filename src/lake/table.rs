//! Opening a synced table's Delta table, creating it on first use: the schema follows the
//! export query's columns (partition columns first, in the log only), the protocol stays
//! at reader 1 / writer 2 with no table features, and checkpoints come every
//! [`CHECKPOINT_INTERVAL`] commits.

use arrow::datatypes::{DataType as ArrowType, Field, SchemaRef};
use deltalake::kernel::{ArrayType, DataType, StructField};
use deltalake::protocol::SaveMode;
use deltalake::{DeltaTable, DeltaTableBuilder, DeltaTableError, TableProperty};

use super::error::{LakeError, describe, is_refusal};
use super::location::{LakeUrl, storage_options};
use crate::streams::table::TableSpec;

/// `delta.checkpointInterval`: a checkpoint every 10 commits keeps a reader's log replay
/// short (Delta's default is 100) at the cost of one small Parquet file per 10 runs.
pub const CHECKPOINT_INTERVAL: u32 = 10;

/// The partition columns of a table, in path order: `bot_id`, and `order_month` for orders.
pub(crate) fn partition_columns(spec: &TableSpec) -> Vec<&'static str> {
    let mut columns = vec!["bot_id"];
    if spec.month_partition.is_some() {
        columns.push("order_month");
    }
    columns
}

/// The Delta type of an exported Arrow column.
fn delta_type(table: &'static str, field: &Field) -> Result<DataType, LakeError> {
    let unsupported = || LakeError::UnsupportedType {
        table,
        column: field.name().clone(),
        found: field.data_type().to_string(),
    };
    Ok(match field.data_type() {
        ArrowType::Utf8 | ArrowType::LargeUtf8 | ArrowType::Utf8View => DataType::STRING,
        ArrowType::Int64 => DataType::LONG,
        ArrowType::Int32 => DataType::INTEGER,
        ArrowType::Boolean => DataType::BOOLEAN,
        ArrowType::Float64 => DataType::DOUBLE,
        ArrowType::Date32 => DataType::DATE,
        ArrowType::Decimal128(p, s) => {
            let scale = u8::try_from(*s).map_err(|_| unsupported())?;
            DataType::decimal(*p, scale).map_err(|_| unsupported())?
        }
        // Only UTC instants: a timestamp without a zone would need the timestampNtz
        // table feature, which Athena and Snowflake cannot read.
        ArrowType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, Some(_)) => {
            DataType::TIMESTAMP
        }
        ArrowType::List(item) | ArrowType::LargeList(item) => {
            DataType::Array(Box::new(ArrayType::new(delta_type(table, item)?, true)))
        }
        _ => return Err(unsupported()),
    })
}

/// The table's Delta schema: partition columns, then the data files' columns.
pub(crate) fn delta_columns(
    spec: &'static TableSpec,
    files: &SchemaRef,
) -> Result<Vec<StructField>, LakeError> {
    let mut columns = vec![StructField::new("bot_id", DataType::LONG, true)];
    if spec.month_partition.is_some() {
        columns.push(StructField::new("order_month", DataType::STRING, true));
    }
    for field in files.fields() {
        columns.push(StructField::new(
            field.name().clone(),
            delta_type(spec.name, field)?,
            true,
        ));
    }
    Ok(columns)
}

/// The columns as `_lake_published` remembers them (`name type, …`), to notice when a
/// migration changed what the files hold.
pub fn columns_signature(columns: &[StructField]) -> String {
    columns
        .iter()
        .map(|c| format!("{} {}", c.name(), c.data_type()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A storage or delta-rs failure, classified: refusals (credentials, permissions) apart.
pub(crate) fn store_error(lake: &LakeUrl, table: &'static str, e: DeltaTableError) -> LakeError {
    let detail = describe(&e);
    if is_refusal(&e) {
        LakeError::Refused {
            url: lake.shown(),
            detail,
        }
    } else if matches!(e, DeltaTableError::ObjectStore { .. }) {
        LakeError::Unavailable {
            url: lake.shown(),
            detail,
        }
    } else {
        LakeError::Table {
            table,
            url: lake.shown(),
            detail,
        }
    }
}

/// A handle on one table's location, loaded if the table exists.
pub async fn open(lake: &LakeUrl, table: &'static str) -> Result<DeltaTable, LakeError> {
    let url = lake.table_url(table);
    if let Some(root) = lake.local_root() {
        let dir = root.join(table);
        std::fs::create_dir_all(&dir).map_err(|e| LakeError::Table {
            table,
            url: lake.shown(),
            detail: format!("cannot create {}: {e}", dir.display()),
        })?;
    }
    let mut delta = DeltaTableBuilder::from_url(url)
        .and_then(|b| b.with_storage_options(storage_options()).build())
        .map_err(|e| store_error(lake, table, e))?;
    // A table not created yet is no error (and loading one would log as if it were).
    let exists = delta
        .log_store()
        .is_delta_table_location()
        .await
        .map_err(|e| store_error(lake, table, e))?;
    if !exists {
        return Ok(delta);
    }
    match delta.load().await {
        Ok(()) | Err(DeltaTableError::NotATable(_)) => Ok(delta),
        Err(e) => Err(store_error(lake, table, e)),
    }
}

/// Opens the table, creating it (version 0: protocol and metadata only) if it does not
/// exist yet. Two writers creating it at once is fine: the loser finds it created.
pub async fn open_or_create(
    lake: &LakeUrl,
    spec: &'static TableSpec,
    files: &SchemaRef,
) -> Result<DeltaTable, LakeError> {
    let delta = open(lake, spec.name).await?;
    if delta.version().is_some() {
        return Ok(delta);
    }
    let created = delta
        .create()
        .with_table_name(spec.name)
        .with_columns(delta_columns(spec, files)?)
        .with_partition_columns(partition_columns(spec))
        .with_save_mode(SaveMode::Ignore)
        .with_configuration_property(
            TableProperty::CheckpointInterval,
            Some(CHECKPOINT_INTERVAL.to_string()),
        )
        .with_comment(format!(
            "tgm-sync: the {} table of the TGmembership warehouse",
            spec.name
        ))
        .await;
    match created {
        Ok(table) => Ok(table),
        // Another writer may have created it between our look and our commit.
        Err(e) => {
            let delta = open(lake, spec.name).await?;
            match delta.version() {
                Some(_) => Ok(delta),
                None => Err(store_error(lake, spec.name, e)),
            }
        }
    }
}
