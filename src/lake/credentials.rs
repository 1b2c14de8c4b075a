//! The AWS credentials this process may sign lake requests with, registered for
//! redaction wherever they come from: the `AWS_*` variables, the shared credentials and
//! config files (every profile), a web identity token file and a container credentials
//! token.
//!
//! The AWS SDK's chain (which delta-rs uses) may also fetch credentials at run time (an
//! instance role, SSO, `credential_process`); those never pass through this crate, but a
//! profile's static keys and every token file it reads are covered here.

use std::path::{Path, PathBuf};

/// The AWS variables whose values are secrets.
pub(crate) const SECRET_VARIABLES: [&str; 5] = [
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
];

/// Variables naming a file whose whole content is a secret token.
const TOKEN_FILE_VARIABLES: [&str; 2] = [
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
];

/// Keys of a profile (in the credentials or the config file) that hold a secret.
const SECRET_PROFILE_KEYS: [&str; 4] = [
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_security_token",
];

/// Registers every AWS credential this process can see with [`crate::secret::register`].
pub(crate) fn register_credentials() {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    for name in SECRET_VARIABLES {
        if let Ok(value) = std::env::var(name) {
            crate::secret::register(value.trim());
        }
    }
    let home = var("HOME").map(PathBuf::from);
    let profile_files = [
        ("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
        ("AWS_CONFIG_FILE", "config"),
    ];
    for (variable, default_name) in profile_files {
        let path = var(variable)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(default_name)));
        if let Some(text) = path.as_deref().and_then(read_small) {
            for secret in profile_secrets(&text) {
                crate::secret::register(&secret);
            }
        }
    }
    for variable in TOKEN_FILE_VARIABLES {
        if let Some(text) = var(variable).and_then(|p| read_small(Path::new(&p))) {
            crate::secret::register(text.trim());
        }
    }
}

/// A credentials file's text; `None` when it is missing, unreadable or implausibly large.
fn read_small(path: &Path) -> Option<String> {
    const LIMIT: u64 = 1 << 20;
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > LIMIT {
        return None;
    }
    std::fs::read_to_string(path).ok()
}

/// The secret values of every profile in an AWS INI file (`key = value` lines; `#` and
/// `;` start comments).
fn profile_secrets(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.starts_with('#') || line.starts_with(';') {
                return None;
            }
            let (key, value) = line.split_once('=')?;
            let key = key.trim().to_ascii_lowercase();
            SECRET_PROFILE_KEYS
                .contains(&key.as_str())
                .then(|| value.trim().trim_matches('"').to_string())
        })
        .filter(|v| !v.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_s_keys_and_tokens_are_found() {
        let text = "[default]\naws_access_key_id = AKIADEFAULT1\n\
                    aws_secret_access_key=defaultSecret/+=1\n\
                    # aws_secret_access_key = commented-out\n\
                    region = eu-west-1\n\n[profile other]\n\
                    AWS_SESSION_TOKEN = \"tokenOther2\"\nsource_profile = default\n";
        assert_eq!(
            profile_secrets(text),
            ["AKIADEFAULT1", "defaultSecret/+=1", "tokenOther2"]
        );
    }
}
