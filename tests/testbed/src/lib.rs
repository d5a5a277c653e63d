//! A test bed of real hosts on one machine: each host is a real systemd running as PID 1 in its
//! own pid, mount, UTS, IPC, cgroup and network namespaces, with a private `/run`, `/tmp`, `/dev`,
//! journal, D-Bus system bus, hostname and machine-id, wired by a veth pair to a bridge that lives
//! in a namespace of its own (the switch). A plain network namespace plays the client.
//!
//! ```text
//!  netns P-h1 (systemd PID 1) - eth0 S.1 ---+
//!  netns P-h2 (systemd PID 1) - eth0 S.2 ---+-- P-br0, a bridge in netns P-sw
//!  netns P-c  (client)        - eth0 S.100 -+
//! ```
//!
//! Nothing is created in the machine's own network namespace, and every name starts with the
//! bed's prefix, so two beds with different prefixes and subnets run side by side. Teardown is
//! by name, so [`TestBed::up`] also removes what a crashed earlier run left behind, and `Drop`
//! tears the bed down even when a test panics.
//!
//! The hosts see the machine's `/usr` and `/etc`, but not its `/tmp`, `/run` or `/dev`, where a
//! checkout (and so cargo's target directory) may live. So no host runs a binary from where
//! cargo put it: the agent's binaries are copied into each host's root (as a package installs
//! them, see [`cluster`]), and the bed bind-mounts the cargo profile directory read-only at
//! [`BIN_DIR`] in every host for the helpers (`tb-echo`), whatever the checkout's place.
//!
//! Layout: [`preflight`] (what the machine must offer), [`net`] (switch, links, faults),
//! [`host`] (boot, exec, power), [`cleanup`] (teardown and the leftover check), [`probe`] (what a
//! client sees), [`flood`] (forged heartbeats at full speed), [`report`] (what a failed wait
//! prints), [`previous`] (the previous release, built from the repository's history).

pub mod build;
pub mod chaos;
pub mod cleanup;
pub mod cluster;
pub mod echo;
pub mod flood;
pub mod host;
pub mod net;
pub mod preflight;
pub mod previous;
pub mod probe;
pub mod report;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use host::Host;
pub use probe::{Probe, ProbeReport};

/// Where every host sees [`Config::bin_dir`] (read-only), in its private `/run`.
pub const BIN_DIR: &str = "/run/haagent-testbed/bin";

/// An error of the test bed, with the reason in words.
pub type Result<T> = std::result::Result<T, String>;

/// A unit file placed in hosts' `/run/systemd/system` before they boot.
#[derive(Clone, Debug)]
pub struct UnitFile {
    /// File name, e.g. `web.service`.
    pub name: String,
    /// Its text.
    pub text: String,
    /// Started at boot (wanted by the hosts' boot target).
    pub at_boot: bool,
    /// Only these hosts (by name); all when `None`.
    pub hosts: Option<Vec<String>>,
}

/// How to build a bed.
#[derive(Clone, Debug)]
pub struct Config {
    /// Name prefix of every namespace, link and cgroup (at most 4 characters).
    pub prefix: String,
    /// The /24 the hosts live in: hosts get `.1`, `.2`..., the client `.100`.
    pub subnet: [u8; 3],
    /// Host names, which are also their hostnames.
    pub hosts: Vec<String>,
    /// Directories each host gets a private copy of.
    pub private_dirs: Vec<String>,
    /// Give each host a whole copy-on-write root (so packages can be installed in one host).
    pub cow_root: bool,
    /// Unit files for the hosts.
    pub units: Vec<UnitFile>,
    /// How long a host may take to boot.
    pub boot_timeout: Duration,
    /// A directory of the machine each host sees read-only at [`BIN_DIR`], wherever it lives
    /// (hosts cannot see the machine's `/tmp`, `/run` or `/dev`). By default the cargo profile
    /// directory of the running test or example (`target/<profile>`), where `tb-echo` and the
    /// haagent binaries are built; `None` mounts nothing.
    pub bin_dir: Option<PathBuf>,
}

