//! Tolerant, exact reading of one JSON row (docs/data-contract.md §1.8–1.10).
//!
//! Ids arrive as numbers or numeric strings, money as decimal strings or numbers, and
//! fields the schema does not know must be kept. `RowReader` takes fields out of a row
//! one by one, converting each with a message that names the field, and what is left at
//! the end becomes the row's `_extra` JSON. A row that cannot be read becomes a
//! [`RowError`], which the loader records in `_rejected` rather than dropping.

use serde_json::{Map, Value};

use crate::money::Amount;

/// Why one row could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {reason}")]
pub struct RowError {
    pub field: String,
    pub reason: String,
}

impl RowError {
    fn new(field: &str, reason: impl Into<String>) -> RowError {
        RowError {
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}

/// Takes the fields of one JSON object out, one at a time.
#[derive(Debug)]
pub(crate) struct RowReader {
    fields: Map<String, Value>,
    /// Prefix for field names in messages (`options.` for a nested object).
    path: String,
}

/// A short rendering of a value for messages.
fn show(v: &Value) -> String {
    let text = v.to_string();
    if text.len() > 60 {
        format!("{}…", &text[..text.floor_char_boundary(60)])
    } else {
        text
    }
}

impl RowReader {
    pub(crate) fn new(row: Value) -> Result<RowReader, RowError> {
        match row {
            Value::Object(fields) => Ok(RowReader {
                fields,
                path: String::new(),
            }),
            other => Err(RowError::new(
                "(row)",
                format!("expected an object, got {}", show(&other)),
            )),
        }
    }

    fn name(&self, field: &str) -> String {
        format!("{}{field}", self.path)
    }

    /// Takes a field; JSON `null` counts as absent.
    fn take(&mut self, field: &str) -> Option<Value> {
        match self.fields.remove(field) {
            Some(Value::Null) | None => None,
            Some(v) => Some(v),
        }
    }

    fn required(&mut self, field: &str) -> Result<Value, RowError> {
        self.take(field)
            .ok_or_else(|| RowError::new(&self.name(field), "missing"))
    }

    /// A string key; a number is accepted and written in decimal.
    pub(crate) fn key_str(&mut self, field: &str) -> Result<String, RowError> {
        let v = self.required(field)?;
        let s = self.to_text(field, v)?;
        if s.is_empty() {
            return Err(RowError::new(&self.name(field), "empty"));
        }
        Ok(s)
    }

    pub(crate) fn opt_str(&mut self, field: &str) -> Result<Option<String>, RowError> {
        self.take(field).map(|v| self.to_text(field, v)).transpose()
    }

    fn to_text(&self, field: &str, v: Value) -> Result<String, RowError> {
        match v {
            Value::String(s) => Ok(s),
            Value::Number(n) => Ok(n.to_string()),
            other => Err(RowError::new(
                &self.name(field),
                format!("expected a string, got {}", show(&other)),
            )),
        }
    }

    /// A required integer id: a JSON integer or a numeric string.
    pub(crate) fn key_id(&mut self, field: &str) -> Result<i64, RowError> {
        let v = self.required(field)?;
        self.to_int(field, v)
    }

    pub(crate) fn opt_id(&mut self, field: &str) -> Result<Option<i64>, RowError> {
        self.take(field).map(|v| self.to_int(field, v)).transpose()
    }

    fn to_int(&self, field: &str, v: Value) -> Result<i64, RowError> {
        let text = match &v {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.trim().to_string(),
            _ => String::new(),
        };
        let parsed = match &v {
            Value::Number(n) => n.as_i64().or_else(|| integral_text(&text)),
            Value::String(_) => integral_text(&text),
            _ => None,
        };
        parsed.ok_or_else(|| {
            let reason = if is_integral(&text) {
                format!("{} is beyond a 64-bit integer", show(&v))
            } else {
                format!("expected an integer, got {}", show(&v))
            };
            RowError::new(&self.name(field), reason)
        })
    }

    /// UNIX seconds (integer or numeric string) within years 1–9999, the range DuckDB,
    /// Parquet and Delta readers all hold.
    pub(crate) fn key_timestamp(&mut self, field: &str) -> Result<i64, RowError> {
        let secs = self.key_id(field)?;
        self.in_timestamp_range(field, secs)
    }

    pub(crate) fn opt_timestamp(&mut self, field: &str) -> Result<Option<i64>, RowError> {
        self.opt_id(field)?
            .map(|secs| self.in_timestamp_range(field, secs))
            .transpose()
    }

    fn in_timestamp_range(&self, field: &str, secs: i64) -> Result<i64, RowError> {
        if TIMESTAMP_RANGE.contains(&secs) {
            Ok(secs)
        } else {
            Err(RowError::new(
                &self.name(field),
                format!("{secs} is a date outside years 1 to 9999"),
            ))
        }
    }

    /// An integer option that some answers send as a boolean (`newcomers: 0` or `false`).
    pub(crate) fn opt_int_or_bool(&mut self, field: &str) -> Result<Option<i64>, RowError> {
        match self.take(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(i64::from(b))),
            Some(v) => self.to_int(field, v).map(Some),
        }
    }

    /// A boolean; `0`/`1` and `"true"`/`"false"` are accepted too.
    pub(crate) fn opt_bool(&mut self, field: &str) -> Result<Option<bool>, RowError> {
        let Some(v) = self.take(field) else {
            return Ok(None);
        };
        let parsed = match &v {
            Value::Bool(b) => Some(*b),
            Value::Number(n) => match n.as_i64() {
                Some(0) => Some(false),
                Some(1) => Some(true),
                _ => None,
            },
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        };
        parsed.map(Some).ok_or_else(|| {
            RowError::new(
                &self.name(field),
                format!("expected a boolean, got {}", show(&v)),
            )
        })
    }

    /// An exact decimal amount (string or number, never through f64).
    pub(crate) fn opt_money(&mut self, field: &str) -> Result<Option<Amount>, RowError> {
        let Some(v) = self.take(field) else {
            return Ok(None);
        };
        let text = match &v {
            Value::String(s) => s.clone(),
            // With serde_json's arbitrary_precision, a number keeps its exact text.
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        Amount::parse(&text).map(Some).map_err(|e| {
            RowError::new(
                &self.name(field),
                format!("expected a decimal amount, got {} ({e})", show(&v)),
            )
        })
    }

    pub(crate) fn key_money(&mut self, field: &str) -> Result<Amount, RowError> {
        self.opt_money(field)?
            .ok_or_else(|| RowError::new(&self.name(field), "missing"))
    }

    pub(crate) fn opt_id_list(&mut self, field: &str) -> Result<Option<Vec<i64>>, RowError> {
        match self.take(field) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| self.to_int(field, v))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(RowError::new(
                &self.name(field),
                format!("expected a list of ids, got {}", show(&other)),
            )),
        }
    }

