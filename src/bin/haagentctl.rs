//! haagentctl: the operator's command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use haagent::auth::{self, KeygenMode};
use haagent::manifest::{self, check};

/// Control and inspect a haagent cluster.
#[derive(Parser)]
#[command(name = "haagentctl", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a manifest (and this host, if it is one of its nodes). Exit codes: 0 valid,
    /// 1 invalid, 2 unreadable.
    Validate {
        /// Manifest file.
        #[arg(default_value = manifest::DEFAULT_PATH)]
        file: PathBuf,
        /// Check this host as this node (default: the hostname, if it is a node).
        #[arg(long)]
        node: Option<String>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write a new heartbeat key file (mode 0600).
    Keygen {
        /// Key file to write.
        file: PathBuf,
        /// Replace an existing file.
        #[arg(long, conflicts_with = "rotate")]
        force: bool,
        /// Add a new signing key in front of the existing keys, which stay accepted.
        #[arg(long)]
        rotate: bool,
    },
    /// Print the manifest's JSON Schema.
    Schema,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("haagentctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate { file, node, json } => {
            let outcome = check::run(&check::CheckOptions {
                file: &file,
                node: node.as_deref(),
                json,
            });
            print!("{}", outcome.output);
            Ok(ExitCode::from(outcome.code))
        }
        Command::Keygen {
            file,
            force,
            rotate,
        } => {
            let mode = match (force, rotate) {
                (_, true) => KeygenMode::Rotate,
                (true, _) => KeygenMode::Overwrite,
                _ => KeygenMode::Create,
            };
            let id = auth::keygen(&file, mode)
                .with_context(|| format!("failed to write {}", file.display()))?;
            println!(
                "{}: key {id} written and signing; copy the file to every node (mode 0600, owner root)",
                file.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Schema => {
            print!("{}", manifest::schema::generate());
            Ok(ExitCode::SUCCESS)
        }
    }
}
