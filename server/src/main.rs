//! `coach-server`: `serve` (the default), `migrate`, `openapi`.

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
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => {
            println!("{}", coach_server::app::openapi().to_pretty_json()?);
            Ok(())
        }
        Command::Migrate => {
            let config = Config::from_env()?;
            coach_server::init_tracing(config.log_json);
            let db = coach_server::db::Db::connect(&config.database_url).await?;
            db.migrate().await?;
            println!("migrations applied ({})", coach_server::db::redact(&config.database_url));
            Ok(())
        }
        Command::Serve => {
            let config = Config::from_env()?;
            coach_server::init_tracing(config.log_json);
            coach_server::serve(config).await
        }
    }
}
