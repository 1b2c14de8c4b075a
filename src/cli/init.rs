//! `tgm-sync init`: the first-run helper.
//!
//! Asks for (or takes as flags) the bot id, the API key and where the warehouse goes;
//! checks the key with one request; then writes the key file (mode 600) and a commented
//! `tgm-sync.toml`, and prints the command to run next. The key is never a flag (it would
//! show in `ps` and shell history) and never echoed: it is typed with echo off, piped on
//! stdin, or taken from `TGM_API_KEY`. Nothing is written when the key is refused, and an
//! existing file is overwritten only with `--force`.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use super::{Failure, prompt};
use crate::api::retry::RetryPolicy;
use crate::api::{ApiClient, ApiError, ClientSettings, Method};
use crate::bot_id::BotId;
use crate::cli::hint;
use crate::config::{self, DEFAULT_BASE_URL};
use crate::exit::Exit;
use crate::secret::{self, ApiKey};

/// The default warehouse file and Parquet root, in the working directory.
const DEFAULT_WAREHOUSE: &str = "tgm-warehouse.duckdb";
const DEFAULT_PARQUET: &str = "tgm-parquet";

#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// The bot to sync (asked when missing and stdin is a terminal).
    #[arg(long, value_name = "ID")]
    pub bot_id: Option<BotId>,
    /// Where the DuckDB warehouse goes (asked when stdin is a terminal) [default: ./tgm-warehouse.duckdb].
    #[arg(long, value_name = "FILE")]
    pub warehouse: Option<PathBuf>,
    /// Root of the Parquet mirror ("" for none) [default: tgm-parquet beside the warehouse].
    #[arg(long, value_name = "DIR")]
    pub parquet_dir: Option<PathBuf>,
    /// Where to write the key [default: ~/.config/tgm-sync/api_key].
    #[arg(long, value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,
    /// API base URL [default: https://api.tgmembership.com].
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Overwrite an existing configuration or key file.
    #[arg(long)]
    pub force: bool,
    /// Write the files without checking the key against the API (offline).
    #[arg(long)]
    pub no_check: bool,
}

/// What `init` settles on before writing anything.
#[derive(Debug)]
struct Answers {
    bot_id: BotId,
    warehouse: PathBuf,
    parquet_dir: Option<PathBuf>,
    key_file: PathBuf,
    base_url: Option<String>,
}

pub(crate) async fn run(config: Option<PathBuf>, args: InitArgs) -> Result<Exit, Failure> {
    let config_path = absolute(&config.unwrap_or_else(|| PathBuf::from(config::DEFAULT_CONFIG)))?;
    let key_file = absolute(&match &args.api_key_file {
        Some(path) => path.clone(),
        None => default_key_file(&config_path),
    })?;
    // Refused before a single question is asked.
    for path in [&config_path, &key_file] {
        refuse_to_overwrite(path, args.force)?;
    }
    let interactive = prompt::interactive();
    let answers = gather(&args, key_file, interactive)?;
    let key = read_key(interactive)?;
    secret::register(key.expose());

    if args.no_check {
        println!("key not checked (--no-check)");
    } else {
        check_key(&answers, key.clone()).await?;
        println!("key accepted by the API for bot {}", answers.bot_id);
    }
    write_key_file(&answers.key_file, &key, args.force)?;
    println!(
        "wrote {} (mode 600: only you can read it)",
        answers.key_file.display()
    );
    write_new_file(&config_path, config_text(&answers).as_bytes(), args.force)?;
    println!("wrote {}", config_path.display());

    let default_config = absolute(Path::new(config::DEFAULT_CONFIG)).ok();
    let next = if default_config.as_deref() == Some(config_path.as_path()) {
        "sync".to_string()
    } else {
        format!("sync --config {}", hint::shell_word(&config_path))
    };
    println!("\nnext:  {}", hint::command(&next));
    if let Some(note) = hint::invocation().install_note() {
        println!("{note}");
    }
    Ok(Exit::Success)
}

