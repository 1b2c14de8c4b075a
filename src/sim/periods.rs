//! UTC calendar periods for the report endpoints: `YYYY-MM-DD`, `YYYY-MM`, `YYYY` labels
//! and the `[start, end)` bounds of the last N periods, newest first.

use chrono::{Datelike, NaiveDate};

/// The `interval_unit` of `/orders/count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntervalUnit {
    Day,
    Month,
    Year,
}

impl IntervalUnit {
    /// Case-insensitive `day` / `month` / `year`.
    pub(crate) fn parse(text: &str) -> Option<IntervalUnit> {
        match text.trim().to_ascii_lowercase().as_str() {
            "day" => Some(IntervalUnit::Day),
            "month" => Some(IntervalUnit::Month),
            "year" => Some(IntervalUnit::Year),
            _ => None,
        }
    }
}

/// One UTC calendar period: `start <= t < end`, in UNIX seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Period {
    pub label: String,
    pub start: i64,
    pub end: i64,
}

const DAY: i64 = 86_400;

/// The UTC date of a UNIX timestamp.
pub(crate) fn date_of(ts: i64) -> NaiveDate {
    let days = ts.div_euclid(DAY);
    NaiveDate::from_num_days_from_ce_opt(days_to_ce(days)).unwrap_or(NaiveDate::MIN)
}

/// Days since 0001-01-01 (CE day 1) for a count of days since 1970-01-01.
fn days_to_ce(days_since_epoch: i64) -> i32 {
    const EPOCH_CE: i64 = 719_163;
    i32::try_from(days_since_epoch + EPOCH_CE).unwrap_or(i32::MAX)
}

/// UNIX seconds of a date's midnight UTC.
pub(crate) fn midnight(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp())
        .unwrap_or(i64::MIN)
}

/// `YYYY-MM` month index (`year * 12 + month0`) of a timestamp.
pub(crate) fn month_index(ts: i64) -> i64 {
    let date = date_of(ts);
    i64::from(date.year()) * 12 + i64::from(date.month0())
}

/// The first day of the month with index `year * 12 + month0`.
fn month_start(index: i64) -> NaiveDate {
    let year = i32::try_from(index.div_euclid(12)).unwrap_or(i32::MAX);
    let month0 = index.rem_euclid(12) as u32;
    NaiveDate::from_ymd_opt(year, month0 + 1, 1).unwrap_or(NaiveDate::MIN)
}

/// The label of a month index: `2024-07`.
pub(crate) fn month_label(index: i64) -> String {
    let date = month_start(index);
    format!("{:04}-{:02}", date.year(), date.month())
}

/// The last `count` periods of `unit` up to and including the one holding `now`, newest
/// first.
pub(crate) fn last_periods(now: i64, unit: IntervalUnit, count: u32) -> Vec<Period> {
    let today = date_of(now);
    (0..i64::from(count))
        .map(|back| match unit {
            IntervalUnit::Day => {
                let day = today
                    .checked_sub_days(chrono::Days::new(back as u64))
                    .unwrap_or(NaiveDate::MIN);
                let start = midnight(day);
                Period {
                    label: format!("{:04}-{:02}-{:02}", day.year(), day.month(), day.day()),
                    start,
                    end: start + DAY,
                }
            }
            IntervalUnit::Month => {
                let index = month_index(now) - back;
                Period {
                    label: month_label(index),
                    start: midnight(month_start(index)),
                    end: midnight(month_start(index + 1)),
                }
            }
            IntervalUnit::Year => {
                let year = i64::from(today.year()) - back;
                Period {
                    label: format!("{year:04}"),
                    start: midnight(month_start(year * 12)),
                    end: midnight(month_start((year + 1) * 12)),
                }
            }
        })
        .collect()
}

/// `YYYYMMDD` of a timestamp, as order keys like `TGM_20240718_360140305` use it.
pub(crate) fn compact_date(ts: i64) -> String {
    let date = date_of(ts);
    format!("{:04}{:02}{:02}", date.year(), date.month(), date.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2024-07-18T06:23:54Z
    const NOW: i64 = 1_721_283_834;

    #[test]
    fn dates_and_labels() {
        assert_eq!(compact_date(NOW), "20240718");
        assert_eq!(compact_date(0), "19700101");
        assert_eq!(compact_date(-1), "19691231");
        assert_eq!(month_label(month_index(NOW)), "2024-07");
        assert_eq!(month_label(month_index(NOW) - 7), "2023-12");
    }

    #[test]
    fn last_months_cross_a_year_boundary() {
        let periods = last_periods(NOW, IntervalUnit::Month, 8);
        let labels: Vec<&str> = periods.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "2024-07", "2024-06", "2024-05", "2024-04", "2024-03", "2024-02", "2024-01",
                "2023-12"
            ]
        );
        assert_eq!(periods[0].start, 1_719_792_000); // 2024-07-01
        assert_eq!(periods[0].end, 1_722_470_400); // 2024-08-01
        assert_eq!(periods[5].start, 1_706_745_600); // 2024-02-01
        assert_eq!(periods[5].end, 1_709_251_200); // 2024-03-01 (leap year)
        for pair in periods.windows(2) {
            assert_eq!(pair[1].end, pair[0].start);
        }
    }

    #[test]
    fn last_days_and_years() {
        let days = last_periods(NOW, IntervalUnit::Day, 19);
        assert_eq!(days[0].label, "2024-07-18");
        assert_eq!(days[0].start, 1_721_260_800);
        assert_eq!(days[18].label, "2024-06-30");
        let years = last_periods(NOW, IntervalUnit::Year, 3);
        let labels: Vec<&str> = years.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(labels, ["2024", "2023", "2022"]);
        assert_eq!(years[1].start, 1_672_531_200); // 2023-01-01
        assert_eq!(years[1].end, 1_704_067_200); // 2024-01-01
    }

    #[test]
    fn midnight_is_a_period_start() {
        let start = 1_719_792_000; // 2024-07-01T00:00:00Z
        assert_eq!(
            last_periods(start, IntervalUnit::Month, 1)[0].label,
            "2024-07"
        );
        assert_eq!(
            last_periods(start - 1, IntervalUnit::Month, 1)[0].label,
            "2024-06"
        );
    }

    #[test]
    fn parses_units_case_insensitively() {
        assert_eq!(IntervalUnit::parse("Month"), Some(IntervalUnit::Month));
        assert_eq!(IntervalUnit::parse("DAY"), Some(IntervalUnit::Day));
        assert_eq!(IntervalUnit::parse("week"), None);
    }
}
