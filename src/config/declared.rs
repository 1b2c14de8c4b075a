//! Every setting, declared once: its key in `tgm-sync.toml`, environment variable, flag,
//! default, check and meaning. The config file's struct ([`FileConfig`]), the clap flags
//! ([`SettingsArgs`]), the merge with defaults ([`Merged`]) and the README's
//! configuration table ([`readme_rows`]) all follow from the one list at the bottom; a
//! test fails when the README and the list differ.
//!
//! Adding a setting is one entry here (and its use in `config::resolve`).

use std::path::PathBuf;

use serde::Deserialize;

use super::{ConfigError, DEFAULT_BASE_URL, invalid};
use crate::bot_id::BotId;

/// One setting as the README's configuration table shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Declared {
    /// The key in `tgm-sync.toml`.
    pub key: &'static str,
    pub env: &'static str,
    /// The default as the README shows it.
    pub default: &'static str,
    /// What it means (also the flag's `--help`).
    pub meaning: &'static str,
}

impl Declared {
    /// The long flag: the key in kebab case, as clap derives it from the field name.
    pub fn flag(&self) -> String {
        format!("--{}", self.key.replace('_', "-"))
    }

    /// The setting's row of the README's configuration table.
    pub(crate) fn readme_row(&self) -> String {
        format!(
            "| `{}` | `{}` | `{}` | {} | {} |",
            self.key,
            self.env,
            self.flag(),
            self.default,
            self.meaning.trim()
        )
    }
}

/// A setting's value as an error message quotes it.
trait Shown {
    fn shown(&self) -> String;
}

impl Shown for PathBuf {
    fn shown(&self) -> String {
        self.display().to_string()
    }
}

macro_rules! shown_by_display {
    ($($ty:ty),+) => { $( impl Shown for $ty { fn shown(&self) -> String { self.to_string() } } )+ };
}
shown_by_display!(String, usize, u32, u64, f64, bool);

/// A path where an empty value is allowed (it means "off").
fn path_or_empty(text: &str) -> Result<PathBuf, String> {
    Ok(PathBuf::from(text))
}

/// One bot in the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotConfig {
    /// The bot's numeric id (positive, at most 9223372036854775807: the warehouse's `BIGINT`).
    pub bot_id: BotId,
    /// Key file for this bot; otherwise `TGM_API_KEY_<BOT_ID>`, the global `api_key_file`
    /// or `TGM_API_KEY`, in that order.
    pub api_key_file: Option<PathBuf>,
}

/// The type a setting has once merged: itself where it has a default, else an `Option`.
macro_rules! merged_type {
    ($ty:ty) => { Option<$ty> };
    ($ty:ty, $default:expr) => { $ty };
}

/// A setting's merged value: flag or environment, else file, else the default.
macro_rules! with_default {
    ($value:expr) => {
        $value
    };
    ($value:expr, $default:expr) => {
        $value.unwrap_or_else(|| $default)
    };
}

/// A merged value as an iterator over what is set: one value, or none for an unset option.
macro_rules! values {
    ($value:expr) => {
        $value.iter()
    };
    ($value:expr, $default:expr) => {
        std::iter::once(&$value)
    };
}

/// Checks a merged value where the setting declares a check.
macro_rules! check {
    ($key:ident, $values:expr) => {};
    ($key:ident, $values:expr, $ok:expr, $reason:literal) => {
        for v in $values {
            if !($ok)(v) {
                return Err(invalid(stringify!($key), v.shown(), $reason));
            }
        }
    };
}

