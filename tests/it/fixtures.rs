//! The API text's sample responses (`tests/fixtures/api/`, copied verbatim) against every
//! part of the project that reads or imitates them:
//!
//! - the client and the loader: each sample is served byte for byte by a stand-in API
//!   on 127.0.0.1, synced into a real DuckDB file, and every documented field is read
//!   back from its column (none left only in `_extra`, no row rejected);
//! - the report models the sync and `verify` parse (`/revenue`, `/orders/count`,
//!   `/plans/report`, `/paymentMethods/report`): every field of the sample is kept;
//! - the simulator: its answer to the same endpoint has the same field names and the same
//!   JSON types, recursively;
//! - both money formatters (SQL `format_money`, `sim::format::formatted`): each sample's
//!   `formatted` exactly.
//!
//! Expected values come from the fixture files alone, never from the code under test.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::Response;
use duckdb::Connection;
use rust_decimal::Decimal;
use serde_json::Value;
use tgm_sync::api::Method;
use tgm_sync::api::models::{PaymentMethodReport, PeriodFigures, PlanReport};
use tgm_sync::api::{ApiClient, ClientSettings};
use tgm_sync::config::Settings;
use tgm_sync::currency::Currency;
use tgm_sync::secret::ApiKey;
use tgm_sync::sync::{self, RunOutcome, SyncOptions};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::support::*;

// ---------------------------------------------------------------------------------------
// The fixture files.
// ---------------------------------------------------------------------------------------

/// Every sample response of the v1 API text, by file name (the legacy text shows none).
const FIXTURES: [&str; 19] = [
    "post_affiliate",
    "post_bot",
    "get_coupons",
    "get_members",
    "post_members_access_token",
    "get_orders_order_key",
    "get_orders",
    "post_orders",
    "get_orders_count",
    "get_payment_methods",
    "get_payment_methods_report",
    "get_plans",
    "post_plans",
    "get_plans_report",
    "get_projects",
    "get_revenue",
    "get_users_count",
    "delete_webhook",
    "post_webhook",
];

/// The one sample that is not valid JSON as printed (see the test below).
const NOT_JSON_AS_PRINTED: &str = "post_affiliate";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/api")
}

