//! Checks of single names and addresses that several parts of the manifest share: IP
//! addresses and systemd unit names.

use std::net::IpAddr;

use super::super::diag::Diagnostic;
use super::super::tree::YamlPath;
use super::Ctx;
use crate::text::quoted_list;

pub(super) fn ip(cx: &mut Ctx, path: YamlPath, text: &str) -> Option<IpAddr> {
    match text.parse::<IpAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            let hint = if text.contains('/') {
                "write the address without a prefix length"
            } else {
                "write an IPv4 or IPv6 address, e.g. `192.0.2.1` or `2001:db8::1`"
            };
            cx.push(Diagnostic::error(path, format!("`{text}` is not an IP address")).hint(hint));
            None
        }
    }
}

/// A systemd unit name: `NAME.TYPE` with an optional `@INSTANCE`, at most 255 bytes, from the
/// character set of systemd's `unit_name_is_valid`.
pub(super) fn unit_name(cx: &mut Ctx, path: YamlPath, unit: &str) -> bool {
    const TYPES: [&str; 11] = [
        "service",
        "socket",
        "target",
        "device",
        "mount",
        "automount",
        "swap",
        "timer",
        "path",
        "slice",
        "scope",
    ];
    let valid_chars = unit
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b":-_.\\@".contains(&b));
    let (stem, suffix) = unit.rsplit_once('.').unwrap_or((unit, ""));
    let problem = if unit.len() > 255 {
        Some("is longer than 255 bytes".to_owned())
    } else if !valid_chars {
        Some("contains characters systemd does not allow".to_owned())
    } else if !TYPES.contains(&suffix) {
        Some(format!(
            "does not end in a unit type ({})",
            quoted_list(&TYPES.map(|t| format!(".{t}")))
        ))
    } else if stem.is_empty() || stem.starts_with('@') {
        Some("has no name before the type".to_owned())
    } else if stem.ends_with('@') {
        Some("is a template without an instance".to_owned())
    } else {
        None
    };
    let ok = problem.is_none();
    if let Some(problem) = problem {
        let hint = if suffix.is_empty() || !TYPES.contains(&suffix) {
            format!("did you mean `{stem}.service`?")
        } else {
            "write the unit as `systemctl status` shows it, e.g. `apache2.service` or `getty@tty1.service`".into()
        };
        cx.push(
            Diagnostic::error(
                path,
                format!("`{unit}` is not a valid systemd unit name: it {problem}"),
            )
            .hint(hint),
        );
    }
    ok
}
