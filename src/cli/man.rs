//! `tgm-sync man`: the manual page, rendered from the clap definitions (roff, section 1).
//! On stdout by default; `--out-dir DIR` writes `tgm-sync.1` and one page per subcommand
//! (`tgm-sync-sync.1`, ...), as `man` finds them under a `man1` directory.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::{Args, CommandFactory};
use clap_mangen::Man;

use super::{Cli, Failure};
use crate::exit::Exit;

#[derive(Debug, Clone, Args)]
pub struct ManArgs {
    /// Write `tgm-sync.1` and a page per subcommand into this directory instead.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

pub(crate) fn run(args: ManArgs) -> Result<Exit, Failure> {
    let command = Cli::command();
    match &args.out_dir {
        None => {
            let mut page = Vec::new();
            Man::new(command)
                .render(&mut page)
                .and_then(|()| io::stdout().lock().write_all(&page))
                .map_err(|e| {
                    Failure::new(Exit::Internal, format!("cannot print the man page: {e}"))
                })?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .and_then(|()| clap_mangen::generate_to(command, dir))
                .map_err(|e| {
                    Failure::new(
                        Exit::Config,
                        format!("cannot write man pages into {}: {e}", dir.display()),
                    )
                })?;
            println!("man pages written to {}", dir.display());
        }
    }
    Ok(Exit::Success)
}
