//! haagentctl: the operator's command line. Manifest work (validate, keygen, simulate, schema)
//! is local; everything about the running cluster goes to the agent over D-Bus ([`ops`]).

mod failure;
mod history;
mod ops;
mod render;
mod replay;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use haagent::auth::{self, KeygenMode};
use haagent::manifest::{self, check};

/// Control and inspect a haagent cluster.
#[derive(Parser)]
#[command(name = "haagentctl", version, about, after_help = AGENT_EXIT_CODES)]
struct Cli {
    /// How long to wait for each answer of the agent, in seconds (status, failover, standby,
    /// online, clear, reload); past it the command fails with exit code 5.
    #[arg(long, global = true, value_name = "SECONDS", default_value = "5",
          value_parser = failure::parse_call_timeout)]
    call_timeout: std::time::Duration,
    #[command(subcommand)]
    command: Command,
}

/// The exit codes of the commands that talk to the agent, for `--help`.
const AGENT_EXIT_CODES: &str = "\
Exit codes of status, failover, standby, online, clear and reload:
  0  done (status: every group running)
  1  degraded (status), or refused by the agent (an unknown name, an invalid manifest)
  2  wrong usage
  3  the agent is not reachable (not running, or no system bus)
  4  not allowed: reading needs root or the haagent group, changing needs root
  5  the agent holds its bus name but did not answer within --call-timeout
  6  the agent is busy (too many requests waiting); try again";

