//! The resources the agent manages, each a thin driver that carries out engine actions:
//! virtual IPs ([`vip`]) and their announcements ([`announce`]), and systemd units ([`systemd`]).

pub mod announce;
pub mod systemd;
pub mod vip;