macro_rules! settings {
    ($(
        $(#[doc = $doc:literal])+
        $key:ident: $ty:ty,
        env $env:literal, value $value_name:literal,
        default $shown:literal $(=> $default:expr)?
        $(, check $ok:expr, $reason:literal)?
        $(, parser $parser:expr)?
        $(, formerly $old:ident = $old_key:literal, flag $old_flag:literal, env $old_env:literal)?;
    )+) => {
        /// The configuration file as written. Unknown keys are an error.
        #[derive(Debug, Default, Clone, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct FileConfig {
            $( $(#[doc = $doc])+ $(#[serde(alias = $old_key)])? pub $key: Option<$ty>, )+
            /// Bots to sync. `TGM_BOT_ID` / `--bot-id` (comma-separated ids) replace this list.
            #[serde(default)]
            pub bots: Vec<BotConfig>,
            /// Streams to sync. `TGM_STREAMS` / `--streams` (comma-separated) replace this
            /// list. Default: all.
            pub streams: Option<Vec<String>>,
        }

        /// The same settings as flags, each with its environment variable: a flag wins
        /// over its variable (clap), and both over the config file.
        #[derive(Debug, Clone, Default, clap::Args)]
        pub struct SettingsArgs {
            $(
                $(#[doc = $doc])+
                #[arg(long, env = $env, value_name = $value_name $(, value_parser = $parser)?)]
                pub $key: Option<$ty>,
            )+
            $($(
                /// A renamed setting's old flag and variable, still read (hidden).
                #[arg(long = $old_flag, env = $old_env, hide = true)]
                pub $old: Option<$ty>,
            )?)+
            /// Bot ids, comma-separated (replaces the config file's [[bots]]).
            #[arg(long = "bot-id", env = "TGM_BOT_ID", value_name = "IDS")]
            pub bot_ids: Option<String>,
        }

        /// Every declared setting, merged (flag or environment, else file, else the
        /// default) and checked.
        #[derive(Debug, Clone, PartialEq)]
        pub struct Merged {
            $( pub $key: merged_type!($ty $(, $default)?), )+
        }

        impl Merged {
            /// Merges flags (with their environment variables) over the file, then defaults.
            pub fn merge(file: &FileConfig, args: &SettingsArgs) -> Merged {
                Merged {
                    $( $key: with_default!(
                        args.$key.clone()
                            $(.or_else(|| args.$old.clone()))?
                            .or_else(|| file.$key.clone())
                        $(, $default)?
                    ), )+
                }
            }

            /// Every default, as if nothing were set.
            pub fn defaults() -> Merged {
                Merged::merge(&FileConfig::default(), &SettingsArgs::default())
            }

            /// Runs each setting's declared check; the error names the key and value.
            pub fn checked(self) -> Result<Merged, ConfigError> {
                $( check!($key, values!(self.$key $(, $default)?) $(, $ok, $reason)?); )+
                self.places_apart()?;
                Ok(self)
            }
        }

        /// The declared settings, in the README's order.
        pub const DECLARED: &[Declared] = &[
            $( Declared {
                key: stringify!($key),
                env: $env,
                default: $shown,
                meaning: concat!($($doc),+),
            }, )+
        ];
    };
}

settings! {
    /// the DuckDB file
    warehouse: PathBuf, env "TGM_WAREHOUSE", value "FILE",
        default "`./tgm-warehouse.duckdb`" => PathBuf::from("tgm-warehouse.duckdb"),
        check |p: &PathBuf| !p.as_os_str().is_empty(), "expected a file path";
    /// DuckDB storage format a new warehouse file is written in: `v1.0.0` opens in every DuckDB from 1.0 on; a newer one (`v1.4.0` … `v2.0.0`, `latest`) needs that DuckDB or newer to open the file. An existing file keeps its format
    storage_version: String, env "TGM_STORAGE_VERSION", value "VERSION",
        default "`v1.0.0`" => crate::warehouse::open::DEFAULT_STORAGE_VERSION.to_string(),
        check |v: &String| v == "latest" || v.starts_with('v'), "expected a DuckDB version such as v1.0.0, or latest";
    /// root of the Parquet mirror; `""` turns it off
    parquet_dir: PathBuf, env "TGM_PARQUET_DIR", value "DIR",
        default "`./tgm-parquet`" => PathBuf::from("tgm-parquet"),
        parser path_or_empty;
    /// plain `http://` only to a loopback host
    base_url: String, env "TGM_BASE_URL", value "URL",
        default "`https://api.tgmembership.com`" => DEFAULT_BASE_URL.to_string();
    /// `v1`, or `legacy` for the unversioned API (members and reports only)
    api_version: String, env "TGM_API_VERSION", value "VERSION",
        default "`v1`" => "v1".to_string();
    /// file whose first line is the key (the key itself is never a flag: use `TGM_API_KEY`)
    api_key_file: PathBuf, env "TGM_API_KEY_FILE", value "FILE",
        default "—";
    /// pages of one stream requested at once (1–64); also how many `/orders/{key}` re-reads and `/revenue` requests for exchange rates are in flight, and twice it is the pages a stream's fetcher may hold ahead of its loader
    pages_in_flight: usize, env "TGM_PAGES_IN_FLIGHT", value "N",
        default "4" => 4,
        check |n: &usize| (1..=64).contains(n), "expected 1 to 64";
    /// bots synced at once (1–64), each with its own API client and its own failure; streams of one bot run at once too
    bots_in_flight: usize, env "TGM_BOTS_IN_FLIGHT", value "N",
        default "4" => 4,
        check |n: &usize| (1..=64).contains(n), "expected 1 to 64";
    /// requests per second per bot, at most; slows down further on HTTP 429
    max_rps: f64, env "TGM_MAX_RPS", value "RPS",
        default "none",
        check |r: &f64| r.is_finite() && *r > 0.0, "expected a positive number";
    /// one request, connect to last byte, in seconds (1–3600)
    timeout_secs: u64, env "TGM_TIMEOUT_SECS", value "SECS",
        default "30" => 30,
        check |s: &u64| (1..=3600).contains(s), "expected 1 to 3600";
    /// attempts per request, the first included (1–100)
    max_attempts: u32, env "TGM_MAX_ATTEMPTS", value "N",
        default "8" => 8,
        check |n: &u32| (1..=100).contains(n), "expected 1 to 100";
    /// time one request may spend waiting between retries, in seconds (backoff, `Retry-After` and the slow-down after 429s alike)
    max_retry_secs: u64, env "TGM_MAX_RETRY_SECS", value "SECS",
        default "120" => 120;
    /// how far behind the newest synced order each run reads again, in days
    orders_lookback_days: f64, env "TGM_ORDERS_LOOKBACK_DAYS", value "DAYS",
        default "3" => 3.0,
        check |d: &f64| d.is_finite() && (0.0..=3650.0).contains(d), "expected a number of days from 0 to 3650";
    /// orders get a full scan when the last is older, in days
    full_scan_max_age_days: f64, env "TGM_FULL_SCAN_MAX_AGE_DAYS", value "DAYS",
        default "7" => 7.0,
        check |d: &f64| d.is_finite() && (0.0..=3650.0).contains(d), "expected a number of days from 0 to 3650";
    /// old PENDING orders re-read by key per run, at most: those due on their schedule (an order's age in days, in runs since its status was last read, at most 32), most overdue first (formerly `pending_refetch_limit`, still read)
    pending_reread_limit: usize, env "TGM_PENDING_REREAD_LIMIT", value "N",
        default "50" => 50,
        formerly pending_refetch_limit = "pending_refetch_limit",
        flag "pending-refetch-limit", env "TGM_PENDING_REFETCH_LIMIT";
    /// `true`: each new COMPLETED order without `member_email` is re-read by key (`/orders/{order_key}`, the only answer that carries it): one request per new sale, every sale on a first sync
    fetch_member_emails: bool, env "TGM_FETCH_MEMBER_EMAILS", value "BOOL",
        default "false" => false;
    /// rows per Arrow batch appended to DuckDB (100–1000000)
    batch_rows: usize, env "TGM_BATCH_ROWS", value "N",
        default "20000" => 20_000,
        check |n: &usize| (100..=1_000_000).contains(n), "expected 100 to 1000000";
    /// where each table is also written as a Delta Lake table: `s3://bucket/prefix` (any S3-compatible store; credentials from the standard `AWS_*` variables and files) or `file:///path`; see "Lake output (Delta Lake)"
    lake_url: String, env "TGM_LAKE_URL", value "URL",
        default "none",
        check |u: &String| u.is_empty() || crate::lake::LakeUrl::parse(u).is_ok(), "expected s3://bucket/prefix or file:///absolute/path (no credentials in it)";
    /// one API answer's body, at most, in bytes (1024–4294967296); a larger body is an error naming the endpoint and the size, found while reading it
    max_response_bytes: u64, env "TGM_MAX_RESPONSE_BYTES", value "BYTES",
        default "67108864 (64 MiB)" => 64 * 1024 * 1024,
        check |n: &u64| (1024..=4 * 1024 * 1024 * 1024).contains(n), "expected 1024 to 4294967296";
    /// a run stops cleanly after this many seconds (no new request starts; the warehouse keeps what committed, the run is recorded and exits 9)
    run_deadline_secs: u64, env "TGM_RUN_DEADLINE_SECS", value "SECS",
        default "none",
        check |s: &u64| *s >= 1, "expected at least 1 second";
    /// share of a stream's live rows (0–1) a full scan may soft-delete in one run; more, or an empty answer where rows are live, is refused (kept, exit 3) unless `sync --allow-large-deletes`
    max_delete_share: f64, env "TGM_MAX_DELETE_SHARE", value "SHARE",
        default "0.5" => 0.5,
        check |d: &f64| d.is_finite() && (0.0..=1.0).contains(d), "expected a number from 0 to 1";
    /// rows a full scan may always soft-delete in one run, whatever the share (a floor for small tables)
    max_delete_rows_floor: u64, env "TGM_MAX_DELETE_ROWS_FLOOR", value "N",
        default "10" => 10;
    /// `tgm-sync lake vacuum` deletes files no longer in the Delta tables once they are this old, in days (0–3650); readers of older versions need them until then
    lake_retention_days: f64, env "TGM_LAKE_RETENTION_DAYS", value "DAYS",
        default "7" => 7.0,
        check |d: &f64| d.is_finite() && (0.0..=3650.0).contains(d), "expected a number of days from 0 to 3650";
}

/// The README's configuration table rows for the declared settings, in order.
pub fn readme_rows() -> Vec<String> {
    DECLARED.iter().map(Declared::readme_row).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_their_own_checks() {
        let d = Merged::defaults().checked().expect("defaults are valid");
        assert_eq!(d.pages_in_flight, 4);
        assert_eq!(d.bots_in_flight, 4);
        assert_eq!(d.max_rps, None);
        assert_eq!(d.base_url, DEFAULT_BASE_URL);
    }

    #[test]
    fn flags_win_over_the_file_and_checks_name_the_key() {
        let file = FileConfig {
            pages_in_flight: Some(2),
            batch_rows: Some(500),
            ..FileConfig::default()
        };
        let args = SettingsArgs {
            pages_in_flight: Some(65),
            ..SettingsArgs::default()
        };
        let merged = Merged::merge(&file, &args);
        assert_eq!((merged.pages_in_flight, merged.batch_rows), (65, 500));
        let err = merged.checked().expect_err("65 pages is too many");
        assert!(
            err.to_string().contains("pages_in_flight") && err.to_string().contains("65"),
            "{err}"
        );
    }

    /// A renamed setting's old key, flag and variable are still read; the new name wins.
    #[test]
    fn the_old_name_of_the_re_read_budget_is_still_read() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            settings: SettingsArgs,
        }
        let file: FileConfig =
            toml::from_str("pending_refetch_limit = 7").expect("the old key parses");
        let none = SettingsArgs::default();
        assert_eq!(Merged::merge(&file, &none).pending_reread_limit, 7);
        let old_flag = Cli::try_parse_from(["x", "--pending-refetch-limit", "9"]).expect("parses");
        assert_eq!(
            Merged::merge(&file, &old_flag.settings).pending_reread_limit,
            9
        );
        let both = Cli::try_parse_from([
            "x",
            "--pending-refetch-limit",
            "9",
            "--pending-reread-limit",
            "11",
        ])
        .expect("parses");
        assert_eq!(
            Merged::merge(&file, &both.settings).pending_reread_limit,
            11
        );
        let new_key: FileConfig =
            toml::from_str("pending_reread_limit = 3").expect("the new key parses");
        assert_eq!(Merged::merge(&new_key, &none).pending_reread_limit, 3);
    }

    #[test]
    fn every_declared_flag_and_variable_is_distinct() {
        let mut seen = std::collections::BTreeSet::new();
        for d in DECLARED {
            assert!(d.env.starts_with("TGM_"), "{}", d.env);
            assert_eq!(
                d.env,
                format!("TGM_{}", d.key.to_ascii_uppercase()),
                "variable of {}",
                d.key
            );
            assert!(seen.insert(d.env), "{} twice", d.env);
        }
    }
}
