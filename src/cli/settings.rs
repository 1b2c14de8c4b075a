//! How the commands that read the configuration resolve it: the flags (declared with
//! every other setting in `config::declared`) over the configuration file.

use std::path::{Path, PathBuf};

use crate::bot_id::BotId;
pub(crate) use crate::config::SettingsArgs;
use crate::config::{self, ConfigError, ProcessEnv, Settings};

impl SettingsArgs {
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
        let mut settings = config::resolve(&path, file, self, streams, &ProcessEnv, require_bots)?;
        warnings.append(&mut settings.warnings);
        settings.warnings = warnings;
        for w in &settings.warnings {
            tracing::warn!("{w}");
        }
        Ok(settings)
    }

    /// Settings for commands that only read or write the warehouse: no key is needed.
    pub(crate) fn resolve_without_keys(
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
        let merged = config::Merged::merge(&file, self).checked()?;
        Ok(LocalSettings {
            warehouse: merged.warehouse,
            storage_version: merged.storage_version,
            bot_ids,
        })
    }
}

/// What a warehouse-only command needs.
#[derive(Debug, Clone)]
pub(crate) struct LocalSettings {
    pub warehouse: PathBuf,
    /// The storage format a new warehouse file is written in.
    pub storage_version: String,
    pub bot_ids: Vec<BotId>,
}
