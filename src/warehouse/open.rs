//! Opening the warehouse: one writer at a time, no extension downloads, schema current.
//!
//! A run takes an exclusive lock on `<warehouse>.lock` before opening DuckDB, so a second
//! concurrent run fails at once with [`LoadError::LockHeld`] instead of waiting; a file
//! held open by some other program (DuckDB's own lock) gives [`LoadError::InUse`].
//! Files are created without world permissions. A new file is written in the storage
//! format of [`DEFAULT_STORAGE_VERSION`] (or the `storage_version` setting), so DuckDB 1.x
//! opens it; an existing file keeps the format it has.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use duckdb::{Config, Connection};

use super::error::{DbContext, LoadError};
use super::schema;
use crate::sql_files::sql_file;

/// Settings every connection gets: the ETL never downloads or loads extension code.
pub const CONNECTION_SETUP: &str = sql_file!("warehouse/connection_setup.sql").text;

/// The DuckDB storage format a new warehouse file is written in: the oldest DuckDB 1.x
/// format, which every DuckDB from 1.0 on opens, and which holds everything the warehouse
/// uses (tables, views, macros, sequences). DuckDB's own default would be 2.0's format,
/// which DuckDB 1.x refuses. An existing file keeps its format whatever this says.
pub const DEFAULT_STORAGE_VERSION: &str = "v1.0.0";

/// An open warehouse, with this run's lock held until it is dropped.
pub struct Warehouse {
    conn: Connection,
    _lock: Option<File>,
}

impl Warehouse {
    /// Opens (creating if needed, in [`DEFAULT_STORAGE_VERSION`]'s format) the warehouse
    /// for writing: lock, open, migrate, and (re)create the report layer.
    pub fn open(path: &Path) -> Result<Warehouse, LoadError> {
        Warehouse::open_with(path, DEFAULT_STORAGE_VERSION)
    }

    /// [`Warehouse::open`], a new file written in the storage format of `storage_version`
    /// (`v1.0.0` … `v2.0.0`, or `latest`: DuckDB's names).
    pub(crate) fn open_with(path: &Path, storage_version: &str) -> Result<Warehouse, LoadError> {
        let lock = take_lock(path)?;
        let conn = open_connection(path, Some(storage_version))?;
        restrict_permissions(path);
        schema::migrate(&conn)?;
        schema::ensure_report_layer(&conn)?;
        Ok(Warehouse {
            conn,
            _lock: Some(lock),
        })
    }

