//! How numbers and durations read on the progress lines: whole numbers with thousands
//! separators, rates rounded to a whole row, durations to a tenth of a second under a
//! minute and to the second past it. Pure functions, so the display is tested without a
//! terminal.

use std::time::Duration;

/// `7314` → `7,314`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Rows per second, rounded to a whole row: `7,314 rows/s`. Nothing before a rate can be
/// told (no rows yet, or no time elapsed).
pub fn rate(rows: u64, elapsed: Duration, unit: &str) -> String {
    let secs = elapsed.as_secs_f64();
    if rows == 0 || secs < 0.05 {
        return String::new();
    }
    let per_sec = (rows as f64 / secs).round();
    // A rate is never negative and stays far below u64::MAX, so the cast is exact.
    format!("{} {unit}/s", thousands(per_sec as u64))
}

/// `0.4s`, `12.3s`, `1m05s`, `1h02m`.
pub fn duration(d: Duration) -> String {
    let tenths = d.as_millis() / 100;
    if tenths < 600 {
        return format!("{}.{}s", tenths / 10, tenths % 10);
    }
    let secs = d.as_secs();
    if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
    }
}

/// Time left to reach `total` at the average rate so far: `ETA 3s`, or nothing when it
/// cannot be told (no total, no rows yet, or the total already reached).
pub(crate) fn eta(rows: u64, total: Option<u64>, elapsed: Duration) -> String {
    let Some(total) = total else {
        return String::new();
    };
    let secs = elapsed.as_secs_f64();
    if rows == 0 || rows >= total || secs < 0.05 {
        return String::new();
    }
    let left = (total - rows) as f64 * secs / rows as f64;
    let left = Duration::from_secs(left.ceil() as u64);
    let secs = left.as_secs();
    if secs < 60 {
        format!("ETA {secs}s")
    } else {
        format!("ETA {}", duration(left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_by_three() {
        let cases = [
            (0, "0"),
            (7, "7"),
            (999, "999"),
            (1_000, "1,000"),
            (13_232, "13,232"),
            (1_000_000, "1,000,000"),
            (u64::MAX, "18,446,744,073,709,551,615"),
        ];
        for (n, want) in cases {
            assert_eq!(thousands(n), want, "thousands({n})");
        }
    }

    #[test]
    fn rates_are_whole_rows_with_separators() {
        // The screen printed `7,314.087520188135/s`: the same rate reads
        // `7,314 rows/s`, and a fraction of a row rounds to the nearest whole one.
        assert_eq!(rate(14_628, Duration::from_secs(2), "rows"), "7,314 rows/s");
        assert_eq!(rate(14_629, Duration::from_secs(2), "rows"), "7,315 rows/s");
        assert_eq!(rate(20, Duration::from_millis(196), "rows"), "102 rows/s");
        assert_eq!(rate(0, Duration::from_secs(3), "rows"), "");
        assert_eq!(rate(5, Duration::ZERO, "rows"), "");
    }

    #[test]
    fn durations_read_like_a_clock() {
        let cases = [
            (Duration::from_millis(0), "0.0s"),
            (Duration::from_millis(449), "0.4s"),
            (Duration::from_millis(59_999), "59.9s"),
            (Duration::from_secs(65), "1m05s"),
            (Duration::from_secs(3_725), "1h02m"),
        ];
        for (d, want) in cases {
            assert_eq!(duration(d), want, "duration({d:?})");
        }
    }

    #[test]
    fn eta_from_the_average_rate() {
        // 5,000 of 20,000 rows in 2 s: 15,000 left at 2,500 rows/s = 6 s.
        assert_eq!(eta(5_000, Some(20_000), Duration::from_secs(2)), "ETA 6s");
        // 1,000 of 100,000 in 1 s: 99 s left.
        assert_eq!(
            eta(1_000, Some(100_000), Duration::from_secs(1)),
            "ETA 1m39s"
        );
        assert_eq!(eta(5_000, None, Duration::from_secs(2)), "");
        assert_eq!(eta(20_000, Some(20_000), Duration::from_secs(2)), "");
        assert_eq!(eta(0, Some(20_000), Duration::from_secs(2)), "");
    }
}