#[derive(Subcommand)]
enum Command {
    /// Check a manifest (and this host, if it is one of its nodes). Exit codes: 0 valid,
    /// 1 invalid, 2 unreadable, 3 valid but different from `--against`.
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
        /// Compare with another node's manifest (copied here) key by key, as validated: what
        /// differs when status says MANIFEST DIFFERS. Exit code 3 when they differ.
        #[arg(long, value_name = "OTHER", conflicts_with = "node")]
        against: Option<PathBuf>,
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
    /// Simulate a manifest's cluster under random faults and check it never runs a stateful
    /// group twice and always recovers. Exit codes: 0 no violation, 1 violations.
    Simulate {
        /// Manifest files.
        #[arg(default_value = manifest::DEFAULT_PATH)]
        files: Vec<PathBuf>,
        /// Number of fault schedules (seeds) per manifest.
        #[arg(long, default_value_t = 1000)]
        seeds: u64,
        /// First seed (a violation's seed replays it with `--seeds 1`).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Fault kinds to draw, comma-separated (default: every kind the manifest's safety
        /// settings claim to cover: all but gateway-split and link-cut when a ping
        /// tie-breaker alone decides between two nodes).
        #[arg(long, value_delimiter = ',', value_parser = fault_names())]
        faults: Vec<String>,
        /// Print one JSON object per manifest.
        #[arg(long)]
        json: bool,
    },
    /// Print the manifest's JSON Schema.
    Schema,
    /// Replay a flight recording (/var/lib/haagent/recorder/*.jsonl) on a fresh engine and
    /// check that it decides what the node decided. Exit codes: 0 every action reproduced,
    /// 1 a divergence, 2 a file unreadable or malformed, 3 inputs missing (files rotated out
    /// or left out, inputs lost): replayed up to them.
    Replay {
        /// Recording files, of one run or several (in any order).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print one JSON object: {"inputs", "actions", "divergence": null or {"input",
        /// "file", "line", "expected", "got"}, "gaps", "runs", "partial"}.
        #[arg(long)]
        json: bool,
    },
    /// Show the cluster: nodes, links, groups, owners, since when and why. Exit codes: 0 every
    /// group running, 1 degraded, 3 the agent is not reachable, 4 not allowed, 5 no answer
    /// within --call-timeout, 6 busy.
    #[command(after_help = AGENT_EXIT_CODES)]
    Status {
        /// Print one JSON object instead of text; on failure `{"error": MESSAGE, "kind":
        /// "unreachable|denied|timeout|busy|refused|failed"}`, with the same exit codes.
        #[arg(long)]
        json: bool,
        /// Redraw on every change the agent signals (at most 4 times a second, and every 5 s
        /// anyway) until interrupted; with --json, one object per line.
        #[arg(long)]
        watch: bool,
    },
    /// List this node's acquisitions, releases and failures from the journal, oldest first,
    /// with how long each took and how long groups were held. Exit codes: 0 listed (maybe
    /// nothing), 1 journalctl failed.
    History {
        /// Only this group.
        group: Option<String>,
        /// From this time on, as journalctl reads it: `2026-12-03 04:00:00`, `-1h`, `today`.
        #[arg(long, allow_hyphen_values = true, value_parser = history::parse_since)]
        since: Option<String>,
        /// At most this many journal entries, the latest.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=i64::from(history::MAX_LINES)))]
        lines: u32,
        /// One JSON object per line: time, group, node, event, duration, duration_ms, reason.
        #[arg(long)]
        json: bool,
    },
    /// Move a group to another node with no overlap (planned switchover); without a group,
    /// move everything off this node (standby, like hb_standby). Waits until done.
    Failover {
        /// The group (default: every group on this node).
        group: Option<String>,
        /// The node to move it to (default: the next in its preference order).
        #[arg(long)]
        to: Option<String>,
        /// Return at once instead of waiting for the move.
        #[arg(long)]
        no_wait: bool,
        /// How long to wait for the move, in seconds (each call to the agent within it is
        /// limited by --call-timeout).
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// Put a node (default: this one) in standby: it gives up its groups and takes none.
    Standby {
        /// The node.
        node: Option<String>,
    },
    /// Take a node (default: this one) out of standby.
    Online {
        /// The node.
        node: Option<String>,
    },
    /// Maintenance, cluster-wide (every node, carried by the heartbeats): with `on`, nothing
    /// of the group (default: every group) is started, stopped or moved, and resources that
    /// change are left alone; an agent restarted meanwhile adopts what it finds. With `off`,
    /// what runs where it should stays and anything else is put right.
    Maintenance {
        /// `on` or `off`.
        #[arg(value_parser = ["on", "off"])]
        state: String,
        /// The group (default: the whole cluster).
        group: Option<String>,
    },
    /// Forget operator moves and failure marks of a group.
    Clear {
        /// The group.
        group: String,
    },
    /// Say that a group whose stop failed on a node no longer runs there (check by hand
    /// first: its units stopped, its VIPs gone). Until then no node starts it, unless the
    /// blocked node is fenced.
    Unblock {
        /// The group.
        group: String,
        /// The node where its stop failed (default: this one).
        node: Option<String>,
    },
    /// Re-read the manifest on this node; an invalid one is refused and nothing changes.
    Reload,
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write man pages (one per subcommand) into a directory.
    #[command(hide = true)]
    Manpages {
        /// Target directory.
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    default_sigpipe();
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
        Command::Validate {
            file,
            json,
            against: Some(other),
            ..
        } => {
            let outcome = haagent::manifest::compare::run_against(&file, &other, json);
            print!("{}", outcome.output);
            Ok(ExitCode::from(outcome.code))
        }
        Command::Validate {
            file, node, json, ..
        } => {
            let outcome = check::run(&check::CheckOptions {
                file: &file,
                node: node.as_deref(),
                json,
                require_node: false,
            });
            print!("{}", outcome.output);
            if !json && outcome.code == 0 {
                stop_budget(&file, node.as_deref());
            }
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
        Command::Simulate {
            files,
            seeds,
            seed,
            faults,
            json,
        } => simulate(&files, seed..seed + seeds, &faults, json),
        Command::Schema => {
            print!("{}", manifest::schema::generate());
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay { files, json } => replay::run(&files, json),
        Command::History {
            group,
            since,
            lines,
            json,
        } => history::run(group.as_deref(), since.as_deref(), lines, json),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "haagentctl", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Manpages { dir } => manpages(&dir),
        live => agent_command(live, cli.call_timeout),
    }
}

/// Dies quietly when the reader of the output goes away (`haagentctl simulate ... | head`), as
/// command-line tools do, instead of the panic Rust's ignored SIGPIPE turns into.
#[allow(unsafe_code)]
fn default_sigpipe() {
    // SAFETY: setting a signal's disposition to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Runs a command against the agent, on a small single-threaded runtime; a failure is
/// reported with its own exit code (`status --json` as a JSON object).
fn agent_command(cmd: Command, call_timeout: std::time::Duration) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let json = matches!(cmd, Command::Status { json: true, .. });
    let done = rt.block_on(async {
        let agent = ops::connect(call_timeout).await?;
        match cmd {
            Command::Status { json, watch: false } => agent.print_status(json).await,
            Command::Status { json, watch: true } => agent.watch_status(json).await,
            Command::Failover {
                group,
                to,
                no_wait,
                timeout,
            } => {
                let wait = (!no_wait).then(|| std::time::Duration::from_secs(timeout));
                agent.failover(group, to, wait).await
            }
            Command::Standby { node } => agent.standby(node, true).await,
            Command::Online { node } => agent.standby(node, false).await,
            Command::Clear { group } => agent.clear(&group).await,
            Command::Maintenance { state, group } => agent.maintenance(state == "on", group).await,
            Command::Unblock { group, node } => agent.unblock(&group, node).await,
            Command::Reload => agent.reload().await,
            _ => unreachable!("local commands are handled before"),
        }
    });
    Ok(done.unwrap_or_else(|e| failure::report(&e, json)))
}

/// One man page for haagentctl and one per subcommand, as `haagentctl-NAME.1`.
fn manpages(dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(dir)?;
    let cmd = <Cli as clap::CommandFactory>::command();
    let write = |name: &str, c: clap::Command| -> anyhow::Result<()> {
        let mut out = Vec::new();
        clap_mangen::Man::new(c).render(&mut out)?;
        std::fs::write(dir.join(format!("{name}.1")), out)?;
        Ok(())
    };
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("haagentctl-{}", sub.get_name());
        write(&name, sub.clone().name(name.clone()))?;
    }
    write("haagentctl", cmd)?;
    Ok(ExitCode::SUCCESS)
}

fn simulate(
    files: &[PathBuf],
    seeds: std::ops::Range<u64>,
    faults: &[String],
    json: bool,
) -> anyhow::Result<ExitCode> {
    use haagent::sim::{self, FaultKind};
    let named: Vec<FaultKind> = faults
        .iter()
        .map(|f| {
            FaultKind::parse(f).ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown fault `{f}`; faults are {}",
                    FaultKind::ALL.map(FaultKind::name).join(", ")
                )
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let mut violated = false;
    for file in files {
        let (m, _) = manifest::load(file).map_err(|e| {
            anyhow::anyhow!("{e}; `haagentctl validate {}` shows why", file.display())
        })?;
        let started = std::time::Instant::now();
        let kinds = if named.is_empty() {
            FaultKind::covered(&m)
        } else {
            named.clone()
        };
        let summary = sim::simulate(&m, seeds.clone(), &kinds);
        violated |= !summary.violations.is_empty();
        if json {
            let mut v = serde_json::to_value(&summary)?;
            v["file"] = serde_json::Value::from(file.display().to_string());
            println!("{v}");
        } else {
            print_summary(&file.display().to_string(), &summary, started.elapsed());
        }
    }
    Ok(if violated {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// On a node with systemd, warns about stateful groups whose units may take longer to stop
/// than the timers allow (what the agent says at start); silent elsewhere (a workstation).
fn stop_budget(file: &std::path::Path, node: Option<&str>) {
    let Ok((m, _)) = manifest::load(file) else {
        return;
    };
    let Some(me) = node
        .map(str::to_owned)
        .or_else(manifest::check::hostname)
        .filter(|n| m.nodes.contains_key(n))
    else {
        return;
    };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let over = rt.block_on(async {
        let s = haagent::drivers::systemd::Systemd::connect().await.ok()?;
        let mut timeouts = std::collections::BTreeMap::new();
        for (_, g) in m.groups.iter().filter(|(_, g)| g.nodes.contains(&me)) {
            for r in &g.resources {
                if let haagent::manifest::model::ResourceKind::Unit(u) = &r.kind
                    && let Ok(t) = s.stop_timeout(u).await
                {
                    timeouts.insert(u.clone(), t);
                }
            }
        }
        Some(haagent::manifest::stop_budget::over_budget(
            &m, &me, &timeouts,
        ))
    });
    for o in over.unwrap_or_default() {
        println!("{}: warning (systemd on this node): {o}", file.display());
    }
}

/// The fault kinds `--faults` accepts, listed in `--help`.
fn fault_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(haagent::sim::FaultKind::ALL.map(|k| k.name()))
}

fn print_summary(file: &str, s: &haagent::sim::Summary, took: std::time::Duration) {
    println!(
        "{file}: {} schedules in {:.1}s, {} violations",
        s.schedules,
        took.as_secs_f64(),
        s.violations.len()
    );
    let ran: Vec<String> = s.faults.iter().map(|(k, n)| format!("{k} {n}")).collect();
    println!("  faults: {}", ran.join(", "));
    for (g, st) in &s.groups {
        let (f, c) = (&st.failover_ms, &st.crash_failover_ms);
        println!(
            "  {g}: time without an owner after a fault: p50 {}ms, p99 {}ms, max {}ms ({} times)",
            f.p50, f.p99, f.max, f.samples
        );
        println!(
            "  {g}: after a crash of its node (cluster otherwise healthy): p50 {}ms, p99 {}ms, max {}ms ({} times)",
            c.p50, c.p99, c.max, c.samples
        );
        if st.overlap_ms > 0 {
            println!(
                "  {g}: ran on two nodes at once for {}ms in all (allowed: not stateful)",
                st.overlap_ms
            );
        }
    }
    for v in s.violations.iter().take(3) {
        println!("violation: {}\n{}\n", v.invariant, v.trace);
    }
}
