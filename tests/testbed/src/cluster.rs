//! A haagent cluster on a bed: the real binaries installed in each host's copy-on-write root,
//! the real unit file in `/etc/systemd/system`, a manifest and a key in `/etc/haagent`, and
//! the questions end-to-end tests ask (who holds the VIP, is a unit active, what did the
//! journal say), each answered from inside the hosts.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::{Config, Result, TestBed};

/// What gets installed into each node.
#[derive(Clone, Debug)]
pub struct Install {
    /// Directory holding the `haagent` and `haagentctl` binaries.
    pub bins: PathBuf,
    /// The directory holding `haagent.service` and the D-Bus policy `org.haagent.Agent1.conf`
    /// (the repository's `units/`).
    pub units: PathBuf,
}

/// The agent's unit.
const AGENT: &str = "haagent.service";

/// A bed whose hosts run haagent.
pub struct Cluster {
    /// The bed.
    pub bed: TestBed,
    /// What [`Cluster::install_on`] copies in; `None` for a bed that installs the package.
    install: Option<Install>,
    key: PathBuf,
}

impl Cluster {
    /// Boots the bed (each host with a copy-on-write root), makes a key and installs haagent,
    /// the manifest `manifest(&bed)` and the key into every host. Nothing is started yet.
    pub fn up(
        mut cfg: Config,
        install: Install,
        manifest: impl Fn(&TestBed) -> String,
    ) -> Result<Cluster> {
        cfg.cow_root = true;
        let bed = TestBed::up(cfg)?;
        let key = bed.state_dir().join("authkey");
        let _ = std::fs::remove_file(&key);
        let out = Command::new(install.bins.join("haagentctl"))
            .arg("keygen")
            .arg(&key)
            .output()
            .map_err(|e| format!("haagentctl keygen: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "haagentctl keygen: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let cluster = Cluster {
            bed,
            install: Some(install),
            key,
        };
        let text = manifest(&cluster.bed);
        for h in cluster.bed.hosts() {
            cluster.install_on(h.name(), &text)?;
        }
        Ok(cluster)
    }

    /// Boots a bed with copy-on-write roots and nothing of haagent in it: for installing the
    /// package as a user would.
    pub fn bare(mut cfg: Config) -> Result<Cluster> {
        cfg.cow_root = true;
        let bed = TestBed::up(cfg)?;
        let key = bed.state_dir().join("authkey");
        Ok(Cluster {
            bed,
            install: None,
            key,
        })
    }

    /// Installs binaries, unit, key and manifest on one host.
    pub fn install_on(&self, node: &str, manifest: &str) -> Result<()> {
        let install = self
            .install
            .as_ref()
            .ok_or("this cluster installs the package, not loose files")?;
        self.install_from(node, install, manifest)
    }

    /// Installs `install`'s binaries and units, the key and `manifest` on one host, over what
    /// it had (another release's, for an upgrade; its agent stopped first).
    pub fn install_from(&self, node: &str, install: &Install, manifest: &str) -> Result<()> {
        let h = self.bed.host(node);
        h.copy_in(&install.bins.join("haagent"), "/usr/sbin/haagent", 0o755)?;
        h.copy_in(
            &install.bins.join("haagentctl"),
            "/usr/bin/haagentctl",
            0o755,
        )?;
        let units = &install.units;
        h.copy_in(
            &units.join("haagent.service"),
            "/etc/systemd/system/haagent.service",
            0o644,
        )?;
        h.copy_in(
            &units.join("org.haagent.Agent1.conf"),
            "/usr/share/dbus-1/system.d/org.haagent.Agent1.conf",
            0o644,
        )?;
        h.copy_in(&self.key, "/etc/haagent/authkey", 0o600)?;
        h.write_file("/etc/haagent/cluster.yaml", manifest.as_bytes(), 0o644)?;
        h.sh("systemctl daemon-reload && busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig")
            .map(drop)
    }

    /// Writes a new manifest on one host (no reload).
    pub fn write_manifest(&self, node: &str, manifest: &str) -> Result<()> {
        self.bed
            .host(node)
            .write_file("/etc/haagent/cluster.yaml", manifest.as_bytes(), 0o644)
    }

    /// `systemctl start haagent` on each of `nodes` at once; returns when all are started
    /// (systemd waits for READY=1).
    pub fn start(&self, nodes: &[&str]) -> Result<()> {
        let handles: Vec<_> = nodes
            .iter()
            .map(|n| {
                let pid = self.bed.host(n).pid();
                let n = (*n).to_owned();
                std::thread::spawn(move || (n, start_in(pid)))
            })
            .collect();
        for h in handles {
            let (n, r) = h.join().map_err(|_| "start thread panicked".to_owned())?;
            r.map_err(|e| {
                let why = self.bed.host(&n).report(&[AGENT]);
                format!("starting haagent on {n}: {e}\n{why}")
            })?;
        }
        Ok(())
    }

    /// [`TestBed::report`] of the agent and `units`, for a failure message.
    pub fn report(&self, units: &[&str]) -> String {
        let mut all = vec![AGENT];
        all.extend(units.iter().filter(|u| **u != AGENT));
        self.bed.report(&all)
    }

    /// [`wait_for`] that, when it times out, adds the [`Cluster::report`] of `units` to the
    /// error: the agent's and their status and last journal lines on each running node.
    pub fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        units: &[&str],
        done: impl FnMut() -> bool,
    ) -> Result<Duration> {
        wait_for(what, timeout, done).map_err(|e| format!("{e}\n{}", self.report(units)))
    }

    /// Runs a shell command on a node.
    pub fn sh(&self, node: &str, script: &str) -> Result<String> {
        self.bed.host(node).sh(script)
    }

    /// Whether `vip` is on a node's eth0.
    pub fn has_vip(&self, node: &str, vip: Ipv4Addr) -> bool {
        let host = self.bed.host(node);
        if host.pid().is_none() {
            return false;
        }
        let out = host.exec(&["ip", "-o", "-4", "addr", "show", "dev", "eth0"]);
        String::from_utf8_lossy(&out.stdout).contains(&format!("inet {vip}/"))
    }

    /// The running nodes holding `vip`.
    pub fn vip_holders(&self, vip: Ipv4Addr) -> Vec<String> {
        self.bed
            .hosts()
            .iter()
            .filter(|h| h.pid().is_some() && self.has_vip(h.name(), vip))
            .map(|h| h.name().to_owned())
            .collect()
    }

    /// A unit's ActiveState on a node.
    pub fn unit_state(&self, node: &str, unit: &str) -> String {
        let out = self
            .bed
            .host(node)
            .exec(&["systemctl", "show", "-P", "ActiveState", unit]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The running nodes where `unit` is active.
    pub fn unit_holders(&self, unit: &str) -> Vec<String> {
        self.bed
            .hosts()
            .iter()
            .filter(|h| h.pid().is_some() && self.unit_state(h.name(), unit) == "active")
            .map(|h| h.name().to_owned())
            .collect()
    }

    /// `haagentctl ARGS` on a node.
    pub fn ctl(&self, node: &str, args: &[&str]) -> std::process::Output {
        let mut all = vec!["haagentctl"];
        all.extend_from_slice(args);
        self.bed.host(node).exec(&all)
    }

    /// The agent's journal on a node.
    pub fn journal(&self, node: &str) -> String {
        self.bed.host(node).journal(Some(AGENT))
    }
}

fn start_in(pid: Option<u32>) -> Result<()> {
    let pid = pid.ok_or("host is not running")?.to_string();
    let out = crate::run_output(
        "nsenter",
        &[
            "-t",
            &pid,
            "-a",
            "--wd=/",
            "--",
            "systemctl",
            "start",
            AGENT,
        ],
    );
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// Polls `done` every 20 ms until it holds; fails with `what` after `timeout`. Returns how
/// long it took.
pub fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) -> Result<Duration> {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if done() {
            return Ok(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("timed out after {timeout:?} waiting for {what}"))
}

/// The repository's `units/`, next to the testbed crate.
pub fn repo_units() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../units")
}

/// The haagent binaries of the running executable's cargo profile, built first if needed.
pub fn built_binaries() -> Result<PathBuf> {
    crate::build::cargo_build(&["-p", "haagent", "--bins"])
}
