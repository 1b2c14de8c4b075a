//! Settings: the TOML file, then `TGM_*` environment variables, then command-line flags,
//! each overriding the one before; resolved and validated here, once.
//!
//! Every field of [`FileConfig`] is a configuration key; its doc comment is the user
//! documentation (the README's configuration reference follows it). The API key is never
//! a flag: it comes from `TGM_API_KEY` (or `TGM_API_KEY_<BOT_ID>`) or from a key file, so
//! that it does not show in `ps` or shell history, and systemd credentials work.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::api::ApiVersion;
use crate::api::retry::RetryPolicy;
use crate::secret::ApiKey;
use crate::streams::StreamName;

/// Default location of the configuration file.
pub const DEFAULT_CONFIG: &str = "tgm-sync.toml";
/// Default API base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.tgmembership.com";

/// The configuration file, as written by the user. Unknown keys are an error.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// DuckDB warehouse file. Env `TGM_WAREHOUSE`. Default `./tgm-warehouse.duckdb`.
    pub warehouse: Option<PathBuf>,
    /// Root of the Parquet mirror; `""` turns the mirror off. Env `TGM_PARQUET_DIR`.
    /// Default `./tgm-parquet`.
    pub parquet_dir: Option<PathBuf>,
    /// API base URL. Env `TGM_BASE_URL`. Default `https://api.tgmembership.com`.
    pub base_url: Option<String>,
    /// `v1` or `legacy`. Env `TGM_API_VERSION`. Default `v1`.
    pub api_version: Option<String>,
    /// File holding the API key (first line). Env `TGM_API_KEY_FILE`.
    pub api_key_file: Option<PathBuf>,
    /// Bots to sync. Env `TGM_BOT_ID` (comma-separated ids) replaces this list.
    #[serde(default)]
    pub bots: Vec<BotConfig>,
    /// Streams to sync. Env `TGM_STREAMS` (comma-separated). Default: all.
    pub streams: Option<Vec<String>>,
    /// Pages of one stream requested at once. Env `TGM_PAGES_IN_FLIGHT`. Default 4.
    pub pages_in_flight: Option<usize>,
    /// Requests per second per bot, at most; slows down further on HTTP 429.
    /// Env `TGM_MAX_RPS`. Default: no cap.
    pub max_rps: Option<f64>,
    /// Timeout of one request, in seconds. Env `TGM_TIMEOUT_SECS`. Default 30.
    pub timeout_secs: Option<u64>,
    /// Attempts per request, the first included. Env `TGM_MAX_ATTEMPTS`. Default 8.
    pub max_attempts: Option<u32>,
    /// Time one request may spend waiting between retries, in seconds.
    /// Env `TGM_MAX_RETRY_SECS`. Default 120.
    pub max_retry_secs: Option<u64>,
    /// Orders: how far behind the newest synced order each run looks again, in days.
    /// Env `TGM_ORDERS_LOOKBACK_DAYS`. Default 3.
    pub orders_lookback_days: Option<f64>,
    /// Orders: a full scan runs when the last one is older than this, in days.
    /// Env `TGM_FULL_SCAN_MAX_AGE_DAYS`. Default 7.
    pub full_scan_max_age_days: Option<f64>,
    /// Orders: still-PENDING orders older than the lookback re-fetched per run, at most.
    /// Env `TGM_PENDING_REFETCH_LIMIT`. Default 200.
    pub pending_refetch_limit: Option<usize>,
    /// Rows per Arrow batch loaded into DuckDB. Env `TGM_BATCH_ROWS`. Default 20000.
    pub batch_rows: Option<usize>,
}

/// One bot in the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotConfig {
    /// The bot's numeric id.
    pub bot_id: u64,
    /// Key file for this bot; otherwise `TGM_API_KEY_<BOT_ID>`, the global `api_key_file`
    /// or `TGM_API_KEY`, in that order.
    pub api_key_file: Option<PathBuf>,
}

/// Values from flags and the environment (clap merges the two: a flag wins over its env var).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub warehouse: Option<PathBuf>,
    pub parquet_dir: Option<PathBuf>,
    pub base_url: Option<String>,
    pub api_version: Option<String>,
    pub api_key_file: Option<PathBuf>,
    pub bot_ids: Option<String>,
    pub streams: Option<String>,
    pub pages_in_flight: Option<usize>,
    pub max_rps: Option<f64>,
    pub timeout_secs: Option<u64>,
    pub max_attempts: Option<u32>,
    pub max_retry_secs: Option<u64>,
    pub orders_lookback_days: Option<f64>,
    pub full_scan_max_age_days: Option<f64>,
    pub pending_refetch_limit: Option<usize>,
    pub batch_rows: Option<usize>,
}

