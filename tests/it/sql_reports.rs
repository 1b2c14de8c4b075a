//! The report layer (`sql/reports.sql`) on an in-memory warehouse built by the real
//! installer: money formatting, exact FX, rate precedence and every report macro.
//!
//! Expected values are written out by hand (money) or were computed outside DuckDB with
//! Python's `decimal` at 100 digits (the large `fx_mul` products); each comment says how.
//! The connection has extension auto-loading off, as in production, so an ICU-only
//! function in the SQL fails here rather than on a user's machine.

use duckdb::Connection;
use tgm_sync::warehouse::schema::{self, SchemaError};

/// A fresh warehouse: settings as the ETL uses them, migrations, report layer.
fn warehouse() -> Connection {
    let conn = crate::support::memory_warehouse();
    let version: i64 = conn
        .query_row("SELECT max(version) FROM _schema_version", [], |r| r.get(0))
        .expect("schema version");
    assert_eq!(version, i64::from(schema::latest_version()));
    conn
}

/// Runs `sql` and returns each row as its columns' text joined by " | " (NULL as "NULL").
fn rows(conn: &Connection, sql: &str) -> Vec<String> {
    let wrapped = format!("SELECT COLUMNS(*)::VARCHAR FROM ({sql})");
    let mut stmt = conn
        .prepare(&wrapped)
        .unwrap_or_else(|e| panic!("prepare failed: {e}\n{sql}"));
    let n = stmt.column_count();
    stmt.query_map([], |row| {
        (0..n)
            .map(|i| {
                Ok(row
                    .get::<_, Option<String>>(i)?
                    .unwrap_or_else(|| "NULL".into()))
            })
            .collect::<duckdb::Result<Vec<_>>>()
            .map(|cols| cols.join(" | "))
    })
    .and_then(|mapped| mapped.collect())
    .unwrap_or_else(|e| panic!("query failed: {e}\n{sql}"))
}

/// The single text value of a one-row, one-column query.
fn scalar(conn: &Connection, sql: &str) -> String {
    let got = rows(conn, sql);
    assert_eq!(got.len(), 1, "expected one row from {sql}, got {got:?}");
    got.into_iter().next().unwrap_or_default()
}

/// The error text of a query that must fail.
fn error_of(conn: &Connection, sql: &str) -> String {
    match conn.prepare(sql).and_then(|mut s| {
        s.query_map([], |_| Ok(()))
            .and_then(|m| m.collect::<duckdb::Result<Vec<()>>>())
    }) {
        Ok(_) => panic!("expected an error from {sql}"),
        Err(e) => e.to_string(),
    }
}

fn assert_owned_rows(conn: &Connection, sql: &str, expected: &[String]) {
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_rows(conn, sql, &expected);
}

fn assert_rows(conn: &Connection, sql: &str, expected: &[&str]) {
    let got = rows(conn, sql);
    assert_eq!(
        got, expected,
        "\nquery: {sql}\n  got: {got:#?}\n want: {expected:#?}"
    );
}

// ------------------------------------------------------------------ installer

/// These tests only prove the SQL runs without ICU if the DuckDB under test lacks it.
#[test]
fn the_duckdb_under_test_has_no_icu() {
    let conn = warehouse();
    let err = error_of(
        &conn,
        "SELECT date_trunc('month', TIMESTAMPTZ '2024-07-15 12:00:00+00')",
    );
    assert!(err.contains("icu"), "expected an ICU error, got: {err}");
}

#[test]
fn migrate_and_install_are_idempotent() {
    let conn = warehouse();
    assert_eq!(
        schema::migrate(&conn).expect("second migrate"),
        schema::latest_version()
    );
    schema::install_report_layer(&conn).expect("second install");
    assert_eq!(
        scalar(&conn, "SELECT count(*) FROM _schema_version"),
        schema::latest_version().to_string()
    );
}

/// A warehouse left at schema version 2 (orders and members with a PRIMARY KEY) keeps
/// every row and every column through migration 003, which drops those keys' indexes.
#[test]
fn migration_003_keeps_the_rows_and_drops_the_key_indexes() {
    let conn = Connection::open_in_memory().expect("open in-memory DuckDB");
    conn.execute_batch(tgm_sync::warehouse::open::CONNECTION_SETUP)
        .expect("connection settings");
    conn.execute_batch(
        "CREATE TABLE _schema_version (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,
                                       applied_at TIMESTAMPTZ NOT NULL);",
    )
    .expect("version table");
    for m in &schema::MIGRATIONS[..2] {
        conn.execute_batch(m.sql).expect("an old migration");
        conn.execute(
            "INSERT INTO _schema_version VALUES (?, ?, now())",
            duckdb::params![m.version, m.name],
        )
        .expect("record the old version");
    }
    conn.execute_batch(
        "INSERT INTO orders VALUES
           (7, 'k1', 1, '2024-05-01 10:00:00+00', 'COMPLETED', 11, 'Ann', 'a@x', 3, 'Gold', 1,
            'Stripe', 12.5, 'USD', '{\"x\":1}', '2024-05-02 00:00:00+00', 1, NULL),
           (7, 'k2', 1, '2024-06-01 10:00:00+00', 'PENDING', 12, NULL, NULL, 3, 'Gold', 1,
            NULL, NULL, NULL, NULL, '2024-06-02 00:00:00+00', 2, '2024-06-03 00:00:00+00');
         INSERT INTO members VALUES
           (7, 11, 3, 1, '2024-05-01 10:00:00+00', NULL, NULL, '2024-05-02 00:00:00+00', 1, NULL);",
    )
    .expect("rows at version 2");
    let columns = |table: &str| {
        rows(
            &conn,
            &format!(
                "SELECT column_name, data_type, is_nullable FROM information_schema.columns \
                      WHERE table_name = '{table}' ORDER BY ordinal_position"
            ),
        )
    };
    let before = (
        columns("orders"),
        columns("members"),
        rows(&conn, "SELECT * FROM orders ORDER BY order_key"),
        rows(&conn, "SELECT * FROM members"),
    );
    assert_eq!(
        schema::migrate(&conn).expect("migrate to the latest"),
        schema::latest_version()
    );
    schema::install_report_layer(&conn).expect("install sql/reports.sql");
    let after = (
        columns("orders"),
        columns("members"),
        rows(&conn, "SELECT * FROM orders ORDER BY order_key"),
        rows(&conn, "SELECT * FROM members"),
    );
    assert_eq!(before, after);
    assert_eq!(before.2.len(), 2);
    assert_eq!(
        scalar(
            &conn,
            "SELECT count(*) FROM duckdb_constraints() \
             WHERE table_name IN ('orders', 'members') AND constraint_type = 'PRIMARY KEY'"
        ),
        "0"
    );
    // The small tables keep theirs.
    assert_eq!(
        scalar(
            &conn,
            "SELECT count(*) FROM duckdb_constraints() \
             WHERE table_name = 'plans' AND constraint_type = 'PRIMARY KEY'"
        ),
        "1"
    );
}

