//! "Now", for everything that reads the wall clock: run timestamps, the simulator's data
//! and current period, the reports' current period, `verify`'s windows.
//!
//! The clock is the system's, unless `TGM_NOW` pins it: the process then starts at that
//! instant and time runs on from there at the normal rate (a frozen clock would give two
//! runs the same timestamp). Tests pin it so that no test depends on today's date; a
//! user can pin it to replay the simulator and the reports as of another day. Every
//! process started with the same `TGM_NOW` reading agrees with its parent to within the
//! start-up time, so a test passes its own pinned reading to the binary it runs.

use std::sync::OnceLock;

use chrono::{DateTime, SecondsFormat, Utc};

/// The environment variable that pins the clock: UNIX seconds or RFC 3339.
pub const PIN_VAR: &str = "TGM_NOW";

/// The instant the library's own unit tests run at (2026-06-17T12:00:00Z), whatever the
/// date: mid-month and mid-day, so no period boundary is near.
pub const TEST_NOW_SECS: i64 = 1_781_697_600;

/// Microseconds added to the system clock; fixed at the first reading of the clock.
static OFFSET_MICROS: OnceLock<i64> = OnceLock::new();

/// A `TGM_NOW` that is neither UNIX seconds nor RFC 3339.
#[derive(Debug, thiserror::Error)]
#[error("{PIN_VAR}={value:?} is not a time: give UNIX seconds or RFC 3339 (2026-06-17T12:00:00Z)")]
pub struct ClockError {
    pub value: String,
}

fn system_micros() -> i64 {
    Utc::now().timestamp_micros()
}

/// Parses a pinned time: UNIX seconds, or RFC 3339 (fractions of a second kept).
pub(crate) fn parse_pin(value: &str) -> Result<i64, ClockError> {
    let text = value.trim();
    let micros = match text.parse::<i64>() {
        Ok(secs) => secs.checked_mul(1_000_000),
        Err(_) => DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.timestamp_micros()),
    };
    micros.ok_or_else(|| ClockError {
        value: value.to_string(),
    })
}

fn pin_from_env() -> Result<Option<i64>, ClockError> {
    match std::env::var(PIN_VAR) {
        Ok(value) if !value.trim().is_empty() => parse_pin(&value).map(Some),
        _ => Ok(None),
    }
}

/// Where the clock stands when nothing pinned it: the system clock, except in the
/// library's unit tests, which run at `TEST_NOW_SECS`.
fn default_offset() -> i64 {
    if cfg!(test) {
        TEST_NOW_SECS * 1_000_000 - system_micros()
    } else {
        0
    }
}

fn offset() -> i64 {
    *OFFSET_MICROS.get_or_init(|| match pin_from_env() {
        Ok(Some(pinned)) => pinned - system_micros(),
        // An unreadable TGM_NOW is refused by `init_from_env` at start-up; a library
        // caller that skipped it gets the system clock.
        Ok(None) | Err(_) => default_offset(),
    })
}

/// Reads `TGM_NOW` once, at start-up, so a bad value is an error naming it instead of
/// a silent fall-back to the system clock.
pub fn init_from_env() -> Result<(), ClockError> {
    let pinned = pin_from_env()?;
    let _ = OFFSET_MICROS.get_or_init(|| match pinned {
        Some(micros) => micros - system_micros(),
        None => default_offset(),
    });
    Ok(())
}

/// Pins this process's clock to `default_secs` now, unless `TGM_NOW` says otherwise (so a
/// whole test suite can be rerun at another date) or the clock was already read. Returns
/// the clock's reading.
pub fn pin_unless_set(default_secs: i64) -> i64 {
    let _ = OFFSET_MICROS.get_or_init(|| match pin_from_env() {
        Ok(Some(pinned)) => pinned - system_micros(),
        Ok(None) | Err(_) => default_secs * 1_000_000 - system_micros(),
    });
    now_secs()
}

/// Whether this process's clock differs from the system's (by more than a second).
pub fn is_pinned() -> bool {
    offset().abs() >= 1_000_000
}

/// Now, in microseconds since the UNIX epoch.
pub(crate) fn now_micros() -> i64 {
    system_micros() + offset()
}

/// Now, in whole seconds since the UNIX epoch.
pub(crate) fn now_secs() -> i64 {
    now_micros().div_euclid(1_000_000)
}

/// Now as `TGM_NOW` takes it, to hand this process's clock to a child process.
pub fn now_for_child() -> String {
    DateTime::<Utc>::from_timestamp_micros(now_micros())
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true))
        .unwrap_or_else(|| now_secs().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_tests_run_at_the_test_instant_or_the_one_given() {
        let start = match pin_from_env() {
            Ok(Some(micros)) => micros.div_euclid(1_000_000),
            _ => TEST_NOW_SECS,
        };
        let now = now_secs();
        assert!(
            (start..start + 3_600).contains(&now),
            "clock reads {now}, want about {start}"
        );
        assert!(is_pinned());
    }

    #[test]
    fn pins_parse_as_seconds_or_rfc3339() {
        assert_eq!(parse_pin("1781697600").ok(), Some(1_781_697_600_000_000));
        assert_eq!(
            parse_pin("2026-06-17T12:00:00.25Z").ok(),
            Some(1_781_697_600_250_000)
        );
        assert_eq!(
            parse_pin("2026-06-17T14:00:00+02:00").ok(),
            Some(1_781_697_600_000_000)
        );
        let err = parse_pin("yesterday").map(|_| ()).unwrap_err();
        assert!(err.to_string().contains("TGM_NOW=\"yesterday\""), "{err}");
    }

    #[test]
    fn a_child_reads_the_parents_time_back() {
        let handed = now_for_child();
        let micros = parse_pin(&handed).expect("parses");
        assert!((micros - now_micros()).abs() < 1_000_000, "{handed}");
    }
}
