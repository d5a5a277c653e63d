//! A unit resource's `check:`: exactly one of `exec`, `tcp` or `http`, its timing (a run ends
//! before the next begins) and its `rise` and `fall` counts.

use std::time::Duration;

use super::super::diag::Diagnostic;
use super::super::limits::{CHECK_INTERVAL, CHECK_TIMEOUT, MAX_RISE_FALL};
use super::super::model::{Check, CheckProbe, HttpTarget, split_host_port};
use super::super::raw::RawCheck;
use super::super::tree::YamlPath;
use super::Ctx;

/// Default time between runs.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// Default `rise`.
pub const DEFAULT_RISE: u32 = 2;
/// Default `fall`.
pub const DEFAULT_FALL: u32 = 3;

/// The check at `path`; `None` after an error.
pub(super) fn check(cx: &mut Ctx, path: &YamlPath, c: &RawCheck) -> Option<Check> {
    let probe = probe(cx, path, c);
    let interval = cx.duration(
        path.key("interval"),
        c.interval.as_ref(),
        DEFAULT_INTERVAL,
        &CHECK_INTERVAL,
    );
    // Two seconds, or half a shorter interval: always below the interval.
    let default_timeout = Duration::from_secs(2).min(interval / 2);
    let timeout = cx.duration(
        path.key("timeout"),
        c.timeout.as_ref(),
        default_timeout,
        &CHECK_TIMEOUT,
    );
    let mut ok = true;
    if timeout >= interval {
        ok = false;
        cx.push(
            Diagnostic::error(
                path.key("timeout"),
                format!(
                    "timeout {} is not below interval {}: a run would still go on when the next begins",
                    limits_fmt(timeout),
                    limits_fmt(interval)
                ),
            )
            .hint(format!(
                "use a timeout below {}, or a longer interval",
                limits_fmt(interval)
            )),
        );
    }
    let rise = count(cx, path, "rise", c.rise, DEFAULT_RISE);
    let fall = count(cx, path, "fall", c.fall, DEFAULT_FALL);
    if c.status.is_some() && c.http.is_none() {
        cx.push(
            Diagnostic::error(path.key("status"), "`status` applies only to `http` checks")
                .hint("remove `status`, or use `http: http://HOST:PORT/PATH`"),
        );
    }
    let probe = probe?;
    (ok && rise.is_some() && fall.is_some()).then(|| Check {
        probe,
        interval,
        timeout,
        rise: rise.unwrap_or(DEFAULT_RISE),
        fall: fall.unwrap_or(DEFAULT_FALL),
    })
}

fn limits_fmt(d: Duration) -> String {
    super::super::duration::format(d)
}

/// `rise` or `fall`: 1 to [`MAX_RISE_FALL`].
fn count(cx: &mut Ctx, path: &YamlPath, key: &str, n: Option<u32>, default: u32) -> Option<u32> {
    match n {
        None => Some(default),
        Some(n) if (1..=MAX_RISE_FALL).contains(&n) => Some(n),
        Some(n) => {
            cx.push(
                Diagnostic::error(
                    path.key(key),
                    format!("{key} {n} is outside 1 to {MAX_RISE_FALL}"),
                )
                .hint(format!(
                    "use 1 to {MAX_RISE_FALL} runs in a row (default {default}); for a slower verdict lengthen `interval`"
                )),
            );
            None
        }
    }
}

/// What the check runs: exactly one of the three kinds.
fn probe(cx: &mut Ctx, path: &YamlPath, c: &RawCheck) -> Option<CheckProbe> {
    let kinds: Vec<&str> = [
        ("exec", c.exec.is_some()),
        ("tcp", c.tcp.is_some()),
        ("http", c.http.is_some()),
    ]
    .iter()
    .filter(|k| k.1)
    .map(|k| k.0)
    .collect();
    if kinds.len() != 1 {
        let message = if kinds.is_empty() {
            "a check needs one of `exec`, `tcp` or `http`".to_owned()
        } else {
            format!("a check has {}: it may have one", kinds.join(" and "))
        };
        cx.push(
            Diagnostic::error(path.clone(), message)
                .hint("e.g. `http: http://127.0.0.1:8080/health`, `tcp: 127.0.0.1:5432` or `exec: [/usr/local/bin/check-db]`"),
        );
        return None;
    }
    if let Some(argv) = &c.exec {
        return exec(cx, &path.key("exec"), argv);
    }
    if let Some(addr) = &c.tcp {
        return match split_host_port(addr, None) {
            Ok(_) => Some(CheckProbe::Tcp(addr.clone())),
            Err(why) => {
                cx.push(
                    Diagnostic::error(path.key("tcp"), format!("invalid address `{addr}`: {why}"))
                        .hint("write `HOST:PORT`, e.g. `127.0.0.1:5432` or `[::1]:5432`"),
                );
                None
            }
        };
    }
    let url = c.http.as_ref()?;
    let status = match c.status {
        None => 200,
        Some(s @ 100..=599) => s as u16,
        Some(s) => {
            cx.push(
                Diagnostic::error(path.key("status"), format!("{s} is not an HTTP status"))
                    .hint("use 100 to 599, e.g. `200` (the default) or `204`"),
            );
            return None;
        }
    };
    match HttpTarget::parse(url) {
        Ok(_) => Some(CheckProbe::Http {
            url: url.clone(),
            status,
        }),
        Err(why) => {
            cx.push(
                Diagnostic::error(path.key("http"), format!("invalid URL `{url}`: {why}"))
                    .hint("write `http://HOST[:PORT]/PATH`, e.g. `http://127.0.0.1:8080/health`"),
            );
            None
        }
    }
}