fn fixture_text(name: &str) -> String {
    let path = fixture_dir().join(format!("{name}.json"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

fn fixture(name: &str) -> Value {
    serde_json::from_str(&fixture_text(name))
        .unwrap_or_else(|e| panic!("fixture {name}.json is not JSON: {e}"))
}

/// The `result` rows of a list sample.
fn fixture_rows(name: &str) -> Vec<Value> {
    match fixture(name).get("result") {
        Some(Value::Array(rows)) => rows.clone(),
        other => panic!("fixture {name}.json: `result` is not a list: {other:?}"),
    }
}

#[test]
fn every_sample_is_checked_in_and_only_the_affiliate_one_is_not_json_as_printed() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(fixture_dir())
        .expect("tests/fixtures/api is readable")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
        .collect();
    let listed: BTreeSet<String> = FIXTURES.iter().map(|s| s.to_string()).collect();
    assert_eq!(on_disk, listed, "fixture files vs the list of samples");

    for name in FIXTURES {
        let text = fixture_text(name);
        let parsed = serde_json::from_str::<Value>(&text);
        if name == NOT_JSON_AS_PRINTED {
            // The API text prints the /affiliate answer without its closing brace. Kept
            // verbatim; this states the fact instead of fixing it silently.
            let err = parsed.expect_err("the /affiliate sample lacks its closing brace");
            assert!(err.is_eof(), "the /affiliate sample ends early: {err}");
            let closed: Value = serde_json::from_str(&format!("{text}}}"))
                .expect("with one closing brace added, the /affiliate sample is JSON");
            assert_eq!(closed["result"]["affiliate_id"], Value::from("abcd123"));
        } else {
            let v = parsed.unwrap_or_else(|e| panic!("{name}.json is not JSON: {e}"));
            assert!(
                v.get("code").is_some_and(Value::is_u64),
                "{name}.json has an integer `code`"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// A stand-in API serving the samples byte for byte.
// ---------------------------------------------------------------------------------------

const NOT_FOUND: &str = r#"{"ok":false,"code":404,"description":"Not Found"}"#;

#[derive(Default)]
struct Canned {
    /// Lower-cased method path (after the key) → body, served with HTTP 200.
    answers: Mutex<HashMap<String, String>>,
    /// Every method path asked for, lower-cased, in order.
    asked: Mutex<Vec<String>>,
}

/// Answers `/v1/bot{BOT_ID}/{TEST_KEY}/{method}` from a table; unknown methods get 404,
/// another bot or key 401. Listens on 127.0.0.1 only, until dropped.
struct CannedApi {
    addr: SocketAddr,
    canned: Arc<Canned>,
    _stop: oneshot::Sender<()>,
}

impl CannedApi {
    async fn start() -> CannedApi {
        // The syncs against it read the clock (run stamps): pinned like every test's.
        pinned_now();
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let canned = Arc::new(Canned::default());
        let app = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&canned));
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        CannedApi {
            addr,
            canned,
            _stop: stop,
        }
    }

    fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn serve(&self, method: &str, body: String) {
        self.canned
            .answers
            .lock()
            .expect("lock")
            .insert(method.to_ascii_lowercase(), body);
    }

    fn asked(&self) -> Vec<String> {
        self.canned.asked.lock().expect("lock").clone()
    }

    fn settings(&self, dir: &Path) -> Settings {
        settings_at(self.base_url(), dir)
    }

    fn client(&self) -> ApiClient {
        let mut settings = ClientSettings::new(self.base_url(), BOT, ApiKey::new(TEST_KEY));
        settings.retry = fast_retry();
        settings.timeout = Duration::from_secs(10);
        ApiClient::new(settings).expect("client for the stand-in API")
    }
}

async fn answer(State(canned): State<Arc<Canned>>, uri: Uri) -> Response {
    let reply = |status: StatusCode, body: String| {
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap_or_default()
    };
    let prefix = format!("/v1/bot{BOT_ID}/{TEST_KEY}/");
    let Some(method) = uri.path().strip_prefix(&prefix) else {
        let body = r#"{"ok":false,"code":401,"description":"Unauthorized"}"#;
        return reply(StatusCode::UNAUTHORIZED, body.to_string());
    };
    let method = method.to_ascii_lowercase();
    canned.asked.lock().expect("lock").push(method.clone());
    let found = canned.answers.lock().expect("lock").get(&method).cloned();
    match found {
        Some(body) => reply(StatusCode::OK, body),
        None => reply(StatusCode::NOT_FOUND, NOT_FOUND.to_string()),
    }
}

/// Every GET sample the ETL reads, under the method path the client asks for.
fn serve_samples(api: &CannedApi) {
    for (method, name) in [
        ("orders", "get_orders"),
        ("members", "get_members"),
        ("plans", "get_plans"),
        ("projects", "get_projects"),
        ("coupons", "get_coupons"),
        ("paymentMethods", "get_payment_methods"),
        ("users/count", "get_users_count"),
        ("revenue", "get_revenue"),
        ("orders/count", "get_orders_count"),
        ("plans/report", "get_plans_report"),
        ("paymentMethods/report", "get_payment_methods_report"),
    ] {
        api.serve(method, fixture_text(name));
    }
}

// ---------------------------------------------------------------------------------------
// Sample fields → warehouse columns.
// ---------------------------------------------------------------------------------------

/// How a field is compared: the SQL that reads the column back as text, and how the
/// sample's JSON value is written as the same text.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Int,
    /// An integer column the API may send as a boolean (`false` reads as 0).
    IntOrBool,
    Bool,
    /// Compared as exact decimals (`1.23` = `1.230000000000000000`).
    Money,
    /// UNIX seconds in the sample, `TIMESTAMPTZ` in the table.
    Time,
    /// A list of ids or of strings, joined with `,`.
    List,
    /// A JSON value kept as JSON text.
    Json,
}

/// One documented field: its path in a sample row, the SQL expression over the table
/// that holds it, and how to compare.
type FieldMap = (&'static str, &'static str, Kind);

struct TableCheck {
    table: &'static str,
    fixture: &'static str,
    /// How many leading entries of `fields` make the row's key (0: a single row).
    keys: usize,
    fields: &'static [FieldMap],
}

const ORDERS: TableCheck = TableCheck {
    table: "orders",
    fixture: "get_orders",
    keys: 1,
    fields: &[
        ("order_key", "order_key", Kind::Text),
        ("order_type", "order_type", Kind::Int),
        ("order_date", "order_date", Kind::Time),
        ("order_status", "order_status", Kind::Text),
        ("member_id", "member_id", Kind::Int),
        ("member_name", "member_name", Kind::Text),
        ("plan_id", "plan_id", Kind::Int),
        ("plan_name", "plan_name", Kind::Text),
        ("project_id", "project_id", Kind::Int),
        ("payment_gateway", "payment_gateway", Kind::Text),
        ("amount", "amount", Kind::Money),
        ("currency", "currency", Kind::Text),
        // Not stored: derived from amount and currency by the report layer.
        ("formatted", "format_money(amount, currency)", Kind::Text),
    ],
};

/// `/orders/{order_key}`: the columns its sample fills (the row itself comes from the list).
const ORDER_DETAIL: TableCheck = TableCheck {
    table: "orders",
    fixture: "get_orders_order_key",
    keys: 1,
    fields: &[
        ("order_key", "order_key", Kind::Text),
        ("member_id", "member_id", Kind::Int),
        ("member_name", "member_name", Kind::Text),
        ("member_email", "member_email", Kind::Text),
        // The detail names the gateway by code; the list's display name is what the
        // table keeps (reports map both through `gateway_names`).
        ("payment_gateway", "payment_gateway", Kind::Text),
        ("order_status", "order_status", Kind::Text),
        ("order_date", "order_date", Kind::Time),
        ("plan_id", "plan_id", Kind::Int),
        ("project_id", "project_id", Kind::Int),
    ],
};

const MEMBERS: TableCheck = TableCheck {
    table: "members",
    fixture: "get_members",
    keys: 3,
    fields: &[
        ("member_id", "member_id", Kind::Int),
        ("plan_id", "plan_id", Kind::Int),
        ("project_id", "project_id", Kind::Int),
        ("membership.start", "membership_start", Kind::Time),
        ("membership.end", "membership_end", Kind::Time),
    ],
};

const PLANS: TableCheck = TableCheck {
    table: "plans",
    fixture: "get_plans",
    keys: 1,
    fields: &[
        ("plan_id", "plan_id", Kind::Int),
        ("plan_name", "plan_name", Kind::Text),
        ("duration", "duration", Kind::Text),
        ("price", "price", Kind::Money),
        ("currency", "currency", Kind::Text),
        ("options.recurring", "recurring", Kind::Bool),
        ("options.newcomers", "newcomers", Kind::Int),
        ("options.singleuse", "singleuse", Kind::Int),
        ("options.token_only", "token_only", Kind::Bool),
        ("options.credit_only", "credit_only", Kind::Bool),
        ("options.invitee_only", "invitee_only", Kind::Int),
        ("options.is_hidden", "is_hidden", Kind::Bool),
        ("max_customers", "max_customers", Kind::Int),
        ("sort_order", "sort_order", Kind::Int),
        ("enabled", "enabled", Kind::Bool),
    ],
};

const PROJECTS: TableCheck = TableCheck {
    table: "projects",
    fixture: "get_projects",
    keys: 1,
    fields: &[
        ("project_id", "project_id", Kind::Int),
        ("project_name", "project_name", Kind::Text),
        ("options.sort_order", "sort_order", Kind::Int),
        ("options.is_hidden", "is_hidden", Kind::Bool),
    ],
};

const COUPONS: TableCheck = TableCheck {
    table: "coupons",
    fixture: "get_coupons",
    keys: 1,
    fields: &[
        ("name", "name", Kind::Text),
        ("amount", "amount", Kind::Money),
        ("percent", "percent", Kind::Money),
        ("min_amount", "min_amount", Kind::Money),
        ("max_amount", "max_amount", Kind::Money),
        ("uses", "uses", Kind::Int),
        ("used", "used", Kind::Int),
        ("plans", "plans", Kind::List),
        ("payment_gateways", "payment_gateways", Kind::List),
        ("revenue.direction", "revenue_direction", Kind::Text),
        ("revenue.amount", "revenue_amount", Kind::Money),
        ("revenue.currency", "revenue_currency", Kind::Text),
        ("newcomers", "newcomers", Kind::IntOrBool),
        ("singleuse", "singleuse", Kind::IntOrBool),
        ("invitee_only", "invitee_only", Kind::IntOrBool),
        ("auto_apply", "auto_apply", Kind::Bool),
        ("enabled", "enabled", Kind::Bool),
    ],
};

const PAYMENT_METHODS: TableCheck = TableCheck {
    table: "payment_methods",
    fixture: "get_payment_methods",
    keys: 1,
    fields: &[
        ("name", "name", Kind::Text),
        ("display_name", "display_name", Kind::Text),
        ("supports_recurring", "supports_recurring", Kind::Bool),
        ("requires_email", "requires_email", Kind::Bool),
        ("tokens", "tokens", Kind::Json),
    ],
};

const USERS_COUNT: TableCheck = TableCheck {
    table: "users_count_history",
    fixture: "get_users_count",
    keys: 0,
    fields: &[
        ("users", "users", Kind::Int),
        ("leads", "leads", Kind::Int),
        ("churned", "churned", Kind::Int),
        ("members", "members", Kind::Int),
    ],
};

/// The value at a dotted path of a row (`membership.start`); `None` if absent or null.
fn at<'v>(row: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.')
        .try_fold(row, |v, part| v.get(part))
        .filter(|v| !v.is_null())
}

/// A decimal written without trailing zeros, for exact comparisons.
fn canonical_decimal(text: &str) -> String {
    Decimal::from_str(text.trim())
        .map(|d| d.normalize().to_string())
        .unwrap_or_else(|e| format!("not a decimal `{text}`: {e}"))
}

/// How the sample's value reads as text for `kind`.
fn expected_text(v: &Value, kind: Kind) -> String {
    let scalar = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match kind {
        Kind::Money => canonical_decimal(&scalar(v)),
        Kind::List => match v {
            Value::Array(items) => items.iter().map(scalar).collect::<Vec<_>>().join(","),
            other => format!("not a list: {other}"),
        },
        Kind::Json => v.to_string(),
        Kind::IntOrBool => match v {
            Value::Bool(b) => i64::from(*b).to_string(),
            other => scalar(other),
        },
        _ => scalar(v),
    }
}

/// The SQL reading a field back as text.
fn read_sql(expr: &str, kind: Kind) -> String {
    match kind {
        Kind::Text => format!("CAST({expr} AS VARCHAR)"),
        Kind::Int | Kind::IntOrBool | Kind::Bool | Kind::Money | Kind::Json => {
            format!("CAST({expr} AS VARCHAR)")
        }
        Kind::Time => format!("CAST(epoch(CAST({expr} AS TIMESTAMP)) AS BIGINT)::VARCHAR"),
        Kind::List => format!("list_aggregate(CAST({expr} AS VARCHAR[]), 'string_agg', ',')"),
    }
}

/// What was read back, as the sample's text.
fn actual_text(got: Option<String>, kind: Kind) -> Option<String> {
    let got = got?;
    Some(match kind {
        Kind::Money => canonical_decimal(&got),
        Kind::Json => serde_json::from_str::<Value>(&got)
            .map(|v| v.to_string())
            .unwrap_or_else(|e| format!("not JSON `{got}`: {e}")),
        _ => got,
    })
}

/// Leaf paths of a row: scalars and lists are leaves, objects are descended into.
fn leaf_paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    if let Value::Object(m) = v {
        for (k, child) in m {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            if child.is_object() {
                leaf_paths(child, &path, out);
            } else {
                out.insert(path);
            }
        }
    }
}

