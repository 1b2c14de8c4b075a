//! `tgm-sync demo [DIR]`: the first command of the README. Starts the simulator on a free
//! loopback port, syncs it into `DIR` (warehouse + Parquet), and shows example queries.

use std::path::PathBuf;

use arrow::util::pretty::pretty_format_batches;
use clap::Args;

use super::Failure;
use crate::bot_id::BotId;
use crate::cli::hint;
use crate::config::{BotSettings, Settings};
use crate::exit::Exit;
use crate::secret::ApiKey;
use crate::sim::{SimOptions, SimServer};
use crate::sql_files::{SqlFile, sql_file};
use crate::sync::{self, SyncOptions};
use crate::warehouse::Warehouse;

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Where to put the demo warehouse and Parquet tree.
    #[arg(default_value = "tgm-demo")]
    pub dir: PathBuf,
    /// Orders the simulator generates.
    #[arg(long, default_value_t = 5_000)]
    pub orders: usize,
    /// Memberships the simulator generates.
    #[arg(long, default_value_t = 2_000)]
    pub members: usize,
    /// Seed of the simulated data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// The example queries the demo runs and prints, with what each shows. The files hold
/// nothing but the statement: the demo prints them as they are.
pub const EXAMPLES: [(&str, SqlFile); 3] = [
    (
        "Revenue and sales per month, last 6 months, in EUR (the /orders/count report)",
        sql_file!("cli/demo/monthly_revenue_eur.sql"),
    ),
    (
        "Plans by revenue over the last 6 months, in USD (the /plans/report report)",
        sql_file!("cli/demo/top_plans_usd.sql"),
    ),
    (
        "Members holding more than one membership",
        sql_file!("cli/demo/members_with_several_memberships.sql"),
    ),
];

pub async fn run(args: DemoArgs, progress: bool) -> Result<Exit, Failure> {
    let options = SimOptions {
        seed: args.seed,
        orders: args.orders,
        members: args.members,
        ..SimOptions::default()
    };
    let key = options.api_key.clone();
    // The simulator speaks the API's plain numbers; its default id is a valid one.
    let bot_id = BotId::new(options.bot_id)
        .map_err(|e| Failure::new(Exit::Internal, format!("the demo's bot: {e}")))?;
    let server = SimServer::start(options)
        .await
        .map_err(|e| Failure::new(Exit::Internal, format!("cannot start the simulator: {e}")))?;
    println!("simulator listening on {}", server.base_url());
    std::fs::create_dir_all(&args.dir).map_err(|e| {
        Failure::new(
            Exit::Config,
            format!("cannot create {}: {e}", args.dir.display()),
        )
    })?;
    let warehouse = args.dir.join("warehouse.duckdb");
    let parquet = args.dir.join("parquet");
    let settings = Settings::with_defaults(
        server.base_url(),
        BotSettings {
            bot_id,
            api_key: ApiKey::new(key),
        },
        warehouse.clone(),
        Some(parquet.clone()),
    );
    let outcome = sync::run(
        &settings,
        &SyncOptions {
            progress,
            ..SyncOptions::default()
        },
    )
    .await;
    server.shutdown().await;
    let outcome = outcome?;
    let exit = super::sync::exit_for(&outcome);
    for bot in &outcome.bots {
        for s in &bot.streams {
            println!(
                "  {:<16} {:>8} rows read, {:>8} written{}",
                s.stream.as_str(),
                s.figures.rows_read,
                s.figures.rows_written,
                s.error
                    .as_ref()
                    .map(|e| format!(" (failed: {})", e.message))
                    .unwrap_or_default()
            );
        }
    }
    println!(
        "\nwarehouse: {}\nparquet:   {}/",
        warehouse.display(),
        parquet.display()
    );
    let wh = Warehouse::open_read_only(&warehouse)?;
    for (title, file) in EXAMPLES {
        let sql = file.statement();
        let batches = wh
            .conn()
            .prepare(sql)
            .and_then(|mut stmt| stmt.query_arrow([]).map(|rows| rows.collect::<Vec<_>>()));
        match batches {
            Ok(batches) => {
                let table = pretty_format_batches(&batches)
                    .map(|t| t.to_string())
                    .unwrap_or_else(|e| e.to_string());
                println!("\n-- {title}\n{sql};\n{table}");
            }
            Err(e) => println!("\n-- {title}\n{sql};\nfailed: {e}"),
        }
    }
    println!("\n{}", try_it_yourself(&warehouse));
    Ok(exit)
}

/// The closing hint: commands that work from where the user ran the demo (the `duckdb`
/// CLI only if it is on the PATH; `cargo run -- …` when run through cargo).
fn try_it_yourself(warehouse: &std::path::Path) -> String {
    let invocation = hint::invocation();
    let file = hint::shell_word(warehouse);
    let mut commands = Vec::new();
    if hint::find_on_path("duckdb").is_some() {
        commands.push(format!("duckdb -readonly {file}"));
    }
    commands.push(invocation.command(&format!("report revenue --warehouse {file}")));
    let mut text = format!("Try it yourself:  {}", commands.join("   or   "));
    if let Some(note) = invocation.install_note() {
        text.push('\n');
        text.push_str(&note);
    }
    text
}
