//! Every scale limit and duration bound of a manifest, in one place: validation enforces them,
//! the manifest reference (`docs/manifest.md`) lists them from here, and other parts (the
//! heartbeat datagram) may size themselves by them.

use std::time::Duration;

/// Nodes in a cluster, witnesses included.
pub const MAX_NODES: usize = 32;
/// Groups in a cluster.
pub const MAX_GROUPS: usize = 256;
/// Resources (VIPs and units) in one group: room for the most VIPs plus units.
pub const MAX_RESOURCES_PER_GROUP: usize = 1024;
/// VIPs in one group.
pub const MAX_VIPS_PER_GROUP: usize = 1000;
/// VIPs in the whole cluster.
pub const MAX_VIPS: usize = 4000;
/// Heartbeat links (as Corosync's knet, which carries at most 8).
pub const MAX_LINKS: usize = 8;
/// Ping targets.
pub const MAX_PING_TARGETS: usize = 16;
/// Bytes of a cluster, node, group, link or resource name (a DNS label's limit).
pub const MAX_NAME: usize = 63;

/// The 32-bit hash (FNV-1a, never 0) by which the heartbeat names a node or a group: two nodes,
/// or two groups, may not share one (validation refuses it; it is as rare as 1 in 20 million
/// for 32 names).
pub fn name_hash(name: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h.max(1)
}

/// One scale limit, as the reference lists it.
pub struct Limit {
    /// What is counted.
    pub what: &'static str,
    /// The most allowed.
    pub max: usize,
}

/// The scale limits, in the order the reference lists them.
pub const SCALE: &[Limit] = &[
    Limit {
        what: "nodes in a cluster, witnesses included",
        max: MAX_NODES,
    },
    Limit {
        what: "groups in a cluster",
        max: MAX_GROUPS,
    },
    Limit {
        what: "resources in one group (VIPs and units)",
        max: MAX_RESOURCES_PER_GROUP,
    },
    Limit {
        what: "VIPs in one group",
        max: MAX_VIPS_PER_GROUP,
    },
    Limit {
        what: "VIPs in a cluster",
        max: MAX_VIPS,
    },
    Limit {
        what: "heartbeat links",
        max: MAX_LINKS,
    },
    Limit {
        what: "ping targets",
        max: MAX_PING_TARGETS,
    },
    Limit {
        what: "bytes in a cluster, node, group, link or resource name",
        max: MAX_NAME,
    },
];