/// An `exec` command: an absolute program path, then its arguments, nothing empty.
fn exec(cx: &mut Ctx, path: &YamlPath, argv: &[String]) -> Option<CheckProbe> {
    let Some(program) = argv.first() else {
        cx.push(
            Diagnostic::error(path.clone(), "the command is empty").hint(
                "write the program and its arguments, e.g. `[/usr/local/bin/check-db, --quick]`",
            ),
        );
        return None;
    };
    if !program.starts_with('/') {
        cx.push(
            Diagnostic::error(
                path.index(0),
                format!("`{program}` is not an absolute path"),
            )
            .hint("systemd runs the command without a shell or search path: write its full path, e.g. `/usr/bin/curl`"),
        );
        return None;
    }
    if let Some(i) = argv.iter().position(|a| a.contains('\0')) {
        cx.push(
            Diagnostic::error(path.index(i), "an argument contains a NUL byte").hint("remove it"),
        );
        return None;
    }
    Some(CheckProbe::Exec(argv.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::super::tests::BASE;
    use crate::manifest::{Severity, parse};

    const UNIT: &str = "      - unit: nginx.service\n";

    fn with(check: &str) -> String {
        BASE.replace(UNIT, &format!("{UNIT}        check: {check}\n"))
    }

    #[test]
    fn a_valid_http_check_gets_its_defaults() {
        let m = parse(&with("{ http: 'http://127.0.0.1:8080/health' }"))
            .manifest
            .expect("valid");
        let c = m.groups["web"].resources[1].check.clone().expect("check");
        assert_eq!((c.rise, c.fall), (2, 3));
        assert_eq!(c.interval, std::time::Duration::from_secs(5));
        assert_eq!(c.timeout, std::time::Duration::from_secs(2));
        let short = parse(&with("{ tcp: '[::1]:5432', interval: 1s }")).manifest;
        let c = short.expect("valid").groups["web"].resources[1]
            .check
            .clone();
        assert_eq!(
            c.expect("check").timeout,
            std::time::Duration::from_millis(500)
        );
    }

    #[test]
    fn bad_checks_are_refused_with_the_place_and_the_fix() {
        for (check, expect) in [
            (
                "{ http: 'http://x/', interval: 1s, timeout: 1s }",
                "timeout 1s is not below interval 1s",
            ),
            (
                "{ tcp: 'x:80', interval: 50ms }",
                "interval 50ms is below the 100ms minimum",
            ),
            ("{ tcp: 'x:80', fall: 0 }", "fall 0 is outside 1 to 10"),
            ("{ tcp: 'x:80', rise: 11 }", "rise 11 is outside 1 to 10"),
            ("{ tcp: 'x' }", "missing the port"),
            ("{ http: 'https://x/' }", "https is not supported"),
            ("{ exec: [check] }", "is not an absolute path"),
            (
                "{ tcp: 'x:80', http: 'http://x/' }",
                "a check has tcp and http",
            ),
            ("{ interval: 1s }", "a check needs one of"),
            (
                "{ tcp: 'x:80', status: 204 }",
                "`status` applies only to `http` checks",
            ),
            (
                "{ http: 'http://x/', status: 42 }",
                "42 is not an HTTP status",
            ),
        ] {
            let report = parse(&with(check));
            let errors: Vec<_> = report
                .problems
                .iter()
                .filter(|p| p.severity == Severity::Error)
                .collect();
            assert!(
                errors.iter().any(|p| p.message.contains(expect)
                    && p.path.starts_with("groups.web.resources[1].check")
                    && p.hint.is_some()),
                "{check}: {errors:#?}"
            );
        }
    }

    #[test]
    fn track_interface_is_for_vips() {
        let text = BASE.replace(
            "        interface: eth0\n",
            "        interface: eth0\n        track_interface: true\n",
        );
        let m = parse(&text).manifest.expect("valid");
        assert_eq!(
            m.tracked_interfaces().into_iter().collect::<Vec<_>>(),
            ["eth0"]
        );
        let on_unit = with("{ tcp: 'x:80' }\n        track_interface: true");
        let report = parse(&on_unit);
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.message.contains("`track_interface` applies only to VIPs")),
            "{:#?}",
            report.problems
        );
    }

    #[test]
    fn a_check_on_a_vip_is_refused() {
        let text = BASE.replace(
            "        interface: eth0\n",
            "        interface: eth0\n        check: { tcp: 'x:80' }\n",
        );
        let report = parse(&text);
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.message.contains("`check` applies only to units"))
        );
    }
}