/// A configuration problem; the message names the key, value or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid {key} `{value}`: {reason}")]
    Invalid {
        key: &'static str,
        value: String,
        reason: String,
    },
    #[error("no bot configured: set TGM_BOT_ID or add [[bots]] to {0}")]
    NoBots(PathBuf),
    #[error(
        "no API key for bot {bot_id}: set TGM_API_KEY (or TGM_API_KEY_{bot_id}) or api_key_file"
    )]
    NoKey { bot_id: u64 },
    #[error("cannot read API key file {path}: {source}")]
    KeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("API key file {0} is empty")]
    EmptyKeyFile(PathBuf),
}

/// One bot, ready to sync.
#[derive(Debug, Clone)]
pub struct BotSettings {
    pub bot_id: u64,
    pub api_key: ApiKey,
}

/// How the orders stream decides what to fetch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrdersSettings {
    pub lookback: Duration,
    pub full_scan_max_age: Duration,
    pub pending_refetch_limit: usize,
}

/// Settings as the rest of the program uses them: complete and validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub warehouse: PathBuf,
    pub parquet_dir: Option<PathBuf>,
    pub base_url: String,
    pub api_version: ApiVersion,
    pub bots: Vec<BotSettings>,
    pub streams: Vec<StreamName>,
    pub pages_in_flight: usize,
    pub max_rps: Option<f64>,
    pub timeout: Duration,
    pub retry: RetryPolicy,
    pub orders: OrdersSettings,
    pub batch_rows: usize,
    /// Warnings found while resolving (e.g. a key file readable by others).
    pub warnings: Vec<String>,
}

/// Reads the config file; a missing file is fine only when it was not asked for by name.
pub fn read_file(path: &Path, explicit: bool) -> Result<(FileConfig, Vec<String>), ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
            return Ok((FileConfig::default(), Vec::new()));
        }
        Err(source) => {
            return Err(ConfigError::ReadFile {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let mut warnings = Vec::new();
    if let Some(w) = world_readable_warning(path, "config file") {
        warnings.push(w);
    }
    let config: FileConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string().replace('\n', " ").trim().to_string(),
    })?;
    Ok((config, warnings))
}

/// Warns when a file holding or pointing at secrets can be read by other users.
fn world_readable_warning(path: &Path, what: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o044 != 0).then(|| {
        format!(
            "{what} {} is readable by other users (mode {:o}); consider chmod 600",
            path.display(),
            mode & 0o777
        )
    })
}

fn invalid(key: &'static str, value: impl ToString, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        key,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn positive_days(key: &'static str, days: f64) -> Result<Duration, ConfigError> {
    if !days.is_finite() || !(0.0..=3650.0).contains(&days) {
        return Err(invalid(
            key,
            days,
            "expected a number of days from 0 to 3650",
        ));
    }
    Ok(Duration::from_secs_f64(days * 86_400.0))
}

/// Parses a comma-separated list of bot ids.
pub fn parse_bot_ids(text: &str) -> Result<Vec<u64>, ConfigError> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.parse::<u64>() {
            Ok(id) if id > 0 => Ok(id),
            _ => Err(invalid("bot id", s, "expected a positive integer")),
        })
        .collect()
}

/// Parses stream names (`orders,members`).
pub fn parse_streams(names: &[String]) -> Result<Vec<StreamName>, ConfigError> {
    let mut streams = Vec::new();
    for name in names {
        let stream = name
            .trim()
            .parse::<StreamName>()
            .map_err(|reason| invalid("stream", name, &reason))?;
        if !streams.contains(&stream) {
            streams.push(stream);
        }
    }
    Ok(streams)
}

