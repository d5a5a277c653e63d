//! What the driver says of units and errors: the interface of a unit type's control group,
//! whether two reports agree, a run's origin and a D-Bus error in words.

use crate::engine::UnitSeen;

/// The D-Bus interface holding the `ControlGroup` property of `unit`'s type, if it has one.
pub(super) fn cgroup_interface(unit: &str) -> Option<&'static str> {
    let kind = unit.rsplit_once('.')?.1;
    Some(match kind {
        "service" => "org.freedesktop.systemd1.Service",
        "mount" => "org.freedesktop.systemd1.Mount",
        "socket" => "org.freedesktop.systemd1.Socket",
        "swap" => "org.freedesktop.systemd1.Swap",
        "scope" => "org.freedesktop.systemd1.Scope",
        _ => return None,
    })
}

/// Whether two reports say the same of a unit's state (its origin aside).
pub(super) fn same_state(a: &UnitSeen, b: &UnitSeen) -> bool {
    a.unit == b.unit && a.active == b.active && a.sub == b.sub && a.job == b.job
}

/// The origin of a unit's run in words: `invocation HEX` and each activation detail as
/// `KEY=VALUE` (a bounded number, each clipped: the journal line stays short); `None` when
/// systemd says nothing.
pub(super) fn describe_origin(invocation: &[u8], details: &[(String, String)]) -> Option<String> {
    let mut parts = Vec::new();
    if !invocation.is_empty() && invocation.len() <= 32 {
        let hex: String = invocation.iter().map(|b| format!("{b:02x}")).collect();
        parts.push(format!("invocation {hex}"));
    }
    for (k, v) in details.iter().take(4) {
        parts.push(crate::text::clip(&format!("{k}={v}")));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// A D-Bus error in words: systemd's error name says most (`NoSuchUnit`, `AccessDenied`).
pub(super) fn describe(e: zbus::Error) -> String {
    match e {
        zbus::Error::MethodError(name, detail, _) => match detail {
            Some(d) => format!("{name}: {d}"),
            None => name.to_string(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod origin_tests {
    use super::describe_origin;

    #[test]
    fn an_origin_names_the_invocation_and_the_trigger_and_stays_short() {
        assert_eq!(describe_origin(&[], &[]), None);
        let details = vec![("trigger_unit".to_owned(), "app.timer".to_owned())];
        assert_eq!(
            describe_origin(&[0xab, 0x01], &details).as_deref(),
            Some("invocation ab01, trigger_unit=app.timer")
        );
        let many = vec![("k".to_owned(), "v".repeat(1000)); 100];
        let seen = |origin: Option<&str>| crate::engine::UnitSeen {
            unit: "web.service".into(),
            active: crate::engine::Active::Active,
            sub: "running".into(),
            job: None,
            origin: origin.map(str::to_owned),
        };
        assert!(super::same_state(&seen(Some("invocation ab")), &seen(None)));
        let text = describe_origin(&[0; 16], &many).unwrap();
        assert!(text.len() < 1000, "{}", text.len());
    }
}

#[cfg(test)]
mod cgroup_tests {
    use super::cgroup_interface;

    #[test]
    fn units_with_a_control_group_are_known_by_their_type() {
        assert_eq!(
            cgroup_interface("srv-pgdata.mount"),
            Some("org.freedesktop.systemd1.Mount")
        );
        assert_eq!(
            cgroup_interface("web.service"),
            Some("org.freedesktop.systemd1.Service")
        );
        assert_eq!(cgroup_interface("multi-user.target"), None);
        assert_eq!(cgroup_interface("noext"), None);
    }
}
