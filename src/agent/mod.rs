//! The daemon: the one `select!` loop. Drivers (heartbeat sockets, netlink, systemd, ping,
//! signals) report what they see through [`feeds`]; the engine decides; [`exec`] carries out its
//! actions. The loop also pings systemd's watchdog, so a hung loop gets the agent killed and
//! restarted.

mod exec;
mod feeds;
pub mod latency;
mod report;
pub mod setup;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::auth::KeyRing;
use crate::control;
use crate::control::service::{Ask, Request};
use crate::drivers::announcer::Announcer;
use crate::drivers::checkpoint::{self, Checkpoints};
use crate::drivers::links::{Drops, Links};
use crate::drivers::recorder::Recorder;
use crate::drivers::systemd::Systemd;
use crate::drivers::vip;
use crate::drivers::{clock, notify, ping};
use crate::engine::{Command, Engine, Input, Time};
use crate::manifest::Manifest;
use exec::Exec;
use feeds::Feeds;
use latency::Latency;

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
    /// Where the checkpoint is kept (kept across restarts of the agent, not across reboots).
    pub runtime_dir: PathBuf,
}

/// How long an exiting agent waits for its last notifications to reach systemd.
const NOTIFY_AT_EXIT: Duration = Duration::from_secs(2);

fn driver(what: &'static str) -> impl FnOnce(std::io::Error) -> AgentError {
    move |source| AgentError::Driver { what, source }
}

/// The loop's state: the engine, the drivers that carry out its actions, and the settings the
/// daemon itself runs on (the manifest in force and the keys), kept here rather than read back
/// from the engine.
struct Agent {
    engine: Engine,
    exec: Exec,
    m: Arc<Manifest>,
    keys: watch::Sender<Arc<KeyRing>>,
    /// `CLOCK_BOOTTIME` at start: engine time counts from it.
    started: Duration,
    /// The unit watch, replaced when a reload changes the units.
    unit_watch: Option<tokio::task::AbortHandle>,
    unit_tx: mpsc::UnboundedSender<crate::engine::UnitSeen>,
    /// Where links opened by a reload send what they receive, and count what they drop.
    received_tx: mpsc::UnboundedSender<crate::drivers::links::Received>,
    drops: Drops,
    /// Every input and the actions it gave, for `haagentctl replay`.
    recorder: Recorder,
    /// Which address changes concern a VIP.
    vips: feeds::VipFilter,
    /// How long the loop was held.
    latency: Latency,
    /// Reloads, for metrics.
    reloads: crate::control::metrics::Reloads,
    /// The carrier watch of tracked interfaces.
    carrier: crate::drivers::carrier::Carrier,
    /// The metrics endpoint's task, if one listens; and where it asks for scrapes.
    metrics: Option<tokio::task::AbortHandle>,
    scrape_tx: mpsc::Sender<crate::control::metrics::http::Ask>,
}

impl Agent {
    /// Engine time: milliseconds since start, on the boot clock.
    fn now(&self) -> Time {
        let ms = clock::boottime().saturating_sub(self.started).as_millis();
        Time(u64::try_from(ms).unwrap_or(u64::MAX))
    }

    /// Hands `input` to the engine and carries out what it decides; true when the engine says
    /// the agent may exit.
    fn feed(&mut self, input: Input) -> bool {
        let now = self.now();
        let copy = input.clone();
        let actions = self.engine.handle(now, input);
        self.recorder.record(now, copy, &actions);
        let exit = self.exec.apply(actions);
        self.exec
            .history
            .track(&self.engine.owners(), SystemTime::now());
        exit
    }

    /// Notes that the loop was held for `held` after a wake-up; warns when it is too long.
    fn held(&mut self, held: Duration) {
        self.exec.tracker.loop_held.observe(held);
        if let Some(w) = self.latency.note(self.now().0, held) {
            tracing::warn!(
                held_ms = w.held_ms,
                bound_ms = self.m.heartbeat.watchdog().as_millis() as u64,
                more = w.unlogged,
                "the loop was held for more than a quarter of the watchdog bound"
            );
        }
    }

