//! A rolling upgrade from the previous release (0.1.0, wire format 2 only) on real hosts: three
//! nodes boot on its binaries, units and key, with a manifest it accepts, and are upgraded to
//! this build one at a time while a client asks the VIP. The nodes that do not hold the group
//! go first, so the cluster keeps its holder and the only move is the planned switchover
//! (`haagentctl failover`) that empties the holder before its own upgrade. Each upgraded node
//! is seen up by every node before the next one goes.
//!
//! Throughout, a watcher checks that no two nodes hold the group. The mixed cluster's status
//! shows which formats each node speaks and that heartbeats go in format 2, and names no
//! node's manifest as different (format 2 carries no digest: unknown, not different);
//! `maintenance on`, which a 0.1.0 node would not hear of, is refused. Once
//! every node is upgraded, every node sends in format 4, and a switchover back shows the
//! upgraded cluster moving the group. The client's gaps are printed per phase.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use haagent_testbed::{Config, previous};
use serde_json::Value;

use super::*;

/// The longest the client may go unanswered in any phase. An upgrade of a node that does not
/// hold the group should cost the client nothing, and a planned switchover takes under 50 ms
/// with the machine to itself (the package test); this leaves a busy 2-core CI machine a wide
/// margin and still fails a move the cluster did not plan, which waits out `dead_after`
/// (1.5 s) first.
const BOUND: Duration = Duration::from_secs(1);

const NODES: [&str; 3] = ["alpha", "beta", "gamma"];

/// Every format this build speaks, as status lists them.
const ALL: [u64; 3] = [2, 3, 4];

fn status(c: &Cluster, node: &str) -> Value {
    let text = ctl_stdout(c, node, &["status", "--json"]);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("status of {node}: {e}: {text}"))
}

