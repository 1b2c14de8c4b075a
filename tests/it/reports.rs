//! The report layer end to end: sync the simulator, then every report in every one of
//! the 13 currencies from the warehouse (the macros of `sql/reports.sql`) against the
//! simulator's own report endpoints over HTTP; `tgm-sync report --format json` against
//! the API's `result`; and `tgm-sync verify` on a clean and on a tampered warehouse.
//!
//! The expected values are the simulator's answers as any API client sees them; nothing
//! here calls the simulator's report code. The simulator computes as the API text shows
//! (8-decimal pair rates, each sale rounded to 8 decimals); revenue must be equal, or
//! within the residue of a float sum where the API prints one; sales, periods, ids, names
//! and `formatted` must be equal.

use std::path::Path;
use std::process::Output;

use duckdb::{AccessMode, Config, Connection};
use rust_decimal::Decimal;
use serde_json::Value;
use tgm_sync::api::{ApiClient, Method};
use tgm_sync::currency::Currency;
use tgm_sync::fx::residue::revenue_slack;
use tgm_sync::money::Amount;
use tgm_sync::sim::rates::{Arithmetic, convert_at, pair_rate, pair_rate_in};
use tgm_sync::sim::{Quirks, RequestInfo};

use crate::support::*;
use crate::sync::{open, sync_once};

const DAY: i64 = 86_400;

fn read_only(path: &Path) -> Connection {
    let config = Config::default()
        .access_mode(AccessMode::ReadOnly)
        .and_then(|c| c.enable_autoload_extension(false))
        .expect("read-only config");
    Connection::open_with_flags(path, config).expect("warehouse opens read-only")
}

fn now() -> i64 {
    pinned_now()
}

fn dec(text: &str) -> Decimal {
    Amount::parse(text)
        .unwrap_or_else(|e| panic!("`{text}` is not a decimal: {e}"))
        .to_decimal()
        .expect("fits a Decimal")
}

/// One report row as field -> text; numbers as JSON writes them, strings as they are.
type Row = Vec<(String, String)>;

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The API's rows: every field of each object, in the API's order, nested `breakdown`
/// flattened into rows of their own keyed by the parent's `plan_id`.
fn api_rows(result: &Value) -> Vec<Row> {
    let objects: Vec<&Value> = match result {
        Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    let mut rows = Vec::new();
    for obj in objects {
        let map = obj.as_object().expect("a report row is an object");
        let mut row: Row = map
            .iter()
            .filter(|(k, _)| k.as_str() != "breakdown")
            .map(|(k, v)| (k.clone(), text_of(v)))
            .collect();
        row.sort();
        rows.push(row);
        if let Some(Value::Array(months)) = map.get("breakdown") {
            for m in months {
                let mut row: Row = m
                    .as_object()
                    .expect("a breakdown entry is an object")
                    .iter()
                    .map(|(k, v)| (k.clone(), text_of(v)))
                    .collect();
                row.push(("plan_id".into(), text_of(&map["plan_id"])));
                row.sort();
                rows.push(row);
            }
        }
    }
    rows
}

/// The warehouse's rows of `sql`, whose column names are the API's field names.
fn warehouse_rows(conn: &Connection, sql: &str) -> Vec<Row> {
    let wrapped = format!("SELECT COLUMNS(*)::VARCHAR FROM ({sql})");
    let mut stmt = conn
        .prepare(&wrapped)
        .unwrap_or_else(|e| panic!("prepare failed: {e}\n{sql}"));
    let mut rows = stmt.query([]).expect("query runs");
    let names: Vec<String> = rows
        .as_ref()
        .expect("statement")
        .column_names()
        .into_iter()
        .collect();
    let mut out = Vec::new();
    while let Some(r) = rows.next().expect("row") {
        let mut row: Row = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                (
                    n.clone(),
                    r.get::<_, Option<String>>(i)
                        .expect("text")
                        .unwrap_or_default(),
                )
            })
            .collect();
        row.sort();
        out.push(row);
    }
    out
}

/// Revenue equal, or within the residue of the API's float sum where its text can be one
/// (`revenue_slack`: at most 17 significant digits); everything else exact, rows in the
/// same order. Returns the differences, one line each.
fn differences(what: &str, api: &[Row], ours: &[Row]) -> Vec<String> {
    if api.len() != ours.len() {
        return vec![format!(
            "{what}: {} rows from the API, {} in the warehouse\n api: {api:?}\n warehouse: {ours:?}",
            api.len(),
            ours.len()
        )];
    }
    let mut out = Vec::new();
    for (i, (a, o)) in api.iter().zip(ours).enumerate() {
        let keys = |r: &Row| r.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        if keys(a) != keys(o) {
            out.push(format!(
                "{what} row {i}: fields {:?} vs {:?}",
                keys(a),
                keys(o)
            ));
            continue;
        }
        for ((field, av), (_, ov)) in a.iter().zip(o) {
            let same = if field == "revenue" {
                let sales: i64 = a
                    .iter()
                    .find(|(k, _)| k == "sales")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                let (x, y) = (amount_of(av), amount_of(ov));
                x.scaled().abs_diff(y.scaled()) <= revenue_slack(x, sales)
            } else {
                av == ov
            };
            if !same {
                out.push(format!(
                    "{what} row {i} {field}: api {av} warehouse {ov} (api row {a:?}, warehouse row {o:?})"
                ));
            }
        }
    }
    out
}

