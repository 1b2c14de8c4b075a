//! Warehouse schema: forward-only migrations (`sql/NNN_name.sql`) and the report layer.
//!
//! Migrations are embedded in the binary, numbered, and recorded in `_schema_version`; each
//! missing one is applied in its own transaction, in order, so a run killed half way leaves
//! the warehouse at the last whole version. A warehouse written by a newer binary (a version
//! this one does not know) is refused rather than written with an older idea of the tables.
//! The report layer (`sql/reports.sql`) holds only `CREATE OR REPLACE` macros and views, so
//! it is not versioned: every sync installs the copy embedded in its binary.

use crate::sql_files::sql_file;
use duckdb::Connection;

/// One forward migration: `sql/{version:03}_{name}.sql`, embedded at build time.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Strictly increasing from 1, without gaps.
    pub version: u32,
    /// The file name without number and extension (`schema` for `001_schema.sql`).
    pub name: &'static str,
    /// The SQL, run as one batch.
    pub sql: &'static str,
}

/// Every migration this binary knows, in order. Adding `sql/NNN_name.sql` means adding it
/// here; a unit test fails if a file in `sql/` is missing from this list.
pub static MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "schema",
        sql: sql_file!("001_schema.sql").text,
    },
    Migration {
        version: 2,
        name: "fx_rate_tail",
        sql: sql_file!("002_fx_rate_tail.sql").text,
    },
    Migration {
        version: 3,
        name: "merge_keys_without_index",
        sql: sql_file!("003_merge_keys_without_index.sql").text,
    },
    Migration {
        version: 4,
        name: "refetch_not_found",
        sql: sql_file!("004_refetch_not_found.sql").text,
    },
    Migration {
        version: 5,
        name: "users_count_extra",
        sql: sql_file!("005_users_count_extra.sql").text,
    },
    Migration {
        version: 6,
        name: "pending_checks",
        sql: sql_file!("006_pending_checks.sql").text,
    },
    Migration {
        version: 7,
        name: "lake",
        sql: sql_file!("007_lake.sql").text,
    },
    Migration {
        version: 8,
        name: "lake_owed_per_url",
        sql: sql_file!("008_lake_owed_per_url.sql").text,
    },
    Migration {
        version: 9,
        name: "api_arithmetic",
        sql: sql_file!("009_api_arithmetic.sql").text,
    },
];

/// The report macros and views (`sql/reports.sql`), replaced on every install.
pub(crate) static REPORT_LAYER_SQL: &str = sql_file!("reports.sql").text;

const VERSION_TABLE_SQL: &str = sql_file!("warehouse/schema_version_table.sql").text;

/// Why the warehouse schema could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error(
        "the warehouse is at schema version {found}, newer than this tgm-sync knows \
         (up to {known}): it was written by a newer tgm-sync; upgrade tgm-sync, or point \
         it at another warehouse"
    )]
    TooNew { found: u32, known: u32 },

    #[error("cannot read the warehouse schema version from _schema_version: {source}")]
    ReadVersion { source: duckdb::Error },

    #[error(
        "schema migration {version:03}_{name}.sql failed and was rolled back; the warehouse \
         stays at version {at}: {source}"
    )]
    Migration {
        version: u32,
        name: &'static str,
        at: u32,
        source: duckdb::Error,
    },

    #[error("cannot install the report layer (sql/reports.sql): {source}")]
    ReportLayer { source: duckdb::Error },
}

/// The newest schema version this binary knows.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// The schema version a warehouse records, without creating anything (for read-only
/// connections); `None` when it records none.
pub(crate) fn recorded_version(conn: &Connection) -> Option<u32> {
    conn.query_row(sql_file!("warehouse/schema_version.sql").text, [], |row| {
        row.get::<_, Option<i64>>(0)
    })
    .ok()
    .flatten()
    .and_then(|v| u32::try_from(v).ok())
}

