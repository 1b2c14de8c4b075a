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

/// The files for `scheduler`: (file name, contents). Each path is quoted for where it
/// goes: systemd's rules in the unit, sh's (and cron's `%`) in the crontab line.
pub(crate) fn render(
    scheduler: Scheduler,
    binary: &Path,
    config: &Path,
) -> Result<Vec<(&'static str, String)>, String> {
    let text = |p: &Path| {
        p.to_str()
            .map(str::to_string)
            .ok_or_else(|| format!("{} is not valid UTF-8", p.display()))
    };
    let (binary, config) = (text(binary)?, text(config)?);
    Ok(match scheduler {
        Scheduler::Systemd => {
            let (binary, config) = (systemd_executable(&binary)?, systemd_quote(&config));
            let fill = |template: &str| {
                template
                    .replace(DEFAULT_BINARY, &binary)
                    .replace(DEFAULT_CONFIG, &config)
            };
            vec![
                ("tgm-sync.service", fill(SERVICE)),
                ("tgm-sync.timer", fill(TIMER)),
            ]
        }
        Scheduler::Cron => {
            let (binary, config) = (cron_quote(&binary)?, cron_quote(&config)?);
            vec![(
                "crontab",
                CRONTAB
                    .replace(DEFAULT_BINARY, &binary)
                    .replace(DEFAULT_CONFIG, &config),
            )]
        }
    })
}

/// Characters that need no quoting in either a unit file or sh.
fn plain(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@=".contains(&b))
}

/// The executable of a systemd `ExecStart=` line: quoted like an argument but without
/// `$` doubled (systemd expands no variables there), and refused if it holds a quote, a
/// backslash or a control character, which systemd does not accept in an executable's
/// name ("Executable name contains special characters").
fn systemd_executable(path: &str) -> Result<String, String> {
    if path
        .chars()
        .any(|c| matches!(c, '"' | '\'' | '\\') || c.is_control())
    {
        return Err(format!(
            "{path:?}: systemd refuses an executable whose path holds a quote, a backslash or a \
             control character; install the binary elsewhere or pass --binary"
        ));
    }
    let quoted = systemd_quote(path);
    Ok(quoted.replace("$$", "$"))
}

/// One word of a systemd `ExecStart=` line: double-quoted with C-style escapes when it
/// holds anything but plain characters, `%` doubled (systemd's specifiers) and `$`
/// doubled (its variable expansion), so the command gets the path unchanged.
fn systemd_quote(text: &str) -> String {
    let escaped = text.replace('%', "%%").replace('$', "$$");
    if plain(text) {
        return escaped;
    }
    let mut out = String::from("\"");
    for c in escaped.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() && (c as u32) < 0x80 => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One word of a crontab command: single-quoted for sh (`'` written `'\''`), and `%`
/// escaped (cron turns a bare `%` into a newline). A newline cannot be written in a
/// crontab line at all.
fn cron_quote(text: &str) -> Result<String, String> {
    if text.contains('\n') || text.contains('\r') {
        return Err(format!(
            "{text:?} holds a line break, which a crontab line cannot carry"
        ));
    }
    let quoted = if plain(text) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    };
    Ok(quoted.replace('%', "\\%"))
}

pub(crate) fn run(config: Option<PathBuf>, args: ScheduleArgs) -> Result<Exit, Failure> {
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
    let files = render(args.scheduler, &binary, &config)
        .map_err(|e| Failure::new(Exit::Config, format!("cannot write the schedule: {e}")))?;
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
        )
        .expect("rendered");
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
        )
        .expect("rendered")[0]
            .1;
        assert!(
            cron.contains("flock -n") && cron.contains("/x/tgm-sync sync --config /y.toml"),
            "{cron}"
        );
    }

    #[test]
    fn paths_are_quoted_for_systemd_and_for_sh_and_cron() {
        assert_eq!(systemd_quote("/opt/bin/tgm-sync"), "/opt/bin/tgm-sync");
        assert_eq!(
            systemd_quote("/opt/my tools/\"x\"\\$HOME%d"),
            "\"/opt/my tools/\\\"x\\\"\\\\$$HOME%%d\""
        );
        assert_eq!(cron_quote("/y.toml").expect("plain"), "/y.toml");
        assert_eq!(
            cron_quote("/a b/it's 100%;rm").expect("quoted"),
            "'/a b/it'\\''s 100\\%;rm'"
        );
        assert!(cron_quote("/a\nb").is_err());
        assert_eq!(
            systemd_executable("/opt/my $x 5%/tgm-sync").expect("accepted"),
            "\"/opt/my $x 5%%/tgm-sync\""
        );
        assert!(systemd_executable("/opt/it's/tgm-sync").is_err());
    }
}