/// `~/.config/tgm-sync/api_key` (XDG), or `api_key` beside the config without a home.
fn default_key_file(config_path: &Path) -> PathBuf {
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    match config_home {
        Some(dir) => dir.join("tgm-sync").join("api_key"),
        None => config_path.with_file_name("api_key"),
    }
}

fn absolute(path: &Path) -> Result<PathBuf, Failure> {
    std::path::absolute(path).map_err(|e| {
        Failure::new(
            Exit::Config,
            format!("cannot make {} absolute: {e}", path.display()),
        )
    })
}

fn refuse_to_overwrite(path: &Path, force: bool) -> Result<(), Failure> {
    if !force && fs::symlink_metadata(path).is_ok() {
        return Err(Failure::new(
            Exit::Config,
            format!(
                "{} already exists; nothing was changed (--force overwrites it)",
                path.display()
            ),
        ));
    }
    Ok(())
}

/// Flags first; what is missing is asked for on a terminal, defaulted otherwise (the bot
/// id has no default).
fn gather(args: &InitArgs, key_file: PathBuf, interactive: bool) -> Result<Answers, Failure> {
    let asked = |question: &str, default: Option<&str>| {
        prompt::ask(question, default)
            .map_err(|e| Failure::new(Exit::Config, format!("cannot read the answer: {e}")))
    };
    let bot_id = match args.bot_id {
        Some(id) => id,
        None if interactive => {
            let text = asked(
                "Bot id (the number in your bot's TGmembership settings)",
                None,
            )?;
            parse_bot_id(&text)?
        }
        None => {
            return Err(Failure::new(
                Exit::Config,
                "--bot-id is required when stdin is not a terminal",
            ));
        }
    };
    let warehouse = match &args.warehouse {
        Some(path) => path.clone(),
        None if interactive => {
            PathBuf::from(asked("Warehouse file (DuckDB)", Some(DEFAULT_WAREHOUSE))?)
        }
        None => PathBuf::from(DEFAULT_WAREHOUSE),
    };
    let warehouse = absolute(&warehouse)?;
    let parquet_dir = match &args.parquet_dir {
        Some(dir) if dir.as_os_str().is_empty() => None,
        Some(dir) => Some(absolute(dir)?),
        None => Some(warehouse.with_file_name(DEFAULT_PARQUET)),
    };
    let base_url = args
        .base_url
        .clone()
        .filter(|url| url.trim_end_matches('/') != DEFAULT_BASE_URL);
    Ok(Answers {
        bot_id,
        warehouse,
        parquet_dir,
        key_file,
        base_url,
    })
}

fn parse_bot_id(text: &str) -> Result<BotId, Failure> {
    match config::parse_bot_ids(text)?.as_slice() {
        [one] => Ok(*one),
        _ => Err(Failure::new(
            Exit::Config,
            format!("bot id `{}`: expected one positive integer", text.trim()),
        )),
    }
}

/// The key: `TGM_API_KEY`, else typed with echo off on a terminal, else stdin's first line.
fn read_key(interactive: bool) -> Result<ApiKey, Failure> {
    let from_env = std::env::var("TGM_API_KEY")
        .ok()
        .map(|k| k.trim().to_string());
    let key = match from_env.filter(|k| !k.is_empty()) {
        Some(key) => Ok(key),
        None if interactive => prompt::ask_secret("API key"),
        None => prompt::read_line().map(|k| k.trim().to_string()),
    }
    .map_err(|e| Failure::new(Exit::Config, format!("cannot read the API key: {e}")))?;
    if key.is_empty() {
        return Err(Failure::new(
            Exit::Config,
            "no API key given (type it when asked, pipe it on stdin, or set TGM_API_KEY)",
        ));
    }
    if key.chars().any(|c| c.is_whitespace() || c == '/') {
        // The key is a segment of every URL: such a key cannot be the one the API issued.
        return Err(Failure::new(
            Exit::Config,
            "the API key contains a space or a `/`; copy it again from the bot's settings",
        ));
    }
    Ok(ApiKey::new(key))
}