/// The range a duration field accepts, and why.
pub struct Bounds {
    /// The field, as the reference names it.
    pub field: &'static str,
    /// The shortest value allowed.
    pub min: Duration,
    /// The longest value allowed.
    pub max: Duration,
    /// Why these bounds.
    pub why: &'static str,
}

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const fn mins(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

/// `heartbeat.interval`.
pub const HEARTBEAT_INTERVAL: Bounds = Bounds {
    field: "heartbeat.interval",
    min: ms(10),
    max: mins(1),
    why: "faster loads the network for nothing; slower detects nothing in time",
};
/// `heartbeat.warn_after`.
pub const WARN_AFTER: Bounds = Bounds {
    field: "heartbeat.warn_after",
    min: ms(10),
    max: mins(10),
    why: "it lies between interval and dead_after",
};
/// `heartbeat.dead_after`.
pub const DEAD_AFTER: Bounds = Bounds {
    field: "heartbeat.dead_after",
    min: ms(10),
    max: mins(10),
    why: "a node silent for ten minutes is long dead; its groups would be down all that time",
};
/// `heartbeat.initial_dead`.
pub const INITIAL_DEAD: Bounds = Bounds {
    field: "heartbeat.initial_dead",
    min: ms(10),
    max: mins(60),
    why: "time for peers to boot, not for ever",
};
/// `connectivity.interval`.
pub const PING_INTERVAL: Bounds = Bounds {
    field: "connectivity.interval",
    min: ms(100),
    max: mins(1),
    why: "zero would ping without pause; a minute is as slow as a check can usefully be",
};
/// `connectivity.timeout`.
pub const PING_TIMEOUT: Bounds = Bounds {
    field: "connectivity.timeout",
    min: ms(100),
    max: mins(10),
    why: "a target is unreachable once it misses this, so it must outlast a round trip",
};
/// `groups.NAME.resources[].announce.interval`.
pub const ANNOUNCE_INTERVAL: Bounds = Bounds {
    field: "groups.NAME.resources[].announce.interval",
    min: ms(10),
    max: Duration::from_secs(10),
    why: "spacing a burst by less defeats it; a burst over minutes is no burst",
};
/// `groups.NAME.resources[].announce.refresh`.
pub const ANNOUNCE_REFRESH: Bounds = Bounds {
    field: "groups.NAME.resources[].announce.refresh",
    min: Duration::from_secs(1),
    max: mins(60),
    why: "zero would announce without pause; use `off` rather than hours",
};

/// `groups.NAME.restart_window`.
pub const RESTART_WINDOW: Bounds = Bounds {
    field: "groups.NAME.restart_window",
    min: Duration::from_secs(1),
    max: mins(24 * 60),
    why: "restarts are counted within it: below a second counts none, past a day never forgets",
};
/// `groups.NAME.resources[].check.interval`.
pub const CHECK_INTERVAL: Bounds = Bounds {
    field: "groups.NAME.resources[].check.interval",
    min: ms(100),
    max: mins(60),
    why: "each run costs a connection or a process: below 100ms is a load, not a check",
};
/// `groups.NAME.resources[].check.timeout`.
pub const CHECK_TIMEOUT: Bounds = Bounds {
    field: "groups.NAME.resources[].check.timeout",
    min: ms(10),
    max: mins(10),
    why: "a run must end before the next begins (`timeout` below `interval`)",
};
/// The most runs in a row `rise` and `fall` may ask for.
pub const MAX_RISE_FALL: u32 = 10;
/// The most restarts in place `max_restarts` may allow.
pub const MAX_RESTARTS: u32 = 100;

/// Every duration field's bounds, in the order the reference lists them.
pub const DURATIONS: &[&Bounds] = &[
    &HEARTBEAT_INTERVAL,
    &WARN_AFTER,
    &DEAD_AFTER,
    &INITIAL_DEAD,
    &PING_INTERVAL,
    &PING_TIMEOUT,
    &ANNOUNCE_INTERVAL,
    &ANNOUNCE_REFRESH,
    &RESTART_WINDOW,
    &CHECK_INTERVAL,
    &CHECK_TIMEOUT,
];

#[cfg(test)]
mod tests {
    use super::super::duration::{PARSE_MAX, format};
    use super::*;

    #[test]
    fn bounds_are_ordered_and_within_what_the_parser_reads() {
        for b in DURATIONS {
            assert!(!b.min.is_zero() && b.min < b.max, "{}", b.field);
            assert!(b.max <= PARSE_MAX, "{}", b.field);
            // Defaults derived from these (twice dead_after, five intervals...) cannot
            // overflow: a hundred times the largest bound still fits with room to spare.
            assert!(b.max.checked_mul(100).is_some(), "{}", b.field);
        }
    }

    #[test]
    fn a_group_of_the_most_vips_fits_with_units() {
        const { assert!(MAX_RESOURCES_PER_GROUP >= MAX_VIPS_PER_GROUP + 2) };
        const { assert!(MAX_VIPS >= MAX_VIPS_PER_GROUP) };
    }

    #[test]
    fn the_readme_states_every_limit() {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("\n## Validation")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("README has a Validation section");
        let section = section.split_whitespace().collect::<Vec<_>>().join(" ");
        for l in SCALE {
            let number = thousands(l.max);
            assert!(
                section.contains(&number),
                "README's Validation section does not state {number} ({})",
                l.what
            );
        }
        for b in DURATIONS {
            let range = format!("{} to {}", format(b.min), format(b.max));
            assert!(
                section.contains(&range),
                "README's Validation section does not state {} ({range})",
                b.field
            );
        }
    }

    /// `1000` as `1,000`, as the README writes numbers.
    fn thousands(n: usize) -> String {
        let digits = n.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    }
}
