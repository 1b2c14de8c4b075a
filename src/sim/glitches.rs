//! Glitches of a misbehaving API, as switches ([`super::FaultOptions`]): lists answered
//! empty (`ok:true` with `[]`, or `{"ok":true}` without `result`), an `offset` the server
//! ignores (every page is the first), rows no column type can hold, and an oversized body.

use std::str::FromStr;

use serde_json::{Map, Number, Value};

use super::FaultOptions;
use super::endpoints::Endpoint;
use super::model::SimData;

/// Orders the `bad_rows` switch breaks: the newest ones, one per kind of bad value.
const BAD_ORDERS: usize = 5;

/// Memberships the `bad_rows` switch breaks: the first ones of `/members`.
const BAD_MEMBERSHIPS: usize = 2;

/// One row the `bad_rows` switch breaks, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// `orders` or `members`.
    pub stream: &'static str,
    /// The row's key as the ETL writes it (`order_key`, or `member_id/plan_id/project_id`).
    pub key: String,
    /// The field broken.
    pub field: &'static str,
    /// What the broken field holds (`None`: removed).
    pub value: Option<Value>,
}

/// The rows the `bad_rows` switch breaks in `data`, each with its bad value: an
/// `order_date` in year 31 million, one before year 1, a `member_id` beyond i64, an
/// amount beyond DECIMAL(38,18), a missing `order_key`; a membership starting in year 31
/// million and one ending before year 1.
pub fn bad_rows(data: &SimData) -> Vec<BadRow> {
    let huge_id = Number::from_str("99999999999999999999")
        .ok()
        .map(Value::Number);
    let values: [(&'static str, Option<Value>); BAD_ORDERS] = [
        ("order_date", Some(Value::from(1_000_000_000_000_000_i64))),
        ("order_date", Some(Value::from(-100_000_000_000_000_i64))),
        ("member_id", huge_id),
        (
            "amount",
            Some(Value::from("123456789012345678901234567890.5")),
        ),
        ("order_key", None),
    ];
    let orders = data
        .orders
        .iter()
        .zip(values)
        .map(|(o, (field, value))| BadRow {
            stream: "orders",
            key: o.order_key.clone(),
            field,
            value,
        });
    let member_values: [(&'static str, i64); BAD_MEMBERSHIPS] = [
        ("start", 1_000_000_000_000_000),
        ("end", -100_000_000_000_000),
    ];
    let members = data
        .memberships
        .iter()
        .zip(member_values)
        .map(|(m, (field, secs))| BadRow {
            stream: "members",
            key: format!("{}/{}/{}", m.member_id, m.plan_id, m.project_id),
            field,
            value: Some(Value::from(secs)),
        });
    orders.chain(members).collect()
}

/// The query a server that ignores `offset` answers: the same without it.
pub(super) fn query_as_served(
    faults: &FaultOptions,
    query: Vec<(String, String)>,
) -> Vec<(String, String)> {
    if faults.ignore_offset {
        query.into_iter().filter(|(k, _)| k != "offset").collect()
    } else {
        query
    }
}

/// Applies the switches that change a successful `result`.
pub(super) fn apply_to_result(
    faults: &FaultOptions,
    endpoint: &Endpoint,
    data: &SimData,
    result: &mut Value,
) {
    if faults.bad_rows && matches!(endpoint, Endpoint::Orders | Endpoint::Members) {
        break_rows(data, result);
    }
    if faults.empty_lists
        && let Value::Array(rows) = result
    {
        rows.clear();
    }
}

/// Applies the switches that change the envelope: `result` dropped from list answers,
/// padding past the body cap.
pub(super) fn apply_to_envelope(faults: &FaultOptions, envelope: &mut Value) {
    let Value::Object(m) = envelope else {
        return;
    };
    if faults.lists_without_result && m.get("result").is_some_and(Value::is_array) {
        m.remove("result");
    }
    if let Some(bytes) = faults.oversized_body_bytes {
        m.insert("sim_padding".into(), Value::from("x".repeat(bytes)));
    }
}

fn break_rows(data: &SimData, result: &mut Value) {
    let Value::Array(rows) = result else {
        return;
    };
    let bad = bad_rows(data);
    for row in rows.iter_mut() {
        let Value::Object(m) = row else { continue };
        let key = row_key(m);
        for b in bad.iter().filter(|b| Some(&b.key) == key.as_ref()) {
            let target = match b.stream {
                "members" => match m.get_mut("membership") {
                    Some(Value::Object(inner)) => inner,
                    _ => continue,
                },
                _ => &mut *m,
            };
            match &b.value {
                Some(v) => target.insert(b.field.to_string(), v.clone()),
                None => target.remove(b.field),
            };
            break;
        }
    }
}

/// An order's key, or a membership's `member_id/plan_id/project_id`.
fn row_key(m: &Map<String, Value>) -> Option<String> {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    if let Some(key) = m.get("order_key") {
        return text(key);
    }
    let ids: Option<Vec<String>> = ["member_id", "plan_id", "project_id"]
        .iter()
        .map(|f| m.get(*f).and_then(text))
        .collect();
    ids.map(|ids| ids.join("/"))
}