/// Everything the environment may hold that is not a clap flag: the API keys.
pub trait KeySource {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl KeySource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

/// Merges file and overrides into validated settings, reading key files.
pub fn resolve(
    config_path: &Path,
    file: FileConfig,
    over: Overrides,
    env: &dyn KeySource,
    require_bots: bool,
) -> Result<Settings, ConfigError> {
    let mut warnings = Vec::new();
    let warehouse = over
        .warehouse
        .or(file.warehouse)
        .unwrap_or_else(|| PathBuf::from("tgm-warehouse.duckdb"));
    if warehouse.as_os_str().is_empty() {
        return Err(invalid("warehouse", "", "expected a file path"));
    }
    let parquet_dir = over
        .parquet_dir
        .or(file.parquet_dir)
        .unwrap_or_else(|| PathBuf::from("tgm-parquet"));
    let parquet_dir = (!parquet_dir.as_os_str().is_empty()).then_some(parquet_dir);
    let base_url = over
        .base_url
        .or(file.base_url)
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
    let api_version = match over.api_version.or(file.api_version) {
        Some(v) => v
            .parse::<ApiVersion>()
            .map_err(|reason| invalid("api_version", &v, &reason))?,
        None => ApiVersion::V1,
    };
    let streams = match over.streams {
        Some(list) => parse_streams(&list.split(',').map(str::to_string).collect::<Vec<_>>())?,
        None => match file.streams {
            Some(list) => parse_streams(&list)?,
            // The legacy API has no orders, projects, coupons or payment methods list.
            None if api_version == ApiVersion::Legacy => {
                vec![
                    StreamName::Plans,
                    StreamName::Members,
                    StreamName::UsersCount,
                ]
            }
            None => StreamName::ALL.to_vec(),
        },
    };
    if streams.is_empty() {
        return Err(invalid("streams", "", "name at least one stream"));
    }
    let pages_in_flight = over.pages_in_flight.or(file.pages_in_flight).unwrap_or(4);
    if !(1..=64).contains(&pages_in_flight) {
        return Err(invalid(
            "pages_in_flight",
            pages_in_flight,
            "expected 1 to 64",
        ));
    }
    let max_rps = over.max_rps.or(file.max_rps);
    if let Some(rps) = max_rps
        && (!rps.is_finite() || rps <= 0.0)
    {
        return Err(invalid("max_rps", rps, "expected a positive number"));
    }
    let timeout_secs = over.timeout_secs.or(file.timeout_secs).unwrap_or(30);
    if !(1..=3600).contains(&timeout_secs) {
        return Err(invalid("timeout_secs", timeout_secs, "expected 1 to 3600"));
    }
    let max_attempts = over.max_attempts.or(file.max_attempts).unwrap_or(8);
    if !(1..=100).contains(&max_attempts) {
        return Err(invalid("max_attempts", max_attempts, "expected 1 to 100"));
    }
    let max_retry_secs = over.max_retry_secs.or(file.max_retry_secs).unwrap_or(120);
    let retry = RetryPolicy {
        max_attempts,
        max_elapsed: Duration::from_secs(max_retry_secs),
        ..RetryPolicy::default()
    };
    let orders = OrdersSettings {
        lookback: positive_days(
            "orders_lookback_days",
            over.orders_lookback_days
                .or(file.orders_lookback_days)
                .unwrap_or(3.0),
        )?,
        full_scan_max_age: positive_days(
            "full_scan_max_age_days",
            over.full_scan_max_age_days
                .or(file.full_scan_max_age_days)
                .unwrap_or(7.0),
        )?,
        pending_refetch_limit: over
            .pending_refetch_limit
            .or(file.pending_refetch_limit)
            .unwrap_or(200),
    };
    let batch_rows = over.batch_rows.or(file.batch_rows).unwrap_or(20_000);
    if !(100..=1_000_000).contains(&batch_rows) {
        return Err(invalid("batch_rows", batch_rows, "expected 100 to 1000000"));
    }

    // Bots: TGM_BOT_ID / --bot-id replace the file's list.
    let global_key_file = over.api_key_file.or(file.api_key_file);
    let bot_configs: Vec<BotConfig> = match over.bot_ids {
        Some(ids) => parse_bot_ids(&ids)?
            .into_iter()
            .map(|bot_id| {
                let api_key_file = file
                    .bots
                    .iter()
                    .find(|b| b.bot_id == bot_id)
                    .and_then(|b| b.api_key_file.clone());
                BotConfig {
                    bot_id,
                    api_key_file,
                }
            })
            .collect(),
        None => file.bots,
    };
    if bot_configs.iter().any(|b| b.bot_id == 0) {
        return Err(invalid("bot_id", 0, "expected a positive integer"));
    }
    if require_bots && bot_configs.is_empty() {
        return Err(ConfigError::NoBots(config_path.to_path_buf()));
    }
    let mut bots = Vec::new();
    for bot in bot_configs {
        if bots.iter().any(|b: &BotSettings| b.bot_id == bot.bot_id) {
            continue;
        }
        let key = find_key(&bot, global_key_file.as_deref(), env, &mut warnings)?;
        bots.push(BotSettings {
            bot_id: bot.bot_id,
            api_key: key,
        });
    }
    Ok(Settings {
        warehouse,
        parquet_dir,
        base_url,
        api_version,
        bots,
        streams,
        pages_in_flight,
        max_rps,
        timeout: Duration::from_secs(timeout_secs),
        retry,
        orders,
        batch_rows,
        warnings,
    })
}

fn find_key(
    bot: &BotConfig,
    global_key_file: Option<&Path>,
    env: &dyn KeySource,
    warnings: &mut Vec<String>,
) -> Result<ApiKey, ConfigError> {
    if let Some(path) = &bot.api_key_file {
        return read_key_file(path, warnings);
    }
    if let Some(key) = env.var(&format!("TGM_API_KEY_{}", bot.bot_id)) {
        return Ok(ApiKey::new(key));
    }
    if let Some(path) = global_key_file {
        return read_key_file(path, warnings);
    }
    if let Some(key) = env.var("TGM_API_KEY") {
        return Ok(ApiKey::new(key));
    }
    Err(ConfigError::NoKey { bot_id: bot.bot_id })
}

fn read_key_file(path: &Path, warnings: &mut Vec<String>) -> Result<ApiKey, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::KeyFile {
        path: path.to_path_buf(),
        source,
    })?;
    let key = text.lines().next().unwrap_or("").trim().to_string();
    if key.is_empty() {
        return Err(ConfigError::EmptyKeyFile(path.to_path_buf()));
    }
    if let Some(w) = world_readable_warning(path, "API key file") {
        warnings.push(w);
    }
    Ok(ApiKey::new(key))
}