    /// (Re)starts the watch of every unit the manifest names.
    async fn watch_units(&mut self) {
        if let Some(old) = self.unit_watch.take() {
            old.abort();
        }
        let Some(s) = &self.exec.systemd else {
            return;
        };
        match s
            .watch(feeds::managed_units(&self.m), self.unit_tx.clone())
            .await
        {
            Ok(task) => self.unit_watch = Some(task),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the managed units; their failures will go unnoticed")
            }
        }
    }
}

/// Runs the agent until SIGTERM (or SIGINT) has released everything. Must run on a tokio
/// runtime with time, net and signals enabled.
pub async fn run(opts: Options) -> Result<(), AgentError> {
    let m = Arc::new(setup::manifest(&opts.manifest, &opts.node)?);
    let ring = setup::keys(&m.auth)?;
    let key_ids: Vec<u8> = ring.keys().iter().map(|k| k.id).collect();
    let mut term = signal(SignalKind::terminate()).map_err(driver("signals"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(driver("signals"))?;
    let mut hup = signal(SignalKind::hangup()).map_err(driver("signals"))?;

    let (done_tx, done) = mpsc::unbounded_channel();
    let (received_tx, received) = mpsc::unbounded_channel();
    let (addr_tx, addrs) = mpsc::unbounded_channel();
    let (unit_tx, units) = mpsc::unbounded_channel();
    let (ping_tx, pings) = mpsc::unbounded_channel();
    // A scrape waits for the loop at most this many at a time; the endpoint bounds the rest.
    let (scrape_tx, mut scrapes) = mpsc::channel(4);
    let (keys, keys_rx) = watch::channel(Arc::new(ring));
    let drops = Drops::default();
    let links = Links::open(&m, &opts.node, keys_rx, drops.clone(), &received_tx)?;
    let vips = vip::start(addr_tx).map_err(driver("netlink"))?;
    let announcer = Announcer::spawn().map_err(driver("announcements"))?;
    ping::spawn(&m.connectivity, ping_tx).map_err(driver("ping"))?;
    let units_named = feeds::managed_units(&m);
    // Notifications alone need no connection at start: the notifier makes its own when the
    // first one comes, so a bus that is down delays them, not the agent.
    let systemd = if units_named.is_empty() && m.nodes.values().all(|n| n.fence.is_none()) {
        None
    } else {
        Some(Systemd::connect().await?)
    };
    // Warnings only: off the start-up path, which a restarted agent must run through fast
    // to stop what it should not adopt.
    if let Some(s) = systemd.clone() {
        let (m, me) = (m.clone(), opts.node.clone());
        tokio::spawn(async move {
            check_units(&s, &setup::local_units(&m, &me)).await;
            check_stop_budget(&s, &m, &me).await;
        });
    }
    let generation = setup::next_generation(&opts.state_dir).map_err(driver("state directory"))?;
    let carrier = crate::drivers::carrier::Carrier::spawn(m.tracked_interfaces(), done_tx.clone());
    let exec = Exec::new(links, vips, systemd, announcer, done_tx);
    let (request_tx, mut requests) = control::service::requests();
    let control = match control::service::serve(&opts.node, request_tx).await {
        Ok(conn) => Some(conn),
        Err(e) => {
            tracing::warn!(error = %e, "control interface unavailable: haagentctl cannot reach this agent (is the D-Bus policy installed?)");
            None
        }
    };
    tracing::info!(node = %opts.node, cluster = %m.cluster, generation, "joining the cluster");
    let started = clock::boottime();
    let recorder = Recorder::spawn(
        &opts.state_dir,
        Time(0),
        &opts.node,
        &m,
        &key_ids,
        generation,
    );
    let engine = Engine::new(Time(0), &opts.node, (*m).clone(), key_ids, generation);
    let mut agent = Agent {
        engine,
        exec,
        keys,
        started,
        unit_watch: None,
        unit_tx,
        received_tx,
        drops,
        recorder,
        vips: feeds::VipFilter::new(&m),
        latency: Latency::new(m.heartbeat.watchdog()),
        reloads: Default::default(),
        carrier,
        metrics: None,
        scrape_tx,
        m,
    };
    agent.exec.control = control;
    agent.exec.notify_unit = agent.m.notify.clone();
    agent.serve_metrics(None);
    // Watch first, then probe: a change between the two is seen, not lost.
    agent.watch_units().await;
    let mut probe = feeds::probe(&agent.m, agent.exec.systemd.as_ref(), &agent.exec.vips).await;
    probe.previous = checkpoint::read(&opts.runtime_dir);
    probe.peers = checkpoint::peer_runs(&opts.state_dir);
    agent.exec.peer_runs = Some(checkpoint::PeerRuns::start(&opts.state_dir));
    match std::fs::create_dir_all(&opts.runtime_dir) {
        Ok(()) => agent.exec.checkpoints = Some(Checkpoints::start(&opts.runtime_dir)),
        Err(e) => {
            tracing::warn!(dir = %opts.runtime_dir.display(), error = %e, "no runtime directory: a restarted agent will stop what it finds instead of adopting it")
        }
    }
    let ping_every = notify::arm_watchdog(agent.m.heartbeat.watchdog());
    let mut feeds = Feeds {
        done,
        received,
        addrs,
        units,
        pings,
    };
    let mut watchdog = tokio::time::interval(ping_every.unwrap_or(Duration::from_secs(3600)));
    watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // What an earlier run left up is the engine's first input: it adopts it or stops it.
    let mut pending = VecDeque::from([Input::Probed(probe)]);
    // When the work under way was due: a timer's deadline, or when a message woke the loop.
    let mut due: Option<Instant> = None;
    loop {
        while let Some(input) = pending.pop_front() {
            if agent.feed(input) {
                tracing::info!("everything released; peers were told: exiting");
                agent.exec.notifier.close(NOTIFY_AT_EXIT).await;
                return Ok(());
            }
        }
        if let Some(d) = due.take() {
            agent.held(d.elapsed());
        }
        let now = agent.now();
        let planned = agent.engine.next_deadline();
        let deadline =
            planned.map(|t| Instant::now() + Duration::from_millis(t.0.saturating_sub(now.0)));
        let wake = tokio::select! {
            _ = term.recv() => Wake::Stop,
            _ = int.recv() => Wake::Stop,
            _ = hup.recv() => Wake::Reload,
            Some(r) = requests.recv() => Wake::Request(r),
            Some(reply) = scrapes.recv() => Wake::Scrape(reply),
            Some(i) = feeds.done.recv() => Wake::Input(i),
            Some(r) = feeds.received.recv() => Wake::Input(Input::Heard { link: r.link, datagram: r.datagram }),
            Some(c) = feeds.addrs.recv() => Wake::Addr(c),
            Some(u) = feeds.units.recv() => Wake::Input(Input::Unit(u)),
            Some(n) = feeds.pings.recv() => Wake::Input(Input::Ping { reachable: n }),
            () = sleep_until(deadline) => Wake::Tick(deadline.unwrap_or_else(Instant::now)),
            at = watchdog.tick(), if ping_every.is_some() => Wake::Watchdog(at),
        };
        due = Some(match &wake {
            Wake::Tick(at) | Wake::Watchdog(at) => *at,
            _ => Instant::now(),
        });
        // Woken much later than planned, by the boot clock: the machine or the process was
        // paused (a frozen agent alone would have been killed by its watchdog). The engine
        // hears of it before anything that happened meanwhile, and the pause is not the
        // loop's latency.
        let late = planned.map_or(0, |p| agent.now().0.saturating_sub(p.0));
        if late > agent.m.heartbeat.watchdog().as_millis() as u64 {
            // A paused machine resumes with systemd's watchdog overdue too: tell it first
            // that this loop runs, so that the agent, not a restart half a second later,
            // stops what must not run twice.
            if ping_every.is_some() {
                notify::watchdog();
            }
            tracing::warn!(
                late_ms = late,
                "woken long after the planned time: this node was paused"
            );
            pending.push_front(Input::Paused { ms: late });
            due = Some(Instant::now());
        }
        match wake {
            Wake::Stop => pending.push_back(Input::Shutdown),
            Wake::Reload => pending.extend(reload(&opts, &mut agent).await.unwrap_or_default()),
            Wake::Request(r) => pending.extend(answer(r, &opts, &mut agent).await),
            Wake::Scrape(reply) => {
                let _ = reply.send(agent.scrape());
            }
            Wake::Input(i) => pending.push_back(i),
            Wake::Addr(c) => pending.extend(agent.vips.input(&c)),
            Wake::Tick(_) => pending.push_back(Input::Tick),
            Wake::Watchdog(_) => notify::watchdog(),
        }
    }
}

/// What woke the loop.
enum Wake {
    Stop,
    Reload,
    Request(Request),
    /// The metrics endpoint asks for a scrape.
    Scrape(crate::control::metrics::http::Ask),
    Input(Input),
    Addr(crate::drivers::vip::AddrChange),
    /// The engine's deadline, due then.
    Tick(Instant),
    /// The watchdog's ping, due then.
    Watchdog(Instant),
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Re-reads the manifest and the keys (SIGHUP, or `haagentctl reload`): the inputs that
/// tell the engine what changed (none when nothing did). Keys and links are swapped here, once
/// everything new has been read and opened: an invalid manifest, an unreadable key file or a
/// link that cannot be opened is logged and refused, and the running configuration stays as
/// it is.
async fn reload(opts: &Options, agent: &mut Agent) -> Result<Vec<Input>, String> {
    notify::reloading();
    let result = read_again(opts, agent);
    let mut inputs = Vec::new();
    let out = match result {
        Ok((m, ring, links)) => {
            if let Some(links) = links {
                agent.exec.links = links;
            }
            if **agent.keys.borrow() != ring {
                tracing::info!(signing_key = ring.signing().id, "keys reloaded");
                let ids = ring.keys().iter().map(|k| k.id).collect();
                agent.keys.send_replace(Arc::new(ring));
                inputs.push(Input::Keys { ids });
            }
            if m == *agent.m {
                tracing::info!("manifest reloaded: nothing changed");
            } else {
                let units_changed = feeds::managed_units(&m) != feeds::managed_units(&agent.m);
                let old = std::mem::replace(&mut agent.m, Arc::new(m.clone()));
                agent.exec.notify_unit = m.notify.clone();
                agent.exec.tracker.retain(&m.groups);
                agent.serve_metrics(Some(&old));
                agent.vips = feeds::VipFilter::new(&m);
                agent.latency.set_bound(m.heartbeat.watchdog());
                agent.carrier.track(m.tracked_interfaces());
                if units_changed {
                    agent.watch_units().await;
                }
                // Off the loop: a few D-Bus calls, for a warning.
                if let Some(s) = agent.exec.systemd.clone() {
                    let (m, me) = (m.clone(), opts.node.clone());
                    tokio::spawn(async move { check_stop_budget(&s, &m, &me).await });
                }
                inputs.push(Input::Reload(Box::new(m)));
            }
            Ok(inputs)
        }
        Err(e) => {
            tracing::error!(error = %e, "reload refused: the running configuration is unchanged");
            Err(format!("reload refused, nothing changed: {e}"))
        }
    };
    agent.reloads.note(out.is_ok(), SystemTime::now());
    notify::ready(agent.exec.status());
    out
}

/// The new manifest, keys and (when the links changed) links, or why not.
fn read_again(
    opts: &Options,
    agent: &Agent,
) -> Result<(Manifest, KeyRing, Option<Links>), AgentError> {
    let m = setup::manifest(&opts.manifest, &opts.node)?;
    let ring = setup::keys(&m.auth)?;
    let running = &agent.m;
    let links = if m.heartbeat != running.heartbeat || m.nodes != running.nodes {
        let tx = &agent.received_tx;
        Some(agent.exec.links.reopen(&m, &opts.node, tx)?)
    } else {
        None
    };
    Ok((m, ring, links))
}

/// Answers a control request; an accepted command or a reload becomes engine inputs.
async fn answer(r: Request, opts: &Options, agent: &mut Agent) -> Vec<Input> {
    let (reply, inputs) = match r.ask {
        Ask::Status => {
            let s = agent.status();
            let json = serde_json::to_string(&s).map_err(|e| e.to_string());
            (json, Vec::new())
        }
        Ask::Command(c) => match resolve(agent, c) {
            Ok((c, answer)) => (Ok(answer), vec![Input::Control(c)]),
            Err(e) => (Err(e), Vec::new()),
        },
        Ask::Reload => match reload(opts, agent).await {
            Ok(inputs) => (Ok(String::new()), inputs),
            Err(e) => (Err(e), Vec::new()),
        },
    };
    let _ = r.reply.send(reply);
    inputs
}

/// Checks a command, and fills in the target of a move when none is named with the engine's
/// choice; the answer for the caller is that target.
fn resolve(agent: &Agent, c: Command) -> Result<(Command, String), String> {
    let c = match c {
        Command::Failover { group, to } if to.is_empty() => {
            let snapshot = agent.engine.snapshot(agent.now());
            let g = snapshot.groups.get(&group);
            let to = g.and_then(|g| g.next.clone()).ok_or_else(|| {
                let why: Vec<String> = g
                    .map(|g| {
                        g.ineligible
                            .iter()
                            .map(|(n, w)| format!("{n}: {w}"))
                            .collect()
                    })
                    .unwrap_or_default();
                format!(
                    "no other node can take `{group}` now ({}); name one with --to",
                    if why.is_empty() {
                        "unknown group".to_owned()
                    } else {
                        why.join("; ")
                    }
                )
            })?;
            Command::Failover { group, to }
        }
        c => c,
    };
    check_command(&agent.m, &c)?;
    if let Command::Maintenance { on: true, .. } = c
        && let Some(why) = agent.engine.refuses_maintenance()
    {
        return Err(why);
    }
    let answer = match &c {
        Command::Failover { to, .. } => to.clone(),
        _ => String::new(),
    };
    Ok((c, answer))
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
        Command::Unblock { group: g, node: n } => group(g).and_then(|()| node(n)),
        Command::Standby { node: n, .. } => node(n),
        Command::Maintenance { group: g, .. } => g.as_deref().map_or(Ok(()), group),
        Command::OverrideWaitForAll => Ok(()),
    }
}

/// Warns about stateful groups whose units may take longer to stop than the timers allow
/// (`manifest::stop_budget`), with the fix.
pub async fn check_stop_budget(s: &Systemd, m: &crate::manifest::Manifest, me: &str) {
    let mut timeouts = std::collections::BTreeMap::new();
    for (_, unit) in setup::local_units(m, me) {
        if let Ok(t) = s.stop_timeout(&unit).await {
            timeouts.insert(unit, t);
        }
    }
    for over in crate::manifest::stop_budget::over_budget(m, me, &timeouts) {
        tracing::warn!(group = %over.group, "{over}");
    }
}

/// Warns about managed units of this node's groups that systemd would start at boot on every
/// node, or cannot find.
async fn check_units(s: &Systemd, units: &[(String, String)]) {
    for (group, unit) in units {
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
    }
}