/// The warehouse's schema version: 0 for a new warehouse. Creates `_schema_version`.
pub(crate) fn current_version(conn: &Connection) -> Result<u32, SchemaError> {
    conn.execute_batch(VERSION_TABLE_SQL)
        .map_err(|source| SchemaError::ReadVersion { source })?;
    let version: Option<i64> = conn
        .query_row(sql_file!("warehouse/schema_version.sql").text, [], |row| {
            row.get(0)
        })
        .map_err(|source| SchemaError::ReadVersion { source })?;
    // Versions are written by `migrate` only, from u32 values; a negative one is corrupt
    // and reads as 0, which re-applies the (idempotent) migrations.
    Ok(version.and_then(|v| u32::try_from(v).ok()).unwrap_or(0))
}

/// Brings the warehouse schema up to [`latest_version`] and returns the version it is at.
///
/// Each missing migration runs in its own transaction together with its `_schema_version`
/// row. Must be called outside a transaction. Refuses a warehouse whose version is newer
/// than this binary knows ([`SchemaError::TooNew`]).
pub fn migrate(conn: &Connection) -> Result<u32, SchemaError> {
    let known = latest_version();
    let mut at = current_version(conn)?;
    if at > known {
        return Err(SchemaError::TooNew { found: at, known });
    }
    let start = at;
    for migration in MIGRATIONS.iter().filter(|m| m.version > start) {
        apply(conn, migration).map_err(|source| SchemaError::Migration {
            version: migration.version,
            name: migration.name,
            at,
            source,
        })?;
        at = migration.version;
    }
    Ok(at)
}

/// One migration and its version row, all or nothing.
fn apply(conn: &Connection, migration: &Migration) -> duckdb::Result<()> {
    let tx = conn.unchecked_transaction()?;
    tx.execute_batch(migration.sql)?;
    tx.execute(
        sql_file!("warehouse/schema_version_record.sql").text,
        duckdb::params![migration.version, migration.name],
    )?;
    tx.commit()
}

/// Installs (or replaces) the report macros and views of `sql/reports.sql`, in one
/// transaction. Needs the tables of the migrations: call [`migrate`] first.
pub fn install_report_layer(conn: &Connection) -> Result<(), SchemaError> {
    let install = || -> duckdb::Result<()> {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(REPORT_LAYER_SQL)?;
        tx.commit()
    };
    install().map_err(|source| SchemaError::ReportLayer { source })
}

/// Installs the report layer unless the warehouse already holds this very text of it
/// (its fingerprint, kept in `_report_layer`): re-creating some hundred macros and views
/// took about half a second of every run, most of a no-change run's own work. Macros and
/// views persist in the DuckDB file, so an unchanged layer needs nothing.
pub(crate) fn ensure_report_layer(conn: &Connection) -> Result<(), SchemaError> {
    let fingerprint = report_layer_fingerprint();
    let installed = || -> duckdb::Result<bool> {
        conn.execute_batch(sql_file!("warehouse/report_layer_table.sql").text)?;
        let n: i64 = conn.query_row(
            sql_file!("warehouse/report_layer_installed.sql").text,
            [&fingerprint],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    };
    if installed().map_err(|source| SchemaError::ReportLayer { source })? {
        return Ok(());
    }
    let install = || -> duckdb::Result<()> {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(REPORT_LAYER_SQL)?;
        tx.execute(sql_file!("warehouse/report_layer_clear.sql").text, [])?;
        tx.execute(
            sql_file!("warehouse/report_layer_record.sql").text,
            [&fingerprint],
        )?;
        tx.commit()
    };
    install().map_err(|source| SchemaError::ReportLayer { source })
}

/// FNV-1a (64 bits) of `sql/reports.sql`, with the crate version: stable across builds.
fn report_layer_fingerprint() -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in REPORT_LAYER_SQL.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{}-{hash:016x}", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_from_one_without_gaps() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(
                m.version as usize,
                i + 1,
                "migration `{}` is at position {} of MIGRATIONS but has version {}",
                m.name,
                i + 1,
                m.version
            );
        }
    }

    #[test]
    fn every_sql_migration_file_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .expect("sql/ is readable")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql") && n.as_bytes().first().is_some_and(u8::is_ascii_digit))
            .collect();
        files.sort();
        let embedded: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{:03}_{}.sql", m.version, m.name))
            .collect();
        assert_eq!(
            files, embedded,
            "the numbered files in sql/ and the MIGRATIONS list differ"
        );
    }
}