    pub(crate) fn opt_str_list(&mut self, field: &str) -> Result<Option<Vec<String>>, RowError> {
        match self.take(field) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| self.to_text(field, v))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(RowError::new(
                &self.name(field),
                format!("expected a list of strings, got {}", show(&other)),
            )),
        }
    }

    /// Any JSON value, kept as JSON text.
    pub(crate) fn opt_json(&mut self, field: &str) -> Option<String> {
        self.take(field).map(|v| v.to_string())
    }

    /// A nested object, read with its own reader; give it back with [`RowReader::put_back`]
    /// so that its unknown fields end up in `_extra`.
    pub(crate) fn opt_object(&mut self, field: &str) -> Result<Option<RowReader>, RowError> {
        match self.take(field) {
            None => Ok(None),
            Some(Value::Object(fields)) => Ok(Some(RowReader {
                fields,
                path: format!("{}{field}.", self.path),
            })),
            Some(other) => Err(RowError::new(
                &self.name(field),
                format!("expected an object, got {}", show(&other)),
            )),
        }
    }

    /// Returns what a nested reader did not consume, under its field name.
    pub(crate) fn put_back(&mut self, field: &str, nested: RowReader) {
        if !nested.fields.is_empty() {
            self.fields
                .insert(field.to_string(), Value::Object(nested.fields));
        }
    }

    /// The fields nobody took, as JSON text for `_extra` (`None` when there are none).
    pub(crate) fn finish(self) -> Option<String> {
        (!self.fields.is_empty()).then(|| Value::Object(self.fields).to_string())
    }
}

/// UNIX seconds from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z: a date every column
/// type, partition name and reader of the warehouse, the mirror and the lake can hold.
pub(crate) const TIMESTAMP_RANGE: std::ops::RangeInclusive<i64> = -62_135_596_800..=253_402_300_799;

/// Digits only (a sign and a zero fraction allowed): an integer, whatever its size.
fn is_integral(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let int = match s.split_once('.') {
        Some((int, frac)) if frac.bytes().all(|b| b == b'0') => int,
        Some(_) => return false,
        None => s,
    };
    !int.is_empty() && int.bytes().all(|b| b.is_ascii_digit())
}