impl Config {
    /// A bed of `n` hosts named `h1`..`hN`.
    pub fn new(prefix: &str, subnet: [u8; 3], n: usize) -> Config {
        Config {
            prefix: prefix.to_owned(),
            subnet,
            hosts: (1..=n).map(|i| format!("h{i}")).collect(),
            private_dirs: vec!["/etc/haagent".into(), "/var/lib/haagent".into()],
            cow_root: false,
            units: Vec::new(),
            boot_timeout: Duration::from_secs(60),
            bin_dir: build::profile_dir().ok(),
        }
    }

    /// The same bed with these host names.
    pub fn named(mut self, names: &[&str]) -> Config {
        self.hosts = names.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// The same bed with a unit for every host.
    pub fn unit(mut self, name: &str, text: &str, at_boot: bool) -> Config {
        self.units.push(UnitFile {
            name: name.into(),
            text: text.into(),
            at_boot,
            hosts: None,
        });
        self
    }
}

/// A running bed. Dropping it tears everything down.
pub struct TestBed {
    cfg: Config,
    state: PathBuf,
    hosts: Vec<Host>,
}

impl TestBed {
    /// Builds the switch, the client and every host, boots the hosts in parallel and waits until
    /// each is `running`. Leftovers of an earlier bed with the same prefix are removed first.
    pub fn up(cfg: Config) -> Result<TestBed> {
        preflight::check(&cfg)?;
        let state = state_path(&cfg.prefix);
        cleanup::teardown(&cfg.prefix, &state);
        std::fs::create_dir_all(&state)
            .map_err(|e| format!("cannot create {}: {e}", state.display()))?;
        let hosts = cfg
            .hosts
            .iter()
            .enumerate()
            .map(|(i, name)| Host::new(&cfg, &state, name, i as u8 + 1))
            .collect();
        let mut bed = TestBed { cfg, state, hosts };
        net::switch(&bed.cfg)?;
        net::client(&bed.cfg)?;
        for i in 0..bed.hosts.len() {
            let (cfg, host) = (&bed.cfg, &mut bed.hosts[i]);
            net::plug(cfg, host.name(), host.index())?;
            host.launch(cfg)?;
        }
        let deadline = Instant::now() + bed.cfg.boot_timeout;
        for host in &mut bed.hosts {
            host.wait_booted(deadline)?;
        }
        Ok(bed)
    }

    /// The configuration the bed was built from.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The bed's state directory on the machine.
    pub fn state_dir(&self) -> &Path {
        &self.state
    }

    /// A host by name.
    pub fn host(&self, name: &str) -> &Host {
        self.hosts
            .iter()
            .find(|h| h.name() == name)
            .unwrap_or_else(|| panic!("no host {name} in this bed"))
    }

    fn host_mut(&mut self, name: &str) -> &mut Host {
        self.hosts
            .iter_mut()
            .find(|h| h.name() == name)
            .unwrap_or_else(|| panic!("no host {name} in this bed"))
    }

    /// All hosts.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// The address of a host (`h1` is `.1`).
    pub fn ip(&self, name: &str) -> Ipv4Addr {
        net::addr(&self.cfg, self.host(name).index())
    }

    /// The client's address.
    pub fn client_ip(&self) -> Ipv4Addr {
        net::addr(&self.cfg, net::CLIENT)
    }

    /// An address of the bed's subnet, e.g. for a VIP.
    pub fn subnet_addr(&self, last: u8) -> Ipv4Addr {
        net::addr(&self.cfg, last)
    }

    /// The client's network namespace name.
    pub fn client_netns(&self) -> String {
        net::netns(&self.cfg.prefix, "c")
    }

    /// Runs a command in the client namespace.
    pub fn client(&self, args: &[&str]) -> Output {
        let ns = self.client_netns();
        let mut all = vec!["netns", "exec", ns.as_str()];
        all.extend_from_slice(args);
        run_output("ip", &all)
    }