/// Waits until every node's status shows every node up (the previous release's status too).
fn wait_joined(c: &Cluster) {
    for node in NODES {
        c.wait_for(
            &format!("{node} seeing every node up"),
            Duration::from_secs(15),
            &[],
            || {
                let out = c.ctl(node, &["status", "--json"]);
                serde_json::from_slice::<Value>(&out.stdout)
                    .is_ok_and(|s| NODES.iter().all(|n| s["nodes"][n]["state"] == "up"))
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
}

/// Stops `node`'s agent (it holds nothing), installs this build's binaries and units over the
/// previous release's, checks this build reads the manifest as it is, starts the agent and
/// waits until every node sees it up.
fn upgrade(c: &Cluster, node: &str, new: &Install, manifest: &str) {
    c.sh(node, "systemctl stop haagent").unwrap();
    c.install_from(node, new, manifest).unwrap();
    ctl_stdout(c, node, &["validate"]);
    c.start(&[node]).unwrap();
    wait_joined(c);
}

/// Runs `step` while the client asks the VIP, with a little probing before and after.
fn probed(c: &Cluster, step: impl FnOnce()) -> ProbeReport {
    let p = probe(c);
    std::thread::sleep(Duration::from_millis(200));
    step();
    std::thread::sleep(Duration::from_millis(300));
    p.stop().unwrap()
}

/// The formats `of` speaks, in `node`'s status.
fn formats(s: &Value, of: &str) -> Vec<u64> {
    s["nodes"][of]["formats"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

/// Waits until `node`'s status says it sends in `format` and each node speaks what `want`
/// says, and names no manifest as different.
fn wait_formats(c: &Cluster, node: &str, format: u64, want: &BTreeMap<&str, Vec<u64>>) {
    let mut last = Value::Null;
    let done = cluster::wait_for("formats in status", Duration::from_secs(5), || {
        last = status(c, node);
        last["format"] == format
            && want.iter().all(|(n, f)| formats(&last, n) == *f)
            && NODES
                .iter()
                .all(|n| last["nodes"][n]["manifest_differs"] == false)
    });
    if let Err(e) = done {
        panic!("{node}: want format {format} and {want:?}: {e}\n{last:#}");
    }
}

/// Samples who holds the VIP and the web unit every 20 ms until `stop`: the distinct holder
/// sequence, and every sample in which two nodes held either.
fn watch(c: &Cluster, stop: &AtomicBool) -> (Vec<String>, Vec<String>) {
    let vip = vip(&c.bed);
    let (mut seen, mut twice): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    let started = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let (vips, units) = (c.vip_holders(vip), c.unit_holders("web.service"));
        // Hosts are read one after another, some milliseconds each: during a move the old
        // holder, read first, and the new one, read later, can both seem to hold. A real
        // overlap is seen again when the same hosts are read in the reverse order.
        let again = |holders: &[String], holds: &dyn Fn(&str) -> bool| {
            holders.iter().rev().filter(|h| holds(h)).count() > 1
        };
        if (vips.len() > 1 && again(&vips, &|h| c.has_vip(h, vip)))
            || (units.len() > 1 && again(&units, &|h| c.unit_state(h, "web.service") == "active"))
        {
            let at = started.elapsed();
            twice.push(format!("{at:?}: VIP on {vips:?}, web.service on {units:?}"));
        }
        if let Some(h) = units.first().or(vips.first())
            && seen.last() != Some(h)
        {
            seen.push(h.clone());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (seen, twice)
}

/// Stops the watcher when dropped, a panic included, so the scope can end.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Asserts a phase's gap is within [`BOUND`] and that only `hosts` answered, the last `last`.
fn check(c: &Cluster, phase: &str, r: &ProbeReport, hosts: &[&str], last: &str) {
    eprintln!("rolling upgrade: {phase}: {}", said(r));
    assert!(
        r.longest_gap <= BOUND,
        "{phase}: {}\n{}",
        said(r),
        journals(c)
    );
    assert!(
        r.by_host.keys().all(|h| hosts.contains(&h.as_str())),
        "{phase}: {}",
        said(r)
    );
    assert_eq!(r.last_host.as_deref(), Some(last), "{phase}: {}", said(r));
}

/// The upgrade, node by node, each phase checked as it ends.
fn upgrade_all(c: &Cluster, new: &Install, manifest: &str) {
    let old = vec![2];
    let mut want: BTreeMap<&str, Vec<u64>> = NODES.iter().map(|n| (*n, old.clone())).collect();
    // Not holding the group: alpha keeps it, the others keep format 2 for it.
    for node in ["gamma", "beta"] {
        let r = probed(c, || upgrade(c, node, new, manifest));
        check(c, &format!("upgrading {node}"), &r, &["alpha"], "alpha");
        want.insert(node, ALL.to_vec());
        for upgraded in NODES.iter().filter(|n| want[*n].len() > 1) {
            wait_formats(c, upgraded, 2, &want);
        }
        let text = ctl_stdout(c, node, &["status"]);
        assert!(text.contains("ROLLING UPGRADE"), "{text}");
        assert!(text.contains("OLDER RELEASE"), "{text}");
        // alpha would not hear of maintenance: refused, with the reason.
        let out = c.ctl(node, &["maintenance", "on"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(err.contains("maintenance needs wire format 4"), "{err}");
    }
    // The holder: a planned switchover first, asked of the previous release's haagentctl
    // (a format 2 move intent), then its upgrade.
    switchover(c, "alpha", "alpha", "beta");
    let r = probed(c, || upgrade(c, "alpha", new, manifest));
    check(c, "upgrading alpha", &r, &["beta"], "beta");
    want.insert("alpha", ALL.to_vec());
    for node in NODES {
        wait_formats(c, node, 4, &want);
        let text = ctl_stdout(c, node, &["status"]);
        assert!(!text.contains("ROLLING UPGRADE"), "{text}");
    }
    // The upgraded cluster moves the group as it should, in format 4.
    switchover(c, "gamma", "beta", "alpha");
}

/// A planned switchover of web from `from` to `to`, asked of `asked`'s haagentctl, with the
/// client's gaps checked.
fn switchover(c: &Cluster, asked: &str, from: &str, to: &str) {
    let r = probed(c, || {
        ctl_stdout(c, asked, &["failover", "web", "--to", to]);
        wait_holder(c, to, Duration::from_secs(5));
    });
    check(
        c,
        &format!("switchover {from} -> {to}"),
        &r,
        &[from, to],
        to,
    );
}

#[test]
fn a_cluster_of_the_previous_release_upgrades_one_node_at_a_time_with_no_gap_but_the_switchover() {
    let spec = Spec {
        prefix: "upr",
        subnet: 130,
        nodes: &NODES,
        timers: QUICK,
        more_groups: "",
        // The group stays where the switchover put it while its home node is upgraded.
        failback: false,
        web_extra: "",
    };
    let vip = Ipv4Addr::new(10, 98, spec.subnet, VIP_LAST);
    let cfg = Config::new(spec.prefix, [10, 98, spec.subnet], NODES.len())
        .named(&NODES)
        .unit("web.service", &echo_unit(vip), false);
    let old = || previous::install().unwrap_or_else(|e| panic!("{e}"));
    let Some(c) = cluster_from(cfg, old, |bed| manifest(&spec, bed)) else {
        return;
    };
    let text = manifest(&spec, &c.bed);
    start_on(&c, &NODES, "alpha");
    wait_joined(&c);
    let new = install();
    let stop = AtomicBool::new(false);
    let (seen, twice) = std::thread::scope(|s| {
        let watcher = s.spawn(|| watch(&c, &stop));
        {
            let _stop = StopOnDrop(&stop);
            upgrade_all(&c, &new, &text);
        }
        watcher.join().expect("the watcher panicked")
    });
    assert!(twice.is_empty(), "two holders: {twice:?}\n{}", journals(&c));
    assert_eq!(seen, ["alpha", "beta", "alpha"], "{}", journals(&c));
    for node in NODES {
        let log = c.journal(node);
        assert!(!log.contains("differs from this node's"), "{node}: {log}");
    }
}

// Input: a shallow clone of this checkout, and a directory that is no checkout. Output: each
// refused with the reason and what to do, so a CI run on a shallow clone fails saying why.
#[test]
fn the_previous_release_comes_from_the_history_and_a_shallow_clone_says_so() {
    let root = crate::suite::root();
    previous::check_history(root).unwrap_or_else(|e| panic!("{e}"));
    let tmp = crate::suite::TempDir::new("upgrade-shallow");
    let shallow = tmp.0.join("clone");
    let out = std::process::Command::new("git")
        .args(["clone", "--quiet", "--depth", "1"])
        .arg(format!("file://{}", root.display()))
        .arg(&shallow)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let e = previous::check_history(&shallow).unwrap_err();
    assert!(
        e.contains("is shallow") && e.contains("git fetch --unshallow"),
        "{e}"
    );
    assert!(e.contains(previous::COMMIT), "{e}");
    let e = previous::check_history(&tmp.0).unwrap_err();
    assert!(e.contains("not a git checkout"), "{e}");
}
