//! The VIP as the network sees it: removed by hand on its holder, it comes back; added by hand
//! on a node that does not hold it, it is taken away again, so only the holder answers for it.

use std::time::Duration;

use super::*;

#[test]
fn a_vip_removed_by_hand_returns_and_a_stray_copy_is_removed() {
    let spec = Spec::two("e2v", 54);
    let Some(c) = cluster(&spec) else { return };
    start_on(&c, &["alpha", "beta"], "alpha");
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
