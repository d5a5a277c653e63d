//! The `heartbeat:` section: timers and their relations (after Heartbeat's own rules in
//! `config.c`), and the links with their transports.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::super::diag::Diagnostic;
use super::super::duration::format as fmt_d;
use super::super::limits::{self, MAX_LINKS};
use super::super::model::{Heartbeat, Link, Transport};
use super::super::raw::{RawHeartbeat, RawLink, RawManifest};
use super::super::tree::YamlPath;
use super::{Ctx, interface_name};

/// Heartbeat's UDP port, kept so that firewalls written for Heartbeat still apply.
pub const DEFAULT_PORT: u16 = 694;
const DEFAULT_INTERVAL: Duration = Duration::from_millis(500);
const DEFAULT_DEAD: Duration = Duration::from_secs(3);
/// Default multicast groups: administratively scoped (RFC 2365) and link-local (RFC 4291).
const DEFAULT_GROUP_V4: Ipv4Addr = Ipv4Addr::new(239, 0, 0, 94);
const DEFAULT_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x94);

pub(super) fn heartbeat(cx: &mut Ctx, raw: &RawManifest) -> Heartbeat {
    let empty = RawHeartbeat::default();
    let hb = raw.heartbeat.as_ref().unwrap_or(&empty);
    let path = YamlPath::root().key("heartbeat");
    let port = port(cx, path.key("port"), hb.port).unwrap_or(DEFAULT_PORT);
    let interval = cx.duration(
        path.key("interval"),
        hb.interval.as_ref(),
        DEFAULT_INTERVAL,
        &limits::HEARTBEAT_INTERVAL,
    );
    let dead_after = cx.duration(
        path.key("dead_after"),
        hb.dead_after.as_ref(),
        DEFAULT_DEAD,
        &limits::DEAD_AFTER,
    );
    // Bounded above (minutes), so the sums and products below cannot overflow; saturating
    // all the same, so that no change of bounds can turn them into a panic.
    let warn_after = cx.duration(
        path.key("warn_after"),
        hb.warn_after.as_ref(),
        interval.saturating_add(dead_after) / 2,
        &limits::WARN_AFTER,
    );
    let initial_dead = cx.duration(
        path.key("initial_dead"),
        hb.initial_dead.as_ref(),
        times(dead_after, 2),
        &limits::INITIAL_DEAD,
    );
    let timers = Heartbeat {
        interval,
        warn_after,
        dead_after,
        initial_dead,
        links: Vec::new(),
    };
    check_timers(cx, &path, hb, &timers);
    let links = links(cx, &path, hb.links.as_deref(), port);
    Heartbeat { links, ..timers }
}

fn port(cx: &mut Ctx, path: YamlPath, port: Option<u32>) -> Option<u16> {
    let port = port?;
    match u16::try_from(port) {
        // Any local user may bind a port above 1023 first, or beside an agent that is down,
        // and receive heartbeats meant for it.
        Ok(p) if p > 1023 => {
            cx.push(
                Diagnostic::warning(path, format!("port {p} is above 1023: any local user may bind it"))
                    .hint("use a privileged port (below 1024) such as the default 694, so only root can listen for heartbeats"),
            );
            Some(p)
        }
        Ok(p) if p > 0 => Some(p),
        _ => {
            cx.push(
                Diagnostic::error(path, format!("port {port} is out of range"))
                    .hint("use a UDP port from 1 to 65535"),
            );
            None
        }
    }
}

/// `d` times `n`, saturating instead of overflowing.
fn times(d: Duration, n: u32) -> Duration {
    d.saturating_mul(n)
}

