//! Settings: the TOML file, then `TGM_*` environment variables, then command-line flags,
//! each overriding the one before; resolved and validated here, once.
//!
//! Each setting is declared once, in [`declared`]: the file's keys, the flags, their
//! environment variables, defaults, checks and the README's table follow from that list.
//! This module merges and checks them, and resolves what is not a plain value: the API
//! version, the streams, the bots and their keys. The API key is never
//! a flag: it comes from `TGM_API_KEY` (or `TGM_API_KEY_<BOT_ID>`) or from a key file, so
//! that it does not show in `ps` or shell history, and systemd credentials work.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::api::ApiVersion;
use crate::api::retry::RetryPolicy;
use crate::bot_id::BotId;
use crate::secret::ApiKey;
use crate::streams::StreamName;

/// Default location of the configuration file.
pub(crate) const DEFAULT_CONFIG: &str = "tgm-sync.toml";
/// Default API base URL.
pub(crate) const DEFAULT_BASE_URL: &str = "https://api.tgmembership.com";

mod declared;
mod keys;
pub(crate) mod places;

pub use declared::{BotConfig, DECLARED, Declared, FileConfig, Merged, SettingsArgs, readme_rows};
pub use keys::{KeySource, ProcessEnv};
use keys::{find_key, world_readable_warning};

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
    NoKey { bot_id: BotId },
    #[error("cannot read API key file {path}: {source}")]
    KeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("API key file {0} is empty")]
    EmptyKeyFile(PathBuf),
    #[error(
        "{first} {} and {second} {} overlap (one is inside the other): give each output a \
         place of its own",
        first_path.display(),
        second_path.display()
    )]
    Overlap {
        first: &'static str,
        first_path: PathBuf,
        second: &'static str,
        second_path: PathBuf,
    },
}

/// One bot, ready to sync.
#[derive(Debug, Clone)]
pub struct BotSettings {
    pub bot_id: BotId,
    pub api_key: ApiKey,
}

/// How the orders stream decides what to fetch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrdersSettings {
    pub lookback: Duration,
    pub full_scan_max_age: Duration,
    pub pending_reread_limit: usize,
    /// Re-read new COMPLETED orders by key for their `member_email`.
    pub fetch_member_emails: bool,
}

/// Settings as the rest of the program uses them: complete and validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub warehouse: PathBuf,
    /// The storage format a new warehouse file is written in (DuckDB's version name).
    pub storage_version: String,
    pub parquet_dir: Option<PathBuf>,
    pub base_url: String,
    pub api_version: ApiVersion,
    pub bots: Vec<BotSettings>,
    pub streams: Vec<StreamName>,
    pub pages_in_flight: usize,
    /// Bots synced at once.
    pub bots_in_flight: usize,
    pub max_rps: Option<f64>,
    pub timeout: Duration,
    pub retry: RetryPolicy,
    pub orders: OrdersSettings,
    pub batch_rows: usize,
    /// The Delta Lake output, when `lake_url` is set.
    pub lake: Option<LakeSettings>,
    /// One answer's body, at most, in bytes.
    pub max_response_bytes: u64,
    /// How long a run may take before it stops cleanly; `None`: no limit.
    pub run_deadline: Option<Duration>,
    /// How much a full scan may soft-delete in one run.
    pub delete_guard: crate::warehouse::merge::DeleteGuard,
    /// How many pages one read of a stream may take (not a declared setting: tests lower it).
    pub page_cap: crate::api::pager::PageCap,
    /// Warnings found while resolving (e.g. a key file readable by others).
    pub warnings: Vec<String>,
}

/// The lake's settings live with the lake (it does not import `config`); built here.
pub use crate::lake::LakeSettings;

impl LakeSettings {
    /// The lake output of checked settings; `None` when `lake_url` is unset or empty.
    pub(crate) fn from_merged(merged: &Merged) -> Option<LakeSettings> {
        merged
            .lake_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
            // Checked in `Merged::checked`: an unparseable URL never gets here.
            .and_then(|u| crate::lake::LakeUrl::parse(u).ok())
            .map(|url| LakeSettings {
                url,
                retention: days(merged.lake_retention_days),
            })
    }
}

impl Merged {
    /// The warehouse, the Parquet mirror and a `file://` lake may not lie one inside
    /// another (see [`places`]).
    fn places_apart(&self) -> Result<(), ConfigError> {
        let mut apart = vec![places::Place {
            setting: "warehouse",
            path: self.warehouse.clone(),
        }];
        if !self.parquet_dir.as_os_str().is_empty() {
            apart.push(places::Place {
                setting: "parquet_dir",
                path: self.parquet_dir.clone(),
            });
        }
        let lake_root = self
            .lake_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
            .and_then(|u| crate::lake::LakeUrl::parse(u).ok())
            .and_then(|lake| lake.local_root());
        if let Some(root) = lake_root {
            apart.push(places::Place {
                setting: "lake_url",
                path: root,
            });
        }
        places::check_apart(&apart)
    }
}

