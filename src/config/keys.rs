//! Where a bot's API key comes from: a key file named for the bot, `TGM_API_KEY_<BOT_ID>`,
//! the global key file, then `TGM_API_KEY`; and the warning for a secret file others can
//! read.

use std::path::Path;

use super::{BotConfig, ConfigError};
use crate::secret::ApiKey;

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

pub(super) fn find_key(
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

/// Warns when a file holding or pointing at secrets can be read by other users.
pub(super) fn world_readable_warning(path: &Path, what: &str) -> Option<String> {
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