#[test]
fn migrate_refuses_a_warehouse_from_a_newer_binary() {
    let conn = warehouse();
    conn.execute_batch("INSERT INTO _schema_version VALUES (999, 'future', now())")
        .expect("insert a future version");
    match schema::migrate(&conn) {
        Err(SchemaError::TooNew { found, known }) => {
            assert_eq!(found, 999);
            assert_eq!(known, schema::latest_version());
        }
        other => panic!("expected TooNew, got {other:?}"),
    }
}

// ------------------------------------------------------------------ format_money

#[test]
fn format_money_matches_spec_in_every_currency() {
    let conn = warehouse();
    // (amount, currency as passed, expected) -- docs/data-contract.md §2.10, rounding half away from zero.
    let cases: &[(&str, &str, &str)] = &[
        ("1234.56", "usd", "$1,234.56"),
        ("1234.56", "EUR", "1 234,56€"),
        ("1234.56", "gbp", "£1,234.56"),
        ("1234.56", "cad", "CA$1,234.56"),
        ("1234.56", "aud", "A$1,234.56"),
        ("1234.56", "nzd", "NZ$1,234.56"),
        ("1234.5", "jpy", "¥1,235"),
        ("1234.56", "cny", "CN¥1,234.56"),
        ("1234.56", "rub", "1 234,56 ₽"),
        ("1234.56", "brl", "R$ 1.234,56"),
        ("1234.56", "inr", "₹1,234.56"),
        ("1234.56", "try", "₺1.234,56"),
        ("0.00012345", "btc", "₿0.00012345"),
        // half away from zero at the minor unit, both signs
        ("1234.565", "Usd", "$1,234.57"),
        ("1234.564999999999999999", "usd", "$1,234.56"),
        ("-1234.565", "usd", "-$1,234.57"),
        ("0.005", "eur", "0,01€"),
        ("-0.005", "eur", "-0,01€"),
        ("0.004999999999999999", "eur", "0,00€"),
        ("999.995", "usd", "$1,000.00"),
        ("999999.995", "rub", "1 000 000,00 ₽"),
        ("0.5", "jpy", "¥1"),
        ("-0.5", "jpy", "-¥1"),
        ("1.4999", "jpy", "¥1"),
        ("2.5", "JPY", "¥3"),
        ("0.000000005", "btc", "₿0.00000001"),
        ("0.000000004999999999", "btc", "₿0.00000000"),
        ("1234.123456785", "btc", "₿1,234.12345679"),
        // zero, and negatives that round to zero carry no sign
        ("0", "usd", "$0.00"),
        ("0", "jpy", "¥0"),
        ("0", "btc", "₿0.00000000"),
        ("-0.004", "usd", "$0.00"),
        ("-0.4", "jpy", "¥0"),
        // group boundaries and large values (DECIMAL(38,18) holds 20 integer digits)
        ("999.99", "usd", "$999.99"),
        ("1000", "usd", "$1,000.00"),
        ("100000", "brl", "R$ 100.000,00"),
        ("1000000", "try", "₺1.000.000,00"),
        ("12345678.9", "inr", "₹12,345,678.90"),
        ("-1234567.891", "eur", "-1 234 567,89€"),
        ("1000000000000000", "jpy", "¥1,000,000,000,000,000"),
        (
            "99999999999999999999.995",
            "cny",
            "CN¥100,000,000,000,000,000,000.00",
        ),
        (
            "-12345678901234567890.123456789",
            "gbp",
            "-£12,345,678,901,234,567,890.12",
        ),
        // unknown code: plain number and the code
        ("1234.5", "xyz", "1,234.50 XYZ"),
    ];
    let mut failures = Vec::new();
    for (amount, currency, want) in cases {
        let got = scalar(
            &conn,
            &format!("SELECT format_money(CAST('{amount}' AS DECIMAL(38,18)), '{currency}')"),
        );
        if got != *want {
            failures.push(format!(
                "format_money({amount}, {currency}) = {got:?}, want {want:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        scalar(&conn, "SELECT coalesce(format_money(NULL, 'usd'), 'NULL')"),
        "NULL"
    );
}

#[test]
fn money_text_is_full_precision_without_trailing_zeros() {
    let conn = warehouse();
    for (amount, want) in [
        ("398.60636332", "398.60636332"),
        ("5", "5"),
        ("100", "100"),
        ("0", "0"),
        ("-0.5", "-0.5"),
        ("0.000000000000000001", "0.000000000000000001"),
    ] {
        let got = scalar(
            &conn,
            &format!("SELECT money_text(CAST('{amount}' AS DECIMAL(38,18)))"),
        );
        assert_eq!(got, want, "money_text({amount})");
    }
}

// ------------------------------------------------------------------ fx_mul

#[test]
fn fx_mul_is_exact_for_large_amounts_and_extreme_rates() {
    let conn = warehouse();
    // Expected: the exact product rounded half away from zero to 18 places, computed with
    // Python's decimal module (prec=100, ROUND_HALF_UP) and written in.
    let cases: &[(&str, &str, &str)] = &[
        // 1e15 JPY at a JPY->USD rate
        (
            "1000000000000000",
            "0.0067",
            "6700000000000.000000000000000000",
        ),
        // 1e15 units at a BTC-sized rate
        (
            "1000000000000000",
            "0.000000065",
            "65000000.000000000000000000",
        ),
        // a large rate (BTC -> IDR-like)
        ("1234.5", "15000000", "18517500000.000000000000000000"),
        // 18 fractional digits on both sides: the scale-36 product DuckDB overflows on
        (
            "99999999999.999999999999999999",
            "999999999.999999999999999999",
            "99999999999999999999.999999899000000000",
        ),
        (
            "123456789.123456789123456789",
            "0.000000065",
            "8.024691293024691293",
        ),
        (
            "-987654321987.654321987654321987",
            "0.123456789123456789",
            "-121932631356.500531469135800469",
        ),
        (
            "0.999999999999999999",
            "0.999999999999999999",
            "0.999999999999999998",
        ),
        // the 19th digit rounds half away from zero
        ("0.000000000000000001", "0.5", "0.000000000000000001"),
        ("-0.000000000000000001", "0.5", "-0.000000000000000001"),
        (
            "0.000000000000000001",
            "0.499999999999999999",
            "0.000000000000000000",
        ),
        ("10.00", "1", "10.000000000000000000"),
        ("0", "15000000", "0.000000000000000000"),
    ];
    let mut failures = Vec::new();
    for (amount, rate, want) in cases {
        let got = scalar(
            &conn,
            &format!(
                "SELECT fx_mul(CAST('{amount}' AS DECIMAL(38,18)), CAST('{rate}' AS DECIMAL(38,18)))"
            ),
        );
        if got != *want {
            failures.push(format!("fx_mul({amount}, {rate}) = {got}, want {want}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        scalar(
            &conn,
            "SELECT typeof(fx_mul(CAST(1 AS DECIMAL(38,18)), CAST(1 AS DECIMAL(38,18))))"
        ),
        "DECIMAL(38,18)"
    );
}

/// fx_mul36: a rate to 36 places (rate + rate_tail * 1e-18), rounded once to 18 places.
/// Expected values from Python's `decimal` at 200 digits, ROUND_HALF_UP.
#[test]
fn fx_mul36_keeps_rounding_edges_exact() {
    let conn = warehouse();
    // 540.54 USD at 0.85/1.08 GBP per USD is 425.425 GBP exactly: £425.43. With the rate
    // cut at 18 places it is a hair below, and `formatted` says £425.42.
    assert_eq!(
        scalar(
            &conn,
            "SELECT fx_mul(540.54::DECIMAL(38,18), 0.787037037037037037::DECIMAL(38,18))"
        ),
        "425.424999999999999980"
    );
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "540.54",
            "0.787037037037037037",
            "0.037037037",
            "425.425000000000000000",
        ),
        (
            "0.54",
            "0.787037037037037037",
            "0.037037037",
            "0.425000000000000000",
        ),
        (
            "-0.54",
            "0.787037037037037037",
            "0.037037037",
            "-0.425000000000000000",
        ),
        ("1234.5", "1.5", "0", "1851.750000000000000000"),
        (
            "491.75",
            "1.499999999999999999",
            "0.9999999999",
            "737.625000000000000000",
        ),
        (
            "123456789012.345678901234567891",
            "0.000000102167182662",
            "0.5386996904",
            "12613.232313954821683408",
        ),
        (
            "99999999999.999999999999999999",
            "1.999999999999999999",
            "0.999999999999999999",
            "199999999999.999999999999999998",
        ),
    ];
    for (amount, rate, tail, want) in cases {
        let got = scalar(
            &conn,
            &format!(
                "SELECT fx_mul36(CAST('{amount}' AS DECIMAL(38,18)), \
                 CAST('{rate}' AS DECIMAL(38,18)), CAST('{tail}' AS DECIMAL(38,18)))"
            ),
        );
        assert_eq!(&got, want, "fx_mul36({amount}, {rate}, {tail})");
    }
    assert_eq!(
        format_of(
            &conn,
            "540.54",
            "0.787037037037037037",
            "0.037037037",
            "gbp"
        ),
        "£425.43"
    );
}

fn format_of(conn: &Connection, amount: &str, rate: &str, tail: &str, currency: &str) -> String {
    scalar(
        conn,
        &format!(
            "SELECT format_money(fx_mul36(CAST('{amount}' AS DECIMAL(38,18)), \
             CAST('{rate}' AS DECIMAL(38,18)), CAST('{tail}' AS DECIMAL(38,18))), '{currency}')"
        ),
    )
}

#[test]
fn fx_mul_beyond_decimal_38_18_is_an_error_not_a_wrong_number() {
    let conn = warehouse();
    let err = error_of(
        &conn,
        "SELECT fx_mul(CAST('99999999999999999999' AS DECIMAL(38,18)), CAST('2' AS DECIMAL(38,18)))",
    );
    assert!(err.contains("out of range"), "unexpected error: {err}");
}

// ------------------------------------------------------------------ fixture

/// Two bots. Bot 1 prefers USD and has rates to USD; bot 2 has no settings (EUR) and one
/// GBP->EUR rate. Expected report values below are worked out by hand from these rows.
///
/// Bot 1 sales in USD (o4 pending, o5 deleted: not sales):
///   o1 2024-07-01 00:00:00  10 EUR  x 1.10 (import beats newer api 1.09) = 11    plan 20 stripe
///   o2 2024-06-30 23:59:59  1000 RUB x 0.011                           = 11    plan 20 paypal
///   o3 2024-07-10 08:00:00  5 USD (identity)                          = 5     plan 21 paypal (code)
///   o6 2024-01-31 23:00:00  2 USD                                      = 2     plan 22 unknown gateway
///   o7 2024-02-01 00:00:00  3 eur x 1.10                               = 3.3   plan 22 cryptocom (uninstalled)
///   o8 2023-12-15 00:00:00  1000000 JPY x 0.0067                       = 6700  plan 20 stripe
/// Bot 2: p1 2024-07-14 9.99 GBP x 1.17 = 11.6883 EUR.
const FIXTURE: &str = "
INSERT INTO bot_settings VALUES (1, 'usd', TIMESTAMPTZ '2024-07-01 00:00:00+00');
INSERT INTO plans (bot_id, plan_id, plan_name, _synced_at, _run_id) VALUES
    (1, 20, 'EUR Demo Plan', now(), 1), (1, 21, 'GBP Demo Plan', now(), 1);
INSERT INTO gateways VALUES
    (1, 'stripe', 'Credit / Debit card (Stripe)', true, now()),
    (1, 'paypal', 'PayPal', true, now()),
    (1, 'cryptocom', 'Crypto (Crypto.Com)', false, now());
INSERT INTO fx_rates (bot_id, as_of, from_currency, to_currency, rate, source) VALUES
    (1, TIMESTAMPTZ '2024-01-01 00:00:00+00', 'EUR', 'USD', 1.10, 'import'),
    (1, TIMESTAMPTZ '2024-06-01 00:00:00+00', 'EUR', 'USD', 1.08, 'api'),
    (1, TIMESTAMPTZ '2024-07-01 00:00:00+00', 'EUR', 'USD', 1.09, 'api'),
    (1, TIMESTAMPTZ '2024-06-01 00:00:00+00', 'RUB', 'USD', 0.012, 'api'),
    (1, TIMESTAMPTZ '2024-07-01 00:00:00+00', 'RUB', 'USD', 0.011, 'api'),
    (1, TIMESTAMPTZ '2024-07-01 00:00:00+00', 'JPY', 'USD', 0.0067, 'api'),
    (1, TIMESTAMPTZ '2024-07-01 00:00:00+00', 'usd', 'eur', 0.92, 'api'),
    (1, TIMESTAMPTZ '2024-07-01 00:00:00+00', 'USD', 'USD', 3, 'import'),
    (2, TIMESTAMPTZ '2024-07-01 00:00:00+00', 'GBP', 'EUR', 1.17, 'api');
INSERT INTO orders (bot_id, order_key, order_date, order_status, plan_id, plan_name,
                    payment_gateway, amount, currency, _synced_at, _run_id, _deleted_at) VALUES
    (1, 'o1', TIMESTAMPTZ '2024-07-01 00:00:00+00', 'COMPLETED', 20, 'EUR Demo Plan', 'Credit / Debit card (Stripe)', '10.00', 'EUR', now(), 1, NULL),
    (1, 'o2', TIMESTAMPTZ '2024-06-30 23:59:59+00', 'COMPLETED', 20, 'EUR Demo Plan', 'PayPal', '1000', 'RUB', now(), 1, NULL),
    (1, 'o3', TIMESTAMPTZ '2024-07-10 08:00:00+00', 'COMPLETED', 21, 'GBP Demo Plan', 'paypal', '5', 'USD', now(), 1, NULL),
    (1, 'o4', TIMESTAMPTZ '2024-07-10 09:00:00+00', 'PENDING', 21, 'GBP Demo Plan', 'PayPal', '100', 'USD', now(), 1, NULL),
    (1, 'o5', TIMESTAMPTZ '2024-05-03 00:00:00+00', 'COMPLETED', 21, 'GBP Demo Plan', 'PayPal', '100', 'USD', now(), 1, TIMESTAMPTZ '2024-07-02 00:00:00+00'),
    (1, 'o6', TIMESTAMPTZ '2024-01-31 23:00:00+00', 'COMPLETED', 22, 'Old plan', 'Unknown Gateway', '2', 'USD', now(), 1, NULL),
    (1, 'o7', TIMESTAMPTZ '2024-02-01 00:00:00+00', 'COMPLETED', 22, 'Old plan renamed', 'Crypto (Crypto.Com)', '3', 'eur', now(), 1, NULL),
    (1, 'o8', TIMESTAMPTZ '2023-12-15 00:00:00+00', 'COMPLETED', 20, 'EUR Demo Plan', 'Credit / Debit card (Stripe)', '1000000', 'JPY', now(), 1, NULL),
    (2, 'p1', TIMESTAMPTZ '2024-07-14 00:00:00+00', 'COMPLETED', 5, 'Pounds', 'Telegram Pay', '9.99', 'GBP', now(), 1, NULL);
INSERT INTO users_count_history (bot_id, run_id, captured_at, users, leads, churned, members) VALUES
    (1, 1, TIMESTAMPTZ '2024-07-01 00:00:00+00', 10, 5, 2, 3),
    (1, 2, TIMESTAMPTZ '2024-07-02 00:00:00+00', 11, 5, 2, 4),
    (2, 1, TIMESTAMPTZ '2024-07-01 00:00:00+00', 1, 1, 0, 0);
INSERT INTO coupons (bot_id, name, plans, enabled, _synced_at, _run_id) VALUES
    (1, 'HJTPS3', [20, 21, 99], true, now(), 1),
    (1, 'gone', [20], true, now(), 1);
UPDATE coupons SET _deleted_at = now() WHERE name = 'gone';
";

/// "Now" for the period reports: mid-July 2024, UTC.
const NOW: &str = "now_ts := TIMESTAMPTZ '2024-07-15 12:00:00+00'";

/// A `plans_report` row's breakdown as one text: `period revenue currency formatted sales`
/// per entry, `; ` between entries.
const BREAKDOWN_TEXT: &str = "array_to_string(list_transform(breakdown, lambda b:
                        b.period || ' ' || money_text(b.revenue) || ' ' || b.currency || ' '
                        || b.formatted || ' ' || b.sales), '; ')";

fn fixture() -> Connection {
    let conn = warehouse();
    conn.execute_batch(FIXTURE).expect("load the fixture");
    conn
}

// ------------------------------------------------------------------ FX and sales

#[test]
fn fx_effective_prefers_import_then_latest_and_has_identity() {
    let conn = fixture();
    assert_rows(
        &conn,
        "SELECT bot_id, from_currency, to_currency, money_text(rate), source
         FROM fx_effective
         WHERE (bot_id = 1 AND from_currency IN ('EUR', 'RUB', 'USD') AND to_currency IN ('USD', 'EUR'))
            OR bot_id = 2 AND from_currency = 'GBP'
         ORDER BY ALL",
        &[
            // import 1.10 (Jan) beats api 1.09 (Jul) and 1.08 (Jun)
            "1 | EUR | EUR | 1 | identity",
            "1 | EUR | USD | 1.1 | import",
            // latest api rate
            "1 | RUB | USD | 0.011 | api",
            // codes are upper-cased
            "1 | USD | EUR | 0.92 | api",
            // identity beats a stored USD->USD rate
            "1 | USD | USD | 1 | identity",
            "2 | GBP | EUR | 1.17 | api",
            "2 | GBP | GBP | 1 | identity",
        ],
    );
}

#[test]
fn sales_are_completed_live_orders_with_gateway_codes() {
    let conn = fixture();
    assert_rows(
        &conn,
        "SELECT bot_id, order_key, gateway_code, coalesce(gateway_display_name, 'NULL'), currency
         FROM sales ORDER BY bot_id, order_key",
        &[
            "1 | o1 | stripe | Credit / Debit card (Stripe) | EUR",
            "1 | o2 | paypal | PayPal | RUB",
            "1 | o3 | paypal | PayPal | USD",
            "1 | o6 | unknown gateway | NULL | USD",
            "1 | o7 | cryptocom | Crypto (Crypto.Com) | EUR",
            "1 | o8 | stripe | Credit / Debit card (Stripe) | JPY",
            "2 | p1 | telegram pay | NULL | GBP",
        ],
    );
}

#[test]
fn a_missing_rate_fails_the_report_and_names_the_pair() {
    let conn = fixture();
    // Bot 2 has no GBP->USD rate.
    let err = error_of(&conn, "SELECT * FROM revenue(NULL, NULL, 'usd')");
    assert!(
        err.contains("no exchange rate for bot 2 from GBP to USD (order p1)"),
        "unexpected error: {err}"
    );
    // ...which does not stop bot 1's report.
    assert_rows(
        &conn,
        "SELECT bot_id, sales FROM revenue(NULL, NULL, 'usd', bot := 1)",
        &["1 | 6"],
    );
}

#[test]
fn an_unsupported_currency_or_period_is_an_error() {
    let conn = fixture();
    let err = error_of(&conn, "SELECT * FROM revenue(0, 1, 'xyz', bot := 1)");
    assert!(
        err.contains("unsupported report currency `XYZ`"),
        "unexpected error: {err}"
    );
    let err = error_of(
        &conn,
        "SELECT * FROM orders_count('week', 2, 'usd', bot := 1)",
    );
    assert!(
        err.contains("interval_unit must be day, month or year"),
        "unexpected error: {err}"
    );
    let err = error_of(
        &conn,
        "SELECT * FROM orders_count('month', 0, 'usd', bot := 1)",
    );
    assert!(
        err.contains("interval_count must be at least 1"),
        "unexpected error: {err}"
    );
}

// ------------------------------------------------------------------ reports

#[test]
fn revenue_counts_from_inclusive_to_exclusive() {
    let conn = fixture();
    // 1719792000 = 2024-07-01 00:00:00 UTC (o1 exactly: counted; o2 one second before: not)
    // 1720569600 = 2024-07-10 00:00:00 UTC (o3 at 08:00 that day: not counted)
    assert_rows(
        &conn,
        "SELECT * REPLACE (money_text(revenue) AS revenue)
         FROM revenue(1719792000, 1720569600, 'eur')",
        &[
            "1 | 1719792000 | 1720569600 | 10 | EUR | 10,00€ | 1",
            "2 | 1719792000 | 1720569600 | 0 | EUR | 0,00€ | 0",
        ],
    );
    // 1721000000 = 2024-07-14 23:33:20 UTC: o1 11 + o3 5
    assert_rows(
        &conn,
        "SELECT * REPLACE (money_text(revenue) AS revenue)
         FROM revenue(1719792000, 1721000000, 'USD', bot := 1)",
        &["1 | 1719792000 | 1721000000 | 16 | USD | $16.00 | 2"],
    );
}

#[test]
fn revenue_all_time_view_uses_each_bots_preferred_currency() {
    let conn = fixture();
    // bot 1: 11 + 11 + 5 + 2 + 3.3 + 6700 USD; bot 2: no settings -> EUR
    assert_rows(
        &conn,
        "SELECT * REPLACE (money_text(revenue) AS revenue) FROM report_revenue_all_time",
        &[
            "1 | NULL | NULL | 6732.3 | USD | $6,732.30 | 6",
            "2 | NULL | NULL | 11.6883 | EUR | 11,69€ | 1",
        ],
    );
}

#[test]
fn orders_count_is_zero_filled_newest_first_in_utc_periods() {
    let conn = fixture();
    assert_rows(
        &conn,
        &format!(
            "SELECT * REPLACE (money_text(revenue) AS revenue)
             FROM orders_count('month', 3, 'usd', {NOW}, bot := 1)"
        ),
        &[
            "1 | 2024-07 | 16 | USD | $16.00 | 2",
            "1 | 2024-06 | 11 | USD | $11.00 | 1",
            // o5 is deleted
            "1 | 2024-05 | 0 | USD | $0.00 | 0",
        ],
    );
    assert_rows(
        &conn,
        "SELECT * REPLACE (money_text(revenue) AS revenue)
         FROM orders_count('Day', 3, NULL, now_ts := TIMESTAMP '2024-07-01 12:00:00', bot := 1)",
        &[
            "1 | 2024-07-01 | 11 | USD | $11.00 | 1",
            "1 | 2024-06-30 | 11 | USD | $11.00 | 1",
            "1 | 2024-06-29 | 0 | USD | $0.00 | 0",
        ],
    );
    assert_rows(
        &conn,
        &format!(
            "SELECT * REPLACE (money_text(revenue) AS revenue)
             FROM orders_count('year', 2, 'USD', {NOW}, bot := 1)"
        ),
        &[
            "1 | 2024 | 32.3 | USD | $32.30 | 5",
            "1 | 2023 | 6700 | USD | $6,700.00 | 1",
        ],
    );
    // Every bot gets its periods, in its own preferred currency.
    assert_rows(
        &conn,
        &format!(
            "SELECT bot_id, period, sales, formatted FROM orders_count('month', 1, NULL, {NOW})"
        ),
        &["1 | 2024-07 | 2 | $16.00", "2 | 2024-07 | 1 | 11,69€"],
    );
}

#[test]
fn periods_are_utc_whatever_offset_the_time_was_written_with() {
    let conn = fixture();
    // 2024-06-30 23:30 at UTC-2 is 2024-07-01 01:30 UTC: a July sale.
    conn.execute_batch(
        "INSERT INTO orders (bot_id, order_key, order_date, order_status, amount, currency,
                             _synced_at, _run_id)
         VALUES (2, 'p2', TIMESTAMPTZ '2024-06-30 23:30:00-02', 'COMPLETED', '1', 'EUR', now(), 1)",
    )
    .expect("insert p2");
    assert_rows(
        &conn,
        &format!("SELECT period, sales FROM orders_count('month', 2, 'eur', {NOW}, bot := 2)"),
        &["2024-07 | 2", "2024-06 | 0"],
    );
    // 1719797400 = 2024-07-01 01:30:00 UTC: `from` is inclusive.
    assert_rows(
        &conn,
        "SELECT sales FROM revenue(1719797400, 1719797401, 'eur', bot := 2)",
        &["1"],
    );
}