fn amount_of(text: &str) -> Amount {
    Amount::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

async fn api(client: &ApiClient, method: Method, query: &[(&str, String)]) -> Value {
    client
        .get(&method, query)
        .await
        .unwrap_or_else(|e| panic!("{method:?} {query:?}: {e}"))
}

/// The pinned clock as a `now_ts` argument: the macros' own default is DuckDB's `now()`.
fn now_sql() -> String {
    format!("make_timestamp({})", now() * 1_000_000)
}

/// The SQL a user would write for each report, with the API's field names.
fn revenue_sql(from: i64, to: i64, c: Currency) -> String {
    format!(
        "SELECT \"from\", \"to\", money_text(revenue) AS revenue, currency, formatted, sales \
         FROM revenue({from}, {to}, '{}', bot := {BOT_ID})",
        c.query_value()
    )
}

fn orders_count_sql(unit: &str, count: u32, c: Currency) -> String {
    format!(
        "SELECT period, money_text(revenue) AS revenue, currency, formatted, sales \
         FROM orders_count('{unit}', {count}, '{}', now_ts := {}, bot := {BOT_ID})",
        c.query_value(),
        now_sql()
    )
}

/// Plan totals, each followed by its breakdown months (newest first), like api_rows.
fn plans_sql(c: Currency) -> String {
    format!(
        "WITH p AS (SELECT row_number() OVER (ORDER BY revenue DESC, plan_id) AS n, * \
                    FROM plans_report('{}', now_ts := {}, bot := {BOT_ID})), \
              b AS (SELECT n, plan_id, unnest(range(1, len(breakdown) + 1)) AS m, \
                           unnest(breakdown) AS e FROM p) \
         SELECT plan_id, plan_name, revenue, currency, formatted, sales, period FROM ( \
           SELECT n, 0 AS m, plan_id, plan_name, money_text(revenue) AS revenue, currency, \
                  formatted, sales, NULL AS period FROM p \
           UNION ALL \
           SELECT n, m, plan_id, NULL, money_text(e.revenue), e.currency, e.formatted, \
                  e.sales, e.period FROM b) \
         ORDER BY n, m",
        c.query_value(),
        now_sql()
    )
}

fn strip_nulls(rows: Vec<Row>) -> Vec<Row> {
    // The flattened plans query has NULL plan_name on breakdown rows, NULL period on totals.
    rows.into_iter()
        .map(|r| r.into_iter().filter(|(_, v)| !v.is_empty()).collect())
        .collect()
}

fn payment_methods_sql(c: Currency) -> String {
    format!(
        "SELECT name, display_name, money_text(revenue) AS revenue, currency, formatted, sales \
         FROM payment_methods_report('{}', bot := {BOT_ID})",
        c.query_value()
    )
}

fn month_start(year: i32, month: u32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(year, month, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("a date")
        .and_utc()
        .timestamp()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_report_in_every_currency_matches_the_simulator() {
    every_report_in_every_currency(Quirks::default()).await;
}

/// The same with `revenue` summed in f64 as the real API does (`"398.60636332000007"`):
/// the rates read off such revenue still make every report exact, and `verify` agrees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_report_in_every_currency_matches_an_api_summing_in_floating_point() {
    every_report_in_every_currency(Quirks {
        float_revenue: true,
        ..Quirks::default()
    })
    .await;
}

async fn every_report_in_every_currency(quirks: Quirks) {
    // 15 plans: every plan currency the simulator knows (all 13), several twice.
    let mut options = sim_options(4000, 800);
    options.plans = 15;
    options.quirks = quirks;
    let server = start_sim(options).await;
    let dir = tempdir();
    let settings = settings_for(&server, dir.path());
    sync_once(&settings).await;
    let conn = read_only(&settings.warehouse);
    let client = client_for(&server);
    let mut problems: Vec<String> = Vec::new();

    // The data really has sales in all 13 currencies, so every rate is exercised.
    let native: Vec<String> = warehouse_rows(
        &conn,
        "SELECT DISTINCT currency FROM sales ORDER BY currency",
    )
    .into_iter()
    .map(|r| r[0].1.clone())
    .collect();
    assert_eq!(native.len(), 13, "sales in every currency: {native:?}");
    // ...and some of them are paid in another currency than their plan's (docs/data-contract.md §2.5), as
    // the simulator's own data says, not only the warehouse.
    let data = server.handle.data();
    let crossed: Vec<(&str, Currency, Currency)> = data
        .orders
        .iter()
        .filter(|o| o.is_sale())
        .filter_map(|o| {
            let plan = data.plan(o.plan_id)?;
            (plan.currency != o.currency).then_some((
                o.order_key.as_str(),
                plan.currency,
                o.currency,
            ))
        })
        .collect();
    assert!(
        crossed.len() >= 20,
        "cross-currency sales in the simulator's data: {crossed:?}"
    );
    let crossed_in_warehouse: i64 = warehouse_rows(
        &conn,
        "SELECT count(*) AS n FROM sales AS s JOIN plans AS p USING (bot_id, plan_id) \
         WHERE upper(p.currency) <> s.currency",
    )[0][0]
        .1
        .parse()
        .expect("a count");
    assert_eq!(crossed_in_warehouse as usize, crossed.len());

    // Revenue windows: all time, the last 30 days, a past calendar month, and a window
    // whose ends sit exactly on sales (from inclusive, to exclusive).
    let t = now();
    let on_sales: Vec<i64> = warehouse_rows(
        &conn,
        "SELECT epoch(order_date::TIMESTAMP)::BIGINT AS t FROM sales ORDER BY t",
    )
    .into_iter()
    .map(|r| r[0].1.parse().expect("seconds"))
    .collect();
    let (a, b) = (
        on_sales[on_sales.len() / 3],
        on_sales[2 * on_sales.len() / 3],
    );
    let past = chrono::DateTime::from_timestamp(t - 200 * DAY, 0).expect("a time");
    let (y, m) = (
        chrono::Datelike::year(&past),
        chrono::Datelike::month(&past),
    );
    let month = (
        month_start(y, m),
        if m == 12 {
            month_start(y + 1, 1)
        } else {
            month_start(y, m + 1)
        },
    );
    let windows = [(0, t + DAY), (t - 30 * DAY, t + 1), month, (a, b)];

    for c in Currency::ALL {
        let q = c.query_value();
        for (from, to) in windows {
            let got = api(
                &client,
                Method::Revenue,
                &[
                    ("from", from.to_string()),
                    ("to", to.to_string()),
                    ("currency", q.clone()),
                ],
            )
            .await;
            problems.extend(differences(
                &format!("revenue {from}..{to} {c}"),
                &api_rows(&got),
                &warehouse_rows(&conn, &revenue_sql(from, to, c)),
            ));
        }
        for (unit, count) in [("day", 45), ("month", 40), ("year", 4)] {
            let got = api(
                &client,
                Method::OrdersCount,
                &[
                    ("interval_unit", unit.to_string()),
                    ("interval_count", count.to_string()),
                    ("currency", q.clone()),
                ],
            )
            .await;
            problems.extend(differences(
                &format!("orders/count {unit} {count} {c}"),
                &api_rows(&got),
                &warehouse_rows(&conn, &orders_count_sql(unit, count, c)),
            ));
        }
        let got = api(&client, Method::PlansReport, &[("currency", q.clone())]).await;
        let plans = api_rows(&got);
        assert!(plans.len() > 15, "plans with breakdowns: {plans:?}");
        // The breakdown's own shape is exercised: some plan has two entries in a month.
        let repeated_month = got.as_array().is_some_and(|list| {
            list.iter().any(|plan| {
                let periods: Vec<&Value> = plan["breakdown"]
                    .as_array()
                    .map(|b| b.iter().map(|e| &e["period"]).collect())
                    .unwrap_or_default();
                periods.windows(2).any(|w| w[0] == w[1])
            })
        });
        assert!(
            repeated_month,
            "no plan with two entries in one month: {got}"
        );
        problems.extend(differences(
            &format!("plans/report {c}"),
            &plans,
            &strip_nulls(warehouse_rows(&conn, &plans_sql(c))),
        ));
        let got = api(
            &client,
            Method::PaymentMethodsReport,
            &[("currency", q.clone())],
        )
        .await;
        problems.extend(differences(
            &format!("paymentMethods/report {c}"),
            &api_rows(&got),
            &warehouse_rows(&conn, &payment_methods_sql(c)),
        ));
    }
    // Independently of both: all-time revenue from the simulator's own orders, each sale
    // at its pair's 8-decimal rate rounded to 8 decimals (docs/data-contract.md §2.2), summed exactly.
    for c in Currency::ALL {
        let want: Decimal = data
            .orders
            .iter()
            .filter(|o| o.is_sale())
            .map(|o| {
                if o.currency == c {
                    o.amount
                } else {
                    convert_at(o.amount, pair_rate(o.currency, c))
                }
            })
            .sum();
        let ours = warehouse_rows(&conn, &revenue_sql(0, t + DAY, c));
        let got = ours[0]
            .iter()
            .find(|(k, _)| k == "revenue")
            .map(|(_, v)| dec(v))
            .expect("revenue");
        if got != want {
            problems.push(format!(
                "all-time {c}: warehouse {got}, per-sale sum {want}"
            ));
        }
    }
    let got = api(&client, Method::UsersCount, &[]).await;
    problems.extend(differences(
        "users/count",
        &api_rows(&got),
        &warehouse_rows(
            &conn,
            &format!("SELECT users, leads, churned, members FROM users_count(bot := {BOT_ID})"),
        ),
    ));
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
    drop(conn);
    let (code, text) = verify(&server.base_url(), dir.path(), "all");
    assert_eq!(code, Some(0), "verify --currency all ({quirks:?}):\n{text}");
    assert!(verdict_lines(&text, "DIFFERS").is_empty(), "{text}");
    if quirks.float_revenue {
        assert_float_residue(&server, &client).await;
    }
    server.shutdown().await;
}

/// The float quirk really sends residue: all-time `/revenue` in some currency differs
/// from the exact figure (the simulator with the quirk off) in its last digits only, and
/// `formatted` does not differ at all.
async fn assert_float_residue(server: &tgm_sync::sim::SimServer, client: &ApiClient) {
    let all_time = |c: Currency| {
        vec![
            ("from", "0".to_string()),
            ("to", (now() + DAY).to_string()),
            ("currency", c.query_value()),
        ]
    };
    let mut floats = Vec::new();
    for c in Currency::ALL {
        floats.push(api(client, Method::Revenue, &all_time(c)).await);
    }
    server.handle.set_quirks(Quirks::default());
    let mut residues = Vec::new();
    for (c, float) in Currency::ALL.into_iter().zip(&floats) {
        let exact = api(client, Method::Revenue, &all_time(c)).await;
        assert_eq!(float["formatted"], exact["formatted"], "{c}: formatted");
        let (f, e) = (text_of(&float["revenue"]), text_of(&exact["revenue"]));
        let (x, y) = (dec(&f), dec(&e));
        assert!(
            (x - y).abs() <= y.abs() * Decimal::new(1, 12),
            "{c}: float {f} is the exact {e} to 12 digits"
        );
        if f != e {
            residues.push(format!("{c}: {f} (exact {e})"));
        }
    }
    assert!(
        !residues.is_empty(),
        "the float quirk changed no revenue: {floats:?}"
    );
}

/// `tgm-sync report ...` against the warehouse in `dir`.
fn report(dir: &Path, args: &[&str]) -> Output {
    bin()
        .arg("report")
        .args(args)
        .arg("--warehouse")
        .arg(dir.join("warehouse.duckdb"))
        .output()
        .expect("binary runs")
}

fn stdout_json(out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "report failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "report --format json is not JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Field names of each object, nested ones included, in a comparable form.
fn shape(v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(shape).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let kind = match v {
                        Value::String(_) => Value::from("string"),
                        Value::Number(_) => Value::from("number"),
                        other => shape(other),
                    };
                    (k.clone(), kind)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_command_prints_the_apis_result() {
    let mut options = sim_options(1500, 300);
    options.plans = 10;
    let server = start_sim(options).await;
    let dir = tempdir();
    let settings = settings_for(&server, dir.path());
    sync_once(&settings).await;
    let client = client_for(&server);
    let (from, to) = (now() - 90 * DAY, now() - 3 * DAY);

    // revenue in JPY over a window: same fields, same types, same values.
    let ours = stdout_json(&report(
        dir.path(),
        &[
            "revenue",
            "--currency",
            "JPY",
            "--from",
            &from.to_string(),
            "--to",
            &to.to_string(),
            "--format",
            "json",
        ],
    ));
    let theirs = api(
        &client,
        Method::Revenue,
        &[
            ("from", from.to_string()),
            ("to", to.to_string()),
            ("currency", "jpy".into()),
        ],
    )
    .await;
    assert_eq!(shape(&ours), shape(&theirs), "{ours}\n{theirs}");
    let d = differences("report revenue", &api_rows(&theirs), &api_rows(&ours));
    assert!(d.is_empty(), "{d:#?}");
    assert!(ours["sales"].as_i64().is_some_and(|n| n > 0), "{ours}");

    // plans in the preferred currency (EUR: none set), breakdown nested.
    let ours = stdout_json(&report(dir.path(), &["plans", "--format", "json"]));
    let theirs = api(&client, Method::PlansReport, &[]).await;
    assert_eq!(shape(&ours), shape(&theirs), "{ours}\n{theirs}");
    let d = differences("report plans", &api_rows(&theirs), &api_rows(&ours));
    assert!(d.is_empty(), "{d:#?}");
    assert!(ours[0]["breakdown"][0]["period"].is_string(), "{ours}");

    // orders-count by day, payment-methods and users-count too.
    let ours = stdout_json(&report(
        dir.path(),
        &[
            "orders-count",
            "--unit",
            "day",
            "--count",
            "10",
            "--currency",
            "btc",
            "--format",
            "json",
        ],
    ));
    let theirs = api(
        &client,
        Method::OrdersCount,
        &[
            ("interval_unit", "day".into()),
            ("interval_count", "10".into()),
            ("currency", "btc".into()),
        ],
    )
    .await;
    assert_eq!(shape(&ours), shape(&theirs));
    assert!(differences("report orders-count", &api_rows(&theirs), &api_rows(&ours)).is_empty());
    for (name, method) in [
        ("payment-methods", Method::PaymentMethodsReport),
        ("users-count", Method::UsersCount),
    ] {
        let ours = stdout_json(&report(dir.path(), &[name, "--format", "json"]));
        let theirs = api(&client, method, &[]).await;
        assert_eq!(shape(&ours), shape(&theirs), "{name}");
        let d = differences(name, &api_rows(&theirs), &api_rows(&ours));
        assert!(d.is_empty(), "{d:#?}");
    }

    // table and csv: the same figures for people and spreadsheets.
    let out = report(dir.path(), &["payment-methods", "--currency", "eur"]);
    assert_eq!(out.status.code(), Some(0));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("| name") && table.contains("stripe"),
        "{table}"
    );
    let out = report(dir.path(), &["plans", "--format", "csv"]);
    assert_eq!(out.status.code(), Some(0));
    let csv = String::from_utf8_lossy(&out.stdout);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("plan_id,plan_name,period,revenue,currency,formatted,sales")
    );
    assert!(lines.any(|l| l.contains(",total,")), "{csv}");

    // Bad names and currencies: exit 2, saying what is wrong.
    for (args, needle) in [
        (&["sales"][..], "unknown report `sales`"),
        (
            &["revenue", "--currency", "xyz"][..],
            "unsupported currency `xyz`",
        ),
        (
            &["orders-count", "--unit", "week"][..],
            "unknown interval unit",
        ),
    ] {
        let out = report(dir.path(), args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    server.shutdown().await;
}

/// `tgm-sync verify --currency C` against the simulator, the key from the environment.
fn verify(server_url: &str, dir: &Path, currency: &str) -> (Option<i32>, String) {
    let out = bin()
        .args([
            "verify",
            "--currency",
            currency,
            "--bot-id",
            &BOT_ID.to_string(),
        ])
        .args(["--base-url", server_url])
        .arg("--warehouse")
        .arg(dir.join("warehouse.duckdb"))
        .env("TGM_API_KEY", TEST_KEY)
        .output()
        .expect("binary runs");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains(TEST_KEY), "key leaked:\n{text}");
    (out.status.code(), text)
}

/// Lines of verify's table with this verdict.
fn verdict_lines<'a>(text: &'a str, verdict: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| l.trim_end().ends_with(verdict))
        .collect()
}

/// Adds `delta` to the amount of one completed order 60 to 200 days old; returns its key.
fn tamper(warehouse: &Path, key: Option<&str>, delta: i32) -> String {
    let conn = Connection::open(warehouse).expect("warehouse opens");
    let key: String = match key {
        Some(k) => k.to_string(),
        None => conn
            .query_row(
                "SELECT order_key FROM orders WHERE order_status = 'COMPLETED' \
                 AND order_date::TIMESTAMP < make_timestamp(? * 1000000) - INTERVAL 60 DAY \
                 AND order_date::TIMESTAMP > make_timestamp(? * 1000000) - INTERVAL 200 DAY \
                 ORDER BY order_date DESC LIMIT 1",
                duckdb::params![now(), now()],
                |r| r.get(0),
            )
            .expect("a completed order 60 to 200 days old"),
    };
    let n = conn
        .execute(
            "UPDATE orders SET amount = amount + ? WHERE order_key = ?",
            duckdb::params![delta, key],
        )
        .expect("update");
    assert_eq!(n, 1);
    key
}

fn assert_named(differs: &[&str], report: &str, field: &str) {
    assert!(
        differs
            .iter()
            .any(|l| l.contains(&format!(" {report} ")) && l.contains(&format!(" {field} "))),
        "no difference named for {report} {field}:\n{}",
        differs.join("\n")
    );
}

/// An API that serves the payment-method endpoints only under their samples' `path`
/// (`/payment_methods`, `/payment_methods/report`): the sync still captures the gateways
/// and every exchange rate (the report inputs need `/paymentMethods/report` first), and
/// verify compares every report, `/paymentMethods/report` included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_samples_snake_case_paths_serve_the_report_inputs_and_verify() {
    let server = start_sim(sim_options(300, 50)).await;
    server.handle.set_quirks(Quirks {
        payment_methods_snake: true,
        ..Quirks::default()
    });
    let dir = tempdir();
    let settings = settings_for(&server, dir.path());
    let outcome = sync_once(&settings).await;
    assert!(
        outcome.bots[0].warnings.is_empty(),
        "report inputs refreshed: {:?}",
        outcome.bots[0].warnings
    );
    let conn = open(&settings);
    let rates: i64 = conn
        .query_row("SELECT count(*) FROM fx_rates", [], |r| r.get(0))
        .expect("rates");
    assert!(rates > 0, "exchange rates captured");
    drop(conn);
    let (code, text) = verify(&server.base_url(), dir.path(), "all");
    assert_eq!(
        code,
        Some(0),
        "verify through the snake-case paths:\n{text}"
    );
    assert!(text.contains("paymentMethods/report"), "{text}");
    assert!(verdict_lines(&text, "DIFFERS").is_empty(), "{text}");
    server.shutdown().await;
}