/// Reads the config file; a missing file is fine only when it was not asked for by name.
pub(crate) fn read_file(
    path: &Path,
    explicit: bool,
) -> Result<(FileConfig, Vec<String>), ConfigError> {
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

pub(crate) fn invalid(key: &'static str, value: impl ToString, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        key,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// Days as a duration; the declared check keeps them within 0..=3650.
fn days(days: f64) -> Duration {
    Duration::from_secs_f64(days.clamp(0.0, 3650.0) * 86_400.0)
}

/// Parses a comma-separated list of bot ids.
pub(crate) fn parse_bot_ids(text: &str) -> Result<Vec<BotId>, ConfigError> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<BotId>().map_err(|_| {
                invalid(
                    "bot id",
                    s,
                    "expected a positive integer of at most 9223372036854775807",
                )
            })
        })
        .collect()
}

/// Parses stream names (`orders,members`).
pub(crate) fn parse_streams(names: &[String]) -> Result<Vec<StreamName>, ConfigError> {
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

/// Merges file, environment and flags into validated settings, reading key files.
/// `streams` is the `--streams` / `TGM_STREAMS` list, which replaces the file's.
pub fn resolve(
    config_path: &Path,
    file: FileConfig,
    args: &SettingsArgs,
    streams: Option<String>,
    env: &dyn KeySource,
    require_bots: bool,
) -> Result<Settings, ConfigError> {
    let mut warnings = Vec::new();
    let merged = Merged::merge(&file, args).checked()?;
    let api_version = merged
        .api_version
        .parse::<ApiVersion>()
        .map_err(|reason| invalid("api_version", &merged.api_version, &reason))?;
    let streams = match streams {
        Some(list) => parse_streams(&list.split(',').map(str::to_string).collect::<Vec<_>>())?,
        None => match &file.streams {
            Some(list) => parse_streams(list)?,
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

    // Bots: TGM_BOT_ID / --bot-id replace the file's list.
    let bot_configs: Vec<BotConfig> = match &args.bot_ids {
        Some(ids) => parse_bot_ids(ids)?
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
    if require_bots && bot_configs.is_empty() {
        return Err(ConfigError::NoBots(config_path.to_path_buf()));
    }
    let mut bots = Vec::new();
    for bot in bot_configs {
        if bots.iter().any(|b: &BotSettings| b.bot_id == bot.bot_id) {
            continue;
        }
        let key = find_key(&bot, merged.api_key_file.as_deref(), env, &mut warnings)?;
        bots.push(BotSettings {
            bot_id: bot.bot_id,
            api_key: key,
        });
    }
    let mut settings = Settings::from_merged(merged, api_version, bots, streams);
    settings.warnings = warnings;
    Ok(settings)
}

impl Settings {
    /// Pages a stream's fetcher may hold ahead of its loader (the channel between them):
    /// twice `pages_in_flight`.
    pub(crate) fn pages_ahead_of_loader(&self) -> usize {
        self.pages_in_flight * 2
    }

    /// `/revenue` requests for exchange rates in flight at once: `pages_in_flight`.
    pub(crate) fn fx_requests_in_flight(&self) -> usize {
        self.pages_in_flight
    }

    /// The API client settings for one of the configured bots.
    pub(crate) fn client_settings(&self, bot: &BotSettings) -> crate::api::ClientSettings {
        crate::api::ClientSettings {
            base_url: self.base_url.clone(),
            bot_id: bot.bot_id,
            api_key: bot.api_key.clone(),
            api_version: self.api_version,
            timeout: self.timeout,
            retry: self.retry,
            max_rps: self.max_rps,
            max_response_bytes: self.max_response_bytes,
            deadline: None,
        }
    }

    /// Settings from merged and checked values; the bots and streams resolved apart.
    fn from_merged(
        merged: Merged,
        api_version: ApiVersion,
        bots: Vec<BotSettings>,
        streams: Vec<StreamName>,
    ) -> Settings {
        let lake = LakeSettings::from_merged(&merged);
        let parquet_dir =
            (!merged.parquet_dir.as_os_str().is_empty()).then_some(merged.parquet_dir);
        Settings {
            warehouse: merged.warehouse,
            storage_version: merged.storage_version,
            parquet_dir,
            base_url: merged.base_url,
            api_version,
            bots,
            streams,
            pages_in_flight: merged.pages_in_flight,
            bots_in_flight: merged.bots_in_flight,
            max_rps: merged.max_rps,
            timeout: Duration::from_secs(merged.timeout_secs),
            retry: RetryPolicy {
                max_attempts: merged.max_attempts,
                max_elapsed: Duration::from_secs(merged.max_retry_secs),
                ..RetryPolicy::default()
            },
            orders: OrdersSettings {
                lookback: days(merged.orders_lookback_days),
                full_scan_max_age: days(merged.full_scan_max_age_days),
                pending_reread_limit: merged.pending_reread_limit,
                fetch_member_emails: merged.fetch_member_emails,
            },
            batch_rows: merged.batch_rows,
            lake,
            max_response_bytes: merged.max_response_bytes,
            run_deadline: merged.run_deadline_secs.map(Duration::from_secs),
            delete_guard: crate::warehouse::merge::DeleteGuard {
                max_share: merged.max_delete_share,
                floor_rows: merged.max_delete_rows_floor,
                allow_large: false,
            },
            page_cap: crate::api::pager::PageCap::DEFAULT,
            warnings: Vec::new(),
        }
    }

    /// Settings with every declared default, for one bot: the demo, tests and benchmarks.
    pub fn with_defaults(
        base_url: impl Into<String>,
        bot: BotSettings,
        warehouse: PathBuf,
        parquet_dir: Option<PathBuf>,
    ) -> Settings {
        let mut s = Settings::from_merged(
            Merged::defaults(),
            ApiVersion::V1,
            vec![bot],
            StreamName::ALL.to_vec(),
        );
        s.base_url = base_url.into();
        s.warehouse = warehouse;
        s.parquet_dir = parquet_dir;
        s
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

    /// Resolves flags over an empty config file.
    fn resolve_flags(args: &SettingsArgs, env: &Env) -> Result<Settings, ConfigError> {
        resolve(
            Path::new("c.toml"),
            FileConfig::default(),
            args,
            None,
            env,
            true,
        )
    }

    #[test]
    fn legacy_defaults_to_the_streams_it_has() {
        let env = Env(vec![("TGM_API_KEY", "legacy-key-1")]);
        let args = SettingsArgs {
            bot_ids: Some("9".into()),
            api_version: Some("legacy".into()),
            ..SettingsArgs::default()
        };
        let s = resolve_flags(&args, &env).expect("valid");
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
        let args = SettingsArgs {
            warehouse: Some("flag.duckdb".into()),
            ..SettingsArgs::default()
        };
        let env = Env(vec![("TGM_API_KEY", "config-test-key")]);
        let s = resolve(Path::new("c.toml"), file, &args, None, &env, true).expect("valid");
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
        let args = SettingsArgs {
            bot_ids: Some("7, 8".into()),
            ..SettingsArgs::default()
        };
        let s = resolve_flags(&args, &env).expect("valid");
        assert_eq!(s.bots[0].api_key.expose(), "bot7-key-1");
        assert_eq!(s.bots[1].api_key.expose(), "global-key-1");
    }

    #[test]
    fn bad_values_name_themselves() {
        let env = Env(vec![("TGM_API_KEY", "k-123456")]);
        let one = || SettingsArgs {
            bot_ids: Some("1".into()),
            ..SettingsArgs::default()
        };
        let cases = [
            (
                SettingsArgs {
                    bot_ids: Some("12x".into()),
                    ..SettingsArgs::default()
                },
                None,
                "12x",
            ),
            (one(), Some("orders,bogus".to_string()), "bogus"),
            (
                SettingsArgs {
                    api_version: Some("v9".into()),
                    ..one()
                },
                None,
                "v9",
            ),
            (
                SettingsArgs {
                    pages_in_flight: Some(0),
                    ..one()
                },
                None,
                "pages_in_flight",
            ),
            (
                SettingsArgs {
                    bots_in_flight: Some(0),
                    ..one()
                },
                None,
                "bots_in_flight",
            ),
            (
                SettingsArgs {
                    bots_in_flight: Some(65),
                    ..one()
                },
                None,
                "bots_in_flight",
            ),
        ];
        for (args, streams, needle) in cases {
            let err = resolve(
                Path::new("c.toml"),
                FileConfig::default(),
                &args,
                streams,
                &env,
                true,
            )
            .expect_err("invalid");
            assert!(
                err.to_string().contains(needle),
                "{err} should name {needle}"
            );
        }
    }

    #[test]
    fn missing_key_and_missing_bots_are_errors() {
        let args = SettingsArgs {
            bot_ids: Some("3".into()),
            ..SettingsArgs::default()
        };
        let err = resolve_flags(&args, &Env(vec![])).expect_err("no key");
        assert!(matches!(err, ConfigError::NoKey { bot_id } if bot_id == BotId::constant(3)));
        let err = resolve_flags(&SettingsArgs::default(), &Env(vec![])).expect_err("no bots");
        assert!(matches!(err, ConfigError::NoBots(_)));
    }
}