/// Reads every sample row of `check` back from its table and compares field by field;
/// returns the differences, each naming table, row and field.
fn compare_table(conn: &Connection, check: &TableCheck, rows: &[Value]) -> Vec<String> {
    let mut diffs = Vec::new();
    // Every documented field has a column (or a derivation), and no mapping is stale.
    let mut documented = BTreeSet::new();
    for row in rows {
        leaf_paths(row, "", &mut documented);
    }
    let mapped: BTreeSet<String> = check.fields.iter().map(|f| f.0.to_string()).collect();
    for path in documented.difference(&mapped) {
        diffs.push(format!(
            "{}: field `{path}` of {}.json has no column",
            check.table, check.fixture
        ));
    }
    for path in mapped.difference(&documented) {
        diffs.push(format!(
            "{}: mapped field `{path}` is in no row of {}.json",
            check.table, check.fixture
        ));
    }

    let exprs: Vec<String> = check
        .fields
        .iter()
        .map(|(_, expr, kind)| read_sql(expr, *kind))
        .collect();
    let key_cols: Vec<&str> = check.fields[..check.keys].iter().map(|f| f.1).collect();
    let sql = format!(
        "SELECT {}, _extra FROM {} WHERE bot_id = ? {} ORDER BY ALL",
        exprs.join(", "),
        check.table,
        if check.table == "users_count_history" {
            ""
        } else {
            "AND _deleted_at IS NULL"
        }
    );
    let mut stmt = conn.prepare(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let n = check.fields.len();
    let stored: Vec<(Vec<Option<String>>, Option<String>)> = stmt
        .query_map([BOT], |r| {
            let mut values = Vec::with_capacity(n);
            for i in 0..n {
                values.push(r.get::<_, Option<String>>(i)?);
            }
            Ok((values, r.get::<_, Option<String>>(n)?))
        })
        .and_then(|rows| rows.collect())
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let key_of = |values: &[Option<String>]| -> String {
        values[..check.keys]
            .iter()
            .map(|v| v.clone().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("/")
    };
    let by_key: BTreeMap<String, (Vec<Option<String>>, Option<String>)> = stored
        .into_iter()
        .map(|(values, extra)| {
            let values: Vec<Option<String>> = values
                .into_iter()
                .zip(check.fields)
                .map(|(v, f)| actual_text(v, f.2))
                .collect();
            (key_of(&values), (values, extra))
        })
        .collect();
    if check.keys == 0 && by_key.len() != 1 {
        diffs.push(format!(
            "{}: expected one row, found {}",
            check.table,
            by_key.len()
        ));
    }
    for row in rows {
        let expected: Vec<Option<String>> = check
            .fields
            .iter()
            .map(|(path, _, kind)| at(row, path).map(|v| expected_text(v, *kind)))
            .collect();
        let key = key_of(&expected);
        let Some((got, extra)) = by_key.get(&key) else {
            diffs.push(format!(
                "{}: no row with key {key} ({}: {})",
                check.table,
                key_cols.join("/"),
                key
            ));
            continue;
        };
        for (i, (path, expr, _)) in check.fields.iter().enumerate() {
            if got[i] != expected[i] {
                diffs.push(format!(
                    "{} {key}: `{path}` is {:?} in {}.json, {expr} reads {:?}",
                    check.table, expected[i], check.fixture, got[i]
                ));
            }
        }
        if extra.is_some() {
            diffs.push(format!(
                "{} {key}: documented fields left in _extra: {extra:?}",
                check.table
            ));
        }
    }
    diffs
}

async fn sync_ok(settings: &Settings, options: SyncOptions) -> RunOutcome {
    let outcome = sync::run(settings, &options).await.expect("sync runs");
    let failures: Vec<String> = outcome
        .failures()
        .map(|(_, s, f)| format!("{}: {}", s.stream, f.message))
        .collect();
    assert!(failures.is_empty(), "streams failed: {failures:?}");
    assert_eq!(outcome.rows_rejected(), 0, "no row of a sample is rejected");
    outcome
}

fn rejected_rows(conn: &Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT stream || ': ' || reason || ' ' || raw_json FROM _rejected")
        .expect("query _rejected");
    stmt.query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect())
        .expect("read _rejected")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_and_loader_keep_every_documented_field_of_every_sample() {
    let api = CannedApi::start().await;
    serve_samples(&api);
    let dir = tempdir();
    let settings = api.settings(dir.path());
    sync_ok(&settings, SyncOptions::default()).await;

    let conn = Connection::open(&settings.warehouse).expect("warehouse opens");
    assert_eq!(
        rejected_rows(&conn),
        Vec::<String>::new(),
        "_rejected is empty"
    );
    let mut diffs = Vec::new();
    for check in [
        &ORDERS,
        &MEMBERS,
        &PLANS,
        &PROJECTS,
        &COUPONS,
        &PAYMENT_METHODS,
        &USERS_COUNT,
    ] {
        let rows = match fixture(check.fixture).get("result") {
            Some(Value::Array(rows)) => rows.clone(),
            Some(single) => vec![single.clone()],
            None => panic!("{}.json has no result", check.fixture),
        };
        diffs.extend(compare_table(&conn, check, &rows));
        // The table holds the sample's rows and nothing else.
        let count: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM {} WHERE bot_id = ?", check.table),
                [BOT],
                |r| r.get(0),
            )
            .expect("count");
        if count != rows.len() as i64 {
            diffs.push(format!(
                "{}: {count} rows, {}.json has {}",
                check.table,
                check.fixture,
                rows.len()
            ));
        }
    }

    // /paymentMethods/report names gateways (code ↔ display name) for the reports,
    // installed or not; /revenue without a currency tells the preferred one.
    let installed: BTreeSet<String> = fixture_rows("get_payment_methods")
        .iter()
        .filter_map(|r| r["name"].as_str().map(str::to_string))
        .collect();
    for row in fixture_rows("get_payment_methods_report") {
        let code = row["name"].as_str().expect("name").to_string();
        let got: Option<(String, bool)> = conn
            .query_row(
                "SELECT display_name, installed FROM gateways WHERE bot_id = ? AND code = ?",
                duckdb::params![BOT, code],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok();
        let want = (
            row["display_name"]
                .as_str()
                .expect("display_name")
                .to_string(),
            installed.contains(&code),
        );
        if got.as_ref() != Some(&want) {
            diffs.push(format!(
                "gateways {code}: {got:?}, the samples say {want:?}"
            ));
        }
    }
    let preferred: String = conn
        .query_row(
            "SELECT preferred_currency FROM bot_settings WHERE bot_id = ?",
            [BOT],
            |r| r.get(0),
        )
        .expect("preferred currency recorded");
    let revenue_currency = fixture("get_revenue")["result"]["currency"]
        .as_str()
        .expect("currency")
        .to_string();
    if preferred != revenue_currency {
        diffs.push(format!(
            "bot_settings: preferred currency {preferred}, /revenue's sample answers in {revenue_currency}"
        ));
    }
    assert!(diffs.is_empty(), "differences:\n{}", diffs.join("\n"));
}

/// `member_email` only comes from `/orders/{order_key}`: the sync re-reads an old
/// PENDING order by key (after an incremental read or a full scan alike), stores its
/// email, and later reads of the list (which has no email) keep it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_email_from_the_single_order_sample_is_stored_and_kept() {
    let detail = fixture("get_orders_order_key")["result"].clone();
    let key = detail["order_key"].as_str().expect("order_key").to_string();
    let email = detail["member_email"]
        .as_str()
        .expect("member_email")
        .to_string();
    // The same order as the list shows it: no email (and no amount, as the detail).
    let mut listed = detail.clone();
    listed
        .as_object_mut()
        .expect("object")
        .remove("member_email");
    let mut list = fixture("get_orders");
    list["result"].as_array_mut().expect("list").push(listed);

    let api = CannedApi::start().await;
    serve_samples(&api);
    api.serve("orders", list.to_string());
    api.serve(
        &format!("orders/{key}"),
        fixture_text("get_orders_order_key"),
    );
    let dir = tempdir();
    let mut settings = api.settings(dir.path());
    sync_ok(&settings, SyncOptions::default()).await;
    let email_of = |settings: &Settings| -> Option<String> {
        let conn = Connection::open(&settings.warehouse).expect("warehouse opens");
        conn.query_row(
            "SELECT member_email FROM orders WHERE bot_id = ? AND order_key = ?",
            duckdb::params![BOT, key],
            |r| r.get(0),
        )
        .expect("the order is stored")
    };
    assert_eq!(email_of(&settings), None, "the list carries no email");

    // An incremental run with a one-hour window: the order (days older than the newest)
    // is PENDING before the window, so it is re-read by key.
    settings.orders.lookback = Duration::from_secs(3600);
    let asked_before = api.asked().len();
    sync_ok(&settings, SyncOptions::default()).await;
    let reread = api.asked()[asked_before..]
        .iter()
        .any(|m| *m == format!("orders/{}", key.to_ascii_lowercase()));
    assert!(reread, "the run asked for /orders/{key}: {:?}", api.asked());
    assert_eq!(email_of(&settings), Some(email.clone()), "email stored");
    let conn = Connection::open(&settings.warehouse).expect("warehouse opens");
    let diffs = compare_table(&conn, &ORDER_DETAIL, std::slice::from_ref(&detail));
    drop(conn);
    assert!(diffs.is_empty(), "differences:\n{}", diffs.join("\n"));

    // A full scan reads the list again, which has no email: the stored one stays.
    sync_ok(
        &settings,
        SyncOptions {
            full_refresh: true,
            ..SyncOptions::default()
        },
    )
    .await;
    assert_eq!(
        email_of(&settings),
        Some(email.clone()),
        "email kept by a full scan"
    );

    // A first (full) sync re-reads the same old PENDING orders as an incremental one
    // would, so one run into a new warehouse stores the email too.
    let fresh = tempdir();
    let mut settings = api.settings(fresh.path());
    settings.orders.lookback = Duration::from_secs(3600);
    sync_ok(&settings, SyncOptions::default()).await;
    assert_eq!(
        email_of(&settings),
        Some(email),
        "email stored by a full scan"
    );
}

// ---------------------------------------------------------------------------------------
// The report endpoints as the sync and `verify` parse them.
// ---------------------------------------------------------------------------------------

/// Compares a parsed model (serialized back) with the sample: same field names, equal
/// values, decimals compared exactly whether written as strings or numbers.
fn same_json(got: &Value, want: &Value, path: &str, diffs: &mut Vec<String>) {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            let gk: BTreeSet<&String> = g.keys().collect();
            let wk: BTreeSet<&String> = w.keys().collect();
            if gk != wk {
                diffs.push(format!("{path}: fields {gk:?}, the sample has {wk:?}"));
            }
            for (k, wv) in w {
                if let Some(gv) = g.get(k) {
                    same_json(gv, wv, &format!("{path}.{k}"), diffs);
                }
            }
        }
        (Value::Array(g), Value::Array(w)) => {
            if g.len() != w.len() {
                diffs.push(format!(
                    "{path}: {} entries, the sample has {}",
                    g.len(),
                    w.len()
                ));
            }
            for (i, (gv, wv)) in g.iter().zip(w).enumerate() {
                same_json(gv, wv, &format!("{path}[{i}]"), diffs);
            }
        }
        _ => {
            let text = |v: &Value| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let (g, w) = (text(got), text(want));
            let numeric = Decimal::from_str(&g).ok().zip(Decimal::from_str(&w).ok());
            let equal = match numeric {
                Some((a, b)) => a == b,
                None => g == w,
            };
            if !equal {
                diffs.push(format!("{path}: {g:?}, the sample has {w:?}"));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_samples_parse_with_every_field_kept() {
    let api = CannedApi::start().await;
    serve_samples(&api);
    let client = api.client();
    let mut diffs = Vec::new();

    let revenue = client.revenue(0, 1, None).await.expect("/revenue parses");
    same_json(
        &serde_json::to_value(&revenue).expect("serialize"),
        &fixture("get_revenue")["result"],
        "/revenue",
        &mut diffs,
    );

    type Reader = fn(Value) -> Result<Value, String>;
    fn read<T: serde::Serialize, E: std::fmt::Display>(
        parsed: Result<T, E>,
    ) -> Result<Value, String> {
        parsed
            .map_err(|e| e.to_string())
            .and_then(|m| serde_json::to_value(&m).map_err(|e| e.to_string()))
    }
    let lists: [(Method, &str, Reader); 3] = [
        (Method::OrdersCount, "get_orders_count", |v| {
            read(PeriodFigures::from_json(v))
        }),
        (Method::PlansReport, "get_plans_report", |v| {
            read(PlanReport::from_json(v))
        }),
        (
            Method::PaymentMethodsReport,
            "get_payment_methods_report",
            |v| read(PaymentMethodReport::from_json(v)),
        ),
    ];
    for (method, name, reader) in lists {
        let rows = client
            .get_list(&method, &[])
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        let parsed: Vec<Value> = rows
            .into_iter()
            .enumerate()
            .map(|(i, row)| reader(row).unwrap_or_else(|e| panic!("{name} row {i}: {e}")))
            .collect();
        same_json(
            &Value::Array(parsed),
            &Value::Array(fixture_rows(name)),
            &method.label(),
            &mut diffs,
        );
    }
    assert!(diffs.is_empty(), "differences:\n{}", diffs.join("\n"));
}

// ---------------------------------------------------------------------------------------
// The simulator's answers have the samples' shape.
// ---------------------------------------------------------------------------------------

/// The JSON type of a value, and for objects and lists what they hold. A list's element
/// shape merges all its elements; an object field seen in only some of them is optional.
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    Null,
    Bool,
    Number,
    String,
    /// `None`: an empty list (nothing to compare).
    List(Option<Box<Shape>>),
    /// Field → (shape, present in every instance).
    Object(BTreeMap<String, (Shape, bool)>),
}

impl Shape {
    fn of(v: &Value, path: &str) -> Result<Shape, String> {
        Ok(match v {
            Value::Null => Shape::Null,
            Value::Bool(_) => Shape::Bool,
            Value::Number(_) => Shape::Number,
            Value::String(_) => Shape::String,
            Value::Array(items) => {
                let mut merged: Option<Shape> = None;
                for item in items {
                    let s = Shape::of(item, &format!("{path}[]"))?;
                    merged = Some(match merged {
                        None => s,
                        Some(m) => m.merge(s, &format!("{path}[]"))?,
                    });
                }
                Shape::List(merged.map(Box::new))
            }
            Value::Object(m) => Shape::Object(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), (Shape::of(v, &format!("{path}.{k}"))?, true))))
                    .collect::<Result<_, String>>()?,
            ),
        })
    }

    fn merge(self, other: Shape, path: &str) -> Result<Shape, String> {
        match (self, other) {
            (Shape::Object(mut a), Shape::Object(b)) => {
                for (_, entry) in a.iter_mut().filter(|(k, _)| !b.contains_key(*k)) {
                    entry.1 = false;
                }
                for (k, (shape, required)) in b {
                    let merged = match a.remove(&k) {
                        Some((mine, mine_required)) => (
                            mine.merge(shape, &format!("{path}.{k}"))?,
                            mine_required && required,
                        ),
                        None => (shape, false),
                    };
                    a.insert(k, merged);
                }
                Ok(Shape::Object(a))
            }
            (Shape::List(a), Shape::List(b)) => Ok(Shape::List(match (a, b) {
                (None, x) | (x, None) => x,
                (Some(a), Some(b)) => Some(Box::new(a.merge(*b, path)?)),
            })),
            (a, b) if a == b => Ok(a),
            (a, b) => Err(format!(
                "{path}: {} in one element, {} in another",
                a.name(),
                b.name()
            )),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Shape::Null => "null",
            Shape::Bool => "a boolean",
            Shape::Number => "a number",
            Shape::String => "a string",
            Shape::List(_) => "a list",
            Shape::Object(_) => "an object",
        }
    }
}

