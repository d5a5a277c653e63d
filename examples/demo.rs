//! The demo: a two-node cluster of real systemd hosts on this machine (run as root).
//!
//! `cargo run --example demo` boots hosts `alpha` and `beta` and a client in network namespaces,
//! installs the freshly built haagent as a real systemd service on both with a manifest, a key
//! and a small web unit, starts it, shows `haagentctl status`, and then, while the client asks
//! the VIP every 5 ms: cuts the power of the active node (the client sees the failover), brings
//! it back (failback), switches over with `haagentctl failover`, and stops the agent on the
//! active node (a handoff at once). Each step prints what the client saw.

use std::net::SocketAddrV4;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use haagent_testbed::cluster::{self, Cluster, Install};
use haagent_testbed::probe::Mode;
use haagent_testbed::{Config, Probe, ProbeReport, TestBed};

const PORT: u16 = 8080;
const VIP_LAST: u8 = 50;
const WEB: &str = "web.service";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let install = Install {
        bins: cluster::built_binaries()?,
        units: cluster::repo_units(),
    };
    let cfg = Config::new("dm", [10, 98, 20], 2).named(&["alpha", "beta"]);
    // The web unit answers on the VIP itself, so the client sees who holds it.
    let vip = cfg_vip(&cfg);
    let cfg = cfg.unit(WEB, &haagent_testbed::echo::unit(PORT, vip)?, false);
    haagent_testbed::preflight::check(&cfg)?;

    step("booting alpha, beta and a client (real systemd hosts in namespaces)");
    let started = Instant::now();
    let mut c = Cluster::up(cfg, install, manifest)?;
    println!(
        "   up and haagent installed in {:?}: alpha {}, beta {}, client {}, VIP {vip}",
        started.elapsed(),
        c.bed.ip("alpha"),
        c.bed.ip("beta"),
        c.bed.client_ip()
    );
    print!("{}", indent(&manifest(&c.bed)));

    step("systemctl start haagent on both nodes");
    let started = Instant::now();
    c.start(&["alpha", "beta"])?;
    // On a timeout the error shows, on each node, the agent's and web.service's status and
    // journal: what a user needs to see why.
    let took = c.wait_for("web on alpha", Duration::from_secs(20), &[WEB], || {
        c.vip_holders(vip) == ["alpha"] && c.unit_holders(WEB) == ["alpha"]
    })?;
    println!(
        "   both ready; the VIP and web.service run on alpha {:?} after start",
        started.elapsed().max(took)
    );
    let out = c.ctl("beta", &["status"]);
    println!("   beta$ haagentctl status");
    print!("{}", indent(&String::from_utf8_lossy(&out.stdout)));
    print!("{}", String::from_utf8_lossy(&out.stderr));

    step("power cut of alpha while the client asks the VIP every 5 ms");
    watch_move(&mut c, "beta", "crash failover (dead_after 1s)", |c| {
        c.bed.kill("alpha")
    })?;

    step("alpha boots again and haagent starts: web fails back to alpha (failback: true)");
    watch_move(&mut c, "alpha", "failback", |c| {
        c.bed.start("alpha")?;
        // A rebooted host comes back with a fresh root: install again, as a package would be.
        c.install_on("alpha", &manifest(&c.bed))?;
        c.start(&["alpha"])
    })?;

    step("alpha$ haagentctl failover web --to beta: a planned switchover");
    watch_move(&mut c, "beta", "planned switchover", |c| {
        let out = c.ctl("alpha", &["failover", "web", "--to", "beta"]);
        print!("{}", indent(&String::from_utf8_lossy(&out.stdout)));
        print!("{}", String::from_utf8_lossy(&out.stderr));
        Ok(())
    })?;

    step("beta$ systemctl stop haagent: beta hands the group back to alpha at once");
    watch_move(&mut c, "alpha", "handoff on stop", |c| {
        c.sh("beta", "systemctl stop haagent").map(drop)
    })?;

    step("beta$ journalctl -u haagent");
    let log = c
        .sh(
            "beta",
            "journalctl -u haagent -o short-precise --no-hostname",
        )
        .unwrap_or_default();
    for line in log.lines().filter(|l| l.contains(" haagent[")) {
        println!("   {line}");
    }

    let started = Instant::now();
    let left = c.bed.down();
    println!(
        "\n   torn down in {:?}; left behind: {}",
        started.elapsed(),
        if left.is_empty() {
            "nothing".into()
        } else {
            format!("{left:?}")
        }
    );
    Ok(())
}

/// Probes the VIP every 5 ms while `make_it_move` runs, until `to` holds the VIP, and prints
/// what the client saw.
fn watch_move(
    c: &mut Cluster,
    to: &str,
    what: &str,
    make_it_move: impl FnOnce(&mut Cluster) -> Result<(), String>,
) -> Result<(), String> {
    let vip = c.bed.subnet_addr(VIP_LAST);
    let target = SocketAddrV4::new(vip, PORT);
    let every = Duration::from_millis(5);
    let p = Probe::start(&c.bed.client_netns(), target, Mode::Udp, every)?;
    std::thread::sleep(Duration::from_millis(300));
    make_it_move(c)?;
    c.wait_for(
        &format!("{to} to hold the VIP"),
        Duration::from_secs(20),
        &[WEB],
        || c.vip_holders(vip) == [to],
    )?;
    std::thread::sleep(Duration::from_millis(500));
    report(&p.stop()?, what);
    Ok(())
}

fn report(r: &ProbeReport, what: &str) {
    println!(
        "   {what}: longest gap the client saw {:?}; answers {} of {}, by {:?}; serving now: {}",
        r.longest_gap,
        r.answered,
        r.sent,
        r.by_host,
        r.last_host.as_deref().unwrap_or("nobody")
    );
}

fn cfg_vip(cfg: &Config) -> std::net::Ipv4Addr {
    let [a, b, c] = cfg.subnet;
    std::net::Ipv4Addr::new(a, b, c, VIP_LAST)
}

/// The manifest of the demo cluster, on the bed's addresses.
fn manifest(tb: &TestBed) -> String {
    format!(
        "cluster: demo\nnodes:\n  alpha: {{ address: {a} }}\n  beta:  {{ address: {b} }}\nheartbeat:\n  interval: 200ms\n  warn_after: 600ms\n  dead_after: 1s\n  initial_dead: 2s\n  links:\n    - transport: unicast\n      interface: eth0\nauth:\n  key_file: /etc/haagent/authkey\nquorum:\n  two_node:\n    tie_breaker: ping\nconnectivity:\n  ping: [{c}]\ngroups:\n  web:\n    nodes: [alpha, beta]\n    failback: true\n    resources:\n      - vip: {vip}/24\n        interface: eth0\n      - unit: web.service\n",
        a = tb.ip("alpha"),
        b = tb.ip("beta"),
        c = tb.client_ip(),
        vip = tb.subnet_addr(VIP_LAST),
    )
}

fn step(text: &str) {
    println!("\n== {text}");
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("   | {l}\n")).collect()
}
