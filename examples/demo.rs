//! The demo: a two-node cluster of real systemd hosts on this machine (run as root).
//!
//! `cargo run --example demo` boots hosts `alpha` and `beta` and a client in network namespaces,
//! installs the freshly built haagent binaries, a manifest and a key into both, checks the
//! manifest on each node as `haagent --check-config` does at start-up, and shows a web unit on
//! `alpha` answering the client.

use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use haagent_testbed::probe::{self, Mode};
use haagent_testbed::{Config, Probe, TestBed};

const PORT: u16 = 8080;

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
    let bins = binaries()?;
    let mut cfg = Config::new("dm", [10, 98, 20], 2).named(&["alpha", "beta"]);
    cfg.cow_root = true; // binaries go to /usr/bin inside each host only
    let vip = std::net::Ipv4Addr::new(10, 98, 20, 50);
    let cfg = cfg.unit("web.service", &probe::echo_unit(PORT, None), false);
    haagent_testbed::preflight::check(&cfg)?;

    step("booting alpha, beta and a client (real systemd hosts in namespaces)");
    let started = Instant::now();
    let tb = TestBed::up(cfg)?;
    println!(
        "   up in {:?}: alpha {}, beta {}, client {}",
        started.elapsed(),
        tb.ip("alpha"),
        tb.ip("beta"),
        tb.client_ip()
    );

    step("installing haagent, the manifest and a fresh key into both nodes");
    let manifest = manifest(&tb, vip);
    let key = tb.state_dir().join("authkey");
    let out = Command::new(bins.join("haagentctl"))
        .arg("keygen")
        .arg(&key)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    for node in ["alpha", "beta"] {
        let host = tb.host(node);
        host.copy_in(&bins.join("haagent"), "/usr/bin/haagent", 0o755)?;
        host.copy_in(&bins.join("haagentctl"), "/usr/bin/haagentctl", 0o755)?;
        host.write_file("/etc/haagent/cluster.yaml", manifest.as_bytes(), 0o644)?;
        host.copy_in(&key, "/etc/haagent/authkey", 0o600)?;
    }
    print!("{}", indent(&manifest));

    step("checking the manifest on each node (`haagent --check-config`)");
    for node in ["alpha", "beta"] {
        let out = tb.host(node).exec(&["haagent", "--check-config"]);
        print!("   [{node}] {}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            return Err(format!("the manifest does not check on {node}"));
        }
    }

    step("starting web.service on alpha; the client asks it every 5 ms for a second");
    tb.host("alpha").sh("systemctl start web.service")?;
    let target = SocketAddrV4::new(tb.ip("alpha"), PORT);
    let seen = Probe::run_for(
        &tb.client_netns(),
        target,
        Mode::Tcp,
        Duration::from_millis(5),
        Duration::from_secs(1),
    )?;
    println!(
        "   {} of {} TCP connections answered, by {:?}; longest gap {:?}",
        seen.answered, seen.sent, seen.by_host, seen.longest_gap
    );

    step(
        "haagent's cluster runtime is not part of this build, so there is no failover to show yet",
    );
    let started = Instant::now();
    let left = tb.down();
    println!(
        "   torn down in {:?}; left behind: {}",
        started.elapsed(),
        if left.is_empty() {
            "nothing".into()
        } else {
            format!("{left:?}")
        }
    );
    Ok(())
}

/// The manifest of the demo cluster, on the bed's addresses.
fn manifest(tb: &TestBed, vip: std::net::Ipv4Addr) -> String {
    format!(
        "cluster: demo\nnodes:\n  alpha: {{ address: {a} }}\n  beta:  {{ address: {b} }}\nheartbeat:\n  interval: 200ms\n  dead_after: 1s\n  links:\n    - transport: unicast\n      interface: eth0\nauth:\n  key_file: /etc/haagent/authkey\nquorum:\n  two_node:\n    tie_breaker: ping\nconnectivity:\n  ping: [{c}]\ngroups:\n  web:\n    nodes: [alpha, beta]\n    failback: true\n    resources:\n      - vip: {vip}/24\n        interface: eth0\n      - unit: web.service\n",
        a = tb.ip("alpha"),
        b = tb.ip("beta"),
        c = tb.client_ip(),
    )
}

/// The haagent binaries built next to this example, building them if needed.
fn binaries() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // target/<profile>/examples/demo -> target/<profile>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("cannot find the target directory")?
        .to_path_buf();
    if !dir.join("haagent").exists() || !dir.join("haagentctl").exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "--bins"]);
        if dir.ends_with("release") {
            build.arg("--release");
        }
        let status = build
            .status()
            .map_err(|e| format!("cannot build the binaries: {e}"))?;
        if !status.success() {
            return Err("building the haagent binaries failed".into());
        }
    }
    Ok(dir)
}

fn step(text: &str) {
    println!("\n== {text}");
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("   | {l}\n")).collect()
}