/// `₹1,440,000.00` in Indian grouping: `₹14,40,000.00` (the last three digits, then twos).
fn indian_grouping(formatted: &str) -> String {
    let plain = formatted.trim_start_matches('₹').replace(',', "");
    let (int, frac) = plain.split_once('.').unwrap_or((&plain, ""));
    let (head, last3) = int.split_at(int.len().saturating_sub(3));
    let mut groups: Vec<&str> = head
        .as_bytes()
        .rchunks(2)
        .rev()
        .map(|c| std::str::from_utf8(c).expect("digits"))
        .collect();
    groups.push(last3);
    let int = groups
        .into_iter()
        .filter(|g| !g.is_empty())
        .collect::<Vec<_>>()
        .join(",");
    if frac.is_empty() {
        format!("₹{int}")
    } else {
        format!("₹{int}.{frac}")
    }
}

/// Every `formatted` text in an answer (the envelope, its rows, their breakdowns).
fn each_formatted(value: &mut Value, edit: &dyn Fn(&str) -> String) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::String(text) if key == "formatted" => *text = edit(text),
                    other => each_formatted(other, edit),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| each_formatted(v, edit)),
        _ => {}
    }
}

/// SPEC's only INR example, `₹1,234.56`, fits Indian grouping as well as groups of three:
/// an API that writes `₹14,40,000.00` still verifies (the warehouse writes
/// `₹1,440,000.00`), and a real difference in the amount is still one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_accepts_indian_grouping_in_inr_and_still_finds_a_wrong_amount() {
    assert_eq!(indian_grouping("₹1,440,000.00"), "₹14,40,000.00");
    assert_eq!(indian_grouping("₹123,456,789.05"), "₹12,34,56,789.05");
    assert_eq!(indian_grouping("₹999.50"), "₹999.50");
    let server = start_sim(sim_options(800, 200)).await;
    let dir = tempdir();
    let settings = settings_for(&server, dir.path());
    sync_once(&settings).await;
    // Rewrites the API's INR texts, counting those whose grouping changed.
    let regrouped = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = regrouped.clone();
    server.handle.set_response_hook(Some(std::sync::Arc::new(
        move |_: &RequestInfo, body: &mut Value| {
            each_formatted(body, &|text: &str| {
                let indian = if text.starts_with('₹') {
                    indian_grouping(text)
                } else {
                    text.to_string()
                };
                if indian != text {
                    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                indian
            })
        },
    )));
    let (code, text) = verify(&server.base_url(), dir.path(), "inr");
    assert!(
        regrouped.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "some INR figure reached lakhs, so its grouping differs"
    );
    assert_eq!(code, Some(0), "verify with Indian grouping:\n{text}");
    assert!(verdict_lines(&text, "DIFFERS").is_empty(), "{text}");

    // The tolerance is for the grouping only: one unit more on a sale still differs.
    tamper(&settings.warehouse, None, 1);
    let (code, text) = verify(&server.base_url(), dir.path(), "inr");
    assert_eq!(
        code,
        Some(7),
        "a wrong amount under Indian grouping:\n{text}"
    );
    assert_named(&verdict_lines(&text, "DIFFERS"), "revenue", "formatted");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passes_after_a_sync_fails_on_tampering_and_tolerates_newer_data() {
    let server = start_sim(sim_options(800, 200)).await;
    let dir = tempdir();
    let settings = settings_for(&server, dir.path());
    sync_once(&settings).await;
    let url = server.base_url();

    let (code, text) = verify(&url, dir.path(), "all");
    assert_eq!(code, Some(0), "verify right after a sync:\n{text}");
    assert!(verdict_lines(&text, "DIFFERS").is_empty(), "{text}");
    assert!(text.contains(" 0 differ,"), "{text}");

    // Tamper: one completed order gets 1 more unit of money.
    let key = tamper(&settings.warehouse, None, 1);
    let (code, text) = verify(&url, dir.path(), "usd");
    assert_eq!(code, Some(7), "verify on a tampered warehouse:\n{text}");
    let differs = verdict_lines(&text, "DIFFERS");
    for (report, field) in [
        ("revenue", "revenue"),
        ("orders/count", "revenue"),
        ("paymentMethods/report", "revenue"),
    ] {
        assert_named(&differs, report, field);
    }
    assert!(
        differs.iter().all(|l| !l.contains(" sales ")),
        "the amount changed, not the number of sales:\n{}",
        differs.join("\n")
    );
    tamper(&settings.warehouse, Some(&key), -1);

    // New sales in the API, not yet synced: reported as newer than the sync, exit 0.
    let handle = server.handle();
    let mut added = 0;
    loop {
        let keys = handle.add_orders(3);
        added += 3;
        let data = handle.data();
        if keys
            .iter()
            .any(|k| data.order(k).is_some_and(|o| o.is_sale()))
        {
            break;
        }
        assert!(added < 300, "the simulator adds no completed orders");
    }
    let (code, text) = verify(&url, dir.path(), "jpy");
    assert_eq!(code, Some(0), "verify with unsynced new sales:\n{text}");
    let newer = verdict_lines(&text, "newer than the last sync");
    assert!(!newer.is_empty(), "nothing reported as newer:\n{text}");
    assert_named(&newer, "orders/count", "sales");
    assert_named(&newer, "paymentMethods/report", "sales");

    // ...which excuses only what covers the time after the sync: tampering with an old
    // month still fails, in the all-time revenue and in that month's orders/count row.
    tamper(&settings.warehouse, Some(&key), 1);
    let (code, text) = verify(&url, dir.path(), "jpy");
    assert_eq!(code, Some(7), "tampered, with newer sales:\n{text}");
    let differs = verdict_lines(&text, "DIFFERS");
    assert_named(&differs, "revenue", "revenue");
    assert_named(&differs, "orders/count", "revenue");
    assert!(
        differs
            .iter()
            .all(|l| !l.contains(" paymentMethods/report ")),
        "all-time gateway totals include the new sales, so they are excused:\n{}",
        differs.join("\n")
    );
    server.shutdown().await;
}

/// A plan with two breakdown entries in one month (its own currency and another), which
/// the API sends in the opposite order from the warehouse: verify pairs them as a
/// multiset and passes; a changed amount in one of them is named as a difference.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_compares_a_months_breakdown_entries_as_a_multiset() {
    let server = start_sim(sim_options(400, 100)).await;
    let handle = server.handle();
    let data = handle.data();
    let plan = data.plans.first().expect("a plan");
    let (plan_id, own) = (plan.plan_id, plan.currency);
    // Another plan's currency, so its rate is read off that plan's own sales too.
    let other = data
        .plans
        .iter()
        .map(|p| p.currency)
        .find(|c| *c != own)
        .expect("plans in two currencies");
    // Mid last month (always inside the report's six months), whatever today is.
    let today = chrono::DateTime::from_timestamp(now(), 0).expect("a time");
    let this_month = month_start(
        chrono::Datelike::year(&today),
        chrono::Datelike::month(&today),
    );
    let t = this_month - 15 * DAY;
    let month = chrono::DateTime::from_timestamp(t, 0)
        .expect("a time")
        .format("%Y-%m")
        .to_string();
    let amount = |text: &str| text.parse::<Decimal>().expect("a decimal");
    handle.add_sale(plan_id, amount("10"), own, t);
    let foreign = handle.add_sale(plan_id, amount("1000"), other, t + 100);
    handle.add_sale(plan_id, amount("500"), other, t + 200);
    // The API lists each month's entries in reverse of the warehouse's order.
    handle.set_response_hook(Some(std::sync::Arc::new(
        |info: &tgm_sync::sim::RequestInfo, body: &mut Value| {
            if info.method_path != "plans/report" {
                return;
            }
            for plan in body["result"].as_array_mut().into_iter().flatten() {
                if let Some(entries) = plan["breakdown"].as_array_mut() {
                    entries.reverse();
                    // Months stay newest first.
                    entries.sort_by(|a, b| text_of(&b["period"]).cmp(&text_of(&a["period"])));
                }
            }
        },
    )));
    let client = client_for(&server);
    let got = api(&client, Method::PlansReport, &[("currency", "eur".into())]).await;
    let entries: Vec<(String, String)> = got
        .as_array()
        .and_then(|list| list.iter().find(|p| p["plan_id"].as_u64() == Some(plan_id)))
        .and_then(|p| p["breakdown"].as_array())
        .map(|b| {
            b.iter()
                .filter(|e| text_of(&e["period"]) == month)
                .map(|e| (text_of(&e["revenue"]), text_of(&e["sales"])))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        entries.len() == 2 && entries.contains(&("1500".to_string(), "2".to_string())),
        "plan {plan_id} in {month}: two entries, {other} 1500 in 2 sales: {entries:?}"
    );

    let dir = tempdir();
    let settings = settings_for(&server, dir.path());
    sync_once(&settings).await;
    let url = server.base_url();
    let (code, text) = verify(&url, dir.path(), "all");
    assert_eq!(code, Some(0), "verify right after a sync:\n{text}");
    assert!(verdict_lines(&text, "DIFFERS").is_empty(), "{text}");

    // One of the two entries changes in the warehouse: that plan and month differ.
    tamper(&settings.warehouse, Some(&foreign), 1);
    let (code, text) = verify(&url, dir.path(), "eur");
    assert_eq!(code, Some(7), "verify on a tampered warehouse:\n{text}");
    let differs = verdict_lines(&text, "DIFFERS");
    let key = format!(" plan {plan_id} {month} #");
    assert!(
        differs
            .iter()
            .any(|l| l.contains(" plans/report ") && l.contains(&key) && l.contains(" revenue ")),
        "no revenue difference named for{key}:\n{text}"
    );
    assert!(
        differs.iter().all(|l| !l.contains(" row ")),
        "the entries pair up, none is missing:\n{}",
        differs.join("\n")
    );
    server.shutdown().await;
}

/// A `native` amount whose sale converts to exactly `total` in `target` at the pair's
/// 8-decimal rate (docs/data-contract.md §2.2): the total divided by the rate, to 10 places (each step of
/// 1e-10 moves the product by less than the 1e-8 it is rounded to).
fn amount_converting_to(total: &str, native: Currency, target: Currency) -> Decimal {
    let rate = pair_rate(native, target);
    let amount = (dec(total) / rate).round_dp(10);
    assert_eq!(
        convert_at(amount, rate),
        dec(total),
        "{amount} {native} at {rate} is {total} {target}"
    );
    amount
}

/// A plan total exactly on a half-cent edge, reached through a cross rate (29.795 BRL
/// from USD, 737.625 AUD from USD), among 100,000 orders whose `/revenue` windows the
/// rates are read from: each sale converted at its pair's 8-decimal rate and rounded to
/// 8 decimals lands on the edge, and `formatted` must round it up as the API does.
/// Verify must find no difference.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_agrees_on_a_half_cent_edge_at_100k_orders() {
    let server = start_sim(sim_options(100_000, 50_000)).await;
    let handle = server.handle();
    let mut edges = Vec::new();
    for (name, total, target, days_ago) in [
        ("Edge BRL", "29.795", Currency::Brl, 10),
        ("Edge AUD", "737.625", Currency::Aud, 20),
    ] {
        let amount = amount_converting_to(total, Currency::Usd, target);
        let plan_id = handle.add_plan(name, amount, Currency::Usd);
        handle.add_sale(plan_id, amount, Currency::Usd, now() - days_ago * DAY);
        edges.push((plan_id, target, total.to_string()));
    }
    let client = client_for(&server);
    for (plan_id, target, text) in &edges {
        let plans = api(
            &client,
            Method::PlansReport,
            &[("currency", target.query_value())],
        )
        .await;
        let plan = plans
            .as_array()
            .expect("a list of plans")
            .iter()
            .find(|p| p["plan_id"].as_u64() == Some(*plan_id))
            .unwrap_or_else(|| panic!("plan {plan_id} in the {target} report: {plans}"));
        assert_eq!(
            dec(&text_of(&plan["revenue"])),
            dec(text),
            "plan {plan_id}'s {target} total"
        );
    }
    let dir = tempdir();
    sync_once(&settings_for(&server, dir.path())).await;
    for (_, target, _) in &edges {
        let (code, text) = verify(
            &server.base_url(),
            dir.path(),
            target.query_value().as_str(),
        );
        assert_eq!(code, Some(0), "verify in {target} on {edges:?}:\n{text}");
    }
    server.shutdown().await;
}

