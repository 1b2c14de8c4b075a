//! `tgm-sync report`: one report read from the warehouse's macros (`sql/reports.sql`),
//! as the API's JSON `result`, a table for people, or CSV.
//!
//! Every value reaches Rust as text (`money_text` for money), so nothing passes through
//! f64: the JSON carries money as full-precision strings, exactly as the API does.

use std::fmt;
use std::str::FromStr;

use arrow::array::RecordBatch;
use duckdb::types::Value as SqlValue;
use duckdb::{Connection, params_from_iter};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::bot_id::BotId;
use crate::currency::Currency;
use crate::sql_files::{SqlFile, sql_file};
use crate::warehouse::LoadError;
use crate::warehouse::error::DbContext;

/// The reports, named as on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReportName {
    /// `/revenue`
    Revenue,
    /// `/orders/count`
    OrdersCount,
    /// `/plans/report`
    Plans,
    /// `/paymentMethods/report`
    PaymentMethods,
    /// `/users/count`
    UsersCount,
}

impl ReportName {
    pub(crate) const ALL: [ReportName; 5] = [
        ReportName::Revenue,
        ReportName::OrdersCount,
        ReportName::Plans,
        ReportName::PaymentMethods,
        ReportName::UsersCount,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ReportName::Revenue => "revenue",
            ReportName::OrdersCount => "orders-count",
            ReportName::Plans => "plans",
            ReportName::PaymentMethods => "payment-methods",
            ReportName::UsersCount => "users-count",
        }
    }
}

