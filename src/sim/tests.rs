//! Simulation runs of the examples.

use super::*;

fn example(name: &str) -> Manifest {
    let path = format!("{}/examples/{name}.yaml", env!("CARGO_MANIFEST_DIR"));
    crate::manifest::parse(&std::fs::read_to_string(path).unwrap()).manifest.unwrap()
}

#[test]
fn a_quiet_cluster_converges_and_stays_put() {
    let m = example("two-node-web");
    let mut cfg = SimConfig::new(&m, 1);
    cfg.faults.clear();
    let r = run(&m, cfg);
    assert!(r.violation.is_none(), "{}", r.violation.unwrap().trace);
}

#[test]
fn debug_seeds() {
    for name in ["two-node-web", "three-node-multicast", "witness", "ipv6-parallel", "lvs-director"] {
        let m = example(name);
        let results: Vec<RunResult> = (0..50).map(|s| run(&m, SimConfig::new(&m, s))).collect();
        let sum = Summary::of(results);
        eprintln!("{name}: {} violations; {:?}", sum.violations.len(), sum.groups);
        if let Some(v) = sum.violations.first() {
            eprintln!("{}\n{}", v.invariant, v.trace);
        }
    }
}
