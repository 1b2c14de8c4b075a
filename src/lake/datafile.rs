//! One partition's rows as a Parquet file for the lake, written by our arrow-60 writer
//! (the mirror's query and settings), with the Delta statistics read off its footer.
//!
//! deltalake is on another arrow version, so no Arrow value crosses over: the Delta log
//! only needs the file's bytes, size and the statistics JSON made here.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use duckdb::{Connection, params};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::error::LakeError;
use super::stats::delta_stats;
use crate::bot_id::BotId;
use crate::mirror::{export_query, month_bounds};
use crate::streams::table::TableSpec;
use crate::warehouse::error::DbContext;

/// Rows per Parquet row group, as in the mirror.
const ROW_GROUP_ROWS: usize = 65_536;

/// A finished data file, not yet uploaded.
#[derive(Debug)]
pub struct DataFile {
    pub bytes: Vec<u8>,
    pub rows: u64,
    /// Delta's `stats` JSON: numRecords, minValues, maxValues, nullCount.
    pub stats: String,
}

/// The Arrow schema of a table's data files (every column but the partition ones), read
/// from the export query itself so it cannot drift from the files.
pub fn file_schema(conn: &Connection, spec: &'static TableSpec) -> Result<SchemaRef, LakeError> {
    let sql = format!("SELECT * FROM ({}) LIMIT 0", export_query(spec));
    let mut stmt = conn
        .prepare(&sql)
        .during(|| format!("reading the columns of {}", spec.name))?;
    let batches = if spec.month_partition.is_some() {
        stmt.stream_arrow(params![-1i64, 1970, 1, 1970, 2, "1970-01"])
    } else {
        stmt.stream_arrow(params![-1i64])
    }
    .during(|| format!("reading the columns of {}", spec.name))?;
    Ok(batches.get_schema())
}

/// Writes one partition of one bot's table; `None` when it has no rows.
pub fn write_partition(
    conn: &Connection,
    spec: &'static TableSpec,
    bot_id: BotId,
    partition: &str,
) -> Result<Option<DataFile>, LakeError> {
    let sql = export_query(spec);
    let ctx = || format!("exporting {} for the lake", spec.name);
    let mut stmt = conn.prepare(&sql).during(ctx)?;
    let batches = if spec.month_partition.is_some() {
        let ((year, month), (next_year, next_month)) =
            month_bounds(partition).ok_or_else(|| LakeError::Parquet {
                table: spec.name,
                detail: format!("partition {partition:?} is not YYYY-MM"),
            })?;
        stmt.stream_arrow(params![
            bot_id, year, month, next_year, next_month, partition
        ])
    } else {
        stmt.stream_arrow(params![bot_id])
    }
    .during(ctx)?;
    let schema = batches.get_schema();
    let parquet_err = |e: parquet::errors::ParquetError| LakeError::Parquet {
        table: spec.name,
        detail: e.to_string(),
    };
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
    let mut writer =
        ArrowWriter::try_new(Vec::new(), Arc::clone(&schema), Some(props)).map_err(parquet_err)?;
    let mut rows = 0u64;
    for batch in batches {
        let batch = batch.during(ctx)?;
        rows += batch.num_rows() as u64;
        writer.write(&batch).map_err(parquet_err)?;
    }
    if rows == 0 {
        return Ok(None);
    }
    let metadata = writer.finish().map_err(parquet_err)?;
    // The finished file is the buffer: take it out (`into_inner` would finish again).
    let bytes = std::mem::take(writer.inner_mut());
    let stats = delta_stats(&metadata, rows);
    Ok(Some(DataFile { bytes, rows, stats }))
}
