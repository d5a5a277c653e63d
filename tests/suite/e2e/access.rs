//! Who may use the control interface, on a real host with real users: a member of the
//! `haagent` group reads the status but cannot change anything, a user outside it can do
//! neither and is told so with exit code 4; with the bus policy opened up, the agent still
//! refuses them itself; and `Changed` signals reach the group's members but no other user.

use std::process::Output;
use std::time::Duration;

use super::*;

/// `haagentctl ARGS` on alpha as `user`, with its groups from the user database.
fn ctl_as(c: &Cluster, user: &str, args: &[&str]) -> Output {
    let mut all = vec![
        "setpriv",
        "--reuid",
        user,
        "--regid",
        user,
        "--init-groups",
        "haagentctl",
    ];
    all.extend_from_slice(args);
    c.bed.host("alpha").exec(&all)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asserts `haagentctl ARGS` as `user` is refused with exit code 4 and a message holding
/// `says`; returns the message.
fn refused(c: &Cluster, user: &str, args: &[&str], says: &str) -> String {
    let out = ctl_as(c, user, args);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(4), "{user} {args:?}: {said}");
    assert!(
        said.contains("not allowed") && said.contains(says),
        "{user} {args:?}: {said}"
    );
    said
}

const RELOAD_BUS: &str =
    "busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig";

/// Lets everyone call the agent and hear its signals, whatever the other policy files say.
const OPEN_POLICY: &str = r#"<busconfig><policy context="mandatory">
<allow send_destination="org.haagent.Agent1"/><allow receive_sender="org.haagent.Agent1"/>
</policy></busconfig>"#;

#[test]
fn members_of_haagent_read_others_are_refused_by_the_bus_and_by_the_agent() {
    let spec = Spec::two("cta", 66);
    let Some(c) = cluster(&spec) else { return };
    // The bus resolves the policy's group when it loads it: the group comes first.
    c.sh(
        "alpha",
        &format!(
            "groupadd --system haagent && useradd -M -G haagent reader && useradd -M outsider && {RELOAD_BUS}"
        ),
    )
    .unwrap();
    start_on(&c, &["alpha", "beta"], "alpha");
    let (read, root) = (
        "run as root or as a member of the haagent group",
        "run as root (members of the haagent group may only read",
    );

    // The bus policy refuses first.
    let out = ctl_as(&c, "reader", &["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("running on alpha"), "{}", text(&out));
    refused(&c, "reader", &["failover", "web", "--to", "beta"], root);
    refused(&c, "reader", &["standby", "alpha"], root);
    refused(&c, "outsider", &["status"], read);
    let out = ctl_as(&c, "outsider", &["status", "--json"]);
    assert_eq!(out.status.code(), Some(4));
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["kind"], "denied", "{e}");
    assert!(e["error"].as_str().unwrap().contains(read), "{e}");

    signals_reach_members_only(&c);

    // With the policy opened, the agent refuses on its own, naming the caller.
    let alpha = c.bed.host("alpha");
    alpha
        .write_file(
            "/etc/dbus-1/system.d/zz-open.conf",
            OPEN_POLICY.as_bytes(),
            0o644,
        )
        .unwrap();
    c.sh("alpha", RELOAD_BUS).unwrap();
    let said = refused(&c, "outsider", &["status"], read);
    assert!(said.contains("haagent refuses: uid "), "{said}");
    let said = refused(&c, "reader", &["failover", "web", "--to", "beta"], root);
    assert!(said.contains("may not call Move"), "{said}");
    let changes: [(&str, &[&str]); 4] = [
        ("Standby", &["standby", "beta"]),
        ("Online", &["online", "beta"]),
        ("Clear", &["clear", "web"]),
        ("Reload", &["reload"]),
    ];
    for (call, args) in changes {
        let said = refused(&c, "reader", args, "haagent refuses");
        assert!(said.contains(&format!("may not call {call}")), "{said}");
    }
    // An outsider is refused its first read (haagentctl asks for the Node property).
    let prop = alpha.exec(&[
        "setpriv",
        "--reuid=outsider",
        "--regid=outsider",
        "--init-groups",
        "busctl",
        "get-property",
        "org.haagent.Agent1",
        "/org/haagent/Agent1",
        "org.haagent.Agent1",
        "Node",
    ]);
    assert!(!prop.status.success());
    assert!(text(&prop).contains("Access denied"), "{}", text(&prop));
    assert!(c.journal("alpha").contains("control call refused"));
    assert_eq!(ctl_as(&c, "reader", &["status"]).status.code(), Some(0));

    c.sh(
        "alpha",
        &format!("rm /etc/dbus-1/system.d/zz-open.conf && {RELOAD_BUS}"),
    )
    .unwrap();
    // Nothing a refused call asked for happened.
    wait_holder(&c, "alpha", Duration::from_secs(1));
}

/// `Changed` signals reach a member of `haagent` and not an outsider, though both listen and
/// the outsider hears other signals of the same interface.
fn signals_reach_members_only(c: &Cluster) {
    for (unit, user) in [("mon-in", "reader"), ("mon-out", "outsider")] {
        c.sh(
            "alpha",
            &format!(
                "systemd-run --quiet --uid={user} --unit={unit} dbus-monitor --system \"type='signal',interface='org.haagent.Agent1'\""
            ),
        )
        .unwrap();
    }
    let heard = |unit: &str, what: &str| {
        c.sh("alpha", &format!("journalctl -u {unit} -o cat"))
            .unwrap()
            .contains(what)
    };
    // A signal of the same interface from another sender: both must hear it, so both listen.
    cluster::wait_for("both monitors to listen", Duration::from_secs(10), || {
        c.sh(
            "alpha",
            "busctl emit /org/haagent/Probe org.haagent.Agent1 Probe",
        )
        .unwrap();
        heard("mon-in", "member=Probe") && heard("mon-out", "member=Probe")
    })
    .unwrap();

    ctl_ok(c, "alpha", &["standby", "alpha"]);
    wait_holder(c, "beta", Duration::from_secs(5));
    ctl_ok(c, "alpha", &["online", "alpha"]);
    wait_holder(c, "alpha", Duration::from_secs(5));
    cluster::wait_for("the member to hear Changed", Duration::from_secs(3), || {
        heard("mon-in", "member=Changed")
    })
    .unwrap();
    let outsider = c.sh("alpha", "journalctl -u mon-out -o cat").unwrap();
    assert!(!outsider.contains("member=Changed"), "{outsider}");
    c.sh("alpha", "systemctl stop mon-in mon-out").unwrap();
}

fn ctl_ok(c: &Cluster, node: &str, args: &[&str]) {
    let out = c.ctl(node, args);
    assert!(out.status.success(), "haagentctl {args:?}: {}", text(&out));
}
