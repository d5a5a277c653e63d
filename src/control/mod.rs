//! The operator interface: the daemon serves `org.haagent.Agent1` on the system bus
//! ([`service`]), `haagentctl` calls it through [`proxy`], and both speak [`status::Status`].
//! Every call is checked against its caller ([`access`] decides, [`callers`] asks the bus who
//! calls). [`metrics`] serves the same picture to Prometheus. Commands given on any node reach the whole cluster through the authenticated
//! heartbeats.

pub mod access;
pub mod callers;
pub mod metrics;
pub mod proxy;
pub mod service;
pub mod status;
pub mod why;

/// The well-known bus name.
pub const BUS_NAME: &str = "org.haagent.Agent1";
/// The object path.
pub const PATH: &str = "/org/haagent/Agent1";
