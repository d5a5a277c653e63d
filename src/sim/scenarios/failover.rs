//! Failover: an owner crash, a graceful stop, a standby crash, failback on and off.

use super::{manifest, two_node};
use crate::engine::{Command, EventKind, Input};
use crate::sim::World;

// Input: the owner loses power at 2 s. Output: the peer starts the group, VIP then unit, no
// sooner than it can know (dead_after after the last heartbeat) and within dead_after + 2 x
// interval.
#[test]
fn an_owner_crash_moves_the_group_after_dead_after() {
    let mut c = World::running(two_node(""), 2000);
    c.power_off("alpha");
    c.run_until(3000);
    let start = c
        .first_start("beta", "web", 2000)
        .expect("beta takes over")
        .0;
    assert!((2400..=2700).contains(&start), "beta started at {start}");
    assert_eq!(c.steps("beta", 2000), ["+vip0", "+app.service"]);
    assert_eq!(c.holders("web"), ["beta"]);
}

// Input: the owner is shut down. Output: it stops the unit, then the VIP, then says goodbye and
// exits; the peer starts only after the last stop, at once rather than after dead_after.
#[test]
fn a_graceful_stop_hands_over_without_overlap_or_waiting() {
    let mut c = World::running(two_node(""), 2000);
    c.feed("alpha", Input::Shutdown);
    c.run_until(3000);
    assert_eq!(c.steps("alpha", 2000), ["-app.service", "-vip0", "exit"]);
    let stopped = c.released("alpha", "web", 2000).expect("alpha released").0;
    let start = c
        .first_start("beta", "web", 2000)
        .expect("beta takes over")
        .0;
    assert!(
        start >= stopped,
        "beta started at {start}, alpha stopped at {stopped}"
    );
    assert!(start < 2000 + 150, "beta waited until {start}");
}

// Input: the standby loses power. Output: a ping tie-breaker cannot tell that from a peer that
// no longer hears us, so the holder stops before the peer's dead_after could run out, and
// starts again once the peer is dead. The price of a ping tie-breaker, bounded by dead_after.
#[test]
fn a_standby_crash_costs_the_holder_a_restart_within_dead_after() {
    let mut c = World::running(two_node(""), 2000);
    c.power_off("beta");
    c.run_until(4000);
    let released = c
        .released("alpha", "web", 2000)
        .expect("the lease ran out")
        .0;
    assert!((2200..2500).contains(&released), "released at {released}");
    let again = c.first_start("alpha", "web", released).expect("back").0;
    assert!(again <= 2000 + 500 + 100, "restarted at {again}");
    assert_eq!(c.holders("web"), ["alpha"]);
}

fn crash_and_return(failback: bool) -> World {
    let extra = format!("    failback: {failback}\n");
    let mut c = World::running(two_node(&extra), 2000);
    c.power_off("alpha");
    c.run_until(3000);
    assert_eq!(c.holders("web"), ["beta"]);
    c.start("alpha");
    c.run_until(5000);
    c
}

// Input: the home node crashes and comes back. Output with failback on: the peer stops the
// group, and only then does the home node start it.
#[test]
fn failback_returns_the_group_home_without_overlap() {
    let c = crash_and_return(true);
    assert_eq!(c.holders("web"), ["alpha"]);
    let stopped = c.released("beta", "web", 3000).expect("beta releases").0;
    let start = c.first_start("alpha", "web", 3000).expect("alpha starts").0;
    assert!(
        start >= stopped,
        "alpha started at {start}, beta stopped at {stopped}"
    );
    assert_eq!(c.steps("beta", 3000), ["-app.service", "-vip0"]);
}

// Input: the same with failback off. Output: the group stays where it is.
#[test]
fn without_failback_the_group_stays_put() {
    let c = crash_and_return(false);
    assert_eq!(c.holders("web"), ["beta"]);
    assert!(c.steps("alpha", 3000).is_empty());
    assert!(c.events("beta", EventKind::Release, "web").is_empty());
}

// Input: with fencing required (no other tie-breaker), the holder loses power and its fence
// unit fails until 3.5 s. Output: the peer asks for the fence once per dead_after, never
// starts the group meanwhile, and starts it once a fence succeeded.
#[test]
fn a_failing_fence_is_retried_at_a_measured_pace_and_the_group_waits() {
    let m = manifest(
        "cluster: c\nnodes:\n  alpha: { address: 10.0.0.1 }\n  beta: { address: 10.0.0.2 }\n\
         heartbeat: { interval: 100ms, warn_after: 300ms, dead_after: 500ms, initial_dead: 1s }\n\
         auth: { key_file: /k }\nfencing: { unit: fence@%i.service }\n\
         groups:\n  web:\n    nodes: [alpha, beta]\n    resources:\n\
         \x20     - { vip: 10.0.0.10/24, interface: eth0 }\n      - unit: app.service\n",
    );
    let mut c = World::running(m, 2000);
    c.unfenceable("alpha", true);
    c.power_off("alpha");
    c.run_until(3500);
    let fences = c.steps("beta", 2000);
    assert!(
        fences.iter().all(|s| s == "fence alpha") && (2..=3).contains(&fences.len()),
        "{fences:?}"
    );
    c.unfenceable("alpha", false);
    c.run_until(4500);
    let start = c
        .first_start("beta", "web", 2000)
        .expect("beta took over")
        .0;
    assert!(
        start >= 3500,
        "started at {start}, before a fence succeeded"
    );
    assert_eq!(c.holders("web"), ["beta"]);
}

// Input: the holder loses power, the peer's fence of it fails, and an operator puts the peer
// in standby before the retry is due, so the fence is no longer wanted. Output: the peer's
// next deadline stays in the future. (Found by the fuzz target `engine`: the failed fence's
// retry time stayed a deadline once past, so the daemon's loop slept until a moment gone by,
// spun, and read its ever later wake-up as a pause of the machine.)
#[test]
fn a_fence_retry_no_longer_wanted_leaves_no_deadline_in_the_past() {
    let m = manifest(
        "cluster: c\nnodes:\n  alpha: { address: 10.0.0.1 }\n  beta: { address: 10.0.0.2 }\n\
         heartbeat: { interval: 100ms, warn_after: 300ms, dead_after: 500ms, initial_dead: 1s }\n\
         auth: { key_file: /k }\nfencing: { unit: fence@%i.service }\n\
         groups:\n  web:\n    nodes: [alpha, beta]\n    resources:\n\
         \x20     - { vip: 10.0.0.10/24, interface: eth0 }\n      - unit: app.service\n",
    );
    let mut c = World::running(m, 2000);
    c.unfenceable("alpha", true);
    c.power_off("alpha");
    c.run_until(2800);
    assert_eq!(c.steps("beta", 2000), ["fence alpha"]);
    let standby = Command::Standby {
        node: "beta".into(),
        on: true,
    };
    c.command("beta", standby);
    c.run_until(4000);
    assert_eq!(
        c.steps("beta", 2000),
        ["fence alpha"],
        "no retry in standby"
    );
    let next = c.engine("beta").and_then(|e| e.next_deadline());
    assert!(
        next.is_some_and(|t| t > c.now()),
        "next deadline {next:?} at {:?}",
        c.now()
    );
}
