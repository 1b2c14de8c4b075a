//! `tgm-sync completions SHELL`: tab completion for bash, zsh, fish (and elvish,
//! PowerShell), generated from the clap definitions so it never lags behind the flags.

use std::io;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Cli;
use crate::exit::Exit;

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Prints the completion script on stdout (docs/guide.md "Shell completions and man page" says
/// where each shell looks for it).
pub(crate) fn run(args: CompletionsArgs) -> Exit {
    let mut command = Cli::command();
    clap_complete::generate(
        args.shell,
        &mut command,
        crate::cli::hint::PROGRAM,
        &mut io::stdout(),
    );
    Exit::Success
}
