//! `hnas`: the command-line face of the hnas library crates.

mod space_cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "hnas",
    version,
    about = "Hierarchical neural architecture search"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Work with a search space: check, count, sample, enumerate, mutate, cross over.
    #[command(subcommand)]
    Space(space_cmd::SpaceCmd),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Space(cmd) => space_cmd::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let text = format!("{e:#}");
            eprintln!("error: {}", text.trim_end());
            ExitCode::FAILURE
        }
    }
}