#[test]
fn plans_report_covers_this_month_and_the_five_before() {
    let conn = fixture();
    // Window 2024-02-01 .. 2024-07-31: o6 (Jan 31 23:00) and o8 (Dec) fall outside.
    // Plan 22 is not in `plans`: its name comes from its latest order.
    assert_rows(
        &conn,
        &format!(
            "SELECT bot_id, plan_id, plan_name, money_text(revenue), currency, formatted, sales,
                    {BREAKDOWN_TEXT}
             FROM plans_report('usd', {NOW}, bot := 1)"
        ),
        &[
            // The breakdown holds native sums labelled in the report's currency, as the
            // API text's sample does (docs/data-contract.md §2.5, corrected): o1 10 EUR, o2 1000 RUB.
            "1 | 20 | EUR Demo Plan | 22 | USD | $22.00 | 2 | \
             2024-07 10 USD $10.00 1; 2024-06 1000 USD $1,000.00 1",
            "1 | 21 | GBP Demo Plan | 5 | USD | $5.00 | 1 | 2024-07 5 USD $5.00 1",
            "1 | 22 | Old plan renamed | 3.3 | USD | $3.30 | 1 | 2024-02 3 USD $3.00 1",
        ],
    );
    // The converted breakdown: the figures this test expected of plans_report before
    // the correction (o1 10 EUR x 1.10 = 11, o2 1000 RUB x 0.011 = 11, o7 3 x 1.10).
    assert_rows(
        &conn,
        &format!(
            "SELECT bot_id, plan_id, plan_name, money_text(revenue), currency, formatted, sales,
                    {BREAKDOWN_TEXT}
             FROM plans_report_converted('usd', {NOW}, bot := 1)"
        ),
        &[
            "1 | 20 | EUR Demo Plan | 22 | USD | $22.00 | 2 | \
             2024-07 11 USD $11.00 1; 2024-06 11 USD $11.00 1",
            "1 | 21 | GBP Demo Plan | 5 | USD | $5.00 | 1 | 2024-07 5 USD $5.00 1",
            "1 | 22 | Old plan renamed | 3.3 | USD | $3.30 | 1 | 2024-02 3.3 USD $3.30 1",
        ],
    );
    // The view: each bot's preferred currency (bot 1 USD), the same rows.
    assert_eq!(
        rows(
            &conn,
            "SELECT * FROM report_plans_converted WHERE bot_id = 1"
        ),
        rows(
            &conn,
            "SELECT * FROM plans_report_converted('usd', bot := 1)"
        )
    );
    assert_eq!(
        scalar(
            &conn,
            &format!("SELECT typeof(breakdown) FROM plans_report('usd', {NOW}, bot := 1) LIMIT 1")
        ),
        "STRUCT(period VARCHAR, revenue DECIMAL(38,18), currency VARCHAR, \
         formatted VARCHAR, sales BIGINT)[]"
    );
}

