//! `tgm-sync`: parse the command line, run it, turn the outcome into an exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tgm_sync::cli::{self, Cli};
use tgm_sync::exit::Exit;
use tgm_sync::logging::{self, LogFormat};
use tgm_sync::secret;

fn main() -> ExitCode {
    // The API key and the AWS credentials live in this process's memory: no core dump
    // may carry them to disk.
    no_core_dumps();
    // Nothing this process creates (warehouse, WAL, Parquet, metrics) is readable by the
    // world; group access stays as the caller's umask allows (a BI tools group).
    // SAFETY: umask only swaps the process file-mode mask; no memory is involved.
    unsafe {
        let inherited = libc::umask(0o077);
        libc::umask(inherited | 0o007);
    }
    return_freed_blocks_to_the_system();
    let cli = Cli::parse();
    let format = cli.log_format;
    // A panic message could quote a URL: print it redacted.
    std::panic::set_hook(Box::new(move |info| {
        report(
            format,
            &format!("internal error: {}", secret::redact(&info.to_string())),
            Exit::Internal,
        );
    }));
    if let Err(e) = tgm_sync::clock::init_from_env() {
        report(format, &e.to_string(), Exit::Config);
        return Exit::Config.into();
    }
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
            report(
                format,
                &format!("cannot start the async runtime: {e}"),
                Exit::Internal,
            );
            return Exit::Internal.into();
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(exit) => exit.into(),
        Err(failure) => {
            report(format, &failure.message, failure.exit);
            failure.exit.into()
        }
    }
}

/// A command's failure on stderr, redacted: `tgm-sync: <message>`, or with
/// `--log-format json` one JSON line like the log's, with the exit code.
fn report(format: LogFormat, message: &str, exit: Exit) {
    let message = secret::redact(message);
    match format {
        LogFormat::Text => eprintln!("tgm-sync: {message}"),
        LogFormat::Json => {
            let mut fields = serde_json::Map::new();
            fields.insert("exit_code".into(), exit.code().into());
            eprintln!("{}", logging::json_line("ERROR", &message, fields));
        }
    }
}

/// DuckDB allocates its buffers in 256 KiB blocks. glibc serves blocks of that size with
/// `mmap` at first, but raises its threshold after the first one is freed, and later
/// blocks come from the heap, where freed ones stay part of the process. Pinning the
/// threshold at glibc's initial 128 KiB gives every freed block back: peak RSS of the
/// 1M-order sync fell from 226 MB to 177 MB, at the same wall time (docs/performance.md).
fn return_freed_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes a glibc malloc setting; it is called before any other
    // thread exists, and a refused setting (return value 0) leaves glibc's default.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// No core file, whatever the caller's `ulimit -c` and the system's `core_pattern` say:
/// RLIMIT_CORE at 0 (soft and hard, so no child raises it again) and, on Linux, the
/// process marked non-dumpable (which also keeps other users' debuggers and
/// `/proc/<pid>/mem` readers out).
fn no_core_dumps() {
    let none = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit reads the struct passed by reference and touches no other memory;
    // a refusal (it cannot fail for lowering a limit) leaves the limit as it was.
    unsafe {
        libc::setrlimit(libc::RLIMIT_CORE, &none);
    }
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_DUMPABLE takes a plain integer argument and changes a process flag.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}
