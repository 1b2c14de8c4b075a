//! The command line: clap definitions, one module per subcommand, and the mapping of
//! every failure to a documented exit code.

pub(crate) mod completions;
pub mod demo;
pub(crate) mod fx;
pub(crate) mod hint;
pub(crate) mod init;
pub(crate) mod lake;
pub(crate) mod man;
pub(crate) mod metrics;
mod prompt;
pub(crate) mod report;
mod rows_json;
pub(crate) mod schedule;
pub(crate) mod settings;
pub(crate) mod status;
mod summary_json;
pub mod sync;
pub(crate) mod verify;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::api::ApiError;
use crate::config::ConfigError;
use crate::exit::{EXIT_CODES_HELP, Exit};
use crate::logging::LogFormat;
use crate::secret::redact;
use crate::warehouse::LoadError;

/// Copies a bot's data out of the TGmembership API into DuckDB and Parquet.
#[derive(Debug, Parser)]
#[command(name = "tgm-sync", version, about, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// Configuration file (TOML).
    #[arg(long, global = true, env = "TGM_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log format: `text` for people, `json` for journald and log files.
    #[arg(long, global = true, env = "TGM_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// More log detail (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Less log detail (-q warnings, -qq errors only).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub quiet: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sync the configured bots into the warehouse and the Parquet mirror.
    ///
    /// Bots sync concurrently (--bots-in-flight at once), each with its own key and its
    /// own failure: a bot whose key is refused or whose API is down is named in the
    /// summary while the others sync completely. The exit code is the worst bot's: 4
    /// (a key refused) before 6 (an API unavailable) before 3 (partial) before 0.
    Sync(sync::SyncArgs),
    /// Show the last runs, row counts per table and the state of each stream.
    Status(status::StatusArgs),
    /// Start the simulator, sync it into a demo warehouse and show example queries.
    Demo(demo::DemoArgs),
    /// Print a report (revenue, orders-count, plans, payment-methods, users-count) from the warehouse.
    Report(report::ReportArgs),
    /// Compare the API's report endpoints with the warehouse's reports, field by field.
    Verify(verify::VerifyArgs),
    /// Serve the built-in API simulator on 127.0.0.1.
    Sim(crate::sim::cli::SimArgs),
    /// Exchange rates: `fx import FILE.csv` overrides the rates read off the API.
    Fx(fx::FxArgs),
    /// Print (or write) a systemd service + timer or a crontab line for this configuration.
    Schedule(schedule::ScheduleArgs),
    /// First run: ask for the bot id, API key and warehouse; check the key; write the key
    /// file (mode 600) and a commented tgm-sync.toml.
    ///
    /// The configuration goes where --config (or TGM_CONFIG) points, ./tgm-sync.toml by
    /// default. The key is typed without echo, piped on stdin, or taken from TGM_API_KEY:
    /// it is never a flag. Nothing is written when the API refuses the key, and an
    /// existing file is kept unless --force is given.
    Init(init::InitArgs),
    /// The lake output (Delta Lake tables under lake_url): `lake vacuum` deletes files no
    /// table version needs any more.
    Lake(lake::LakeArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// Print the manual page (roff), or write one per subcommand with --out-dir.
    Man(man::ManArgs),
}

impl Cli {
    /// -2 … 2, for [`crate::logging::init`].
    pub fn verbosity(&self) -> i8 {
        (self.verbose.min(2) as i8) - (self.quiet.min(2) as i8)
    }
}

/// A command's failure: the message to print and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Failure {
        Failure {
            exit,
            message: redact(&message.into()),
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Failure {
        Failure::new(Exit::Config, e.to_string())
    }
}

/// The exit code of a warehouse failure.
fn load_exit(e: &LoadError) -> Exit {
    match e {
        LoadError::LockHeld { .. } | LoadError::InUse { .. } => Exit::Locked,
        LoadError::NotDuckDb { .. }
        | LoadError::NoSuchFile { .. }
        | LoadError::NotWritable { .. }
        | LoadError::BadMemoryLimit { .. }
        | LoadError::BadStorageVersion { .. }
        | LoadError::ParquetNotWritable { .. } => Exit::Config,
        _ => Exit::Internal,
    }
}

/// A warehouse failure as the user reads it: the error's facts, and what to run when
/// there is something to run (the advice is the terminal's business, not the warehouse's).
fn load_message(e: &LoadError) -> String {
    match e {
        LoadError::NoSuchFile { path } => format!(
            "{} is not a DuckDB database (no such file; run `{}` first)",
            path.display(),
            crate::cli::hint::command("sync")
        ),
        _ => e.to_string(),
    }
}

impl From<LoadError> for Failure {
    fn from(e: LoadError) -> Failure {
        Failure::new(load_exit(&e), load_message(&e))
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Failure {
        let exit = match &e {
            ApiError::InvalidBaseUrl { .. }
            | ApiError::MissingKey { .. }
            | ApiError::NotInApiVersion { .. }
            | ApiError::BadRequest { .. } => Exit::Config,
            ApiError::Unauthorized { .. } => Exit::Auth,
            ApiError::Unavailable { .. } => Exit::Unavailable,
            _ => Exit::Internal,
        };
        Failure::new(exit, e.to_string())
    }
}

impl From<crate::error::Error> for Failure {
    fn from(e: crate::error::Error) -> Failure {
        match e {
            crate::error::Error::Load(e) => e.into(),
            crate::error::Error::Api(e) => e.into(),
        }
    }
}

impl Failure {
    /// A lake failure: exit 8, or the warehouse's own code when the warehouse failed.
    fn of_lake(e: &crate::lake::LakeError) -> Failure {
        let exit = match e {
            crate::lake::LakeError::Load(e) => load_exit(e),
            _ => Exit::Lake,
        };
        Failure::new(exit, e.to_string())
    }
}

impl From<crate::lake::LakeError> for Failure {
    fn from(e: crate::lake::LakeError) -> Failure {
        Failure::of_lake(&e)
    }
}

/// Runs the chosen subcommand.
pub async fn run(cli: Cli) -> Result<Exit, Failure> {
    let config = cli.config.clone();
    // `-q` means nothing but warnings and errors on stderr: no progress lines either; nor
    // with JSON logs, where every line is a JSON object.
    let progress = cli.verbosity() >= 0 && cli.log_format == LogFormat::Text;
    match cli.command {
        Command::Sync(args) => sync::run(config, args, progress, cli.log_format).await,
        Command::Status(args) => status::run(config, args),
        Command::Demo(args) => demo::run(args, progress).await,
        Command::Report(args) => report::run(config, args),
        Command::Verify(args) => verify::run(config, args).await,
        Command::Fx(args) => fx::run(config, args),
        Command::Schedule(args) => schedule::run(config, args),
        Command::Init(args) => init::run(config, args).await,
        Command::Lake(args) => lake::run(config, args).await,
        Command::Completions(args) => Ok(completions::run(args)),
        Command::Man(args) => man::run(args),
        Command::Sim(args) => crate::sim::cli::run(args)
            .await
            .map(|()| Exit::Success)
            .map_err(|e| Failure::new(Exit::Internal, e.to_string())),
    }
}