/// Pretty names for the keys of an environment, for `--help` texts and the README.
pub fn env_vars() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("TGM_CONFIG", "config file path"),
        ("TGM_WAREHOUSE", "warehouse"),
        ("TGM_PARQUET_DIR", "parquet_dir"),
        ("TGM_BASE_URL", "base_url"),
        ("TGM_API_VERSION", "api_version"),
        ("TGM_API_KEY", "the API key (all bots)"),
        ("TGM_API_KEY_<BOT_ID>", "the API key of one bot"),
        ("TGM_API_KEY_FILE", "api_key_file"),
        ("TGM_BOT_ID", "bots (comma-separated ids)"),
        ("TGM_STREAMS", "streams"),
        ("TGM_PAGES_IN_FLIGHT", "pages_in_flight"),
        ("TGM_MAX_RPS", "max_rps"),
        ("TGM_TIMEOUT_SECS", "timeout_secs"),
        ("TGM_MAX_ATTEMPTS", "max_attempts"),
        ("TGM_MAX_RETRY_SECS", "max_retry_secs"),
        ("TGM_ORDERS_LOOKBACK_DAYS", "orders_lookback_days"),
        ("TGM_FULL_SCAN_MAX_AGE_DAYS", "full_scan_max_age_days"),
        ("TGM_PENDING_REFETCH_LIMIT", "pending_refetch_limit"),
        ("TGM_BATCH_ROWS", "batch_rows"),
    ])
}

impl Settings {
    /// The API client settings for one of the configured bots.
    pub fn client_settings(&self, bot: &BotSettings) -> crate::api::ClientSettings {
        crate::api::ClientSettings {
            base_url: self.base_url.clone(),
            bot_id: bot.bot_id,
            api_key: bot.api_key.clone(),
            api_version: self.api_version,
            timeout: self.timeout,
            retry: self.retry,
            max_rps: self.max_rps,
        }
    }