/// The API text's `/plans/report` sample, plans 38 and 19, rebuilt from orders: total
/// 31.05438 EUR from 3,000 RUB at 0.01035146, breakdown "2000" / "2 000,00€" and
/// "1000" / "1 000,00€"; plan 19 with two 2024-06 entries, a TRY sale and USD sales.
#[test]
fn plans_report_reproduces_the_api_samples_plans_38_and_19() {
    use rust_decimal::Decimal;
    let conn = warehouse();
    conn.execute_batch(
        "INSERT INTO plans (bot_id, plan_id, plan_name, currency, _synced_at, _run_id) VALUES
             (9, 19, 'USD Demo Plan', 'USD', now(), 1), (9, 38, 'RUB Demo Plan', 'RUB', now(), 1);
         INSERT INTO fx_rates (bot_id, as_of, from_currency, to_currency, rate, source) VALUES
             (9, TIMESTAMPTZ '2024-07-01 00:00:00+00', 'RUB', 'EUR', 0.01035146, 'api'),
             (9, TIMESTAMPTZ '2024-07-01 00:00:00+00', 'USD', 'EUR', 0.91882, 'api'),
             (9, TIMESTAMPTZ '2024-07-01 00:00:00+00', 'TRY', 'EUR', 0.0283, 'api');
         INSERT INTO orders (bot_id, order_key, order_date, order_status, plan_id, plan_name,
                             payment_gateway, amount, currency, _synced_at, _run_id) VALUES
             (9, 'r1', TIMESTAMPTZ '2024-06-03 10:00:00+00', 'COMPLETED', 38, 'RUB Demo Plan', 'stripe', '1000', 'RUB', now(), 1),
             (9, 'r2', TIMESTAMPTZ '2024-06-20 10:00:00+00', 'COMPLETED', 38, 'RUB Demo Plan', 'stripe', '1000', 'RUB', now(), 1),
             (9, 'r3', TIMESTAMPTZ '2024-05-11 10:00:00+00', 'COMPLETED', 38, 'RUB Demo Plan', 'stripe', '1000', 'RUB', now(), 1),
             (9, 'r4', TIMESTAMPTZ '2024-05-12 10:00:00+00', 'REFUNDED', 38, 'RUB Demo Plan', 'stripe', '1000', 'RUB', now(), 1),
             (9, 'u1', TIMESTAMPTZ '2024-06-05 10:00:00+00', 'COMPLETED', 19, 'USD Demo Plan', 'stripe', '89.8184', 'TRY', now(), 1),
             (9, 'u2', TIMESTAMPTZ '2024-06-06 10:00:00+00', 'COMPLETED', 19, 'USD Demo Plan', 'stripe', '99.99', 'USD', now(), 1),
             (9, 'u3', TIMESTAMPTZ '2024-06-07 10:00:00+00', 'COMPLETED', 19, 'USD Demo Plan', 'stripe', '99.99', 'USD', now(), 1),
             (9, 'u4', TIMESTAMPTZ '2024-06-08 10:00:00+00', 'COMPLETED', 19, 'USD Demo Plan', 'stripe', '99.99', 'USD', now(), 1),
             (9, 'u5', TIMESTAMPTZ '2024-06-09 10:00:00+00', 'COMPLETED', 19, 'USD Demo Plan', 'stripe', '99.99', 'USD', now(), 1),
             (9, 'u6', TIMESTAMPTZ '2024-05-06 10:00:00+00', 'COMPLETED', 19, 'USD Demo Plan', 'stripe', '99.99', 'USD', now(), 1),
             (9, 'u7', TIMESTAMPTZ '2024-05-07 10:00:00+00', 'COMPLETED', 19, 'USD Demo Plan', 'stripe', '99.99', 'USD', now(), 1);",
    )
    .expect("the sample's orders");
    // Totals are converted, each currency's six-month total once, computed here apart
    // from DuckDB.
    let d = |t: &str| t.parse::<Decimal>().expect("a decimal");
    let total_38 = d("3000") * d("0.01035146");
    assert_eq!(total_38, d("31.05438"), "the sample's own arithmetic");
    let total_19 = d("599.94") * d("0.91882") + d("89.8184") * d("0.0283");
    let euros = |x: Decimal| {
        let cents =
            x.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
        format!("{}€", cents.to_string().replace('.', ","))
    };
    assert_owned_rows(
        &conn,
        &format!(
            "SELECT plan_id, plan_name, money_text(revenue), currency, formatted, sales, {BREAKDOWN_TEXT}
             FROM plans_report('eur', {NOW}, bot := 9)"
        ),
        &[
            format!(
                "19 | USD Demo Plan | {} | EUR | {} | 7 | \
                 2024-06 89.8184 EUR 89,82€ 1; 2024-06 399.96 EUR 399,96€ 4; \
                 2024-05 199.98 EUR 199,98€ 2",
                total_19.normalize(),
                euros(total_19)
            ),
            format!(
                "38 | RUB Demo Plan | {} | EUR | 31,05€ | 3 | \
                 2024-06 2000 EUR 2 000,00€ 2; 2024-05 1000 EUR 1 000,00€ 1",
                total_38.normalize()
            ),
        ],
    );
    // The converted breakdown beside it: one entry per month, every currency converted.
    let june_19 = d("399.96") * d("0.91882") + d("89.8184") * d("0.0283");
    let may_19 = d("199.98") * d("0.91882");
    let show = |x: Decimal| format!("{} EUR {}", x.normalize(), euros(x));
    assert_owned_rows(
        &conn,
        &format!(
            "SELECT plan_id, money_text(revenue), sales, {BREAKDOWN_TEXT}
             FROM plans_report_converted('eur', {NOW}, bot := 9)"
        ),
        &[
            format!(
                "19 | {} | 7 | 2024-06 {} 5; 2024-05 {} 2",
                total_19.normalize(),
                show(june_19),
                show(may_19)
            ),
            format!(
                "38 | {} | 3 | 2024-06 {} 2; 2024-05 {} 1",
                total_38.normalize(),
                show(d("2000") * d("0.01035146")),
                show(d("1000") * d("0.01035146"))
            ),
        ],
    );
}

