//! The lake tests' harness: the Python environments of `.ci/python-env`, a local S3 server
//! (moto) on 127.0.0.1, the AWS settings for a child `tgm-sync`, the three Delta readers of
//! `tests/it/lake_py/read_lake.py`, and the warehouse side of the comparison: every row of
//! a warehouse table in the readers' canonical JSON (decimals as exact text, timestamps as
//! UTC microseconds, lists, `_deleted_at`), compared row by row.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use duckdb::Connection;
use duckdb::types::Value as DuckValue;
use serde_json::{Map, Value};

use tgm_sync::streams::mirrored_tables;

use crate::support::skip_unless_ci;

/// The fake S3 key pair of the tests; no output may ever contain the secret.
pub const LAKE_KEY_ID: &str = "TGMTESTLAKEKEYID";
pub const LAKE_SECRET: &str = "tgm-lake-secret-3c9e51d07b";
pub const BUCKET: &str = "tgm-lake";
/// Every table the lake carries (the mirrored tables of the stream registry, as the lake
/// publishes them), with its key after `bot_id`.
pub fn lake_tables() -> Vec<(&'static str, &'static [&'static str])> {
    mirrored_tables()
        .map(|spec| (spec.name, spec.keys))
        .collect()
}

/// The two virtual environments `.ci/python-env` makes.
#[derive(Debug, Clone)]
pub struct PyEnvs {
    /// moto, deltalake, polars, pyarrow.
    pub lake: PathBuf,
    /// duckdb 1.5 with the delta and httpfs extensions.
    pub duckdb15: PathBuf,
}

impl PyEnvs {
    pub fn lake_python(&self) -> PathBuf {
        self.lake.join("bin/python")
    }
    pub fn duck_python(&self) -> PathBuf {
        self.duckdb15.join("bin/python")
    }
    fn moto_server(&self) -> PathBuf {
        self.lake.join("bin/moto_server")
    }
}

/// The environments, or `None` after `skip_unless_ci` (a failure under `CI`).
pub fn py_envs(test: &str) -> Option<PyEnvs> {
    let Some(root) = pyenv_root() else {
        skip_unless_ci(test, "neither TGM_PYENV_DIR nor HOME is set");
        return None;
    };
    let envs = PyEnvs {
        lake: root.join("lake"),
        duckdb15: root.join("duckdb15"),
    };
    // `.pins` is written last by .ci/python-env: its presence means a finished install.
    for needed in [
        envs.lake.join(".pins"),
        envs.moto_server(),
        envs.duckdb15.join(".pins"),
        envs.duck_python(),
    ] {
        if !needed.exists() {
            skip_unless_ci(
                test,
                &format!(
                    "{} is missing: run .ci/python-env to install the lake readers",
                    needed.display()
                ),
            );
            return None;
        }
    }
    Some(envs)
}

/// Where `.ci/python-env` puts the environments: `TGM_PYENV_DIR`, else
/// `$HOME/.cache/tgm-sync/pyenv`.
pub fn pyenv_root() -> Option<PathBuf> {
    std::env::var_os("TGM_PYENV_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/tgm-sync/pyenv"))
        })
}

/// Where the Python scripts are.
fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/lake_py")
        .join(name)
}

/// S3 access for a child process: endpoint and key pair.
#[derive(Debug, Clone)]
pub struct S3Access {
    pub endpoint: String,
    pub key_id: String,
    pub secret: String,
}

impl S3Access {
    pub fn new(endpoint: String) -> S3Access {
        S3Access {
            endpoint,
            key_id: LAKE_KEY_ID.to_string(),
            secret: LAKE_SECRET.to_string(),
        }
    }