/// One request (`/users/count`) with the key: a refusal means nothing is written.
async fn check_key(answers: &Answers, key: ApiKey) -> Result<(), Failure> {
    let base_url = answers
        .base_url
        .clone()
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
    let mut settings = ClientSettings::new(base_url, answers.bot_id, key);
    settings.timeout = Duration::from_secs(15);
    // A hiccup is retried briefly; a refused key is not retried at all.
    settings.retry = RetryPolicy {
        max_attempts: 3,
        max_elapsed: Duration::from_secs(20),
        ..RetryPolicy::default()
    };
    let client = ApiClient::new(settings)?;
    match client.get(&Method::UsersCount, &[]).await {
        Ok(_) => Ok(()),
        Err(e @ ApiError::Unauthorized { .. }) | Err(e @ ApiError::NotFound { .. }) => {
            let exit = if matches!(e, ApiError::Unauthorized { .. }) {
                Exit::Auth
            } else {
                Exit::Config
            };
            Err(Failure::new(
                exit,
                format!("the key was not accepted: {e}; nothing was written"),
            ))
        }
        Err(e) => {
            let mut failure = Failure::from(e);
            failure.message = format!(
                "{}; nothing was written (--no-check writes the files without asking the API)",
                failure.message
            );
            Err(failure)
        }
    }
}

fn write_key_file(path: &Path, key: &ApiKey, force: bool) -> Result<(), Failure> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    write_new_file(path, format!("{}\n", key.expose()).as_bytes(), force)
}

/// Creates `dir` (and its parents) readable by its owner only, if missing.
fn create_private_dir(dir: &Path) -> Result<(), Failure> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            Failure::new(
                Exit::Config,
                format!("cannot create directory {}: {e}", dir.display()),
            )
        })
}

/// Writes `bytes` to a file of mode 600: a new file, or (with `force`) over the old one
/// through a temporary file and a rename, so a failure leaves the old one whole. Neither
/// path is followed if it is a symbolic link: the temporary file is created new
/// (`O_EXCL`, after removing whatever has its name) and the rename replaces a link at
/// `path` itself, never the file it points to.
fn write_new_file(path: &Path, bytes: &[u8], force: bool) -> Result<(), Failure> {
    let fail = |e: io::Error| {
        Failure::new(
            Exit::Config,
            format!("cannot write {}: {e}", path.display()),
        )
    };
    let target = if force {
        let mut name = std::ffi::OsString::from(".");
        name.push(path.file_name().unwrap_or_default());
        name.push(format!(".tgm-init-{}.tmp", std::process::id()));
        let target = path.with_file_name(name);
        // A left-over (or planted) entry of that name goes, a link as a link.
        if fs::symlink_metadata(&target).is_ok() {
            fs::remove_file(&target).map_err(fail)?;
        }
        target
    } else {
        path.to_path_buf()
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o600)
        .open(&target)
        .map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                Failure::new(
                    Exit::Config,
                    format!(
                        "{} already exists; nothing was changed (--force overwrites it)",
                        path.display()
                    ),
                )
            } else {
                fail(e)
            }
        })?;
    // Whatever the umask: 600.
    file.set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(fail)?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(fail)?;
    if force {
        fs::rename(&target, path).map_err(fail)?;
    }
    Ok(())
}

/// A TOML string (quoted and escaped).
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

fn path_string(path: &Path) -> String {
    toml_string(&path.display().to_string())
}