/// `"123"`, `"-5"`, `"12.0"` as an integer; `"1.5"` is not one.
fn integral_text(s: &str) -> Option<i64> {
    if let Ok(v) = s.parse::<i64>() {
        return Some(v);
    }
    let (int, frac) = s.split_once('.')?;
    (frac.bytes().all(|b| b == b'0') && !int.is_empty()).then(|| int.parse().ok())?
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_as_numbers_or_strings() {
        let mut r = RowReader::new(json!({"a": 5, "b": "6", "c": "7.0", "d": "x", "e": 1.5}))
            .expect("object");
        assert_eq!(r.key_id("a"), Ok(5));
        assert_eq!(r.key_id("b"), Ok(6));
        assert_eq!(r.key_id("c"), Ok(7));
        assert_eq!(
            r.key_id("d").map_err(|e| e.to_string()),
            Err("field `d`: expected an integer, got \"x\"".to_string())
        );
        assert!(r.key_id("e").is_err());
        assert_eq!(
            r.key_id("zz").map_err(|e| e.to_string()),
            Err("field `zz`: missing".to_string())
        );
    }

    #[test]
    fn dates_outside_years_1_to_9999_and_ids_beyond_i64_are_row_errors() {
        let row: Value = serde_json::from_str(
            r#"{"far": 1000000000000000, "before": -100000000000000, "first": -62135596800,
               "last": "253402300799", "big": 99999999999999999999, "big_s": "-99999999999999999999",
               "m": {"start": 253402300800}}"#,
        )
        .expect("json");
        let mut r = RowReader::new(row).expect("object");
        fn reason<T>(e: Result<T, RowError>) -> Option<String> {
            e.map_err(|e| e.to_string()).err()
        }
        assert_eq!(
            reason(r.key_timestamp("far")),
            Some("field `far`: 1000000000000000 is a date outside years 1 to 9999".into())
        );
        assert!(reason(r.opt_timestamp("before")).is_some());
        assert_eq!(r.key_timestamp("first"), Ok(-62_135_596_800));
        assert_eq!(r.opt_timestamp("last"), Ok(Some(253_402_300_799)));
        assert_eq!(
            reason(r.key_id("big")),
            Some("field `big`: 99999999999999999999 is beyond a 64-bit integer".into())
        );
        assert!(reason(r.opt_id("big_s")).is_some_and(|e| e.contains("beyond a 64-bit")));
        let mut m = r.opt_object("m").expect("ok").expect("some");
        assert_eq!(
            m.opt_timestamp("start").map_err(|e| e.field),
            Err("m.start".to_string())
        );
    }

    #[test]
    fn money_is_exact_from_strings_and_numbers() {
        let row: Value = serde_json::from_str(
            r#"{"s": "398.60636332000007", "n": 398.60636332000007, "bad": "12,5"}"#,
        )
        .expect("json");
        let mut r = RowReader::new(row).expect("object");
        let s = r.opt_money("s").expect("s").expect("some");
        let n = r.opt_money("n").expect("n").expect("some");
        assert_eq!(s.to_string(), "398.60636332000007");
        assert_eq!(n, s);
        assert!(r.opt_money("bad").is_err());
    }

    #[test]
    fn unknown_fields_and_nested_leftovers_go_to_extra() {
        let mut r = RowReader::new(
            json!({"id": 1, "new_field": [1], "options": {"known": true, "later": "x"}}),
        )
        .expect("object");
        assert_eq!(r.key_id("id"), Ok(1));
        let mut opts = r.opt_object("options").expect("ok").expect("some");
        assert_eq!(opts.opt_bool("known"), Ok(Some(true)));
        r.put_back("options", opts);
        let extra: Value = serde_json::from_str(&r.finish().expect("extra")).expect("json");
        assert_eq!(extra, json!({"new_field": [1], "options": {"later": "x"}}));
    }

    #[test]
    fn nested_errors_name_the_path() {
        let mut r = RowReader::new(json!({"membership": {"start": "soon"}})).expect("object");
        let mut m = r.opt_object("membership").expect("ok").expect("some");
        assert_eq!(
            m.opt_timestamp("start").map_err(|e| e.field),
            Err("membership.start".to_string())
        );
    }

    #[test]
    fn null_is_absent_and_bools_are_tolerant() {
        let mut r =
            RowReader::new(json!({"a": null, "b": 0, "c": "true", "d": 2})).expect("object");
        assert_eq!(r.opt_str("a"), Ok(None));
        assert_eq!(r.opt_bool("b"), Ok(Some(false)));
        assert_eq!(r.opt_bool("c"), Ok(Some(true)));
        assert!(r.opt_bool("d").is_err());
        assert_eq!(r.finish(), None);
    }
}