    /// The standard AWS variables, and nothing from this machine's own AWS set-up: no
    /// profile, no files, and the instance-metadata endpoint pointed at a closed loopback
    /// port (no request ever leaves the machine).
    pub fn apply(&self, cmd: &mut Command) {
        for var in [
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_DEFAULT_REGION",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_ROLE_ARN",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("AWS_ACCESS_KEY_ID", &self.key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_METADATA_ENDPOINT", "http://127.0.0.1:9")
            .env("AWS_CONFIG_FILE", "/nonexistent/tgm-sync-test/aws-config")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/tgm-sync-test/aws-credentials",
            );
    }
}

/// A moto S3 server on 127.0.0.1, stopped (killed) on drop.
pub struct Moto {
    child: Child,
    pub addr: SocketAddr,
    envs: PyEnvs,
    log: tempfile::NamedTempFile,
}

impl Moto {
    /// Starts moto on a free loopback port and waits (bounded) until it answers.
    pub fn start(envs: &PyEnvs) -> Moto {
        let port = {
            let probe = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
            probe.local_addr().expect("port").port()
        };
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let log = tempfile::NamedTempFile::new().expect("moto log file");
        let child = Command::new(envs.moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.reopen().expect("log"))
            .stderr(log.reopen().expect("log"))
            .spawn()
            .expect("moto_server starts");
        let mut moto = Moto {
            child,
            addr,
            envs: envs.clone(),
            log,
        };
        let started = Instant::now();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto_server exited ({status}): {}", moto.log_text());
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "moto_server did not listen on {addr} within 20 s: {}",
                moto.log_text()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        moto
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn access(&self) -> S3Access {
        S3Access::new(self.endpoint())
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    fn admin(&self, args: &[&str], access: &S3Access) -> String {
        let mut cmd = Command::new(self.envs.lake_python());
        cmd.arg(script("s3_admin.py")).args(args);
        access.apply(&mut cmd);
        let out = run_bounded(cmd, Duration::from_secs(60), "s3_admin.py");
        assert!(
            out.status.success(),
            "s3_admin.py {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn create_bucket(&self, bucket: &str) {
        self.admin(&["create-bucket", bucket], &self.access());
    }

    /// Creates `bucket` and a user for it, then lets only that user's key in; returns it.
    pub fn lock(&self, bucket: &str) -> S3Access {
        let out = self.admin(&["lock", bucket], &self.access());
        let key: Value = serde_json::from_str(out.trim()).expect("lock prints the key as JSON");
        S3Access {
            endpoint: self.endpoint(),
            key_id: key["key_id"].as_str().expect("key_id").to_string(),
            secret: key["secret"].as_str().expect("secret").to_string(),
        }
    }

    /// Every object under `prefix`: key → size.
    pub fn list(&self, bucket: &str, prefix: &str, access: &S3Access) -> BTreeMap<String, u64> {
        let out = self.admin(&["list", bucket, prefix], access);
        let listed: Vec<Value> = serde_json::from_str(out.trim()).expect("list prints JSON");
        listed
            .iter()
            .map(|o| {
                (
                    o["key"].as_str().expect("key").to_string(),
                    o["size"].as_u64().expect("size"),
                )
            })
            .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cmd` to its end, killed (and the test failed) after `limit`.
pub fn run_bounded(mut cmd: Command, limit: Duration, what: &str) -> std::process::Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{what} starts: {e}"));
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stdout.read_to_end(&mut b);
        b
    });
    let err_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stderr.read_to_end(&mut b);
        b
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::process::Output {
        status,
        stdout: out_reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    }
}

/// The three readers of the Delta tables, none of them tgm-sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// Python `deltalake` (delta-rs).
    DeltaLake,
    /// `polars.scan_delta`.
    Polars,
    /// DuckDB 1.5's `delta_scan` (delta-kernel-rs), in its own environment.
    DuckDb,
}

pub const READERS: [Reader; 3] = [Reader::DeltaLake, Reader::Polars, Reader::DuckDb];

impl Reader {
    fn name(self) -> &'static str {
        match self {
            Reader::DeltaLake => "deltalake",
            Reader::Polars => "polars",
            Reader::DuckDb => "duckdb",
        }
    }
}

/// One table as a reader saw it.
#[derive(Debug, Clone, Default)]
pub struct TableRead {
    /// Set when the table could not be opened: the reader's error.
    pub missing: Option<String>,
    pub version: Option<i64>,
    /// Column → the reader's type name.
    pub columns: BTreeMap<String, String>,
    pub rows: Vec<Map<String, Value>>,
    /// The data files of the version read, as URIs (Python `deltalake` only, on request).
    pub files: Vec<String>,
}

/// Reads `tables` (name, version or latest) under `root` (`s3://bucket/prefix` or
/// `file:///dir`) with `reader`, in one Python process.
pub fn read_lake(
    envs: &PyEnvs,
    reader: Reader,
    root: &str,
    tables: &[(&str, Option<i64>)],
    access: Option<&S3Access>,
) -> BTreeMap<String, TableRead> {
    read_lake_with(envs, reader, root, tables, access, false)
}

/// [`read_lake`], and with `files` the data-file URIs of each version (deltalake only).
pub fn read_lake_with(
    envs: &PyEnvs,
    reader: Reader,
    root: &str,
    tables: &[(&str, Option<i64>)],
    access: Option<&S3Access>,
    files: bool,
) -> BTreeMap<String, TableRead> {
    let python = match reader {
        Reader::DuckDb => envs.duck_python(),
        _ => envs.lake_python(),
    };
    let spec = serde_json::json!({
        "reader": reader.name(),
        "root": root,
        "files": files,
        "tables": tables.iter().map(|(name, version)| serde_json::json!({"name": name, "version": version})).collect::<Vec<_>>(),
    });
    let mut cmd = Command::new(python);
    cmd.arg(script("read_lake.py")).arg(spec.to_string());
    if let Some(access) = access {
        access.apply(&mut cmd);
    }
    let out = run_bounded(cmd, Duration::from_secs(120), reader.name());
    assert!(
        out.status.success(),
        "reader {} failed: {}",
        reader.name(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut read: BTreeMap<String, TableRead> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| {
            panic!("reader {} printed a bad line ({e}): {line}", reader.name())
        });
        let name = v["table"].as_str().expect("table").to_string();
        let entry = read.entry(name).or_default();
        if let Some(row) = v.get("row") {
            entry
                .rows
                .push(row.as_object().expect("a row is an object").clone());
        } else if v.get("missing").is_some() {
            entry.missing = Some(v["error"].as_str().unwrap_or("").to_string());
        } else {
            entry.version = v["version"].as_i64();
            entry.files = v
                .get("files")
                .and_then(Value::as_array)
                .map(|f| {
                    f.iter()
                        .filter_map(|u| u.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            entry.columns = v["columns"]
                .as_object()
                .expect("columns")
                .iter()
                .map(|(k, t)| (k.clone(), t.as_str().unwrap_or("").to_string()))
                .collect();
        }
    }
    read
}

/// `(name, None)` for every lake table: the latest versions.
pub fn latest_of_all() -> Vec<(&'static str, Option<i64>)> {
    lake_tables().into_iter().map(|(t, _)| (t, None)).collect()
}

/// Every row of a warehouse table (optionally only some bots) in canonical JSON, plus
/// `order_month` for orders (the UTC month of `order_date`, the partition column).
pub fn warehouse_rows(
    conn: &Connection,
    table: &str,
    bots: Option<&[i64]>,
) -> Vec<Map<String, Value>> {
    let columns = warehouse_columns(conn, table);
    assert!(!columns.is_empty(), "the warehouse has no table {table}");
    let exprs: Vec<String> = columns.iter().map(|(n, t)| canonical_expr(n, t)).collect();
    let filter = match bots {
        Some(bots) => format!(
            " WHERE bot_id IN ({})",
            bots.iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => String::new(),
    };
    let sql = format!("SELECT {} FROM {table}{filter}", exprs.join(", "));
    let mut stmt = conn.prepare(&sql).expect("row query");
    let mut rows = stmt.query([]).expect("rows");
    let mut out = Vec::new();
    while let Some(row) = rows.next().expect("row") {
        let mut map = Map::new();
        for (i, (name, _)) in columns.iter().enumerate() {
            let v: DuckValue = row.get(i).expect("value");
            map.insert(name.clone(), duck_to_json(v));
        }
        if table == "orders" {
            let micros = map["order_date"].as_i64().expect("order_date is set");
            map.insert("order_month".into(), Value::String(utc_month(micros)));
        }
        out.push(map);
    }
    out
}

/// A column as the readers print it: exact decimal text, epoch microseconds.
fn canonical_expr(name: &str, ty: &str) -> String {
    let q = format!("\"{}\"", name.replace('"', "\"\""));
    let t = ty.to_ascii_uppercase();
    if let Some(inner) = t.strip_suffix("[]") {
        let x = canonical_expr("x", inner);
        return if x == "\"x\"" {
            q
        } else {
            format!("list_transform({q}, x -> {x})")
        };
    }
    if t.starts_with("DECIMAL") || t == "INTERVAL" || t == "DATE" || t == "UUID" {
        format!("CAST({q} AS VARCHAR)")
    } else if t.starts_with("TIMESTAMP") {
        format!("epoch_us({q})")
    } else {
        q
    }
}

fn duck_to_json(v: DuckValue) -> Value {
    match v {
        DuckValue::Null => Value::Null,
        DuckValue::Boolean(b) => Value::Bool(b),
        DuckValue::TinyInt(i) => Value::from(i),
        DuckValue::SmallInt(i) => Value::from(i),
        DuckValue::Int(i) => Value::from(i),
        DuckValue::BigInt(i) => Value::from(i),
        DuckValue::UTinyInt(i) => Value::from(i),
        DuckValue::USmallInt(i) => Value::from(i),
        DuckValue::UInt(i) => Value::from(i),
        DuckValue::UBigInt(i) => Value::from(i),
        DuckValue::Text(s) => Value::String(s),
        DuckValue::List(items) | DuckValue::Array(items) => {
            Value::Array(items.into_iter().map(duck_to_json).collect())
        }
        other => panic!("no canonical form for warehouse value {other:?}"),
    }
}

/// `"YYYY-MM"` of a UTC instant in microseconds, computed here (civil from days).
pub fn utc_month(micros: i64) -> String {
    let days = micros.div_euclid(86_400_000_000);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}")
}

fn key_of(row: &Map<String, Value>, keys: &[&str]) -> String {
    let mut parts = vec![row.get("bot_id").cloned().unwrap_or(Value::Null)];
    parts.extend(
        keys.iter()
            .map(|k| row.get(*k).cloned().unwrap_or(Value::Null)),
    );
    Value::Array(parts).to_string()
}

/// Compares a table as a reader saw it with the expected rows: same columns, same keys,
/// every value equal; panics with what differed (first few of each kind).
pub fn assert_table_matches(
    label: &str,
    table: &str,
    expected: &[Map<String, Value>],
    got: Option<&TableRead>,
) {
    if let Err(diff) = table_diff(table, expected, got) {
        panic!("{label}: {diff}");
    }
}

/// `Err` says how a table as a reader saw it differs from the expected rows.
pub fn table_diff(
    table: &str,
    expected: &[Map<String, Value>],
    got: Option<&TableRead>,
) -> Result<(), String> {
    let keys = lake_tables()
        .into_iter()
        .find(|(t, _)| *t == table)
        .map(|(_, k)| k)
        .ok_or_else(|| format!("{table} is not a lake table"))?;
    let got = got.ok_or_else(|| format!("the reader printed nothing for {table}"))?;
    if let Some(error) = &got.missing {
        return Err(format!("{table} could not be read: {error}"));
    }
    let want_cols: BTreeSet<&str> = expected
        .first()
        .map(|r| r.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let got_cols: BTreeSet<&str> = got.columns.keys().map(String::as_str).collect();
    if !expected.is_empty() && got_cols != want_cols {
        return Err(format!(
            "{table} has other columns than expected: only in the lake {:?}, only expected {:?}",
            got_cols.difference(&want_cols).collect::<Vec<_>>(),
            want_cols.difference(&got_cols).collect::<Vec<_>>()
        ));
    }
    let mut want: BTreeMap<String, &Map<String, Value>> = BTreeMap::new();
    for row in expected {
        want.insert(key_of(row, keys), row);
    }
    let mut seen: BTreeMap<String, &Map<String, Value>> = BTreeMap::new();
    let mut duplicates = Vec::new();
    for row in &got.rows {
        if seen.insert(key_of(row, keys), row).is_some() {
            duplicates.push(key_of(row, keys));
        }
    }
    let missing: Vec<String> = want
        .keys()
        .filter(|k| !seen.contains_key(*k))
        .cloned()
        .collect();
    let extra: Vec<String> = seen
        .keys()
        .filter(|k| !want.contains_key(*k))
        .cloned()
        .collect();
    let mut changed = Vec::new();
    for (k, w) in &want {
        if let Some(g) = seen.get(k) {
            let diffs: Vec<String> = w
                .iter()
                .filter(|(c, v)| g.get(*c) != Some(v))
                .map(|(c, v)| {
                    format!(
                        "{c}: lake {} != expected {v}",
                        g.get(c).unwrap_or(&Value::Null)
                    )
                })
                .collect();
            if !diffs.is_empty() {
                changed.push(format!("{k}: {}", diffs.join("; ")));
            }
        }
    }
    if duplicates.is_empty() && missing.is_empty() && extra.is_empty() && changed.is_empty() {
        return Ok(());
    }
    let first = |v: &[String]| v.iter().take(5).cloned().collect::<Vec<_>>();
    Err(format!(
        "{table} differs from the expected {} rows (lake {} rows): \
         {} duplicate keys {:?}, {} missing {:?}, {} extra {:?}, {} changed {:?}",
        expected.len(),
        got.rows.len(),
        duplicates.len(),
        first(&duplicates),
        missing.len(),
        first(&missing),
        extra.len(),
        first(&extra),
        changed.len(),
        first(&changed),
    ))
}

/// The types the issue fixes, as each reader names them: DECIMAL(38,18) and UTC
/// microsecond timestamps. `warehouse_types`: column → warehouse type.
pub fn assert_types(
    label: &str,
    reader: Reader,
    table: &str,
    warehouse_types: &BTreeMap<String, String>,
    got: &TableRead,
) {
    for (column, ty) in warehouse_types {
        let lake_ty = got.columns.get(column).map(String::as_str).unwrap_or("");
        let want: &[&str] = if ty.starts_with("DECIMAL(38,18)") && !ty.ends_with("[]") {
            match reader {
                Reader::DeltaLake => &["decimal128(38, 18)"],
                Reader::Polars => &["Decimal(precision=38, scale=18)"],
                Reader::DuckDb => &["DECIMAL(38,18)"],
            }
        } else if ty == "TIMESTAMP WITH TIME ZONE" {
            match reader {
                Reader::DeltaLake => &["timestamp[us, tz=UTC]", "timestamp[us, tz=+00:00]"],
                Reader::Polars => &[
                    "Datetime(time_unit='us', time_zone='UTC')",
                    "Datetime(time_unit='us', time_zone='+00:00')",
                ],
                Reader::DuckDb => &["TIMESTAMP WITH TIME ZONE"],
            }
        } else {
            continue;
        };
        assert!(
            want.contains(&lake_ty),
            "{label}: {table}.{column} ({ty} in the warehouse) reads as {lake_ty:?} in {reader:?}, expected one of {want:?}"
        );
    }
}

/// A warehouse table's columns and their types, in table order.
fn warehouse_columns(conn: &Connection, table: &str) -> Vec<(String, String)> {
    let mut stmt = conn
        .prepare(
            "SELECT column_name, data_type FROM information_schema.columns \
             WHERE table_name = ? AND table_schema = 'main' ORDER BY ordinal_position",
        )
        .expect("column query");
    let rows = stmt
        .query_map([table], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .expect("columns");
    rows.collect::<Result<_, _>>().expect("columns")
}

/// Column → type of a warehouse table.
pub fn warehouse_types(conn: &Connection, table: &str) -> BTreeMap<String, String> {
    warehouse_columns(conn, table).into_iter().collect()
}

/// Every lake table's expected rows from a warehouse file.
pub fn expected_from(warehouses: &[&Path]) -> BTreeMap<&'static str, Vec<Map<String, Value>>> {
    let mut out: BTreeMap<&'static str, Vec<Map<String, Value>>> = BTreeMap::new();
    for path in warehouses {
        let conn = Connection::open(path).expect("warehouse opens");
        for (table, _) in lake_tables() {
            out.entry(table)
                .or_default()
                .extend(warehouse_rows(&conn, table, None));
        }
    }
    out
}

/// All three readers see exactly `expected` in every lake table (latest versions), with
/// the types.
pub fn assert_readers_agree(
    label: &str,
    envs: &PyEnvs,
    root: &str,
    access: Option<&S3Access>,
    expected: &BTreeMap<&'static str, Vec<Map<String, Value>>>,
    types_from: &Path,
) {
    let conn = Connection::open(types_from).expect("warehouse opens");
    for reader in READERS {
        let read = read_lake(envs, reader, root, &latest_of_all(), access);
        for (table, _) in lake_tables() {
            let got = read.get(table);
            assert_table_matches(
                &format!("{label} ({reader:?})"),
                table,
                &expected[table],
                got,
            );
            if let Some(got) = got {
                assert_types(label, reader, table, &warehouse_types(&conn, table), got);
            }
        }
    }
}

/// Versions of the commit files in a list of object keys (or paths) of one table's log.
pub fn commit_versions<'a>(keys: impl IntoIterator<Item = &'a str>, table: &str) -> Vec<u64> {
    let mut v: Vec<u64> = keys
        .into_iter()
        .filter(|k| k.contains(&format!("{table}/_delta_log/")))
        .filter_map(|k| k.rsplit('/').next())
        .filter_map(|name| name.strip_suffix(".json"))
        .filter(|n| n.len() == 20)
        .filter_map(|n| n.parse().ok())
        .collect();
    v.sort_unstable();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_months_from_micros() {
        assert_eq!(utc_month(0), "1970-01");
        // 2026-06-17T12:00:00Z and the last microsecond of 2025.
        assert_eq!(utc_month(1_781_697_600_000_000), "2026-06");
        assert_eq!(utc_month(1_767_225_600_000_000 - 1), "2025-12");
        assert_eq!(utc_month(1_767_225_600_000_000), "2026-01");
        assert_eq!(utc_month(951_782_400_000_000), "2000-02"); // 2000-02-29
    }

    #[test]
    fn commit_versions_are_read_from_log_keys() {
        let keys = [
            "p/orders/_delta_log/00000000000000000001.json",
            "p/orders/_delta_log/00000000000000000000.json",
            "p/orders/_delta_log/00000000000000000010.checkpoint.parquet",
            "p/members/_delta_log/00000000000000000000.json",
        ];
        assert_eq!(commit_versions(keys, "orders"), vec![0, 1]);
    }
}
