//! The daemon: the one `select!` loop. Drivers (heartbeat sockets, netlink, systemd, ping,
//! signals) feed inputs in; the engine decides; [`exec`] carries out its actions. The loop also
//! pings systemd's watchdog, so a hung loop gets the agent killed and restarted.

mod exec;
pub mod setup;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::control;
use crate::control::service::{Ask, Request};
use crate::drivers::links::Links;
use crate::drivers::systemd::Systemd;
use crate::drivers::vip::{self, Vips};
use crate::drivers::{notify, ping};
use crate::engine::{Command, Engine, Input, Time};
use crate::manifest::Manifest;
use exec::Exec;

/// Why the agent could not start or keep running.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The manifest is missing or invalid.
    #[error("manifest: {0}")]
    Manifest(String),
    /// The key ring could not be read.
    #[error("keys: {0}")]
    Keys(String),
    /// A heartbeat link could not be opened.
    #[error(transparent)]
    Link(#[from] crate::drivers::links::LinkError),
    /// A driver could not start.
    #[error("{what}: {source}")]
    Driver {
        /// Which driver.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// systemd could not be reached over the system bus.
    #[error("cannot reach systemd on the system bus: {0}")]
    Bus(#[from] zbus::Error),
}

/// How the daemon was started.
#[derive(Clone, Debug)]
pub struct Options {
    /// The manifest file.
    pub manifest: PathBuf,
    /// This node's name.
    pub node: String,
    /// Where the generation number is kept.
    pub state_dir: PathBuf,
}

fn driver(what: &'static str) -> impl FnOnce(std::io::Error) -> AgentError {
    move |source| AgentError::Driver { what, source }
}

/// Channels from the drivers into the loop.
struct Feeds {
    inputs: mpsc::UnboundedReceiver<Input>,
    addrs: mpsc::UnboundedReceiver<vip::AddrChange>,
    units: mpsc::UnboundedReceiver<crate::drivers::systemd::UnitChange>,
    pings: mpsc::UnboundedReceiver<u16>,
}

/// Runs the agent until SIGTERM (or SIGINT) has released everything. Must run on a tokio
/// runtime with time, net and signals enabled.
pub async fn run(opts: Options) -> Result<(), AgentError> {
    let m = setup::manifest(&opts.manifest, &opts.node)?;
    let keys = setup::keys(&m.auth)?;
    let mut term = signal(SignalKind::terminate()).map_err(driver("signals"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(driver("signals"))?;
    let mut hup = signal(SignalKind::hangup()).map_err(driver("signals"))?;

    let (input_tx, inputs) = mpsc::unbounded_channel();
    let (addr_tx, addrs) = mpsc::unbounded_channel();
    let (unit_tx, units) = mpsc::unbounded_channel();
    let (ping_tx, pings) = mpsc::unbounded_channel();
    let links = Links::open(&m, &opts.node, &input_tx)?;
    let vips = Vips::connect().map_err(driver("netlink"))?;
    vip::monitor(addr_tx).map_err(driver("netlink address monitor"))?;
    ping::spawn(&m.connectivity, ping_tx).map_err(driver("ping"))?;
    let local_units = setup::local_units(&m, &opts.node);
    let systemd = if local_units.is_empty() && m.nodes.values().all(|n| n.fence.is_none()) {
        None
    } else {
        Some(Systemd::connect().await?)
    };
    if let Some(s) = &systemd {
        check_units(s, &local_units, unit_tx).await;
    }
    let generation = setup::next_generation(&opts.state_dir).map_err(driver("state directory"))?;
    let mut exec = Exec::new(links, vips, systemd, input_tx);
    // What an earlier run left up is the engine's first input: it adopts it or stops it.
    let found = exec.probe(&m, &opts.node).await;
    let (request_tx, mut requests) = control::service::requests();
    exec.control = match control::service::serve(&opts.node, request_tx).await {
        Ok(conn) => Some(conn),
        Err(e) => {
            tracing::warn!(error = %e, "control interface unavailable: haagentctl cannot reach this agent (is the D-Bus policy installed?)");
            None
        }
    };

    let start = Instant::now();
    let now = move || Time(start.elapsed().as_millis() as u64);
    tracing::info!(node = %opts.node, cluster = %m.cluster, generation, "joining the cluster");
    let mut engine = Engine::new(now(), &opts.node, m, keys, generation);
    let ping_every = notify::arm_watchdog(engine.manifest().heartbeat.watchdog());
    let mut feeds = Feeds {
        inputs,
        addrs,
        units,
        pings,
    };
    let mut watchdog = tokio::time::interval(ping_every.unwrap_or(Duration::from_secs(3600)));
    watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pending = Some(Input::Found { resources: found });
    loop {
        if let Some(input) = pending.take() {
            exec.observe(&input, engine.manifest());
            let actions = engine.handle(now(), input);
            let exit = exec.apply(actions);
            exec.history.track(&engine, SystemTime::now());
            if exit {
                tracing::info!("everything released; peers were told: exiting");
                return Ok(());
            }
        }
        let deadline = engine
            .next_deadline()
            .map(|t| start + Duration::from_millis(t.0));
        pending = tokio::select! {
            _ = term.recv() => Some(Input::Shutdown),
            _ = int.recv() => Some(Input::Shutdown),
            _ = hup.recv() => reload(&opts, &mut engine, &mut exec).ok().flatten().map(|m| Input::Reload(Box::new(m))),
            Some(r) = requests.recv() => answer(r, &opts, &mut engine, &mut exec, now()),
            Some(i) = feeds.inputs.recv() => Some(i),
            Some(c) = feeds.addrs.recv() => exec.addr_change(&c, engine.manifest()),
            Some(c) = feeds.units.recv() => exec.unit_change(&c),
            Some(n) = feeds.pings.recv() => Some(Input::Ping { reachable: n }),
            _ = sleep_until(deadline) => Some(Input::Tick),
            _ = watchdog.tick(), if ping_every.is_some() => {
                notify::watchdog();
                None
            }
        };
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Re-reads the manifest and the keys (SIGHUP, or `haagentctl reload`): `Ok(Some)` with a
/// changed manifest for the engine, `Ok(None)` when it is unchanged. Keys and links are
/// swapped here, once everything new has been read and opened: an invalid manifest, an
/// unreadable key file or a link that cannot be opened is logged and refused, and the running
/// configuration stays as it is.
fn reload(
    opts: &Options,
    engine: &mut Engine,
    exec: &mut Exec,
) -> Result<Option<Manifest>, String> {
    notify::reloading();
    let result = read_again(opts, engine, exec);
    let out = match result {
        Ok((m, keys, links)) => {
            if let Some(links) = links {
                exec.links = links;
            }
            if *engine.keys() != keys {
                tracing::info!(signing_key = keys.signing().id, "keys reloaded");
                engine.set_keys(keys);
            }
            if m == *engine.manifest() {
                tracing::info!("manifest reloaded: nothing changed");
                Ok(None)
            } else {
                Ok(Some(m))
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "reload refused: the running configuration is unchanged");
            Err(format!("reload refused, nothing changed: {e}"))
        }
    };
    notify::ready(exec.status());
    out
}

/// The new manifest, keys and (when the links changed) links, or why not.
fn read_again(
    opts: &Options,
    engine: &Engine,
    exec: &Exec,
) -> Result<(Manifest, crate::auth::KeyRing, Option<Links>), AgentError> {
    let m = setup::manifest(&opts.manifest, &opts.node)?;
    let keys = setup::keys(&m.auth)?;
    let running = engine.manifest();
    let links = if m.heartbeat != running.heartbeat || m.nodes != running.nodes {
        Some(Links::open(&m, &opts.node, exec.inputs())?)
    } else {
        None
    };
    Ok((m, keys, links))
}

/// Answers a control request; an accepted command becomes the engine's next input.
fn answer(
    r: Request,
    opts: &Options,
    engine: &mut Engine,
    exec: &mut Exec,
    now: Time,
) -> Option<Input> {
    let (reply, input) = match r.ask {
        Ask::Status => {
            let s = control::status::build(engine, now, SystemTime::now(), &exec.history);
            (serde_json::to_string(&s).map_err(|e| e.to_string()), None)
        }
        Ask::Command(c) => match check_command(engine.manifest(), &c) {
            Ok(()) => (Ok(String::new()), Some(Input::Control(c))),
            Err(e) => (Err(e), None),
        },
        Ask::Reload => match reload(opts, engine, exec) {
            Ok(m) => (Ok(String::new()), m.map(|m| Input::Reload(Box::new(m)))),
            Err(e) => (Err(e), None),
        },
    };
    let _ = r.reply.send(reply);
    input
}

/// Refuses commands that name a node or group the manifest does not have.
fn check_command(m: &Manifest, c: &Command) -> Result<(), String> {
    let names = |keys: Vec<&String>| crate::text::quoted_list(&keys);
    let node = |n: &str| match m.nodes.contains_key(n) {
        true => Ok(()),
        false => Err(format!(
            "unknown node `{n}`; nodes: {}",
            names(m.nodes.keys().collect())
        )),
    };
    let group = |g: &str| match m.groups.contains_key(g) {
        true => Ok(()),
        false => Err(format!(
            "unknown group `{g}`; groups: {}",
            names(m.groups.keys().collect())
        )),
    };
    match c {
        Command::Failover { group: g, to } => {
            group(g)?;
            node(to)?;
            match m.groups[g].nodes.contains(to) {
                true => Ok(()),
                false => Err(format!(
                    "`{to}` cannot run `{g}`: it is not in the group's nodes"
                )),
            }
        }
        Command::Clear { group: g } => group(g),
        Command::Standby { node: n, .. } => node(n),
        Command::OverrideWaitForAll => Ok(()),
    }
}

/// Warns about managed units that systemd would start at boot on every node, or cannot find,
/// and starts watching each one.
async fn check_units(
    s: &Systemd,
    units: &[(String, usize, String)],
    tx: mpsc::UnboundedSender<crate::drivers::systemd::UnitChange>,
) {
    for (group, _, unit) in units {
        if let Ok(false) = s.loadable(unit).await {
            tracing::warn!(
                group,
                unit,
                "unit not found on this node: install it or fix the manifest"
            );
        }
        if let Some(state) = s.file_state(unit).await
            && state.starts_with("enabled")
        {
            tracing::warn!(
                group,
                unit,
                state,
                "unit is enabled at boot, so it would run on every node: `systemctl disable {unit}` (haagent starts it where its group runs)"
            );
        }
        if let Err(e) = s.watch(unit, tx.clone()).await {
            tracing::warn!(group, unit, error = %e, "cannot watch unit; its failures will go unnoticed");
        }
    }
}
