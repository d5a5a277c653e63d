//! What the machine must offer before a bed can boot; each failure says what to install or why
//! it cannot work here.

use std::path::Path;

use crate::{Config, Result, cleanup};

/// Commands the bed runs, with the Debian package that provides each.
const TOOLS: [(&str, &str); 7] = [
    ("ip", "iproute2"),
    ("unshare", "util-linux"),
    ("nsenter", "util-linux"),
    ("setpriv", "util-linux"),
    ("setsid", "util-linux"),
    ("mount", "mount"),
    ("dbus-daemon", "dbus"),
];

/// Checks the names, `bin_dir`, root, systemd, the tools and a writable cgroup2 hierarchy.
pub fn check(cfg: &Config) -> Result<()> {
    if cfg.prefix.is_empty()
        || cfg.prefix.len() > 4
        || cfg
            .hosts
            .iter()
            .any(|h| h.len() > 10 || h == "c" || h == "sw")
    {
        return Err("test bed names: a prefix of 1-4 characters and host names of at most 10, not `c` or `sw`, keep interface names within 15 bytes".into());
    }
    if let Some(dir) = &cfg.bin_dir
        && !dir.is_dir()
    {
        return Err(format!(
            "test bed bin_dir {} is not a directory: set Config::bin_dir to the directory of the binaries the hosts run, or to None",
            dir.display()
        ));
    }
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("Uid:")
                    .map(|r| r.split_whitespace().next().unwrap_or("").to_owned())
            })
        });
    if uid.as_deref() != Some("0") {
        return Err(
            "the test bed needs root (namespaces, mounts, cgroups, veth): run the tests as root"
                .into(),
        );
    }
    if !Path::new("/lib/systemd/systemd").exists() {
        return Err("no /lib/systemd/systemd: install the `systemd` package".into());
    }
    for (tool, package) in TOOLS {
        if !on_path(tool) {
            return Err(format!(
                "`{tool}` is missing: install the `{package}` package"
            ));
        }
    }
    let base = cleanup::cgroup_base();
    if !base.join("cgroup.procs").exists() {
        return Err(format!(
            "no cgroup2 hierarchy at {}: the hosts need one",
            base.display()
        ));
    }
    Ok(())
}

/// Whether a command exists in the standard system directories.
pub fn on_path(tool: &str) -> bool {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join(tool).exists())
}

/// Fails with the package to install when `tool` is missing.
pub fn need(tool: &str, package: &str) -> Result<()> {
    if on_path(tool) {
        Ok(())
    } else {
        Err(format!(
            "`{tool}` is missing: install the `{package}` package"
        ))
    }
}
