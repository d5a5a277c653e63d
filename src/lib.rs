//! haagent: a declarative, systemd-native failover agent.
//!
//! # Layout
//!
//! ```text
//! manifest/        the cluster manifest, read in two layers
//!   raw.rs           serde mirror of the YAML (the JSON Schema is generated from it)
//!   validate/        raw -> validated model, every problem reported at once
//!   model.rs         the validated domain types the rest of the agent uses
//!   tree/            YAML positions, so every problem has a line and column
//!   shape.rs         every wrong type and unknown key at once, against the schema
//!   syntax.rs        UTF-8 and YAML parser errors in our words, at the right place
//!   limits.rs        scale limits and duration bounds, enforced by validate/
//!   diag.rs          problems and their compiler-style / JSON rendering
//!   check.rs         `haagentctl validate` and `haagent --check-config`
//!   host.rs          checks that need the node itself (key file, interfaces)
//!   schema.rs        JSON Schema generation and key lookup
//!   duration.rs      `200ms` / `1.5s` / `1m`, checked arithmetic
//! engine/          the decision engine: PURE (no clock, no I/O, no randomness)
//!   mod.rs           `Engine::handle(now, input) -> actions`, `next_deadline()`
//!   types.rs         inputs, actions, events (serde: runs can be recorded and replayed)
//!   membership.rs    who is alive, per peer and per link
//!   election.rs      quorum and who should own each group
//!   decide.rs        acquiring and releasing safely (claims, hold-off, fencing)
//!   runner.rs        starting and stopping one group's resources in dependency order
//!   intents.rs       operator moves and standby, gossiped cluster-wide
//! heartbeat/       the datagram format (`wire`), replay guard, drop counters, UDP links (`socket`)
//! control/         D-Bus interface org.haagent.Agent1 (service, proxy) and the status it reports
//! agent/           the daemon: the one select! loop, start-up checks, the action executor
//! resources/       drivers: VIPs over rtnetlink, ARP/NA announcements, systemd units over D-Bus
//! ping.rs          connectivity checks (ICMP echo to the ping targets)
//! notify.rs        sd_notify: READY, STATUS, RELOADING, STOPPING, watchdog
//! logging.rs       journald or stderr, structured event fields
//! netif.rs         interface index and MAC from sysfs
//! sim/             a deterministic multi-node simulation with faults and invariants
//! auth.rs          heartbeat key file format, key ring, `keygen`
//! text.rs          message helpers ("did you mean", quoted lists)
//! bin/haagent.rs   the daemon's command line
//! bin/haagentctl.rs the operator's command line
//! ```
//!
//! The decision engine lives apart from every driver: it takes inputs with the current time
//! and returns actions, so that it can be tested and simulated without sockets or clocks.

pub mod agent;
pub mod auth;
pub mod control;
pub mod drivers;
pub mod engine;
pub mod manifest;
pub mod protocol;
pub mod sim;
pub mod text;
