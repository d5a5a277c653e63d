//! Drift on real hosts: a node whose manifest differs (reloaded with another group setting) is
//! named in the status of its peer, with the group it defines otherwise, and in its journal.

use super::*;

#[test]
fn a_node_with_another_manifest_is_named_in_status() {
    let spec = Spec::two("opd", 117);
    let Some(c) = cluster(&spec) else { return };
    start_on(&c, &["alpha", "beta"], "alpha");
    let status = c.ctl("alpha", &["status"]);
    assert!(!String::from_utf8_lossy(&status.stdout).contains("DIFFERS"));
    let other = Spec {
        failback: !spec.failback,
        ..Spec::two("opd", 117)
    };
    c.write_manifest("beta", &manifest(&other, &c.bed)).unwrap();
    let out = c.ctl("beta", &["reload"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    cluster::wait_for("alpha names beta", Duration::from_secs(5), || {
        let out = c.ctl("alpha", &["status", "--json"]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).is_ok_and(|v| {
            v["nodes"]["beta"]["manifest_differs"] == serde_json::json!(true)
                && v["nodes"]["beta"]["differing_groups"] == serde_json::json!(["web"])
        })
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", journals(&c)));
    let text = String::from_utf8_lossy(&c.ctl("alpha", &["status"]).stdout).into_owned();
    assert!(
        text.contains("MANIFEST DIFFERS (defines otherwise: web)"),
        "{text}"
    );
    assert!(
        text.contains("beta may not run it: its manifest defines the group otherwise"),
        "{text}"
    );
    let log = c.journal("alpha");
    assert!(log.contains("the manifest on beta differs"), "{log}");
    // Nothing moved for it.
    assert_eq!(never_twice(&c, Duration::from_millis(500)), ["alpha"]);
    // Back to the same manifest: no longer named.
    c.write_manifest("beta", &manifest(&spec, &c.bed)).unwrap();
    assert!(c.ctl("beta", &["reload"]).status.success());
    cluster::wait_for("alpha no longer names beta", Duration::from_secs(5), || {
        !String::from_utf8_lossy(&c.ctl("alpha", &["status"]).stdout).contains("DIFFERS")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", journals(&c)));
}
