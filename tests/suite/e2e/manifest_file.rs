//! The manifest names the units root starts, so the agent reads it only as root's own file: a
//! symbolic link, or a manifest others can write, is refused at start (by `--check-config` and
//! by the agent itself) and on reload, where the running configuration keeps running.

use super::keys::{refused_reload, refused_start, without_check_config};
use super::*;

#[test]
fn a_symlinked_manifest_is_refused_at_start_and_on_reload() {
    let spec = Spec::two("fg1", 71);
    let Some(c) = cluster(&spec) else { return };
    let to_link = "cd /etc/haagent && mv cluster.yaml real.yaml && ln -s real.yaml cluster.yaml";
    let to_file = "cd /etc/haagent && rm cluster.yaml && mv real.yaml cluster.yaml";
    let why = "it is a symbolic link; point the manifest (`--manifest`, HAAGENT_MANIFEST) at the real file";
    c.sh("alpha", to_link).unwrap();
    let log = refused_start(&c, "alpha");
    assert!(
        log.contains(&format!(
            "/etc/haagent/cluster.yaml: error: cannot read the manifest: {why}"
        )),
        "--check-config says why: {log}"
    );

    without_check_config(&c, "alpha");
    let log = refused_start(&c, "alpha");
    assert!(
        log.contains(&format!(
            "haagent: manifest: cannot read manifest /etc/haagent/cluster.yaml: {why}"
        )),
        "{log}"
    );

    c.sh("alpha", to_file).unwrap();
    c.sh("alpha", "systemctl reset-failed haagent").unwrap();
    start_on(&c, &["alpha", "beta"], "alpha");
    c.sh("alpha", to_link).unwrap();
    refused_reload(&c, "alpha", "alpha", why);
    c.sh("alpha", to_file).unwrap();

    // Writable by others: refused too, with the fix.
    c.sh("alpha", "chmod 666 /etc/haagent/cluster.yaml")
        .unwrap();
    refused_reload(
        &c,
        "alpha",
        "alpha",
        "refusing manifest /etc/haagent/cluster.yaml: it is writable by others (mode 0666); run `chmod go-w /etc/haagent/cluster.yaml`",
    );
    c.sh("alpha", "chmod 644 /etc/haagent/cluster.yaml")
        .unwrap();
    let out = c.ctl("alpha", &["reload"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
