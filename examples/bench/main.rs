//! The failover benchmark (run as root, in release: `cargo run --release --example bench`).
//!
//! On the test bed (two real systemd hosts and a client), for each timer setting: the longest
//! time the client, asking the VIP every 2 ms, went without an answer after a power cut of the
//! active node and after a planned stop of its agent; then the idle daemons' memory, CPU and
//! datagrams per second. The same for keepalived (Debian's package) with matching timers in
//! the same topology. haagent runs twice: with the echo service as a unit it starts on
//! failover (its real job), and VIP-only with the service running on both nodes (keepalived's
//! only model).
//!
//! Options: `--runs N` (default 3), `--quick` (the middle timer setting only), `--only TEXT`
//! (the systems whose name contains TEXT, e.g. `keepalived`), `--scale` (the scale benchmark
//! instead: one group of 10, 100 and 1,000 VIPs, or the sizes `--vips 10,100` names, see
//! [`scale`]; `--runs` defaults to 1).
//!
//! `--flood` runs the flood benchmark instead ([`flood`]): forged heartbeats at full speed to
//! the VIP's holder; `--secs N` sets each flood's length (default 20), `--interval MS` runs one
//! timer setting (100, 300 or 500), `--runs N` repeats each flood (default 1).

mod flood;
mod heartbeat;
mod idle;
mod keepalived;
mod scale;
mod systems;

use std::time::Duration;

use haagent_testbed::cluster::Install;

/// Heartbeat timers of one setting.
#[derive(Clone, Copy, Debug)]
pub struct Timers {
    /// Between heartbeats (keepalived: advert_int).
    pub interval_ms: u64,
    /// A late heartbeat is logged.
    pub warn_ms: u64,
    /// Declared dead.
    pub dead_ms: u64,
}

impl Timers {
    fn label(&self) -> String {
        let fmt = |ms: u64| {
            if ms >= 1000 && ms.is_multiple_of(1000) {
                format!("{} s", ms / 1000)
            } else {
                format!("{ms} ms")
            }
        };
        format!("{} / {}", fmt(self.interval_ms), fmt(self.dead_ms))
    }
}

const SETTINGS: [Timers; 3] = [
    Timers {
        interval_ms: 1000,
        warn_ms: 2000,
        dead_ms: 3000,
    },
    Timers {
        interval_ms: 100,
        warn_ms: 200,
        dead_ms: 300,
    },
    Timers {
        interval_ms: 20,
        warn_ms: 40,
        dead_ms: 60,
    },
];

/// One row of the table.
pub struct Row {
    /// Timer setting.
    pub timers: String,
    /// Which system and mode.
    pub system: &'static str,
    /// Client-observed gap after a power cut, per run.
    pub crash: Vec<Duration>,
    /// Client-observed gap after a planned stop, per run.
    pub planned: Vec<Duration>,
    /// Idle figures of the active node's daemon.
    pub idle: idle::Idle,
}

/// The value after option `name`, parsed.
fn arg<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1)?.parse().ok()
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let runs_arg: Option<usize> = arg(&args, "--runs");
    let only: String = arg(&args, "--only").unwrap_or_default();
    if args.iter().any(|a| a == "--flood") {
        let secs = arg(&args, "--secs").unwrap_or(20);
        let interval = arg(&args, "--interval");
        return run_flood(secs, &only, interval, runs_arg.unwrap_or(1));
    }
    if args.iter().any(|a| a == "--scale") {
        let runs = runs_arg.unwrap_or(1);
        let sizes: Vec<usize> = match args.iter().position(|a| a == "--vips") {
            Some(i) => args
                .get(i + 1)
                .map(|v| v.split(',').filter_map(|n| n.parse().ok()).collect())
                .unwrap_or_default(),
            None => vec![10, 100, 1000],
        };
        let result = haagent_testbed::cluster::built_binaries().and_then(|bins| {
            let install = Install {
                bins,
                units: haagent_testbed::cluster::repo_units(),
            };
            scale::run(&install, runs, &only, &sizes)
        });
        return match result {
            Ok(rows) => {
                print!("{}", scale::table(&rows));
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("bench: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let runs = runs_arg.unwrap_or(3);
    let settings: Vec<Timers> = if args.iter().any(|a| a == "--quick") {
        vec![SETTINGS[1]]
    } else {
        SETTINGS.to_vec()
    };
    match run(&settings, runs, &only) {
        Ok(rows) => {
            print!("{}", table(&rows));
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn install() -> Result<Install, String> {
    Ok(Install {
        bins: haagent_testbed::cluster::built_binaries()?,
        units: haagent_testbed::cluster::repo_units(),
    })
}

fn run_flood(
    secs: u64,
    only: &str,
    interval: Option<u64>,
    repeat: usize,
) -> std::process::ExitCode {
    match install().and_then(|i| flood::measure(secs, only, interval, repeat, &i)) {
        Ok(rows) => {
            print!("{}", flood::table(&rows, secs));
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(settings: &[Timers], runs: usize, only: &str) -> Result<Vec<Row>, String> {
    let install = install()?;
    let mut rows = Vec::new();
    for t in settings {
        for system in systems::ALL.iter().filter(|s| s.name().contains(only)) {
            eprintln!("== {} with timers {}", system.name(), t.label());
            rows.push(systems::measure(*system, *t, runs, &install)?);
        }
    }
    Ok(rows)
}

fn stats(v: &[Duration]) -> String {
    if v.is_empty() {
        return "-".into();
    }
    let mut ms: Vec<u128> = v.iter().map(Duration::as_millis).collect();
    ms.sort_unstable();
    format!("{} / {} / {}", ms[0], ms[ms.len() / 2], ms[ms.len() - 1])
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "\n| timers (interval / dead) | system | crash failover, ms (min / median / max) | planned failover, ms | idle RSS | idle CPU | PID 1 CPU | datagrams/s |\n|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.1} MB | {:.2} % | {:.2} % | {:.1} |\n",
            r.timers,
            r.system,
            stats(&r.crash),
            stats(&r.planned),
            r.idle.rss_kb as f64 / 1024.0,
            r.idle.cpu_percent,
            r.idle.init_cpu_percent,
            r.idle.datagrams_per_s
        ));
    }
    out
}