#[test]
fn orders_count_takes_the_apis_defaults_for_null() {
    let conn = fixture();
    // The API's defaults: interval_unit 'month', interval_count 1.
    let want = rows(
        &conn,
        &format!("SELECT * FROM orders_count('month', 1, 'usd', {NOW}, bot := 1)"),
    );
    assert_eq!(want.len(), 1, "{want:?}");
    assert!(want[0].starts_with("1 | 2024-07 | 16"), "{want:?}");
    for (unit, count) in [("NULL", "NULL"), ("NULL", "1"), ("'month'", "NULL")] {
        assert_eq!(
            rows(
                &conn,
                &format!("SELECT * FROM orders_count({unit}, {count}, 'usd', {NOW}, bot := 1)")
            ),
            want,
            "orders_count({unit}, {count})"
        );
    }
    // A NULL count with another unit: one period of that unit.
    assert_rows(
        &conn,
        &format!("SELECT period, sales FROM orders_count('year', NULL, 'usd', {NOW}, bot := 1)"),
        &["2024 | 5"],
    );
}

#[test]
fn payment_methods_report_groups_by_gateway_code_all_time() {
    let conn = fixture();
    assert_rows(
        &conn,
        "SELECT * REPLACE (money_text(revenue) AS revenue) FROM report_payment_methods",
        &[
            // o1 11 + o8 6700
            "1 | stripe | Credit / Debit card (Stripe) | 6711 | USD | $6,711.00 | 2",
            // display name and code spellings of one gateway land together: o2 11 + o3 5
            "1 | paypal | PayPal | 16 | USD | $16.00 | 2",
            "1 | cryptocom | Crypto (Crypto.Com) | 3.3 | USD | $3.30 | 1",
            // unknown display name: lower-cased as the code, shown as sent
            "1 | unknown gateway | Unknown Gateway | 2 | USD | $2.00 | 1",
            "2 | telegram pay | Telegram Pay | 11.6883 | EUR | 11,69€ | 1",
        ],
    );
}

