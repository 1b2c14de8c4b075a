//! Exit codes: documented in the README and in `tgm-sync --help`.

use std::process::ExitCode;

/// What the process tells cron or systemd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: everything synced.
    Success = 0,
    /// 1: an unexpected failure (I/O, DuckDB); the message says what.
    Internal = 1,
    /// 2: bad configuration, flag or input value.
    Config = 2,
    /// 3: partial success: some streams failed or rows were rejected.
    Partial = 3,
    /// 4: the API refused the key (HTTP 401/403).
    Auth = 4,
    /// 5: another run (or program) holds the warehouse.
    Locked = 5,
    /// 6: the API could not be reached or kept failing.
    Unavailable = 6,
    /// 7: `verify` found differences between the warehouse and the API.
    Mismatch = 7,
    /// 8: the lake (object storage) refused the credentials or kept failing.
    Lake = 8,
    /// 9: the run deadline (`run_deadline_secs`) passed; the run stopped cleanly.
    Deadline = 9,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

/// The table for `--help`.
pub(crate) const EXIT_CODES_HELP: &str =
    "Exit codes (with several bots, a sync exits with its worst bot's code, 4 before 6 before 9 before 3):
  0  success
  1  unexpected failure (I/O, DuckDB)
  2  configuration or input error
  3  partial success (some streams failed, or rows were rejected)
  4  authentication failed (bad API key)
  5  warehouse locked by another run or program
  6  API unavailable (retries exhausted)
  7  verify found differences
  8  the lake (object storage) refused or failed
  9  the run deadline passed (run_deadline_secs); the run stopped cleanly";
