//! The Debian package, the way a user meets haagent: build it with `dpkg-buildpackage`,
//! `apt install ./haagent_*.deb` on two hosts, write the manifest and a key, `systemctl enable
//! --now haagent`, read `haagentctl status --json`, switch over with `haagentctl failover`,
//! read the structured journal, and reload a broken manifest. Also the unit's exposure score.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use haagent_testbed::Config;

use super::*;

/// Builds the package (release binaries; cargo skips what is fresh) and moves what
/// dpkg-buildpackage writes next to the source tree into `target/debian/`.
fn build_deb() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("dpkg-buildpackage")
        .args(["-b", "-us", "-uc"])
        .current_dir(root)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("dpkg-buildpackage (package dpkg-dev) must be installed");
    assert!(
        out.status.success(),
        "dpkg-buildpackage failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let parent = root.parent().unwrap();
    let dest = root.join("target/debian");
    std::fs::create_dir_all(&dest).unwrap();
    let mut deb = None;
    for e in std::fs::read_dir(parent).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("haagent_") {
            let to = dest.join(&name);
            std::fs::rename(e.path(), &to).unwrap();
            if name.ends_with(".deb") {
                deb = Some(to);
            }
        }
    }
    deb.expect("dpkg-buildpackage wrote no haagent_*.deb")
}

fn json(c: &Cluster, node: &str) -> serde_json::Value {
    let out = c.ctl(node, &["status", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_package_installs_runs_switches_over_and_reloads_like_a_native_service() {
    let spec = Spec::two("e2g", 51);
    let vip = Ipv4Addr::new(10, 98, spec.subnet, VIP_LAST);
    let cfg = Config::new(spec.prefix, [10, 98, spec.subnet], 2)
        .named(spec.nodes)
        .unit("web.service", &echo_unit(vip), false);
    if !can_run(&cfg) {
        return;
    }
    let deb = build_deb();
    let c = Cluster::bare(cfg).unwrap();
    let text = manifest(&spec, &c.bed);
    for node in spec.nodes {
        let h = c.bed.host(node);
        h.copy_in(&deb, "/tmp/haagent.deb", 0o644).unwrap();
        h.sh("DEBIAN_FRONTEND=noninteractive apt-get install -y -q /tmp/haagent.deb")
            .unwrap();
        assert_eq!(
            h.sh("systemctl is-enabled haagent || true").unwrap().trim(),
            "disabled",
            "installing must not enable the service"
        );
        h.write_file("/etc/haagent/cluster.yaml", text.as_bytes(), 0o644)
            .unwrap();
    }
    c.sh("alpha", "haagentctl keygen /etc/haagent/authkey")
        .unwrap();
    let key = c.sh("alpha", "cat /etc/haagent/authkey").unwrap();
    c.bed
        .host("beta")
        .write_file("/etc/haagent/authkey", key.as_bytes(), 0o600)
        .unwrap();
    for node in spec.nodes {
        c.sh(node, "systemctl enable --now haagent").unwrap();
    }
    wait_holder(&c, "alpha", Duration::from_secs(20));

    for node in spec.nodes {
        let s = json(&c, node);
        assert_eq!(s["node"], *node);
        assert_eq!(s["quorate"], true, "{s}");
        let peer = if *node == "alpha" { "beta" } else { "alpha" };
        assert_eq!(s["nodes"][peer]["state"], "up", "{s}");
        assert!(
            s["nodes"][peer]["last_heard_ms"].as_u64().unwrap() < 1000,
            "{s}"
        );
        assert_eq!(s["groups"]["web"]["owner"], "alpha", "{s}");
        assert_eq!(s["groups"]["web"]["state"], "running", "{s}");
        assert!(s["groups"]["web"]["since"].as_str().unwrap().ends_with('Z'));
    }

    // The bound is tight: no other test's hosts compete for the CPUs meanwhile.
    let alone = crate::suite::machine_to_myself();
    let p = probe(&c);
    std::thread::sleep(Duration::from_millis(300));
    let out = c.ctl("alpha", &["failover", "web", "--to", "beta"]);
    let said_ctl = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{said_ctl}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said_ctl.contains("moved from alpha to beta"), "{said_ctl}");
    wait_holder(&c, "beta", Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(300));
    let r = p.stop().unwrap();
    drop(alone);
    assert!(
        r.longest_gap < Duration::from_millis(50),
        "{}\n{}",
        said(&r),
        journals(&c)
    );
    assert_eq!(r.last_host.as_deref(), Some("beta"));

    let events = c
        .sh(
            "beta",
            "journalctl -u haagent -o json HAAGENT_EVENT=acquire",
        )
        .unwrap();
    let acquire: serde_json::Value = serde_json::from_str(events.lines().last().unwrap()).unwrap();
    assert_eq!(acquire["GROUP"], "web", "{acquire}");
    assert_eq!(acquire["NODE"], "beta", "{acquire}");
    assert_eq!(
        acquire["MESSAGE_ID"].as_str().unwrap().len(),
        32,
        "{acquire}"
    );
    assert!(
        acquire["REASON"].as_str().unwrap().contains("operator"),
        "{acquire}"
    );

    let broken = text.replace("  web:\n", "  web:\n    colour: red\n");
    c.bed
        .host("beta")
        .write_file("/etc/haagent/cluster.yaml", broken.as_bytes(), 0o644)
        .unwrap();
    c.sh("beta", "systemctl reload haagent").unwrap();
    cluster::wait_for("the refusal", Duration::from_secs(5), || {
        c.journal("beta").contains("reload refused")
    })
    .unwrap();
    assert!(c.journal("beta").contains("unknown key `colour`"));
    assert_eq!(never_twice(&c, Duration::from_secs(2)), ["beta"]);

    let security = c
        .sh("alpha", "systemd-analyze security haagent.service")
        .unwrap();
    let score: f64 = security
        .lines()
        .find_map(|l| l.split("haagent.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{security}"));
    assert!(score <= 3.0, "exposure {score} > 3.0:\n{security}");
}
