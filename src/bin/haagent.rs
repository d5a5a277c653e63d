//! The haagent daemon's command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
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
    /// Check the manifest and this host, print the result and exit (0 valid, 1 invalid,
    /// 2 unreadable).
    #[arg(long)]
    check_config: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.check_config {
        let outcome = check::run(&check::CheckOptions {
            file: &args.manifest,
            node: args.node.as_deref(),
            json: false,
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
    let (manifest, warnings) = match manifest::load(&args.manifest) {
        Err(manifest::ManifestError::Invalid { path, problems }) => {
            let name = path.display().to_string();
            problems.iter().for_each(|p| eprint!("{}", p.render(&name)));
            anyhow::bail!(
                "manifest {name} is invalid; `haagentctl validate {name}` shows the same list"
            );
        }
        other => other.context("failed to load the manifest")?,
    };
    let name = args.manifest.display().to_string();
    warnings.iter().for_each(|p| eprint!("{}", p.render(&name)));
    anyhow::bail!(
        "cluster `{}` is valid, but this build of haagent cannot run it: the cluster runtime is not part of it",
        manifest.cluster
    )
}
