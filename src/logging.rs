//! Logging through `tracing`: readable text on a terminal, JSON lines for journald and
//! cron logs. Every line passes through [`crate::secret::redact`] on its way out.

use std::io::{self, Write};

use serde_json::{Map, Value};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Writes one log record to stderr with registered secrets replaced by `***`.
pub(crate) struct RedactingStderr {
    buffer: Vec<u8>,
}

impl Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let text = crate::secret::redact(&String::from_utf8_lossy(&self.buffer));
        self.buffer.clear();
        crate::progress::suspend_bars(|| {
            let mut err = io::stderr().lock();
            err.write_all(text.as_bytes())?;
            err.flush()
        })
    }
}

impl Drop for RedactingStderr {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[derive(Clone, Copy)]
struct MakeRedacting;

impl<'a> MakeWriter<'a> for MakeRedacting {
    type Writer = RedactingStderr;
    fn make_writer(&'a self) -> Self::Writer {
        RedactingStderr { buffer: Vec::new() }
    }
}

/// `15:49:22`, local time: the stamp of a log line on a terminal.
struct TimeOfDay;

impl tracing_subscriber::fmt::time::FormatTime for TimeOfDay {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        write!(w, "{}", chrono::Local::now().format("%H:%M:%S"))
    }
}

/// Installs the global subscriber. `verbosity`: -2 = errors only … 0 = info … 2 = trace.
/// `RUST_LOG`, when set, overrides it.
pub fn init(format: LogFormat, verbosity: i8, ansi: bool) {
    let level = match verbosity {
        i8::MIN..=-2 => "error",
        -1 => "warn",
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    // The lake's libraries (delta-rs, object_store, the AWS SDK) speak at info about
    // every commit and retry: warnings only, unless -v asks for detail. Their texts pass
    // the same redaction (the AWS credentials are registered secrets).
    let lake_crates = if verbosity <= 0 {
        ",deltalake_core=warn,deltalake_aws=warn,object_store=warn,aws_config=warn,aws_smithy_runtime=warn,aws_runtime=warn"
    } else {
        ""
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{level},hyper=warn,reqwest=warn,h2=warn{lake_crates}"
        ))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(MakeRedacting)
        .with_target(false);
    let _ = match format {
        // A person at a terminal reads the time of day; a log file keeps the full stamp.
        LogFormat::Text if ansi => builder.with_timer(TimeOfDay).with_ansi(true).try_init(),
        LogFormat::Text => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

/// One JSON log line as the JSON subscriber writes them (`timestamp`, `level`, `message`,
/// then `fields`), redacted: for what is printed outside `tracing` under
/// `--log-format json` (the sync's summary, a command's failure).
pub fn json_line(level: &str, message: &str, fields: Map<String, Value>) -> String {
    let mut record = Map::new();
    record.insert(
        "timestamp".into(),
        chrono::Utc::now()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            .into(),
    );
    record.insert("level".into(), level.into());
    record.insert("message".into(), message.into());
    record.extend(fields);
    crate::secret::redact(&Value::Object(record).to_string())
}
