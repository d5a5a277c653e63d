//! Faults of the whole cluster, done as an operator does them, node after node: a key
//! rotation (README, "Keys": a new signing key in front, the file copied to every node, each
//! reloaded, in any order and at any pace) and a reload with a changed manifest (the edge group
//! gains failback, which may move it home; the heal takes it back out). The nemesis draws them
//! only when no other fault is in progress, and nothing else while they are.

use std::time::Duration;

use crate::Result;
use crate::cluster::Cluster;

/// The nodes, in an order that starts at `first`, a fifth of a second apart.
fn each_node(c: &Cluster, first: usize, mut step: impl FnMut(&str) -> Result<()>) -> Result<()> {
    let n = c.bed.hosts().len();
    for i in 0..n {
        let name = super::faults::node((first + i) % n);
        step(&name)?;
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// Rotates the key on `first`, copies the new file to the others (and to the machine's copy
/// that a node installed after a power cut gets), and reloads every node.
pub fn rotate_key(c: &Cluster, first: usize) -> Result<()> {
    let origin = super::faults::node(first);
    c.sh(&origin, "haagentctl keygen --rotate /etc/haagent/authkey")?;
    let pid = c.bed.host(&origin).pid().ok_or("host not running")?;
    let file = format!("/proc/{pid}/root/etc/haagent/authkey");
    let keys = std::fs::read(&file).map_err(|e| format!("{file}: {e}"))?;
    std::fs::write(c.bed.state_dir().join("authkey"), &keys).map_err(|e| e.to_string())?;
    each_node(c, first, |node| {
        c.bed
            .host(node)
            .write_file("/etc/haagent/authkey", &keys, 0o600)?;
        c.sh(node, "systemctl reload haagent").map(drop)
    })
}

/// Writes `manifest` on every node and reloads each.
pub fn reload(c: &Cluster, first: usize, manifest: &str) -> Result<()> {
    each_node(c, first, |node| {
        c.write_manifest(node, manifest)?;
        c.sh(node, "systemctl reload haagent").map(drop)
    })
}

/// The changed manifest: the edge group (the last with `failback: false`) gains failback.
pub fn changed(manifest: &str) -> String {
    match manifest.rfind("failback: false") {
        Some(i) => format!("{}failback: true{}", &manifest[..i], &manifest[i + 15..]),
        None => manifest.to_owned(),
    }
}