    /// Opens an existing warehouse read-only (status, report, verify).
    pub fn open_read_only(path: &Path) -> Result<Warehouse, LoadError> {
        if !path.exists() {
            return Err(LoadError::NoSuchFile {
                path: path.to_path_buf(),
            });
        }
        let conn = open_connection(path, None)?;
        Ok(Warehouse { conn, _lock: None })
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Another connection to the same database (one per concurrently loading stream).
    pub fn connect(&self) -> Result<Connection, LoadError> {
        let conn = self
            .conn
            .try_clone()
            .during(|| "opening a second connection".into())?;
        conn.execute_batch(CONNECTION_SETUP)
            .during(|| "configuring the connection".into())?;
        Ok(conn)
    }
}

/// DuckDB's own memory cap (its default is 80% of RAM). Staging tables, the merge's
/// joins and sorts spill to `<warehouse>.tmp/` past it, so a sync's peak memory stays
/// flat however many rows a stream has. A first sync of 1,000,000 orders needs 64 MB;
/// 96 MB leaves room and costs no time against larger caps (docs/performance.md).
const DUCKDB_MEMORY_LIMIT: &str = "96MB";

/// The variable that overrides [`DUCKDB_MEMORY_LIMIT`].
const MEMORY_LIMIT_VAR: &str = "TGM_DUCKDB_MEMORY_LIMIT";

/// DuckDB's configuration; `writing` carries the storage format for a new file (`None`:
/// read-only).
fn base_config(writing: Option<&str>) -> Result<Config, LoadError> {
    let memory_limit =
        std::env::var(MEMORY_LIMIT_VAR).unwrap_or_else(|_| DUCKDB_MEMORY_LIMIT.into());
    let config = Config::default()
        .enable_autoload_extension(false)
        .during(|| "configuring DuckDB".into())?
        .with("autoinstall_known_extensions", "false")
        .during(|| "configuring DuckDB".into())?
        .max_memory(&memory_limit)
        .map_err(|e| LoadError::BadMemoryLimit {
            name: MEMORY_LIMIT_VAR,
            value: memory_limit.clone(),
            detail: e.to_string(),
        })?;
    match writing {
        None => config
            .access_mode(duckdb::AccessMode::ReadOnly)
            .during(|| "configuring DuckDB".into()),
        Some(version) => config
            .with("storage_compatibility_version", version)
            .map_err(|e| LoadError::BadStorageVersion {
                value: version.to_string(),
                detail: e.to_string(),
            }),
    }
}

/// The run lock of a warehouse, held without opening DuckDB, until dropped.
pub(crate) struct RunLock {
    _file: File,
}

/// Takes the run lock of the warehouse at `path`, if any run ever used it (the warehouse
/// or its lock file exists): `lake vacuum` holds it so that it never deletes the files a
/// sync has uploaded and not yet committed. `None` when no run ever used `path` (nothing
/// is created then). A running sync gives [`LoadError::LockHeld`].
pub(crate) fn lock_if_used(path: &Path) -> Result<Option<RunLock>, LoadError> {
    if !path.exists() && !lock_path(path).exists() {
        return Ok(None);
    }
    take_lock(path).map(|file| Some(RunLock { _file: file }))
}

fn lock_path(path: &Path) -> PathBuf {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    PathBuf::from(lock_path)
}

fn take_lock(path: &Path) -> Result<File, LoadError> {
    let lock_path = lock_path(path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| LoadError::NotWritable {
            path: path.to_path_buf(),
            detail: format!("cannot create directory {}: {e}", dir.display()),
        })?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .map_err(|e| LoadError::NotWritable {
            path: path.to_path_buf(),
            detail: format!("cannot create lock file {}: {e}", lock_path.display()),
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(LoadError::LockHeld {
            path: path.to_path_buf(),
            lock: lock_path,
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(LoadError::NotWritable {
            path: path.to_path_buf(),
            detail: format!("cannot lock {}: {e}", lock_path.display()),
        }),
    }
}

fn open_connection(path: &Path, writing: Option<&str>) -> Result<Connection, LoadError> {
    if path.is_dir() {
        return Err(LoadError::NotDuckDb {
            path: path.to_path_buf(),
            detail: "it is a directory".into(),
        });
    }
    check_header(path)?;
    let conn = Connection::open_with_flags(path, base_config(writing)?)
        .map_err(|e| classify_open_error(path, writing, e))?;
    conn.execute_batch(CONNECTION_SETUP)
        .during(|| "configuring the connection".into())?;
    Ok(conn)
}

/// An existing, non-empty file must carry DuckDB's `DUCK` magic at byte 8 before DuckDB
/// sees it: DuckDB otherwise guesses the format, and a SQLite file makes it try to load
/// the sqlite extension (code this program never loads).
fn check_header(path: &Path) -> Result<(), LoadError> {
    use std::io::Read;
    let Ok(file) = File::open(path) else {
        // Missing (created by DuckDB) or unreadable (DuckDB's error says which).
        return Ok(());
    };
    let mut head = Vec::with_capacity(12);
    if file.take(12).read_to_end(&mut head).is_err() || head.is_empty() {
        return Ok(());
    }
    if head.get(8..12) == Some(b"DUCK".as_slice()) {
        return Ok(());
    }
    Err(LoadError::NotDuckDb {
        path: path.to_path_buf(),
        detail: "the file has no DuckDB header".into(),
    })
}

fn classify_open_error(path: &Path, writing: Option<&str>, e: duckdb::Error) -> LoadError {
    let detail = e.to_string();
    let lower = detail.to_ascii_lowercase();
    let path = path.to_path_buf();
    if let Some(version) = writing.filter(|_| lower.contains("is not a known duckdb version")) {
        LoadError::BadStorageVersion {
            value: version.to_string(),
            detail,
        }
    } else if lower.contains("could not set lock") || lower.contains("conflicting lock") {
        LoadError::InUse { path, detail }
    } else if lower.contains("not a valid duckdb database")
        || lower.contains("database file is invalid")
        || lower.contains("not a duckdb")
        || lower.contains("invalid header")
    {
        LoadError::NotDuckDb { path, detail }
    } else if lower.contains("permission denied")
        || lower.contains("read-only file system")
        || lower.contains("cannot open file")
        || lower.contains("could not open file")
    {
        LoadError::NotWritable { path, detail }
    } else {
        LoadError::Db {
            context: format!("opening {}", path.display()),
            source: e,
        }
    }
}

/// No world permissions on the database and its WAL (best effort: the umask set at
/// start-up already covers new files).
fn restrict_permissions(path: &Path) {
    let mut wal = path.as_os_str().to_owned();
    wal.push(".wal");
    for p in [path.to_path_buf(), PathBuf::from(wal)] {
        if let Ok(meta) = std::fs::metadata(&p) {
            let mut perms = meta.permissions();
            if perms.mode() & 0o007 != 0 {
                perms.set_mode(perms.mode() & 0o770);
                let _ = std::fs::set_permissions(&p, perms);
            }
        }
    }
}
