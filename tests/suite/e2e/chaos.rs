//! A short fault campaign (README, "Fault campaign"): three hosts, a fixed seed, 45 s of
//! random faults within what the manifest claims to cover, judged by the checker that never
//! asks the agent. No stateful group may run twice, every group must settle after the last
//! heal, and the checker must have seen what it claims to (samples and probes at its pace).

use std::time::Duration;

use haagent_testbed::chaos::{self, Options, setup};

use super::*;

#[test]
fn a_short_campaign_of_random_faults_never_runs_web_twice_and_settles() {
    let o = Options {
        hosts: 3,
        duration: Duration::from_secs(45),
        seed: 1,
        stress: false,
        unsafe_mode: false,
        only: Vec::new(),
        default_timers: false,
        prefix: "cxe".into(),
        subnet: 126,
        install: install(),
    };
    let Ok(cfg) = setup::config(&o) else {
        panic!("cannot build the bed's units")
    };
    if !can_run(&cfg) {
        return;
    }
    crate::suite::sharing_the_machine();
    let out = chaos::run(&o).unwrap_or_else(|e| panic!("campaign failed to run: {e}"));
    let said = chaos::report::text(&out);
    eprintln!("{said}");
    let v = &out.verdict;
    assert_eq!(v.double_active_ms, 0, "{said}");
    assert!(v.converge_ms.is_some(), "{said}");
    assert!(out.history.faults.len() >= 8, "{said}");
    assert!(out.leftovers.is_empty(), "{:?}", out.leftovers);
    // The checker's own pace: hosts sampled every 10 ms or less on average and never left
    // for half a second (on a machine too busy for that, a zero would prove little); the
    // client asked every 5 ms or so.
    let t = &out.timeline;
    assert!(t.samples * 10 >= t.end_ms, "{said}");
    assert!(t.max_sample_gap_ms < 500, "{said}");
    assert!(t.asked.iter().all(|&n| n * 7 >= t.end_ms), "{:?}", t.asked);
    // Faults come every 0.3 to 3 s, two at a time, so a majority is often down; still the
    // groups answered for much of the time.
    for (group, pct) in &v.availability {
        assert!(*pct > 40.0, "{group} answered {pct} % of the time\n{said}");
    }
}
