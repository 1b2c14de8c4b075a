//! `tgm-sync`: parse the command line, run it, turn the outcome into an exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tgm_sync::cli::{self, Cli};
use tgm_sync::exit::Exit;
use tgm_sync::{logging, secret};

fn main() -> ExitCode {
    // Nothing this process creates (warehouse, WAL, Parquet, metrics) is readable by the
    // world; group access stays as the caller's umask allows (a BI tools group).
    // SAFETY: umask only swaps the process file-mode mask; no memory is involved.
    unsafe {
        let inherited = libc::umask(0o077);
        libc::umask(inherited | 0o007);
    }
    // A panic message could quote a URL: print it redacted.
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "tgm-sync: internal error: {}",
            secret::redact(&info.to_string())
        );
    }));
    let cli = Cli::parse();
    logging::init(
        cli.log_format,
        cli.verbosity(),
        std::io::stderr().is_terminal(),
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tgm-sync: cannot start the async runtime: {e}");
            return Exit::Internal.into();
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(exit) => exit.into(),
        Err(failure) => {
            eprintln!("tgm-sync: {}", secret::redact(&failure.message));
            failure.exit.into()
        }
    }
}
