//! Flags shared by the commands that read the configuration: each has an environment
//! variable, and both override the configuration file.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::config::{self, ConfigError, Overrides, ProcessEnv, Settings};

/// A path, where an empty value is allowed (it means "off").
fn path_or_empty(text: &str) -> Result<PathBuf, String> {
    Ok(PathBuf::from(text))
}

/// Where the warehouse and the API are; overrides the config file.
#[derive(Debug, Clone, Default, Args)]
pub struct SettingsArgs {
    /// DuckDB warehouse file.
    #[arg(long, env = "TGM_WAREHOUSE", value_name = "FILE")]
    pub warehouse: Option<PathBuf>,
    /// Root of the Parquet mirror ("" turns it off).
    #[arg(long, env = "TGM_PARQUET_DIR", value_name = "DIR", value_parser = path_or_empty)]
    pub parquet_dir: Option<PathBuf>,
    /// API base URL.
    #[arg(long, env = "TGM_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,
    /// API version: v1 or legacy.
    #[arg(long, env = "TGM_API_VERSION", value_name = "VERSION")]
    pub api_version: Option<String>,
    /// File holding the API key (the key itself is never a flag: use TGM_API_KEY).
    #[arg(long, env = "TGM_API_KEY_FILE", value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,
    /// Bot ids, comma-separated (replaces the config file's [[bots]]).
    #[arg(long = "bot-id", env = "TGM_BOT_ID", value_name = "IDS")]
    pub bot_ids: Option<String>,
    /// Pages of one stream requested at once.
    #[arg(long, env = "TGM_PAGES_IN_FLIGHT", value_name = "N")]
    pub pages_in_flight: Option<usize>,
    /// Requests per second per bot, at most.
    #[arg(long, env = "TGM_MAX_RPS", value_name = "RPS")]
    pub max_rps: Option<f64>,
    /// Timeout of one request, in seconds.
    #[arg(long, env = "TGM_TIMEOUT_SECS", value_name = "SECS")]
    pub timeout_secs: Option<u64>,
    /// Attempts per request, the first included.
    #[arg(long, env = "TGM_MAX_ATTEMPTS", value_name = "N")]
    pub max_attempts: Option<u32>,
    /// Time one request may spend waiting between retries, in seconds.
    #[arg(long, env = "TGM_MAX_RETRY_SECS", value_name = "SECS")]
    pub max_retry_secs: Option<u64>,
    /// Orders: days behind the newest synced order that each run reads again.
    #[arg(long, env = "TGM_ORDERS_LOOKBACK_DAYS", value_name = "DAYS")]
    pub orders_lookback_days: Option<f64>,
    /// Orders: a full scan runs when the last one is older than this many days.
    #[arg(long, env = "TGM_FULL_SCAN_MAX_AGE_DAYS", value_name = "DAYS")]
    pub full_scan_max_age_days: Option<f64>,
    /// Orders: old PENDING orders re-fetched per run, at most.
    #[arg(long, env = "TGM_PENDING_REFETCH_LIMIT", value_name = "N")]
    pub pending_refetch_limit: Option<usize>,
    /// Rows per Arrow batch loaded into DuckDB.
    #[arg(long, env = "TGM_BATCH_ROWS", value_name = "N")]
    pub batch_rows: Option<usize>,
}

impl SettingsArgs {
    fn overrides(&self, streams: Option<String>) -> Overrides {
        Overrides {
            warehouse: self.warehouse.clone(),
            parquet_dir: self.parquet_dir.clone(),
            base_url: self.base_url.clone(),
            api_version: self.api_version.clone(),
            api_key_file: self.api_key_file.clone(),
            bot_ids: self.bot_ids.clone(),
            streams,
            pages_in_flight: self.pages_in_flight,
            max_rps: self.max_rps,
            timeout_secs: self.timeout_secs,
            max_attempts: self.max_attempts,
            max_retry_secs: self.max_retry_secs,
            orders_lookback_days: self.orders_lookback_days,
            full_scan_max_age_days: self.full_scan_max_age_days,
            pending_refetch_limit: self.pending_refetch_limit,
            batch_rows: self.batch_rows,
        }
    }

    /// Reads the config file (`--config`, default `./tgm-sync.toml`) and resolves settings.
    pub fn resolve(
        &self,
        config_path: Option<&Path>,
        streams: Option<String>,
        require_bots: bool,
    ) -> Result<Settings, ConfigError> {
        let explicit = config_path.is_some();
        let path = config_path
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(config::DEFAULT_CONFIG));
        let (file, mut warnings) = config::read_file(&path, explicit)?;
        let mut settings = config::resolve(
            &path,
            file,
            self.overrides(streams),
            &ProcessEnv,
            require_bots,
        )?;
        warnings.append(&mut settings.warnings);
        settings.warnings = warnings;
        for w in &settings.warnings {
            tracing::warn!("{w}");
        }
        Ok(settings)
    }

    /// Settings for commands that only read or write the warehouse: no key is needed.
    pub fn resolve_without_keys(
        &self,
        config_path: Option<&Path>,
    ) -> Result<LocalSettings, ConfigError> {
        let explicit = config_path.is_some();
        let path = config_path
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(config::DEFAULT_CONFIG));
        let (file, _) = config::read_file(&path, explicit)?;
        let bot_ids = match &self.bot_ids {
            Some(ids) => config::parse_bot_ids(ids)?,
            None => file.bots.iter().map(|b| b.bot_id).collect(),
        };
        Ok(LocalSettings {
            warehouse: self
                .warehouse
                .clone()
                .or(file.warehouse)
                .unwrap_or_else(|| PathBuf::from("tgm-warehouse.duckdb")),
            bot_ids,
        })
    }
}

/// What a warehouse-only command needs.
#[derive(Debug, Clone)]
pub struct LocalSettings {
    pub warehouse: PathBuf,
    pub bot_ids: Vec<u64>,
}
