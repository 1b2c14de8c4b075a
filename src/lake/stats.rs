//! Delta file statistics (`numRecords`, `minValues`, `maxValues`, `nullCount`) from a
//! Parquet footer, for the `stats` field of an Add action.
//!
//! Readers skip files by these values, so each one must be a true bound: only exact
//! footer values are used, for the types whose JSON form every reader parses the same
//! way: longs, UTC timestamps (at millisecond precision, the minimum rounded down and
//! the maximum rounded up) and strings of at most [`MAX_STRING_STAT`] characters. Other
//! columns get a null count only; list columns get nothing (as Spark does).

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use parquet::basic::{LogicalType, TimeUnit};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::statistics::Statistics;
use serde_json::{Map, Value, json};

/// Longer strings (JSON text in `_extra`, long names) get no min/max: Spark truncates
/// them with rules of its own, and such columns are not filtered on.
pub(crate) const MAX_STRING_STAT: usize = 32;

/// A column's bounds across row groups.
#[derive(Debug, Clone, PartialEq)]
enum Bound {
    Long(i64),
    /// Microseconds since the epoch, UTC.
    Micros(i64),
    Text(String),
}

#[derive(Default)]
struct Column {
    nulls: u64,
    /// `None` once a row group lacks exact bounds for it.
    min: Option<Bound>,
    max: Option<Bound>,
    exact: bool,
    seen: bool,
}

/// The `stats` JSON of one data file.
pub(crate) fn delta_stats(metadata: &ParquetMetaData, rows: u64) -> String {
    let mut columns: BTreeMap<String, Column> = BTreeMap::new();
    let mut nested: Vec<String> = Vec::new();
    for row_group in metadata.row_groups() {
        for chunk in row_group.columns() {
            let parts = chunk.column_path().parts();
            let [name] = parts else {
                if let Some(first) = parts.first() {
                    nested.push(first.clone());
                }
                continue;
            };
            let column = columns.entry(name.clone()).or_insert_with(|| Column {
                exact: true,
                ..Column::default()
            });
            let Some(stats) = chunk.statistics() else {
                column.exact = false;
                continue;
            };
            match stats.null_count_opt() {
                Some(n) => column.nulls += n,
                None => column.exact = false,
            }
            let micros = chunk
                .column_descr()
                .logical_type_ref()
                .and_then(|t| match t {
                    LogicalType::Timestamp(ts) if ts.is_adjusted_to_u_t_c => Some(ts.unit),
                    _ => None,
                })
                .map(|unit| matches!(unit, TimeUnit::MICROS));
            let (min, max) = match bounds(stats, micros) {
                Some(b) => b,
                None => {
                    // A chunk of nulls only has no bounds and changes none.
                    if stats.null_count_opt() != Some(row_group.num_rows() as u64) {
                        column.min = None;
                        column.max = None;
                        column.seen = true;
                    }
                    continue;
                }
            };
            if !column.seen {
                column.min = Some(min);
                column.max = Some(max);
                column.seen = true;
            } else {
                column.min = lower(column.min.take(), min);
                column.max = upper(column.max.take(), max);
            }
        }
    }
    let mut min_values = Map::new();
    let mut max_values = Map::new();
    let mut null_count = Map::new();
    for (name, column) in columns {
        if nested.contains(&name) || !column.exact {
            continue;
        }
        null_count.insert(name.clone(), json!(column.nulls));
        if let (Some(min), Some(max)) = (column.min, column.max) {
            min_values.insert(name.clone(), to_json(&min, false));
            max_values.insert(name, to_json(&max, true));
        }
    }
    json!({
        "numRecords": rows,
        "minValues": Value::Object(min_values),
        "maxValues": Value::Object(max_values),
        "nullCount": Value::Object(null_count),
    })
    .to_string()
}

/// Exact bounds of one chunk in a type we publish; `micros`: `Some(is_micros)` for a UTC
/// timestamp column.
fn bounds(stats: &Statistics, micros: Option<bool>) -> Option<(Bound, Bound)> {
    if !stats.min_is_exact() || !stats.max_is_exact() {
        return None;
    }
    match stats {
        Statistics::Int64(s) => {
            let (min, max) = (*s.min_opt()?, *s.max_opt()?);
            match micros {
                None => Some((Bound::Long(min), Bound::Long(max))),
                Some(true) => Some((Bound::Micros(min), Bound::Micros(max))),
                Some(false) => None,
            }
        }
        Statistics::ByteArray(s) if micros.is_none() => {
            let min = s.min_opt()?.as_utf8().ok()?;
            let max = s.max_opt()?.as_utf8().ok()?;
            (min.chars().count() <= MAX_STRING_STAT && max.chars().count() <= MAX_STRING_STAT)
                .then(|| (Bound::Text(min.to_string()), Bound::Text(max.to_string())))
        }
        _ => None,
    }
}

fn lower(current: Option<Bound>, new: Bound) -> Option<Bound> {
    combine(current, new, std::cmp::Ordering::Less)
}

fn upper(current: Option<Bound>, new: Bound) -> Option<Bound> {
    combine(current, new, std::cmp::Ordering::Greater)
}

/// Keeps the bound further in direction `keep`; `None` stays `None` (unknown).
fn combine(current: Option<Bound>, new: Bound, keep: std::cmp::Ordering) -> Option<Bound> {
    let current = current?;
    let ordering = match (&new, &current) {
        (Bound::Long(a), Bound::Long(b)) | (Bound::Micros(a), Bound::Micros(b)) => a.cmp(b),
        // Delta compares strings by UTF-8 bytes, as Rust does.
        (Bound::Text(a), Bound::Text(b)) => a.as_bytes().cmp(b.as_bytes()),
        _ => return None,
    };
    Some(if ordering == keep { new } else { current })
}

fn to_json(bound: &Bound, is_max: bool) -> Value {
    match bound {
        Bound::Long(v) => json!(v),
        Bound::Text(s) => json!(s),
        Bound::Micros(us) => {
            // Delta writers give timestamps in milliseconds: round outwards so the
            // value stays a bound.
            let millis = if is_max {
                us.div_euclid(1000) + i64::from(us.rem_euclid(1000) != 0)
            } else {
                us.div_euclid(1000)
            };
            match DateTime::<Utc>::from_timestamp_millis(millis) {
                Some(t) => json!(t.to_rfc3339_opts(SecondsFormat::Millis, true)),
                None => Value::Null,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_bounds_round_outwards_to_milliseconds() {
        // 2026-06-17T12:00:00.000500Z: the minimum rounds down, the maximum up.
        let us = 1_781_697_600_000_500;
        assert_eq!(
            to_json(&Bound::Micros(us), false),
            json!("2026-06-17T12:00:00.000Z")
        );
        assert_eq!(
            to_json(&Bound::Micros(us), true),
            json!("2026-06-17T12:00:00.001Z")
        );
        let whole = 1_781_697_600_000_000;
        assert_eq!(
            to_json(&Bound::Micros(whole), true),
            json!("2026-06-17T12:00:00.000Z")
        );
    }

    #[test]
    fn bounds_combine_across_row_groups() {
        assert_eq!(
            lower(Some(Bound::Long(5)), Bound::Long(3)),
            Some(Bound::Long(3))
        );
        assert_eq!(
            upper(Some(Bound::Text("b".into())), Bound::Text("a".into())),
            Some(Bound::Text("b".into()))
        );
        assert_eq!(lower(None, Bound::Long(1)), None);
    }
}