#[test]
fn users_count_is_the_latest_snapshot_per_bot() {
    let conn = fixture();
    assert_rows(
        &conn,
        "SELECT * FROM report_users_count",
        &["1 | 11 | 5 | 2 | 4", "2 | 1 | 1 | 0 | 0"],
    );
    assert_rows(
        &conn,
        "SELECT * FROM users_count(bot := 2)",
        &["2 | 1 | 1 | 0 | 0"],
    );
}

#[test]
fn coupon_plans_unnests_live_coupons() {
    let conn = fixture();
    assert_rows(
        &conn,
        "SELECT * FROM coupon_plans ORDER BY plan_id",
        &[
            "1 | HJTPS3 | 20 | EUR Demo Plan | true",
            "1 | HJTPS3 | 21 | GBP Demo Plan | true",
            "1 | HJTPS3 | 99 | NULL | true",
        ],
    );
}

#[test]
fn report_columns_are_the_api_fields() {
    let conn = fixture();
    let columns =
        |sql: &str| rows(&conn, &format!("SELECT column_name FROM (DESCRIBE {sql})")).join(",");
    assert_eq!(
        columns("SELECT * FROM revenue(0, 1, 'eur', bot := 1)"),
        "bot_id,from,to,revenue,currency,formatted,sales"
    );
    assert_eq!(
        columns("SELECT * FROM orders_count('month', 1, 'eur', bot := 1)"),
        "bot_id,period,revenue,currency,formatted,sales"
    );
    assert_eq!(
        columns("SELECT * FROM plans_report('eur', bot := 1)"),
        "bot_id,plan_id,plan_name,revenue,currency,formatted,sales,breakdown"
    );
    assert_eq!(
        columns("SELECT * FROM plans_report_converted('eur', bot := 1)"),
        "bot_id,plan_id,plan_name,revenue,currency,formatted,sales,breakdown"
    );
    assert_eq!(
        columns("SELECT * FROM payment_methods_report('eur', bot := 1)"),
        "bot_id,name,display_name,revenue,currency,formatted,sales"
    );
    assert_eq!(
        columns("SELECT * FROM users_count()"),
        "bot_id,users,leads,churned,members"
    );
}

