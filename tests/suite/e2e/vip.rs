//! The VIP as the network sees it: removed by hand on its holder, it comes back; added by hand
//! on a node that does not hold it, it is taken away again, so only the holder answers for it;
//! a client whose ARP entry has gone wrong is put right by the periodic refresh, and at once
//! when a peer comes back. And a managed unit enabled at boot is warned about.

use std::time::Duration;

use haagent_testbed::net;

use super::*;

#[test]
fn a_vip_removed_by_hand_returns_and_a_stray_copy_is_removed() {
    let spec = Spec::two("e2v", 54);
    let Some(c) = cluster(&spec) else { return };
    // Enabled at boot on beta (the host's root is its own copy): it would run on every node.
    c.sh(
        "beta",
        "mkdir -p /etc/systemd/system/multi-user.target.wants \
         && ln -s /run/systemd/system/web.service /etc/systemd/system/multi-user.target.wants/ \
         && systemctl daemon-reload && systemctl show -P UnitFileState web.service",
    )
    .unwrap();
    start_on(&c, &["alpha", "beta"], "alpha");
    let warned = c.journal("beta");
    assert!(
        warned.contains("unit is enabled at boot") && warned.contains("systemctl disable"),
        "beta should warn about web.service enabled at boot:\n{warned}"
    );
    assert!(!c.journal("alpha").contains("unit is enabled at boot"));
    let vip = vip(&c.bed);
    c.sh("alpha", &format!("ip addr del {vip}/24 dev eth0"))
        .unwrap();
    let back = cluster::wait_for("the VIP back on alpha", Duration::from_secs(3), || {
        c.has_vip("alpha", vip)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", journals(&c)));
    assert!(back < Duration::from_secs(1), "took {back:?}");
    assert!(
        c.journal("alpha")
            .contains("was removed from the interface")
    );
    assert_eq!(
        c.unit_holders("web.service"),
        ["alpha"],
        "the unit kept running"
    );

    c.sh("beta", &format!("ip addr add {vip}/24 dev eth0"))
        .unwrap();
    cluster::wait_for(
        "the stray VIP gone from beta",
        Duration::from_secs(3),
        || !c.has_vip("beta", vip),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", journals(&c)));
    assert!(c.journal("beta").contains("does not hold it"));
    assert_eq!(never_twice(&c, Duration::from_secs(1)), ["alpha"]);
}

#[test]
fn a_clients_wrong_arp_entry_is_put_right_by_the_periodic_refresh() {
    let spec = Spec::two("e2a", 58);
    let Some(c) = cluster(&spec) else { return };
    start_on(&c, &["alpha", "beta"], "alpha");
    // The acquire burst (5 x 200 ms) is over.
    std::thread::sleep(Duration::from_millis(1500));
    let vip = vip(&c.bed).to_string();
    // A stale entry naming a machine that is gone; the client sends nothing to the VIP, so
    // only an announcement can correct it (the kernel takes a gratuitous ARP over an entry).
    let wrong = "02:00:00:00:00:99";
    let poison = || {
        let set = c.bed.client(&[
            "ip", "neigh", "replace", &vip, "lladdr", wrong, "dev", "eth0", "nud", "stale",
        ]);
        assert!(set.status.success(), "{set:?}");
    };
    let neigh = || {
        let out = c.bed.client(&["ip", "neigh", "show", &vip]);
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let alpha = net::mac(spec.prefix, 1);
    let corrected = |within: Duration| {
        cluster::wait_for("alpha's MAC in the client's ARP entry", within, || {
            neigh().contains(&alpha)
        })
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", neigh(), journals(&c)))
    };
    poison();
    assert!(neigh().contains(wrong), "{}", neigh());
    // The default refresh is every 10 s.
    let fixed = corrected(Duration::from_secs(12));
    assert!(
        fixed > Duration::from_millis(500),
        "corrected at once ({fixed:?}): not by a refresh?"
    );

    // A peer that comes back (here: its agent restarts) makes the holder announce at once,
    // long before the next refresh is due.
    poison();
    c.sh("beta", "systemctl restart haagent").unwrap();
    corrected(Duration::from_secs(3));
    assert_eq!(never_twice(&c, Duration::from_millis(500)), ["alpha"]);
}
