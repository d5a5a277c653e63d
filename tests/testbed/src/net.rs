//! The wire: a bridge in its own namespace (the switch), one veth per host and one for the
//! client, created directly inside their namespaces so nothing appears in the machine's; plus
//! the faults: port down, port isolation, loss and one-way cuts with nftables.

use std::net::Ipv4Addr;

use crate::{Config, Result, run, run_output};

/// Host index of the client (its address ends in .100).
pub const CLIENT: u8 = 100;

/// Name of a namespace of the bed.
pub fn netns(prefix: &str, name: &str) -> String {
    format!("{prefix}-{name}")
}

/// Address of host `index` in the bed's subnet.
pub fn addr(cfg: &Config, index: u8) -> Ipv4Addr {
    let [a, b, c] = cfg.subnet;
    Ipv4Addr::new(a, b, c, index)
}

/// The switch's bridge name.
fn bridge(prefix: &str) -> String {
    format!("{prefix}-br0")
}

/// A MAC unique per bed and host, locally administered: readable in `ip neigh` output.
pub fn mac(prefix: &str, index: u8) -> String {
    let tag = prefix
        .bytes()
        .fold(0u8, |acc, b| acc.wrapping_mul(31).wrapping_add(b));
    format!("02:{tag:02x}:00:00:00:{index:02x}")
}

/// Turns IPv6 on in namespace `ns` (beds start with it off) and gives its eth0 `addr`/64,
/// usable at once (no duplicate address detection).
pub fn ipv6_on(ns: &str, addr: &str) -> Result<()> {
    for setting in ["all", "eth0"] {
        let key = format!("net.ipv6.conf.{setting}.disable_ipv6=0");
        run("ip", &["netns", "exec", ns, "sysctl", "-qw", &key])?;
    }
    let cidr = format!("{addr}/64");
    run(
        "ip",
        &["-n", ns, "addr", "add", &cidr, "dev", "eth0", "nodad"],
    )
}

fn quiet_netns(ns: &str) -> Result<()> {
    run("ip", &["netns", "add", ns])?;
    // IPv6 off keeps the wire quiet; tests that need IPv6 turn it on per host.
    run(
        "ip",
        &[
            "netns",
            "exec",
            ns,
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
        ],
    )?;
    run("ip", &["-n", ns, "link", "set", "lo", "up"])
}

/// The switch: a bridge that floods multicast and forwards at once (no STP).
pub fn switch(cfg: &Config) -> Result<()> {
    let sw = netns(&cfg.prefix, "sw");
    quiet_netns(&sw)?;
    let br = bridge(&cfg.prefix);
    run(
        "ip",
        &[
            "-n",
            &sw,
            "link",
            "add",
            &br,
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ],
    )?;
    run("ip", &["-n", &sw, "link", "set", &br, "up"])
}

/// The client namespace, plugged into the switch.
pub fn client(cfg: &Config) -> Result<()> {
    plug(cfg, "c", CLIENT)
}

/// A fresh namespace for `name` with `eth0` on the switch and its address.
pub fn plug(cfg: &Config, name: &str, index: u8) -> Result<()> {
    let ns = netns(&cfg.prefix, name);
    let sw = netns(&cfg.prefix, "sw");
    quiet_netns(&ns)?;
    let port = netns(&cfg.prefix, name);
    let mac = mac(&cfg.prefix, index);
    run(
        "ip",
        &[
            "link", "add", "eth0", "netns", &ns, "address", &mac, "type", "veth", "peer", "name",
            &port, "netns", &sw,
        ],
    )?;
    run(
        "ip",
        &[
            "-n",
            &sw,
            "link",
            "set",
            &port,
            "master",
            &bridge(&cfg.prefix),
            "up",
        ],
    )?;
    let cidr = format!("{}/24", addr(cfg, index));
    run("ip", &["-n", &ns, "addr", "add", &cidr, "dev", "eth0"])?;
    run("ip", &["-n", &ns, "link", "set", "eth0", "up"])?;
    // No default route here: multicast needs a route of its own or sends fail with ENETUNREACH.
    run(
        "ip",
        &["-n", &ns, "route", "add", "224.0.0.0/4", "dev", "eth0"],
    )
}

/// Deletes a host's namespace (its veth pair goes with it): a dead host must stop answering
/// ARP and ping, which an empty namespace would otherwise keep doing.
pub fn unplug(prefix: &str, name: &str) {
    let _ = run_output("ip", &["netns", "del", &netns(prefix, name)]);
}

/// Sets a host's switch port up or down.
pub fn port(prefix: &str, name: &str, up: bool) -> Result<()> {
    let state = if up { "up" } else { "down" };
    run(
        "ip",
        &[
            "-n",
            &netns(prefix, "sw"),
            "link",
            "set",
            &netns(prefix, name),
            state,
        ],
    )
}

/// Bridge port isolation: isolated ports cannot talk to each other, only to the others.
pub fn isolate(prefix: &str, names: &[&str], on: bool) -> Result<()> {
    let flag = if on { "on" } else { "off" };
    for name in names {
        run(
            "ip",
            &[
                "-n",
                &netns(prefix, "sw"),
                "link",
                "set",
                "dev",
                &netns(prefix, name),
                "type",
                "bridge_slave",
                "isolated",
                flag,
            ],
        )?;
    }
    Ok(())
}

/// Adds an input rule in a host's namespace (the table is created on first use).
pub fn nft_rule(prefix: &str, name: &str, rule: &str) -> Result<()> {
    let ns = netns(prefix, name);
    let script = format!(
        "add table inet tb\nadd chain inet tb input {{ type filter hook input priority 0; }}\nadd rule inet tb input {rule}\n"
    );
    nft_script(&ns, "nft", &script)
}

/// Loads an nftables script into netns `ns` (through a file: `nft -f`), `tag` naming the file.
pub fn nft_script(ns: &str, tag: &str, script: &str) -> Result<()> {
    let path = std::env::temp_dir().join(format!("{ns}-{tag}-{}", std::process::id()));
    std::fs::write(&path, script).map_err(|e| e.to_string())?;
    let file = path.to_str().unwrap_or_default();
    let result = run("ip", &["netns", "exec", ns, "nft", "-f", file]);
    let _ = std::fs::remove_file(&path);
    result
}

/// Removes every fault rule of a host.
pub fn nft_clear(prefix: &str, name: &str) -> Result<()> {
    let ns = netns(prefix, name);
    let out = run_output("ip", &["netns", "exec", &ns, "nft", "list", "tables"]);
    if String::from_utf8_lossy(&out.stdout).contains("inet tb") {
        run(
            "ip",
            &["netns", "exec", &ns, "nft", "delete", "table", "inet", "tb"],
        )?;
    }
    Ok(())
}
