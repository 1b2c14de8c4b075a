//! `tgm-sync lake vacuum`: housekeeping of the Delta Lake tables under `lake_url`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::Failure;
use super::settings::SettingsArgs;
use crate::config::{self, LakeSettings};
use crate::exit::Exit;

#[derive(Debug, Clone, Args)]
pub struct LakeArgs {
    #[command(subcommand)]
    pub command: LakeCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum LakeCommand {
    /// Delete the files that no table version needs any more and that are older than
    /// lake_retention_days (default 7): files replaced by later runs, and files uploaded
    /// by a run killed before its commit. Readers of versions older than the retention
    /// lose them.
    Vacuum(VacuumArgs),
}

#[derive(Debug, Clone, Args)]
pub struct VacuumArgs {
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// List the files that would be deleted; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// The lake settings alone: no bot or key is needed to tidy the lake.
fn lake_settings(config_path: Option<&Path>, args: &SettingsArgs) -> Result<LakeSettings, Failure> {
    let explicit = config_path.is_some();
    let path = config_path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_CONFIG));
    let (file, _) = config::read_file(&path, explicit)?;
    let merged = config::Merged::merge(&file, args).checked()?;
    LakeSettings::from_merged(&merged).ok_or_else(|| {
        Failure::new(
            Exit::Config,
            "no lake configured: set lake_url (TGM_LAKE_URL, --lake-url)",
        )
    })
}

pub async fn run(config: Option<PathBuf>, args: LakeArgs) -> Result<Exit, Failure> {
    match args.command {
        LakeCommand::Vacuum(args) => {
            let lake = lake_settings(config.as_deref(), &args.settings)?;
            let tables = crate::lake::vacuum::vacuum(&lake, args.dry_run).await?;
            let verb = if args.dry_run {
                "would delete"
            } else {
                "deleted"
            };
            let days = lake.retention.as_secs_f64() / 86_400.0;
            println!(
                "lake {}: files older than {days} days and in no table version",
                lake.url
            );
            for table in &tables {
                println!("{:<16} {verb} {} files", table.table, table.files.len());
                if args.dry_run {
                    for file in &table.files {
                        println!("  {file}");
                    }
                }
            }
            Ok(Exit::Success)
        }
    }
}