/// Half-cent edges under float revenue: the API sums in f64 (`"398.60636332000007"`), so
/// the rates are solved from figures right to 15-17 digits; each candidate rate is
/// checked against every sale's own rounding, within the f64 sum's error, so each edge
/// total stays on its edge and rounds as the API's exact total does: 29.795 BRL and
/// 737.625 AUD from USD, 0.425 GBP from USD, ¥1,234.5 from EUR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_cent_edges_verify_under_float_revenue() {
    let mut options = sim_options(3_000, 500);
    options.plans = 13; // sales in many currencies: rate windows of every kind
    options.quirks = Quirks {
        float_revenue: true,
        ..Quirks::default()
    };
    let server = start_sim(options).await;
    let handle = server.handle();
    let edges = [
        ("Edge BRL", "29.795", Currency::Usd, Currency::Brl, 10),
        ("Edge AUD", "737.625", Currency::Usd, Currency::Aud, 20),
        ("Edge GBP", "0.425", Currency::Usd, Currency::Gbp, 30),
        ("Edge JPY", "1234.5", Currency::Eur, Currency::Jpy, 40),
    ];
    for (name, total, native, target, days_ago) in edges {
        let amount = amount_converting_to(total, native, target);
        let plan_id = handle.add_plan(name, amount, native);
        handle.add_sale(plan_id, amount, native, now() - days_ago * DAY);
    }
    let dir = tempdir();
    sync_once(&settings_for(&server, dir.path())).await;
    for (_, _, _, target, _) in edges {
        let (code, text) = verify(
            &server.base_url(),
            dir.path(),
            target.query_value().as_str(),
        );
        assert_eq!(
            code,
            Some(0),
            "verify in {target} under float revenue:\n{text}"
        );
    }
    server.shutdown().await;
}