    /// Power cut: every process of the host is killed at once and its cable pulled.
    pub fn kill(&mut self, name: &str) -> Result<()> {
        let prefix = self.cfg.prefix.clone();
        self.host_mut(name).kill()?;
        net::unplug(&prefix, name);
        Ok(())
    }

    /// Pauses (or resumes) the whole host: every process, its systemd too (`cgroup.freeze`).
    pub fn freeze(&self, name: &str, on: bool) -> Result<()> {
        self.host(name).freeze(on)
    }

    /// Clean shutdown (systemd powers off), then the cable is pulled.
    pub fn stop(&mut self, name: &str) -> Result<()> {
        let prefix = self.cfg.prefix.clone();
        self.host_mut(name).stop()?;
        net::unplug(&prefix, name);
        Ok(())
    }

    /// Boots a stopped host again, with a fresh network namespace, like a rebooted box.
    pub fn start(&mut self, name: &str) -> Result<()> {
        let cfg = self.cfg.clone();
        let host = self.host_mut(name);
        net::plug(&cfg, host.name(), host.index())?;
        host.launch(&cfg)?;
        host.wait_booted(Instant::now() + cfg.boot_timeout)
    }

    /// Stop then start.
    pub fn reboot(&mut self, name: &str) -> Result<()> {
        self.stop(name)?;
        self.start(name)
    }

    /// Takes the host's switch port down: it keeps running but reaches nobody.
    pub fn cut(&self, name: &str) -> Result<()> {
        net::port(&self.cfg.prefix, name, false)
    }

    /// Brings the host's switch port back up.
    pub fn heal(&self, name: &str) -> Result<()> {
        net::port(&self.cfg.prefix, name, true)
    }

    /// Isolates two hosts from each other; both still reach everyone else.
    pub fn isolate(&self, a: &str, b: &str) -> Result<()> {
        net::isolate(&self.cfg.prefix, &[a, b], true)
    }

    /// Undoes [`TestBed::isolate`].
    pub fn unisolate(&self, a: &str, b: &str) -> Result<()> {
        net::isolate(&self.cfg.prefix, &[a, b], false)
    }

    /// Drops `percent` of the packets arriving at a host (nftables in its netns).
    pub fn loss(&self, name: &str, percent: u8) -> Result<()> {
        net::nft_rule(
            &self.cfg.prefix,
            name,
            &format!("numgen random mod 100 < {percent} drop"),
        )
    }

    /// Drops everything a host receives from `from`: a one-way cut.
    pub fn drop_from(&self, name: &str, from: &str) -> Result<()> {
        let ip = self.ip(from);
        net::nft_rule(&self.cfg.prefix, name, &format!("ip saddr {ip} drop"))
    }

    /// Removes every loss and one-way rule of a host.
    pub fn clear_faults(&self, name: &str) -> Result<()> {
        net::nft_clear(&self.cfg.prefix, name)
    }

    /// Tears the bed down and reports what, if anything, was left behind.
    pub fn down(mut self) -> Vec<String> {
        self.teardown()
    }

    fn teardown(&mut self) -> Vec<String> {
        for host in &mut self.hosts {
            host.poweroff_signal();
        }
        for host in &mut self.hosts {
            host.reap();
        }
        cleanup::teardown(&self.cfg.prefix, &self.state);
        self.hosts.clear();
        cleanup::leftovers(&self.cfg.prefix, &self.state)
    }
}

impl Drop for TestBed {
    fn drop(&mut self) {
        if !self.hosts.is_empty() {
            let left = self.teardown();
            if !left.is_empty() {
                eprintln!(
                    "test bed {}: left behind after teardown: {left:?}",
                    self.cfg.prefix
                );
            }
        }
    }
}

/// The state directory of the bed with this prefix.
pub fn state_path(prefix: &str) -> PathBuf {
    std::env::temp_dir().join(format!("haagent-testbed-{prefix}"))
}

/// Runs a command with no stdin and returns its output.
pub(crate) fn run_output(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

/// Runs a command and fails with its stderr when it fails.
pub(crate) fn run(program: &str, args: &[&str]) -> Result<()> {
    let out = run_output(program, args);
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
