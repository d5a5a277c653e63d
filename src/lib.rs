//! haagent: a declarative, systemd-native failover agent.
//!
//! # Layout
//!
//! Layers, each importing only those below it (the top of the list is the bottom):
//!
//! ```text
//! text.rs, fsguard.rs  message helpers; opening trusted files (no symlink, owner, mode, cap)
//! auth.rs, auth/       heartbeat key file format and key ring; `keygen` writes key files
//! manifest/            the cluster manifest, read in two layers
//!   raw.rs               serde mirror of the YAML (the JSON Schema is generated from it)
//!   validate/            raw -> validated model, every problem reported at once
//!   model.rs             the validated domain types the rest of the agent uses
//!   tree.rs, diag.rs     YAML positions; problems and their rendering
//!   check.rs, host.rs    `haagentctl validate`, `haagent --check-config`, checks of the host
//!   limits.rs            the scale limits validation enforces (and the wire format carries)
//! protocol/            PURE: the datagram format (`wire`), replay guard, drop counters
//! engine/              PURE: every decision (no clock, no I/O, no randomness, no secret)
//!   mod.rs               `Engine::handle(now, input) -> actions`, `next_deadline()`
//!   types.rs             inputs, actions, events (serde: recorded and replayed)
//!   membership.rs        who is alive, per peer and per link
//!   runs.rs, peer_runs.rs  which run of a peer counts (replays); what is saved of them
//!   quorum.rs, election.rs  quorum; who should own each group, who may run it
//!   decide.rs            acquiring and releasing safely (claims, hold-off, fencing)
//!   runner.rs            starting and stopping one group's resources in dependency order
//!   observe.rs           what units and addresses seen here mean: lost, restarting, stray
//!   strays.rs            stray copies: `on_stray` (stop or warn), the bounded record status lists
//!   adopt.rs             what an earlier run left running
//!   maintenance.rs, restart.rs, drift.rs  maintenance; restarts in place; manifests that differ
//!   checks.rs, track.rs  health checks (when they run, rise/fall); `track_interface` carriers
//!   intents.rs, gossip.rs  operator commands gossiped cluster-wide; the datagram sent
//!   snapshot.rs          the read-only view status and the CLI report
//! sim/                 the engine over a simulated world: faults, invariants, golden scenarios;
//!                      replay/ feeds a recorded run to a fresh engine and compares its actions
//! drivers/             thin translators: links/ (UDP sockets, kernel source filter, batched
//!                      reads, MAC check, drops by reason and source), vip (rtnetlink, on a
//!                      thread of its own, batched), announce (ARP/NA frames) and announcer
//!                      (bursts paced on a thread of their own), systemd (D-Bus), ping, netif,
//!                      clock, notify, logging, recorder (the flight recorder's files, off the loop),
//!                      notifier (a template unit per event, bounded queue; unit_escape names it),
//!                      checks (one probe: tcp, http, exec as a transient unit), carrier (sysfs)
//! control/             D-Bus interface org.haagent.Agent1: caller checks, status, proxy;
//!                      metrics/ (Prometheus text, a small HTTP/1.0 endpoint rendering off the loop)
//! agent/               the daemon: the one select! loop (mod.rs), driver reports as engine
//!                      inputs (feeds.rs), actions carried out (exec.rs), start-up (setup.rs),
//!                      how long each wake-up held the loop (latency.rs), status and scrapes
//!                      (report.rs)
//! bin/                 `haagent` (the daemon) and `haagentctl` (the operator)
//! ```
//!
//! # The daemon's channels
//!
//! ```text
//!  links (authenticated datagrams) --Heard-->  +-----------------+
//!  systemd (unit state, queued job) --Unit--->  |   agent loop    |  --handle(now, input)-->  engine
//!  netlink monitor (VIP addresses) --Addr--->  |   (select!)     |  <--------- actions ---
//!  ping rounds -----------------------Ping--->  |                 |
//!  exec's jobs, fences, checks, carriers         |                 |
//!        -------Done/Fenced/Checked/Carrier-->  |                 |  --> exec: links.send, vip add/remove,
//!  signals, D-Bus requests --Shutdown/Reload/-> |                 |      announce, start/stop units, run checks, fence,
//!                              Control/Keys    |                 |      sd_notify, journal, Changed,
//!  metrics endpoint ---------------Scrape----> +-----------------+      notification queue (try_send)
//! ```
//!
//! The engine lives apart from every driver: it takes inputs with the current time and returns
//! actions, so it can be tested, simulated and replayed without sockets or clocks.

pub mod agent;
pub mod auth;
pub mod control;
pub mod drivers;
pub mod engine;
pub mod fsguard;
pub mod manifest;
pub mod protocol;
pub mod sim;
pub mod text;
