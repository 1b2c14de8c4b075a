//! `tgm-sync schedule systemd|cron`: the files in `schedules/`, filled in for this binary
//! and configuration file.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::Failure;
use crate::exit::Exit;

const SERVICE: &str = include_str!("../../schedules/tgm-sync.service");
const TIMER: &str = include_str!("../../schedules/tgm-sync.timer");
const CRONTAB: &str = include_str!("../../schedules/crontab.example");

/// The paths the shipped files use, replaced by the real ones.
const DEFAULT_BINARY: &str = "/usr/local/bin/tgm-sync";
const DEFAULT_CONFIG: &str = "/etc/tgm-sync/tgm-sync.toml";

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Scheduler {
    /// A systemd service and timer.
    Systemd,
    /// A crontab line.
    Cron,
}

#[derive(Debug, Clone, Args)]
pub struct ScheduleArgs {
    /// systemd or cron.
    #[arg(value_enum)]
    pub scheduler: Scheduler,
    /// The tgm-sync binary the schedule runs (default: this one).
    #[arg(long, value_name = "PATH")]
    pub binary: Option<PathBuf>,
    /// Write the files into this directory instead of printing them.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The files for `scheduler`: (file name, contents).
pub fn render(scheduler: Scheduler, binary: &Path, config: &Path) -> Vec<(&'static str, String)> {
    let fill = |text: &str| {
        text.replace(DEFAULT_BINARY, &binary.display().to_string())
            .replace(DEFAULT_CONFIG, &config.display().to_string())
    };
    match scheduler {
        Scheduler::Systemd => vec![
            ("tgm-sync.service", fill(SERVICE)),
            ("tgm-sync.timer", fill(TIMER)),
        ],
        Scheduler::Cron => vec![("crontab", fill(CRONTAB))],
    }
}

pub fn run(config: Option<PathBuf>, args: ScheduleArgs) -> Result<Exit, Failure> {
    let binary = match args.binary {
        Some(b) => absolute(&b),
        None => std::env::current_exe().map_err(|e| {
            Failure::new(
                Exit::Internal,
                format!("cannot find this binary's path: {e}"),
            )
        })?,
    };
    let config = absolute(&config.unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG)));
    let files = render(args.scheduler, &binary, &config);
    match args.out_dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(|e| {
                Failure::new(
                    Exit::Config,
                    format!("cannot create {}: {e}", dir.display()),
                )
            })?;
            for (name, text) in files {
                let path = dir.join(name);
                std::fs::write(&path, text).map_err(|e| {
                    Failure::new(
                        Exit::Config,
                        format!("cannot write {}: {e}", path.display()),
                    )
                })?;
                println!("wrote {}", path.display());
            }
        }
        None => {
            for (name, text) in files {
                println!("# ---- {name} ----\n{text}");
            }
        }
    }
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_in_binary_and_config() {
        let files = render(
            Scheduler::Systemd,
            Path::new("/opt/bin/tgm-sync"),
            Path::new("/srv/tgm.toml"),
        );
        let service = &files[0].1;
        assert!(
            service.contains("ExecStart=/opt/bin/tgm-sync sync --config /srv/tgm.toml"),
            "{service}"
        );
        assert!(!service.contains(DEFAULT_BINARY));
        let cron = &render(
            Scheduler::Cron,
            Path::new("/x/tgm-sync"),
            Path::new("/y.toml"),
        )[0]
        .1;
        assert!(
            cron.contains("flock -n") && cron.contains("/x/tgm-sync sync --config /y.toml"),
            "{cron}"
        );
    }
}