fn check_timers(cx: &mut Ctx, path: &YamlPath, hb: &RawHeartbeat, t: &Heartbeat) {
    // Heartbeat refuses deadtime <= 2 x keepalive: one lost datagram must never kill a node.
    if t.dead_after <= times(t.interval, 2) {
        let at = if hb.dead_after.is_some() {
            "dead_after"
        } else {
            "interval"
        };
        cx.push(
            Diagnostic::error(
                path.key(at),
                format!(
                    "dead_after ({}) must be more than twice interval ({})",
                    fmt_d(t.dead_after),
                    fmt_d(t.interval)
                ),
            )
            .hint(format!(
                "raise dead_after above {} or lower interval",
                fmt_d(times(t.interval, 2))
            )),
        );
    } else if t.dead_after < times(t.interval, 4) {
        cx.push(
            Diagnostic::warning(
                path.key("dead_after"),
                format!(
                    "only {} heartbeats fit in dead_after",
                    t.dead_after.as_millis() / t.interval.as_millis().max(1)
                ),
            )
            .hint(
                "a short burst of loss will declare a live node dead; 4 or more intervals is safer",
            ),
        );
    }
    let warn_ok = t.warn_after > t.interval && t.warn_after < t.dead_after;
    if warn_ok
        && t.dead_after > times(t.interval, 2)
        && t.warn_after.saturating_add(t.dead_after) < times(t.interval, 5)
    {
        // A peer acknowledges a heartbeat in its next one and that stands until the one
        // after: two intervals of lag are normal. Quorum rests on acknowledgements younger
        // than (warn_after + dead_after) / 2 (the engine's lease), so that must exceed two
        // intervals with room to spare, or quorum flaps on a healthy network.
        let at = if hb.warn_after.is_some() {
            "warn_after"
        } else {
            "dead_after"
        };
        cx.push(
            Diagnostic::error(
                path.key(at),
                format!(
                    "warn_after ({}) and dead_after ({}) are too close to interval ({}): together they must be at least 5 intervals",
                    fmt_d(t.warn_after),
                    fmt_d(t.dead_after),
                    fmt_d(t.interval)
                ),
            )
            .hint(format!(
                "a peer's acknowledgement arrives up to two intervals after the heartbeat; raise warn_after + dead_after to {} or more, or lower interval",
                fmt_d(times(t.interval, 5))
            )),
        );
    }
    if !warn_ok {
        cx.push(
            Diagnostic::error(
                path.key("warn_after"),
                format!(
                    "warn_after ({}) must lie between interval ({}) and dead_after ({})",
                    fmt_d(t.warn_after),
                    fmt_d(t.interval),
                    fmt_d(t.dead_after)
                ),
            )
            .hint("a late-heartbeat warning is only useful before the node is declared dead"),
        );
    }
    if t.initial_dead < t.dead_after {
        cx.push(
            Diagnostic::error(
                path.key("initial_dead"),
                format!(
                    "initial_dead ({}) must be at least dead_after ({})",
                    fmt_d(t.initial_dead),
                    fmt_d(t.dead_after)
                ),
            )
            .hint(format!(
                "set initial_dead to {} or more: booting peers need time to appear",
                fmt_d(t.dead_after)
            )),
        );
    }
}

fn links(cx: &mut Ctx, path: &YamlPath, raw: Option<&[RawLink]>, default_port: u16) -> Vec<Link> {
    let Some(raw) = raw else {
        // No links given: one unicast link between the nodes' addresses.
        return vec![Link {
            name: "link0".into(),
            transport: Transport::Unicast,
            interface: None,
            port: default_port,
        }];
    };
    if raw.is_empty() {
        cx.push(
            Diagnostic::error(path.key("links"), "no heartbeat links")
                .hint("add at least `- transport: unicast`"),
        );
    }
    cx.limit(
        path.key("links").index(MAX_LINKS),
        raw.len(),
        MAX_LINKS,
        "heartbeat links",
        "two or three links on separate networks are plenty; remove the rest",
    );
    let mut names = BTreeSet::new();
    let mut out = Vec::new();
    // Links beyond the limit are left out: every node's addresses are resolved per link.
    for (i, l) in raw.iter().enumerate().take(MAX_LINKS) {
        let lpath = path.key("links").index(i);
        let name = l.name.clone().unwrap_or_else(|| format!("link{i}"));
        if l.name.is_some() {
            cx.name(&lpath.key("name"), &name, "link name");
        }
        if !names.insert(name.clone()) {
            cx.push(
                Diagnostic::error(lpath.key("name"), format!("duplicate link name `{name}`"))
                    .hint("give each link its own `name`"),
            );
        }
        if let Some(ifname) = &l.interface {
            interface_name(cx, lpath.key("interface"), ifname);
        }
        let port = port(cx, lpath.key("port"), l.port).unwrap_or(default_port);
        let transport = transport(cx, &lpath, l);
        out.push(Link {
            name,
            transport,
            interface: l.interface.clone(),
            port,
        });
    }
    out
}