/// Differences between the sample's shape and the simulator's. A field the sample shows
/// in every element must be in every element of the simulator's answer; a field it shows
/// in some elements only is optional (coupons' `payment_gateways` and `revenue`,
/// projects' `options.sort_order`, payment methods' `tokens`): the simulator may leave
/// it out of an element but must send it somewhere, with the same type.
fn shape_diffs(sample: &Shape, sim: &Shape, path: &str, diffs: &mut Vec<String>) {
    match (sample, sim) {
        (Shape::Object(want), Shape::Object(got)) => {
            for (k, (want_shape, want_required)) in want {
                let here = format!("{path}.{k}");
                match got.get(k) {
                    None => diffs.push(format!(
                        "{here}: in the sample, never sent by the simulator"
                    )),
                    Some((got_shape, got_required)) => {
                        if *want_required && !got_required {
                            diffs.push(format!(
                                "{here}: in every element of the sample, missing from some of the simulator's"
                            ));
                        }
                        shape_diffs(want_shape, got_shape, &here, diffs);
                    }
                }
            }
            for k in got.keys().filter(|k| !want.contains_key(*k)) {
                diffs.push(format!(
                    "{path}.{k}: sent by the simulator, not in the sample"
                ));
            }
        }
        (Shape::List(Some(want)), Shape::List(Some(got))) => {
            shape_diffs(want, got, &format!("{path}[]"), diffs)
        }
        (Shape::List(Some(_)), Shape::List(None)) => diffs.push(format!(
            "{path}: the simulator sent an empty list, nothing to compare with the sample"
        )),
        (Shape::List(None), Shape::List(_)) => {}
        (want, got) if std::mem::discriminant(want) == std::mem::discriminant(got) => {}
        (want, got) => diffs.push(format!(
            "{path}: {} in the sample, {} from the simulator",
            want.name(),
            got.name()
        )),
    }
}