    /// Settings with every default, for one bot: the demo, tests and benchmarks.
    pub fn with_defaults(
        base_url: impl Into<String>,
        bot: BotSettings,
        warehouse: PathBuf,
        parquet_dir: Option<PathBuf>,
    ) -> Settings {
        Settings {
            warehouse,
            parquet_dir,
            base_url: base_url.into(),
            api_version: ApiVersion::V1,
            bots: vec![bot],
            streams: StreamName::ALL.to_vec(),
            pages_in_flight: 4,
            max_rps: None,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            orders: OrdersSettings {
                lookback: Duration::from_secs(3 * 86_400),
                full_scan_max_age: Duration::from_secs(7 * 86_400),
                pending_refetch_limit: 200,
            },
            batch_rows: 20_000,
            warnings: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Env(Vec<(&'static str, &'static str)>);
    impl KeySource for Env {
        fn var(&self, name: &str) -> Option<String> {
            self.0
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    fn parse(text: &str) -> Result<FileConfig, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn legacy_defaults_to_the_streams_it_has() {
        let env = Env(vec![("TGM_API_KEY", "legacy-key-1")]);
        let over = Overrides {
            bot_ids: Some("9".into()),
            api_version: Some("legacy".into()),
            ..Overrides::default()
        };
        let s =
            resolve(Path::new("c.toml"), FileConfig::default(), over, &env, true).expect("valid");
        assert_eq!(
            s.streams,
            [
                StreamName::Plans,
                StreamName::Members,
                StreamName::UsersCount
            ]
        );
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = parse("warehose = 'x'").expect_err("unknown key");
        assert!(err.to_string().contains("warehose"), "{err}");
    }

    #[test]
    fn flags_and_env_override_the_file() {
        let file = parse("warehouse = 'file.duckdb'\npages_in_flight = 2\n[[bots]]\nbot_id = 5")
            .expect("valid");
        let over = Overrides {
            warehouse: Some("flag.duckdb".into()),
            ..Overrides::default()
        };
        let env = Env(vec![("TGM_API_KEY", "config-test-key")]);
        let s = resolve(Path::new("c.toml"), file, over, &env, true).expect("valid");
        assert_eq!(s.warehouse, PathBuf::from("flag.duckdb"));
        assert_eq!(s.pages_in_flight, 2);
        assert_eq!(s.bots.len(), 1);
        assert_eq!(s.bots[0].api_key.expose(), "config-test-key");
        assert_eq!(s.streams, StreamName::ALL.to_vec());
    }

    #[test]
    fn per_bot_env_key_wins_over_global() {
        let env = Env(vec![
            ("TGM_API_KEY", "global-key-1"),
            ("TGM_API_KEY_7", "bot7-key-1"),
        ]);
        let over = Overrides {
            bot_ids: Some("7, 8".into()),
            ..Overrides::default()
        };
        let s =
            resolve(Path::new("c.toml"), FileConfig::default(), over, &env, true).expect("valid");
        assert_eq!(s.bots[0].api_key.expose(), "bot7-key-1");
        assert_eq!(s.bots[1].api_key.expose(), "global-key-1");
    }

    #[test]
    fn bad_values_name_themselves() {
        let env = Env(vec![("TGM_API_KEY", "k-123456")]);
        let cases = [
            (
                Overrides {
                    bot_ids: Some("12x".into()),
                    ..Overrides::default()
                },
                "12x",
            ),
            (
                Overrides {
                    bot_ids: Some("1".into()),
                    streams: Some("orders,bogus".into()),
                    ..Overrides::default()
                },
                "bogus",
            ),
            (
                Overrides {
                    bot_ids: Some("1".into()),
                    api_version: Some("v9".into()),
                    ..Overrides::default()
                },
                "v9",
            ),
            (
                Overrides {
                    bot_ids: Some("1".into()),
                    pages_in_flight: Some(0),
                    ..Overrides::default()
                },
                "pages_in_flight",
            ),
        ];
        for (over, needle) in cases {
            let err = resolve(Path::new("c.toml"), FileConfig::default(), over, &env, true)
                .expect_err("invalid");
            assert!(
                err.to_string().contains(needle),
                "{err} should name {needle}"
            );
        }
    }

    #[test]
    fn missing_key_and_missing_bots_are_errors() {
        let over = Overrides {
            bot_ids: Some("3".into()),
            ..Overrides::default()
        };
        let err = resolve(
            Path::new("c.toml"),
            FileConfig::default(),
            over,
            &Env(vec![]),
            true,
        )
        .expect_err("no key");
        assert!(matches!(err, ConfigError::NoKey { bot_id: 3 }));
        let err = resolve(
            Path::new("c.toml"),
            FileConfig::default(),
            Overrides::default(),
            &Env(vec![]),
            true,
        )
        .expect_err("no bots");
        assert!(matches!(err, ConfigError::NoBots(_)));
    }
}