/// The link's transport; after an error (already reported) a stand-in, so that the link's
/// name stays known to the checks that refer to it.
fn transport(cx: &mut Ctx, lpath: &YamlPath, l: &RawLink) -> Transport {
    let choices = ["unicast", "multicast", "broadcast"];
    let kind = l.transport.as_ref().map_or(0, |t| {
        cx.choice(lpath.key("transport"), t, &choices).unwrap_or(0)
    });
    if kind != 1 {
        for (key, set) in [
            ("group", l.group.is_some()),
            ("ttl", l.ttl.is_some()),
            ("family", l.family.is_some()),
        ] {
            if set {
                cx.push(
                    Diagnostic::error(
                        lpath.key(key),
                        format!("`{key}` applies only to multicast links"),
                    )
                    .hint(format!("remove `{key}` or set `transport: multicast`")),
                );
            }
        }
    }
    match kind {
        0 => Transport::Unicast,
        1 => multicast(cx, lpath, l),
        _ => {
            if l.interface.is_none() {
                cx.push(
                    Diagnostic::error(lpath.clone(), "a broadcast link needs an interface")
                        .hint("add `interface: eth0` (its IPv4 broadcast address is used)"),
                );
            }
            Transport::Broadcast
        }
    }
}

fn multicast(cx: &mut Ctx, lpath: &YamlPath, l: &RawLink) -> Transport {
    let family = l
        .family
        .as_ref()
        .and_then(|f| cx.choice(lpath.key("family"), f, &["ipv4", "ipv6"]));
    let default = if family == Some(1) {
        IpAddr::V6(DEFAULT_GROUP_V6)
    } else {
        IpAddr::V4(DEFAULT_GROUP_V4)
    };
    let group = l.group.as_ref().map_or(default, |text| {
        group(cx, lpath, text, family).unwrap_or(default)
    });
    if group.is_ipv6() && l.interface.is_none() {
        cx.push(
            Diagnostic::error(lpath.clone(), "an IPv6 multicast link needs an interface")
                .hint("add `interface: eth0`: IPv6 multicast is joined per interface"),
        );
    }
    let ttl = match l.ttl {
        None => 1,
        Some(t @ 1..=255) => t as u8,
        Some(t) => {
            cx.push(
                Diagnostic::error(lpath.key("ttl"), format!("ttl {t} is out of range"))
                    .hint("use 1 (same segment) up to 255"),
            );
            1
        }
    };
    Transport::Multicast { group, ttl }
}

fn group(cx: &mut Ctx, lpath: &YamlPath, text: &str, family: Option<usize>) -> Option<IpAddr> {
    let Ok(group) = text.parse::<IpAddr>() else {
        cx.push(
            Diagnostic::error(lpath.key("group"), format!("`{text}` is not an IP address"))
                .hint("use a multicast address such as `239.0.0.94` or `ff02::94`"),
        );
        return None;
    };
    if !group.is_multicast() {
        cx.push(
            Diagnostic::error(
                lpath.key("group"),
                format!("{group} is not a multicast address"),
            )
            .hint(
                "use an address in 224.0.0.0/4 (e.g. `239.0.0.94`) or ff00::/8 (e.g. `ff02::94`)",
            ),
        );
        return None;
    }
    if family.is_some_and(|f| (f == 1) != group.is_ipv6()) {
        cx.push(
            Diagnostic::error(
                lpath.key("family"),
                "`family` does not match the group's address family",
            )
            .hint("remove `family`: the group decides it"),
        );
    }
    Some(group)
}