/// docs/data-contract.md §2.2, the API's arithmetic: each sale is converted at its pair's 8-decimal rate and
/// rounded to 8 decimals, half away from zero, before a report sums them. The API text's
/// plan 34 (438.56721835 RUB at 0.01035146 is 4.5398110180… exactly, 4.53981102 in the
/// sample); three sales of 1.5 JPY at 0.00000003 BTC/JPY are 0.000000045 BTC each, 5e-8
/// rounded, 0.00000015 in all (the rounded exact sum would be 0.00000014); and a large
/// BTC sale at a large rate stays exact (no DECIMAL overflow), 966704077916572225.95234084
/// computed apart from DuckDB with 60-digit decimals.
#[test]
fn reports_round_each_sale_to_8_places_before_summing() {
    let conn = warehouse();
    conn.execute_batch(
        "INSERT INTO fx_rates (bot_id, as_of, from_currency, to_currency, rate, source) VALUES
             (9, TIMESTAMPTZ '2024-07-01 00:00:00+00', 'RUB', 'EUR', 0.01035146, 'api'),
             (9, TIMESTAMPTZ '2024-07-01 00:00:00+00', 'JPY', 'BTC', 0.00000003, 'api'),
             (9, TIMESTAMPTZ '2024-07-01 00:00:00+00', 'RUB', 'BTC', 0.00000017, 'api'),
             (9, TIMESTAMPTZ '2024-07-01 00:00:00+00', 'BTC', 'JPY', 9787878.78787879, 'api');
         INSERT INTO orders (bot_id, order_key, order_date, order_status, plan_id, plan_name,
                             payment_gateway, amount, currency, _synced_at, _run_id) VALUES
             (9, 'a', TIMESTAMPTZ '2024-07-02 10:00:00+00', 'COMPLETED', 34, 'Recurring Plan Demo', 'stripe', '438.56721835', 'RUB', now(), 1),
             (9, 'j1', TIMESTAMPTZ '2024-07-03 10:00:00+00', 'COMPLETED', 1, 'JPY plan', 'stripe', '1.5', 'JPY', now(), 1),
             (9, 'j2', TIMESTAMPTZ '2024-07-03 10:00:00+00', 'COMPLETED', 1, 'JPY plan', 'stripe', '1.5', 'JPY', now(), 1),
             (9, 'j3', TIMESTAMPTZ '2024-07-03 10:00:00+00', 'COMPLETED', 1, 'JPY plan', 'stripe', '1.5', 'JPY', now(), 1),
             (9, 'b1', TIMESTAMPTZ '2024-07-04 10:00:00+00', 'COMPLETED', 2, 'BTC plan', 'stripe', '98765432109.123456789', 'BTC', now(), 1);",
    )
    .expect("orders and rates");
    let revenue = |from: i64, to: i64, currency: &str| {
        scalar(
            &conn,
            &format!(
                "SELECT money_text(revenue) FROM revenue({from}, {to}, '{currency}', bot := 9)"
            ),
        )
    };
    assert_eq!(revenue(1_719_914_400, 1_719_914_401, "eur"), "4.53981102");
    assert_eq!(revenue(1_720_000_800, 1_720_000_801, "btc"), "0.00000015");
    assert_eq!(
        revenue(1_720_087_200, 1_720_087_201, "jpy"),
        "966704077916572225.95234084"
    );
    // The same per sale in the other reports: plan 34's total, and the gateway's.
    assert_rows(
        &conn,
        &format!(
            "SELECT plan_id, money_text(revenue), formatted FROM plans_report('eur', {NOW}, bot := 9)
             WHERE plan_id = 34"
        ),
        &["34 | 4.53981102 | 4,54€"],
    );
    assert_eq!(
        scalar(
            &conn,
            &format!(
                "SELECT money_text(revenue) FROM orders_count('day', 30, 'btc', {NOW}, bot := 9)
                 WHERE period = '2024-07-03'"
            )
        ),
        "0.00000015"
    );
}

