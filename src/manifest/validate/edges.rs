//! The sections that concern only this node's edges, not the cluster's decisions: `notify`
//! (a template unit started per event) and `metrics` (a Prometheus endpoint).

use std::net::SocketAddr;

use super::super::diag::Diagnostic;
use super::super::model::{MetricsEndpoint, NotifyUnit};
use super::super::raw::RawManifest;
use super::super::tree::YamlPath;
use super::Ctx;
use super::names::unit_name;

/// The longest template accepted: a unit name is at most 255 bytes, and the instance (event,
/// group, node, reason, escaped) needs the rest; the reason is cut to fit.
pub const MAX_TEMPLATE: usize = 96;

/// The job modes a notification may be started with.
const MODES: [&str; 2] = ["fail", "replace"];

pub(super) fn notify(cx: &mut Ctx, raw: &RawManifest) -> Option<NotifyUnit> {
    let n = raw.notify.as_ref()?;
    let path = YamlPath::root().key("notify");
    let template = cx.required(
        &path,
        "unit",
        n.unit.as_ref(),
        "unit: haagent-notify@.service",
    )?;
    let upath = path.key("unit");
    let mode = match &n.mode {
        Some(m) => MODES[cx.choice(path.key("mode"), m, &MODES)?],
        None => MODES[0],
    };
    if !template.ends_with("@.service") {
        cx.push(
            Diagnostic::error(
                upath,
                format!("`{template}` is not a template service"),
            )
            .hint("name a template such as `haagent-notify@.service`; each event starts one instance of it"),
        );
        return None;
    }
    if template.len() > MAX_TEMPLATE {
        cx.push(
            Diagnostic::error(
                upath,
                format!(
                    "the template is {} bytes, more than {MAX_TEMPLATE}",
                    template.len()
                ),
            )
            .hint("shorten its name: the instance needs the rest of systemd's 255 bytes"),
        );
        return None;
    }
    // The character rules of a unit name, checked on an instance of the template.
    let unit = NotifyUnit {
        template: template.clone(),
        mode: mode.to_owned(),
    };
    unit_name(cx, upath, &unit.instance("x")).then_some(unit)
}

pub(super) fn metrics(cx: &mut Ctx, raw: &RawManifest) -> Option<MetricsEndpoint> {
    let m = raw.metrics.as_ref()?;
    let path = YamlPath::root().key("metrics");
    let listen = cx.required(&path, "listen", m.listen.as_ref(), "listen: 127.0.0.1:9464")?;
    let lpath = path.key("listen");
    match listen.parse::<SocketAddr>() {
        Ok(a) if a.port() != 0 => Some(MetricsEndpoint { listen: a }),
        Ok(_) => {
            cx.push(
                Diagnostic::error(lpath, "port 0 would listen on a port nobody knows")
                    .hint("name a port, e.g. `127.0.0.1:9464`"),
            );
            None
        }
        Err(_) => {
            cx.push(
                Diagnostic::error(lpath, format!("`{}` is not ADDRESS:PORT", crate::text::clip(listen)))
                    .hint("e.g. `127.0.0.1:9464`, `0.0.0.0:9464` or `[::]:9464` (an address every node has)"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{BASE, assert_error, errors_with};
    use crate::manifest::parse;

    fn with(extra: &str) -> crate::manifest::Manifest {
        let text = format!("{BASE}{extra}");
        let p = parse(&text);
        p.manifest
            .unwrap_or_else(|| panic!("invalid: {:#?}", p.problems))
    }

    #[test]
    fn off_by_default_and_read_when_given() {
        let m = with("");
        assert_eq!((m.notify, m.metrics), (None, None));
        let m = with("notify: { unit: hn@.service }\nmetrics: { listen: '[::1]:9464' }\n");
        let n = m.notify.unwrap();
        assert_eq!(
            (n.template.as_str(), n.mode.as_str()),
            ("hn@.service", "fail")
        );
        assert_eq!(n.instance("acquire-web"), "hn@acquire-web.service");
        assert_eq!(m.metrics.unwrap().listen.to_string(), "[::1]:9464");
        let m = with("notify: { unit: hn@.service, mode: replace }\n");
        assert_eq!(m.notify.unwrap().mode, "replace");
    }

    #[test]
    fn bad_settings_are_located_and_explained() {
        let at_end =
            |extra: &str, needle: &str| assert_error("groups:", &format!("{extra}groups:"), needle);
        at_end(
            "notify: { unit: hn.service }\n",
            "is not a template service",
        );
        at_end(
            "notify: { unit: 'h n@.service' }\n",
            "characters systemd does not allow",
        );
        at_end("notify: {}\n", "missing `unit`");
        at_end(
            "notify: { unit: a@.service, mode: isolate }\n",
            "is not one of `fail`, `replace`",
        );
        let long = format!("notify: {{ unit: {}@.service }}\n", "n".repeat(90));
        at_end(&long, "more than 96");
        at_end("metrics: { listen: 9464 }\n", "is not ADDRESS:PORT");
        at_end("metrics: { listen: '127.0.0.1:0' }\n", "port 0");
        at_end("metrics: {}\n", "missing `listen`");
        // An unknown key inside is reported as everywhere else.
        let errors = errors_with(
            "groups:",
            "metrics: { listen: '127.0.0.1:1', port: 2 }\ngroups:",
        );
        assert!(
            errors.iter().any(|e| e.contains("unknown key `port`")),
            "{errors:?}"
        );
    }
}
