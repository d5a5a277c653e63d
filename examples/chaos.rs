//! A fault campaign on real hosts (README, "Fault campaign"): boots a cluster on the test bed,
//! throws random faults at it from a seed for the time given, and judges it with a checker that
//! never asks the agent. As root:
//!
//! ```text
//! cargo run --release --example chaos -- [--hosts N] [--minutes M] [--seconds S] [--seed S]
//!     [--json FILE] [--svg FILE] [--stress] [--unsafe] [--kinds K,K...] [--default-timers]
//! ```
//!
//! Exit codes: 0 no double-active time, 1 a stateful group ran on two hosts, 2 a usage error
//! or a bed that would not start.

use std::process::ExitCode;
use std::time::Duration;

use haagent_testbed::chaos::{self, Options};
use haagent_testbed::cluster::{self, Install};

const USAGE: &str = "usage: chaos [--hosts N] [--minutes M] [--seconds S] [--seed S] [--json FILE] [--svg FILE] [--stress] [--unsafe] [--kinds K,K...] [--default-timers]";

struct Args {
    options: Options,
    json: Option<String>,
    svg: Option<String>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut hosts, mut secs, mut seed) = (3usize, 120u64, 1u64);
    let (mut json, mut svg, mut stress, mut unsafe_mode) = (None, None, false, false);
    let mut only = Vec::new();
    let mut default_timers = false;
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|e| format!("`{v}`: {e}"));
        match a.as_str() {
            "--hosts" => hosts = number(value("--hosts")?)? as usize,
            "--minutes" => secs = number(value("--minutes")?)? * 60,
            "--seconds" => secs = number(value("--seconds")?)?,
            "--seed" => seed = number(value("--seed")?)?,
            "--json" => json = Some(value("--json")?),
            "--svg" => svg = Some(value("--svg")?),
            "--stress" => stress = true,
            "--unsafe" => unsafe_mode = true,
            "--default-timers" => default_timers = true,
            "--kinds" => {
                for name in value("--kinds")?.split(',') {
                    let names: Vec<&str> = chaos::faults::ALL.iter().map(|k| k.name()).collect();
                    only.push(chaos::faults::Kind::named(name).ok_or(format!(
                        "unknown fault kind `{name}`: one of {}",
                        names.join(", ")
                    ))?);
                }
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if unsafe_mode {
        // The unsafe manifest is a two-node one: that is where it goes wrong.
        hosts = 2;
    }
    if !(2..=9).contains(&hosts) {
        return Err("--hosts must be 2 to 9".into());
    }
    let bins = cluster::built_binaries()?;
    let options = Options {
        hosts,
        duration: Duration::from_secs(secs),
        seed,
        stress,
        unsafe_mode,
        only,
        default_timers,
        prefix: "cx".into(),
        subnet: 125,
        install: Install {
            bins,
            units: cluster::repo_units(),
        },
    };
    Ok(Args { options, json, svg })
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("chaos: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let o = &args.options;
    eprintln!(
        "chaos: {} hosts, {} s of faults from seed {}{}{}",
        o.hosts,
        o.duration.as_secs(),
        o.seed,
        if o.stress { ", cores saturated" } else { "" },
        if o.unsafe_mode {
            ", the UNSAFE manifest"
        } else {
            ""
        }
    );
    let outcome = match chaos::run(o) {
        Ok(out) => out,
        Err(e) => {
            eprintln!("chaos: {e}");
            return ExitCode::from(2);
        }
    };
    print!("{}", chaos::report::text(&outcome));
    for (file, text) in [
        (&args.json, chaos::report::json(&outcome)),
        (&args.svg, chaos::svg::render(&outcome)),
    ] {
        if let Some(file) = file
            && let Err(e) = std::fs::write(file, text)
        {
            eprintln!("chaos: cannot write {file}: {e}");
            return ExitCode::from(2);
        }
    }
    if outcome.verdict.double_active_ms > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
