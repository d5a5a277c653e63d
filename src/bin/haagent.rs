//! The haagent daemon's command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use haagent::agent;
use haagent::manifest::{self, check};

/// Keeps a cluster's virtual IPs and systemd units running on exactly one node.
#[derive(Parser)]
#[command(name = "haagent", version, about)]
struct Args {
    /// Cluster manifest.
    #[arg(long, env = "HAAGENT_MANIFEST", default_value = manifest::DEFAULT_PATH)]
    manifest: PathBuf,
    /// This node's name in the manifest (default: the hostname).
    #[arg(long, env = "HAAGENT_NODE")]
    node: Option<String>,
    /// Check the manifest and this host, print the result and exit (0 valid, 1 invalid or
    /// this host is not one of its nodes, 2 unreadable).
    #[arg(long)]
    check_config: bool,
    /// Where the generation number and the flight recording are kept (systemd's
    /// StateDirectory).
    #[arg(long, env = "STATE_DIRECTORY", default_value = "/var/lib/haagent")]
    state_dir: PathBuf,
    /// Where the agent keeps its checkpoint across its own restarts (systemd's
    /// RuntimeDirectory; emptied at reboot).
    #[arg(long, env = "RUNTIME_DIRECTORY", default_value = "/run/haagent")]
    runtime_dir: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.check_config {
        let outcome = check::run(&check::CheckOptions {
            file: &args.manifest,
            node: args.node.as_deref(),
            json: false,
            require_node: true,
        });
        print!("{}", outcome.output);
        return ExitCode::from(outcome.code);
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("haagent: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> anyhow::Result<()> {
    haagent::drivers::logging::init();
    let node = match &args.node {
        Some(n) => n.clone(),
        None => check::hostname().context("cannot read the hostname; pass --node NAME")?,
    };
    let opts = agent::Options {
        manifest: args.manifest.clone(),
        node,
        state_dir: args.state_dir.clone(),
        runtime_dir: args.runtime_dir.clone(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the runtime")?;
    runtime.block_on(agent::run(opts))?;
    Ok(())
}
