//! `coach-server`: `serve` (the default), `migrate`, `openapi`, and `trainer …` (the model trainer,
//! which the training pipeline runs as a child process of this same binary).

use anyhow::Result;
use clap::{Parser, Subcommand};
use coach_server::config::Config;

/// Coach's API server. Configuration comes from the environment (see README).
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the OpenAPI document and exit.
    Openapi,
    /// Run the model trainer (`trainer train|eval|generate|synth|bench ...`; see `trainer --help`).
    #[command(disable_help_flag = true)]
    Trainer {
        /// Arguments passed to the trainer.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        // The trainer sets its thread count before any thread exists: no async runtime here.
        Command::Trainer { args } => std::process::exit(coach_trainer::cli::run(args)),
        Command::Openapi => {
            println!("{}", coach_server::app::openapi().to_pretty_json()?);
            Ok(())
        }
        Command::Migrate => runtime()?.block_on(async {
            let config = config_or_exit();
            coach_server::init_tracing(config.log_json);
            let db = coach_server::db::Db::connect(&config.database_url).await?;
            db.migrate().await?;
            println!("migrations applied ({})", coach_server::db::redact(&config.database_url));
            Ok(())
        }),
        Command::Serve => runtime()?.block_on(async {
            let config = config_or_exit();
            coach_server::init_tracing(config.log_json);
            coach_server::serve(config).await
        }),
    }
}

/// The configuration, or the reason it is refused on stderr and exit status 2 (a setting to fix,
/// not a crash: no backtrace). Refused, among others: dev mode on a non-loopback `COACH_BIND`, and
/// a `COACH_JWT_SECRET` or `COACH_ADMIN_API_KEY` shorter than 32 bytes.
fn config_or_exit() -> Config {
    Config::from_env().unwrap_or_else(|e| {
        eprintln!("coach-server: configuration refused: {e:#}");
        std::process::exit(2);
    })
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()
}