/// When the API's rates moved since the last sync (here the warehouse's rates into EUR
/// are off by 0.0001, as they would be after the API re-quoted its pairs), `verify` reads
/// the pairs again and says "rates moved since the last sync: re-run sync" instead of
/// reporting differences; a sync then makes every report equal again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_moved_rates_instead_of_differences() {
    let server = start_sim(sim_options(800, 200)).await;
    let dir = tempdir();
    let settings = settings_for(&server, dir.path());
    sync_once(&settings).await;
    {
        let conn = Connection::open(&settings.warehouse).expect("warehouse opens");
        let n = conn
            .execute(
                "UPDATE fx_rates SET rate = rate + 0.0001, rate_low = rate_low + 0.0001, \
                 rate_high = rate_high + 0.0001 WHERE to_currency = 'EUR' AND source = 'api'",
                [],
            )
            .expect("update");
        assert!(n > 0, "rates into EUR");
    }
    let (code, text) = verify(&server.base_url(), dir.path(), "eur");
    assert_eq!(code, Some(0), "verify with moved rates:\n{text}");
    assert!(verdict_lines(&text, "DIFFERS").is_empty(), "{text}");
    assert!(
        !verdict_lines(&text, "rates moved since the last sync").is_empty(),
        "{text}"
    );
    assert!(text.contains("re-run sync"), "{text}");
    sync_once(&settings).await;
    let (code, text) = verify(&server.base_url(), dir.path(), "eur");
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains("rates moved"), "{text}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_rates_table_is_noticed_by_a_canary_and_verify_stays_exact() {
    let (server, dir, settings) = crate::nightly::synced_in_many_currencies().await;
    let n = crate::nightly::native_currencies(&open(&settings)).len() as u64;
    assert!(n >= 8, "a data set in many currencies: {n}");

    // Between two syncs, the service moves its rates table (USD per EUR 1.08 → 1.09):
    // no sale changed, so only a canary can notice.
    server.handle.set_quirks(Quirks {
        rates_moved: true,
        ..Quirks::default()
    });
    server.handle.reset_counts();
    sync_once(&settings).await;
    let revenue = server.handle.requests().get("revenue");
    assert!(
        revenue >= 12 * n,
        "{revenue} /revenue requests: every pair of the {n} native currencies read again"
    );
    // The latest rates are the moved table's, and some USD pair did move.
    let conn = open(&settings);
    let mut stmt = conn
        .prepare(
            "SELECT from_currency, to_currency, rate::VARCHAR, rate_low = rate_high \
             FROM fx_rates WHERE source = 'api' \
             AND as_of = (SELECT max(as_of) FROM fx_rates WHERE source = 'api')",
        )
        .expect("query");
    let rows: Vec<(String, String, String, bool)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(rows.len() as u64, 12 * n, "every pair recorded again");
    let mut moved = 0;
    for (from, to, rate, exact) in rows.iter().filter(|r| r.3) {
        let (f, t) = (
            from.parse::<Currency>().expect("currency"),
            to.parse::<Currency>().expect("currency"),
        );
        let rate: Decimal = rate.parse().expect("rate");
        assert_eq!(
            rate,
            pair_rate_in(f, t, Arithmetic::QuotedMoved),
            "{from} → {to} ({exact})"
        );
        if rate != pair_rate_in(f, t, Arithmetic::Quoted) {
            moved += 1;
        }
    }
    assert!(moved > 0, "some USD pair moved: {rows:?}");
    drop(stmt);
    drop(conn);

    let (code, text) = verify(&server.base_url(), dir.path(), "all");
    assert_eq!(code, Some(0), "verify after the rates moved:\n{text}");
    server.shutdown().await;
}
