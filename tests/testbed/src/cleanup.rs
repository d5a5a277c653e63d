//! Teardown by name, and the check that nothing is left: no namespace, cgroup, mount, link or
//! process of the bed. Working from names alone, it also cleans up after a crashed run.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::run_output;

/// Where host cgroups are made: the cgroup2 hierarchy (at `unified/` on a hybrid machine),
/// under this process's own cgroup on a pure cgroup2 machine.
pub fn cgroup_base() -> PathBuf {
    let hybrid = Path::new("/sys/fs/cgroup/unified");
    if hybrid.join("cgroup.procs").exists() {
        return hybrid.to_path_buf();
    }
    let own = fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("0::").map(str::to_owned))
        })
        .unwrap_or_default();
    Path::new("/sys/fs/cgroup").join(own.trim_start_matches('/'))
}

fn populated(cg: &Path) -> bool {
    fs::read_to_string(cg.join("cgroup.events"))
        .is_ok_and(|e| e.lines().any(|l| l == "populated 1"))
}

/// Waits up to `grace` for the cgroup to empty, then kills what is left and waits for that.
pub fn empty_cgroup(cg: &Path, grace: Duration) {
    let wait = |limit: Duration| {
        let end = Instant::now() + limit;
        while populated(cg) && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait(grace);
    if populated(cg) {
        let _ = fs::write(cg.join("cgroup.kill"), "1");
        wait(Duration::from_secs(5));
    }
}

/// Removes a cgroup and the ones systemd made below it, deepest first.
pub fn remove_cgroup(cg: &Path) {
    fn dirs(p: &Path, out: &mut Vec<PathBuf>) {
        if let Ok(entries) = fs::read_dir(p) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    dirs(&e.path(), out);
                }
            }
        }
        out.push(p.to_path_buf());
    }
    let mut all = Vec::new();
    dirs(cg, &mut all);
    for d in all {
        let _ = fs::remove_dir(d);
    }
}

fn bed_cgroups(prefix: &str) -> Vec<PathBuf> {
    let tag = format!("{prefix}-");
    fs::read_dir(cgroup_base())
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(&tag))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

fn bed_netns(prefix: &str) -> Vec<String> {
    let tag = format!("{prefix}-");
    fs::read_dir("/run/netns")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&tag))
                .collect()
        })
        .unwrap_or_default()
}

/// Powers off every host of the bed `prefix`, kills stragglers, removes cgroups, namespaces
/// and the state directory. Safe to call when nothing exists.
pub fn teardown(prefix: &str, state: &Path) {
    let cgroups = bed_cgroups(prefix);
    for cg in &cgroups {
        let init = fs::read_to_string(cg.join("init.scope/cgroup.procs")).unwrap_or_default();
        if let Some(pid) = init.lines().next() {
            let _ = run_output("kill", &["-s", "RTMIN+4", pid.trim()]);
        }
    }
    for cg in &cgroups {
        empty_cgroup(cg, Duration::from_secs(10));
        remove_cgroup(cg);
    }
    for ns in bed_netns(prefix) {
        let _ = run_output("ip", &["netns", "del", &ns]);
    }
    let _ = fs::remove_dir_all(state);
}

/// Everything of the bed that still exists, in words; empty after a clean teardown.
pub fn leftovers(prefix: &str, state: &Path) -> Vec<String> {
    let mut left: Vec<String> = bed_netns(prefix)
        .into_iter()
        .map(|n| format!("netns {n}"))
        .collect();
    left.extend(
        bed_cgroups(prefix)
            .into_iter()
            .map(|c| format!("cgroup {}", c.display())),
    );
    let state_str = state.to_string_lossy();
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    left.extend(
        mounts
            .lines()
            .filter(|l| l.contains(state_str.as_ref()))
            .map(|l| format!("mount {l}")),
    );
    let links =
        String::from_utf8_lossy(&run_output("ip", &["-o", "link", "show"]).stdout).into_owned();
    let tag = format!(": {prefix}-");
    left.extend(
        links
            .lines()
            .filter(|l| l.contains(&tag))
            .map(|l| format!("link {l}")),
    );
    if state.exists() {
        left.push(format!("state directory {}", state.display()));
    }
    left
}