/// The envelope without `ok`: the API text says every answer has it, yet three of its
/// GET samples (orders, orders/{key}, coupons) leave it out (docs/data-contract.md §1.3 tolerates both).
/// Where present it must be a boolean.
fn without_ok(mut envelope: Value, who: &str, diffs: &mut Vec<String>) -> Value {
    if let Some(ok) = envelope.as_object_mut().and_then(|m| m.remove("ok"))
        && !ok.is_boolean()
    {
        diffs.push(format!("{who}: `ok` is {ok}, not a boolean"));
    }
    envelope
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_answers_with_the_shape_of_every_get_sample() {
    let server = start_sim(sim_options(300, 120)).await;
    let some_order = server
        .handle
        .data()
        .orders
        .front()
        .map(|o| o.order_key.clone())
        .expect("the simulator has orders");
    // The samples' own queries where they show one; `/revenue` over all of time (a fixed
    // far-future `to`, so the test does not read the clock).
    let endpoints: [(&str, String); 12] = [
        ("get_orders", "orders".into()),
        ("get_orders_order_key", format!("orders/{some_order}")),
        ("get_members", "members".into()),
        ("get_plans", "plans".into()),
        ("get_projects", "projects".into()),
        ("get_coupons", "coupons".into()),
        ("get_payment_methods", "paymentMethods".into()),
        ("get_payment_methods_report", "paymentMethods/report".into()),
        ("get_plans_report", "plans/report".into()),
        (
            "get_orders_count",
            "orders/count?interval_unit=month&interval_count=3&currency=usd".into(),
        ),
        ("get_revenue", "revenue?from=0&to=4102444800".into()),
        ("get_users_count", "users/count".into()),
    ];
    // The POST and DELETE samples describe writes: the simulator is read-only (and the
    // ETL never writes), so they have no simulator answer to compare.
    let compared: BTreeSet<&str> = endpoints.iter().map(|(n, _)| *n).collect();
    let writes: BTreeSet<&str> = FIXTURES
        .iter()
        .copied()
        .filter(|n| !n.starts_with("get_"))
        .collect();
    assert_eq!(
        compared.len() + writes.len(),
        FIXTURES.len(),
        "every sample is either compared or a write"
    );

    let http = reqwest::Client::new();
    let mut diffs = Vec::new();
    for (name, method) in &endpoints {
        let url = format!("{}/v1/bot{BOT_ID}/{TEST_KEY}/{method}", server.base_url());
        let response = http.get(&url).send().await.expect("simulator answers");
        let status = response.status();
        let body = response.bytes().await.expect("body");
        assert_eq!(
            status.as_u16(),
            200,
            "{name}: {}",
            String::from_utf8_lossy(&body)
        );
        let sim: Value = serde_json::from_slice(&body).expect("the simulator answers JSON");
        let sample = without_ok(fixture(name), name, &mut diffs);
        let sim = without_ok(sim, &format!("simulator {method}"), &mut diffs);
        let sample_shape = Shape::of(&sample, name).expect("the sample is uniform");
        match Shape::of(&sim, name) {
            Ok(sim_shape) => shape_diffs(&sample_shape, &sim_shape, name, &mut diffs),
            Err(e) => diffs.push(format!("simulator {method}: {e}")),
        }
    }
    server.shutdown().await;
    assert!(diffs.is_empty(), "differences:\n{}", diffs.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Money formatting.
// ---------------------------------------------------------------------------------------

/// Every money object of a sample: `revenue` or `amount`, with `currency` and `formatted`.
fn money_objects(v: &Value, path: &str, out: &mut Vec<(String, String, String, String)>) {
    match v {
        Value::Object(m) => {
            let amount = m.get("revenue").or_else(|| m.get("amount"));
            if let (Some(amount), Some(Value::String(currency)), Some(Value::String(formatted))) =
                (amount, m.get("currency"), m.get("formatted"))
            {
                let amount = match amount {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                out.push((
                    path.to_string(),
                    amount,
                    currency.clone(),
                    formatted.clone(),
                ));
            }
            for (k, child) in m {
                money_objects(child, &format!("{path}.{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                money_objects(item, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn both_money_formatters_write_every_sample_formatted_exactly() {
    let conn = crate::support::memory_warehouse();

    let mut objects = Vec::new();
    let mut formatted_in_text = 0;
    for name in FIXTURES.iter().filter(|n| **n != NOT_JSON_AS_PRINTED) {
        money_objects(&fixture(name), name, &mut objects);
        formatted_in_text += fixture_text(name).matches("\"formatted\"").count();
    }
    // Every `formatted` of the samples belongs to a money object (37 in the API text).
    assert_eq!(
        objects.len(),
        formatted_in_text,
        "money objects vs `formatted` fields"
    );

    let mut diffs = Vec::new();
    for (path, amount, currency, want) in &objects {
        let sql: String = conn
            .query_row(
                "SELECT format_money(CAST(? AS DECIMAL(38,18)), ?)",
                duckdb::params![amount, currency],
                |r| r.get(0),
            )
            .unwrap_or_else(|e| panic!("format_money({amount}, {currency}): {e}"));
        let decimal = Decimal::from_str(amount).expect("a decimal amount");
        let code = Currency::from_str(currency).expect("one of the 13 currencies");
        let sim = tgm_sync::sim::format::formatted(decimal, code);
        if sql != *want || sim != *want {
            diffs.push(format!(
                "{path}: {amount} {currency} is {want:?} in the sample; SQL format_money gives {sql:?}, the simulator {sim:?}"
            ));
        }
    }
    assert!(diffs.is_empty(), "differences:\n{}", diffs.join("\n"));
}
