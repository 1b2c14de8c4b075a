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
    /// Vacuum with a lake_retention_days below 7 days (Delta's own floor): readers of
    /// versions younger than that, and a writer of another warehouse between its upload
    /// and its commit, may lose files.
    #[arg(long)]
    pub allow_short_retention: bool,
}

/// The lake settings and the warehouse path: no bot or key is needed to tidy the lake.
fn lake_settings(
    config_path: Option<&Path>,
    args: &SettingsArgs,
) -> Result<(LakeSettings, PathBuf), Failure> {
    let explicit = config_path.is_some();
    let path = config_path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_CONFIG));
    let (file, _) = config::read_file(&path, explicit)?;
    let merged = config::Merged::merge(&file, args).checked()?;
    let lake = LakeSettings::from_merged(&merged).ok_or_else(|| {
        Failure::new(
            Exit::Config,
            "no lake configured: set lake_url (TGM_LAKE_URL, --lake-url)",
        )
    })?;
    Ok((lake, merged.warehouse))
}

pub(crate) async fn run(config: Option<PathBuf>, args: LakeArgs) -> Result<Exit, Failure> {
    match args.command {
        LakeCommand::Vacuum(args) => {
            let (lake, warehouse) = lake_settings(config.as_deref(), &args.settings)?;
            crate::lake::vacuum::check_retention(lake.retention, args.allow_short_retention)
                .map_err(|e| Failure::new(Exit::Config, e.to_string()))?;
            // A sync of this warehouse may have uploaded files it has not committed yet:
            // vacuum waits for another time rather than delete them.
            let _lock = crate::warehouse::open::lock_if_used(&warehouse).map_err(|e| {
                let mut failure = Failure::from(e);
                failure.message = format!("lake vacuum did not run: {}", failure.message);
                failure
            })?;
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
