//! Drivers: the daemon's hands and eyes. Each carries out one kind of engine action or reports
//! one kind of observation, and decides nothing: heartbeat links ([`links`]), VIPs over
//! rtnetlink ([`vip`]), ARP/NA announcements ([`announce`], paced by
//! [`announcer`]), systemd units over D-Bus
//! ([`systemd`]), health checks ([`checks`]), carriers of tracked interfaces ([`carrier`]), ping targets ([`ping`]), interfaces ([`netif`]), sd_notify ([`notify`]),
//! notification units ([`notifier`], names escaped by [`unit_escape`]) and the journal
//! ([`logging`]).

pub mod announce;
pub mod announcer;
pub mod carrier;
pub mod checkpoint;
pub mod checks;
pub mod clock;
pub mod files;
pub mod links;
pub mod logging;
pub mod netif;
pub mod notifier;
pub mod notify;
pub mod ping;
pub mod recorder;
pub mod systemd;
pub mod unit_escape;
pub mod vip;