impl fmt::Display for ReportName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A report name that is none of [`ReportName::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown report `{0}`: expected one of revenue, orders-count, plans, payment-methods, users-count"
)]
pub(crate) struct UnknownReport(pub String);

impl FromStr for ReportName {
    type Err = UnknownReport;

    /// Case-insensitive; `_` may stand for `-` (`orders_count`, the macro's name).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        ReportName::ALL
            .into_iter()
            .find(|r| r.as_str() == wanted)
            .ok_or_else(|| UnknownReport(s.to_string()))
    }
}

/// `/orders/count` periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Day,
    Month,
    Year,
}

impl Unit {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Unit::Day => "day",
            Unit::Month => "month",
            Unit::Year => "year",
        }
    }
}

impl FromStr for Unit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "day" => Ok(Unit::Day),
            "month" => Ok(Unit::Month),
            "year" => Ok(Unit::Year),
            _ => Err(format!(
                "unknown interval unit `{s}`: expected day, month or year"
            )),
        }
    }
}

/// One report to print: which, for which bot, in which currency, over what.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ReportRequest {
    pub name: ReportName,
    pub bot_id: BotId,
    /// `None`: the bot's preferred currency, EUR when it has none (as the API).
    pub currency: Option<Currency>,
    /// `revenue`: UNIX seconds, `from <= order_date < to`.
    pub from: i64,
    pub to: i64,
    /// `orders-count`: the last `count` periods of `unit`, newest first.
    pub unit: Unit,
    pub count: u32,
    /// UNIX seconds that fix "the current period" of `orders-count` and `plans` (the
    /// process clock, which tests pin).
    pub now: i64,
}

impl ReportRequest {
    /// The file holding this report's statement: the report's rows with the API's field
    /// names and money as full-precision text; `plans` flattened to one row per plan
    /// (`period` = `total`) followed by one per month of its breakdown. What `table` and
    /// `csv` print.
    pub(crate) fn sql(&self) -> SqlFile {
        match self.name {
            ReportName::Revenue => sql_file!("report/revenue.sql"),
            ReportName::OrdersCount => sql_file!("report/orders_count.sql"),
            ReportName::Plans => sql_file!("report/plans.sql"),
            ReportName::PaymentMethods => sql_file!("report/payment_methods.sql"),
            ReportName::UsersCount => sql_file!("report/users_count.sql"),
        }
    }

    /// The values of [`sql`](Self::sql)'s parameters `$1, $2, …`, in order, as its file's
    /// header lists them. A currency of `None` is bound as NULL: the bot's preferred one.
    pub(crate) fn params(&self) -> Vec<SqlValue> {
        let currency = self
            .currency
            .map_or(SqlValue::Null, |c| SqlValue::Text(c.query_value()));
        let bot = SqlValue::BigInt(self.bot_id.as_i64());
        let now_micros = SqlValue::BigInt(self.now * 1_000_000);
        match self.name {
            ReportName::Revenue => vec![
                SqlValue::BigInt(self.from),
                SqlValue::BigInt(self.to),
                currency,
                bot,
            ],
            ReportName::OrdersCount => vec![
                SqlValue::Text(self.unit.as_str().to_string()),
                SqlValue::BigInt(i64::from(self.count)),
                currency,
                now_micros,
                bot,
            ],
            ReportName::Plans => vec![currency, now_micros, bot],
            ReportName::PaymentMethods => vec![currency, bot],
            ReportName::UsersCount => vec![bot],
        }
    }

    /// The rows of [`sql`](Self::sql) as Arrow batches, for `table`.
    pub(crate) fn batches(&self, conn: &Connection) -> Result<Vec<RecordBatch>, LoadError> {
        let mut stmt = conn
            .prepare(self.sql().text)
            .during(|| format!("preparing the {} report", self.name))?;
        let batches = stmt
            .query_arrow(params_from_iter(self.params()))
            .during(|| format!("running the {} report", self.name))?
            .collect();
        Ok(batches)
    }

    /// Column names and the rows of [`sql`](Self::sql) as text (NULL as ""),
    /// for `csv`.
    pub(crate) fn text_rows(
        &self,
        conn: &Connection,
    ) -> Result<(Vec<String>, Vec<Vec<String>>), LoadError> {
        text_rows(conn, self.sql(), &self.params(), self.name)
    }

    /// The API's `result` for this report: an object for `revenue` and `users-count`, a
    /// list of objects for the others; money as strings, `sales` and ids as numbers,
    /// `plans` with its `breakdown` nested; fields in the API's order. `Null` when there
    /// is nothing to show (no users/count snapshot).
    pub(crate) fn json(&self, conn: &Connection) -> Result<Json, LoadError> {
        let (names, rows) = self.text_rows(conn)?;
        let objects: Vec<Fields> = rows
            .iter()
            .map(|row| {
                names
                    .iter()
                    .zip(row)
                    .map(|(n, v)| (n.clone(), json_value(n, v)))
                    .collect()
            })
            .collect();
        Ok(match self.name {
            ReportName::Revenue | ReportName::UsersCount => {
                objects.into_iter().next().map_or(Json::Null, Json::Object)
            }
            ReportName::OrdersCount | ReportName::PaymentMethods => {
                Json::Array(objects.into_iter().map(Json::Object).collect())
            }
            ReportName::Plans => Json::Array(nest_plans(objects)),
        })
    }
}

/// Fields of a JSON object, in order.
pub(crate) type Fields = Vec<(String, Json)>;

/// JSON that keeps its fields in the order given (serde_json's `Map` sorts them), so the
/// output reads like the API's: `from, to, revenue, currency, formatted, sales`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Number(i64),
    String(String),
    Array(Vec<Json>),
    Object(Fields),
}

impl Json {
    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    /// As a `serde_json::Value` (whose objects sort their keys).
    #[cfg(test)]
    pub(crate) fn to_value(&self) -> serde_json::Value {
        match self {
            Json::Null => serde_json::Value::Null,
            Json::Number(n) => serde_json::Value::from(*n),
            Json::String(s) => serde_json::Value::String(s.clone()),
            Json::Array(items) => {
                serde_json::Value::Array(items.iter().map(Json::to_value).collect())
            }
            Json::Object(fields) => serde_json::Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect(),
            ),
        }
    }

    fn take(fields: &mut Fields, key: &str) -> Json {
        fields
            .iter()
            .position(|(k, _)| k == key)
            .map_or(Json::Null, |i| fields.remove(i).1)
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => serializer.serialize_unit(),
            Json::Number(n) => serializer.serialize_i64(*n),
            Json::String(s) => serializer.serialize_str(s),
            Json::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(fields) => {
                let mut map = serializer.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

fn text_rows(
    conn: &Connection,
    sql: SqlFile,
    params: &[SqlValue],
    name: ReportName,
) -> Result<(Vec<String>, Vec<Vec<String>>), LoadError> {
    // Only fixed text is formatted in: the statement comes from a file of this crate, and
    // the values stay bound. The line breaks keep a trailing `--` comment from eating `)`.
    let wrapped = format!("SELECT COLUMNS(*)::VARCHAR FROM (\n{}\n)", sql.statement());
    let mut stmt = conn
        .prepare(&wrapped)
        .during(|| format!("preparing the {name} report"))?;
    let mut rows = stmt
        .query(params_from_iter(params))
        .during(|| format!("running the {name} report"))?;
    let names: Vec<String> = rows.as_ref().map(|s| s.column_names()).unwrap_or_default();
    let mut out = Vec::new();
    while let Some(row) = rows
        .next()
        .during(|| format!("reading the {name} report"))?
    {
        let mut values = Vec::with_capacity(names.len());
        for i in 0..names.len() {
            let v: Option<String> = row.get(i).during(|| format!("reading the {name} report"))?;
            values.push(v.unwrap_or_default());
        }
        out.push(values);
    }
    Ok((names, out))
}

/// The fields the API writes as JSON numbers; everything else (money included) is a string.
const NUMBER_FIELDS: [&str; 8] = [
    "from", "to", "sales", "plan_id", "users", "leads", "churned", "members",
];

fn json_value(field: &str, text: &str) -> Json {
    if NUMBER_FIELDS.contains(&field)
        && let Ok(n) = text.parse::<i64>()
    {
        return Json::Number(n);
    }
    Json::String(text.to_string())
}

/// Flat plan rows (a `total` row per plan, then its months) to the API's nested shape.
fn nest_plans(rows: Vec<Fields>) -> Vec<Json> {
    let mut plans: Vec<Fields> = Vec::new();
    for mut row in rows {
        let period = Json::take(&mut row, "period");
        if period == Json::String("total".into()) {
            let mut plan: Fields = [
                "plan_id",
                "plan_name",
                "revenue",
                "currency",
                "formatted",
                "sales",
            ]
            .into_iter()
            .map(|key| (key.to_string(), Json::take(&mut row, key)))
            .collect();
            plan.push(("breakdown".to_string(), Json::Array(Vec::new())));
            plans.push(plan);
        } else if let Some((_, Json::Array(months))) = plans
            .last_mut()
            .and_then(|p| p.iter_mut().find(|(k, _)| k == "breakdown"))
        {
            let mut month: Fields = vec![("period".to_string(), period)];
            for key in ["revenue", "currency", "formatted", "sales"] {
                month.push((key.to_string(), Json::take(&mut row, key)));
            }
            months.push(Json::Object(month));
        }
    }
    plans.into_iter().map(Json::Object).collect()
}

/// Writes rows as CSV with a header line.
pub(crate) fn write_csv<W: std::io::Write>(
    out: W,
    names: &[String],
    rows: &[Vec<String>],
) -> Result<(), csv::Error> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(names)?;
    for row in rows {
        writer.write_record(row)?;
    }
    writer.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_names_parse_loosely_and_reject_unknown() {
        assert_eq!("Revenue".parse(), Ok(ReportName::Revenue));
        assert_eq!("orders_count".parse(), Ok(ReportName::OrdersCount));
        assert_eq!("payment-methods".parse(), Ok(ReportName::PaymentMethods));
        assert!(
            "sales"
                .parse::<ReportName>()
                .unwrap_err()
                .to_string()
                .contains("expected one of revenue")
        );
        for r in ReportName::ALL {
            assert_eq!(r.as_str().parse(), Ok(r));
        }
    }

    #[test]
    fn each_report_binds_as_many_values_as_its_statement_has_parameters() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let warehouse =
            crate::warehouse::Warehouse::open(&dir.path().join("w.duckdb")).expect("a warehouse");
        for name in ReportName::ALL {
            for currency in [None, Some(Currency::Jpy)] {
                let req = ReportRequest {
                    name,
                    bot_id: BotId::constant(7),
                    currency,
                    from: 0,
                    to: 86_400,
                    unit: Unit::Month,
                    count: 3,
                    now: 1_750_000_000,
                };
                let stmt = warehouse.conn().prepare(req.sql().text);
                let wanted = stmt.map(|s| s.parameter_count());
                assert_eq!(
                    wanted.ok(),
                    Some(req.params().len()),
                    "{name}: parameters of {}",
                    req.sql().path
                );
                // An empty warehouse: the values bind (a NULL currency too) and it runs.
                let ran = req.text_rows(warehouse.conn());
                assert!(ran.is_ok(), "{name} with {currency:?}: {ran:?}");
            }
        }
    }

    #[test]
    fn plans_nest_their_months_in_order() {
        let row = |pairs: &[(&str, &str)]| -> Fields {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), json_value(k, v)))
                .collect()
        };
        let flat = vec![
            row(&[
                ("plan_id", "7"),
                ("plan_name", "Pro"),
                ("period", "total"),
                ("revenue", "12.5"),
                ("currency", "EUR"),
                ("formatted", "12,50€"),
                ("sales", "2"),
            ]),
            row(&[
                ("plan_id", "7"),
                ("plan_name", "Pro"),
                ("period", "2024-07"),
                ("revenue", "10"),
                ("currency", "EUR"),
                ("formatted", "10,00€"),
                ("sales", "1"),
            ]),
            row(&[
                ("plan_id", "7"),
                ("plan_name", "Pro"),
                ("period", "2024-05"),
                ("revenue", "2.5"),
                ("currency", "EUR"),
                ("formatted", "2,50€"),
                ("sales", "1"),
            ]),
        ];
        let nested = Json::Array(nest_plans(flat));
        let text = serde_json::to_string(&nested).unwrap_or_default();
        assert!(
            text.starts_with(r#"[{"plan_id":7,"plan_name":"Pro","revenue":"12.5""#),
            "{text}"
        );
        let nested = nested.to_value();
        let want = serde_json::json!([{
            "plan_id": 7, "plan_name": "Pro", "revenue": "12.5", "currency": "EUR",
            "formatted": "12,50€", "sales": 2,
            "breakdown": [
                {"period": "2024-07", "revenue": "10", "currency": "EUR", "formatted": "10,00€", "sales": 1},
                {"period": "2024-05", "revenue": "2.5", "currency": "EUR", "formatted": "2,50€", "sales": 1}
            ]
        }]);
        assert_eq!(nested, want);
    }
}