/// A bot with no order data (no order, orders never synced: a legacy-API warehouse) gets
/// no report of zeros: asked for by `bot`, every order report says "no order data";
/// over all bots it is left out. /users/count still answers.
#[test]
fn a_bot_without_order_data_gets_no_report_of_zeros() {
    let conn = fixture();
    conn.execute_batch(
        "INSERT INTO users_count_history (bot_id, run_id, captured_at, users, leads, churned, members)
         VALUES (7, 1, TIMESTAMPTZ '2024-07-01 00:00:00+00', 4, 1, 1, 2);
         INSERT INTO _sync_runs (run_id, bot_id, started_at, status)
         VALUES (1, 7, TIMESTAMPTZ '2024-07-01 00:00:00+00', 'success');",
    )
    .expect("a legacy bot");
    for sql in [
        "SELECT * FROM revenue(0, NULL, 'eur', bot := 7)".to_string(),
        format!("SELECT * FROM orders_count('month', 3, 'eur', {NOW}, bot := 7)"),
        format!("SELECT * FROM plans_report('eur', {NOW}, bot := 7)"),
        "SELECT * FROM payment_methods_report('eur', bot := 7)".to_string(),
    ] {
        let e = error_of(&conn, &sql);
        assert!(e.contains("no order data for bot 7"), "{sql}: {e}");
    }
    assert_rows(
        &conn,
        "SELECT bot_id FROM revenue(0, NULL, NULL) ORDER BY bot_id",
        &["1", "2"],
    );
    assert_eq!(
        scalar(&conn, "SELECT users FROM users_count(bot := 7)"),
        "4"
    );
    // Once its orders stream has synced (even with no order), zeros are the truth.
    conn.execute_batch(
        "INSERT INTO _sync_state (bot_id, stream, last_run_id, updated_at)
         VALUES (7, 'orders', 1, TIMESTAMPTZ '2024-07-01 00:00:00+00');",
    )
    .expect("orders synced");
    assert_rows(
        &conn,
        "SELECT money_text(revenue), sales FROM revenue(0, NULL, 'eur', bot := 7)",
        &["0 | 0"],
    );
}