/// The configuration file `init` writes: what was answered, and every other setting
/// commented out at its default, with what it does.
fn config_text(a: &Answers) -> String {
    let parquet = match &a.parquet_dir {
        Some(dir) => path_string(dir),
        None => toml_string(""),
    };
    let base_url = match &a.base_url {
        Some(url) => format!("base_url = {}", toml_string(url)),
        None => format!("# base_url = {}", toml_string(DEFAULT_BASE_URL)),
    };
    format!(
        r#"# tgm-sync configuration, written by `tgm-sync init`.
# Every setting can also come from the environment (TGM_WAREHOUSE, ...) or a flag of
# `tgm-sync sync` (--warehouse, ...): a flag wins over the environment, which wins over
# this file. Unknown keys are an error. `tgm-sync sync --help` lists them all.

# The DuckDB file each run writes (one writer at a time; query it with `duckdb -readonly`).
warehouse = {warehouse}

# Root of the Parquet mirror, one file per partition; "" turns the mirror off.
parquet_dir = {parquet}

# The file whose first line is the API key (mode 600). The key is never a flag: it would
# show in `ps` and in your shell history.
api_key_file = {key_file}

# The API. Plain http:// is accepted only for a loopback host (the built-in simulator).
{base_url}
# api_version = "v1"              # "legacy" for the unversioned API (members and reports only)

# Tuning, shown at the defaults:
# streams = ["orders", "members", "plans", "projects", "coupons", "payment_methods", "users_count"]
# pages_in_flight = 4             # pages of one stream requested at once (1-64)
# bots_in_flight = 4              # bots synced at once (1-64)
# max_rps = 5.0                   # requests per second per bot, at most (default: no cap)
# timeout_secs = 30               # one request, connect to last byte
# max_attempts = 8                # attempts per request, the first included
# max_retry_secs = 120            # time one request may spend waiting between retries
# orders_lookback_days = 3        # how far behind the newest synced order each run reads again
# full_scan_max_age_days = 7      # orders get a full scan when the last one is older
# pending_reread_limit = 50      # old PENDING orders re-read by key per run, at most
# fetch_member_emails = false     # re-read new sales by key for member_email (1 request each)
# batch_rows = 20000              # rows per Arrow batch appended to DuckDB

# The bots to sync: one [[bots]] block each (a block may name its own api_key_file).
[[bots]]
bot_id = {bot_id}
"#,
        warehouse = path_string(&a.warehouse),
        key_file = path_string(&a.key_file),
        bot_id = a.bot_id,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(dir: &Path) -> Answers {
        Answers {
            bot_id: BotId::constant(1_347_378_140),
            warehouse: dir.join("my \"data\"/w.duckdb"),
            parquet_dir: Some(dir.join("pq")),
            key_file: dir.join("key"),
            base_url: Some("http://127.0.0.1:9".into()),
        }
    }

    #[test]
    fn the_written_config_reads_back_as_answered() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = answers(dir.path());
        let path = dir.path().join("tgm-sync.toml");
        fs::write(&path, config_text(&a)).expect("write");
        let (file, _) = config::read_file(&path, true).expect("the config parses");
        assert_eq!(file.warehouse.as_deref(), Some(a.warehouse.as_path()));
        assert_eq!(file.parquet_dir, a.parquet_dir);
        assert_eq!(file.api_key_file.as_deref(), Some(a.key_file.as_path()));
        assert_eq!(file.base_url, a.base_url);
        let bots: Vec<BotId> = file.bots.iter().map(|b| b.bot_id).collect();
        assert_eq!(bots, vec![a.bot_id]);
    }

    /// Each commented setting, uncommented, is a key the configuration accepts (an
    /// unknown key would be an error), so the comments cannot drift from the settings.
    #[test]
    fn every_commented_setting_is_a_real_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut a = answers(dir.path());
        a.base_url = None;
        let text = config_text(&a);
        let commented: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.split_whitespace().nth(1) == Some("="))
            .collect();
        assert!(commented.len() >= 12, "settings found: {commented:?}");
        for line in commented {
            let setting = line.split(" #").next().unwrap_or(line).trim();
            let path = dir.path().join("one.toml");
            fs::write(&path, format!("{setting}\n[[bots]]\nbot_id = 1\n")).expect("write");
            if let Err(e) = config::read_file(&path, true) {
                panic!("`{setting}` is not accepted: {e}");
            }
        }
    }

    #[test]
    fn a_bot_id_must_be_one_positive_integer() {
        assert_eq!(parse_bot_id(" 42 ").ok(), Some(BotId::constant(42)));
        for bad in ["", "0", "abc", "1,2", "-3"] {
            assert!(parse_bot_id(bad).is_err(), "`{bad}` was accepted");
        }
    }
}
