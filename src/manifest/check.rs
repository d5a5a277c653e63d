//! `haagentctl validate` and `haagent --check-config`: one implementation, one output format,
//! documented exit codes.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::json;

use super::host::Host;
use super::tree::YamlPath;
use super::{Diagnostic, ManifestError, Report, finish, parse_bytes, read};
use crate::text::quoted_some;

/// Exit code: the manifest is valid (warnings allowed).
pub const EXIT_VALID: u8 = 0;
/// Exit code: the manifest has errors.
pub const EXIT_INVALID: u8 = 1;
/// Exit code: the manifest could not be read.
pub const EXIT_UNREADABLE: u8 = 2;
/// Exit code of `--against`: both manifests are valid and they differ.
pub const EXIT_DIFFERS: u8 = 3;

/// What to check.
pub struct CheckOptions<'a> {
    /// The manifest file.
    pub file: &'a Path,
    /// The node this host runs as: `Some` from `--node`, else the hostname is tried.
    pub node: Option<&'a str>,
    /// Print JSON instead of text.
    pub json: bool,
    /// This host must be a node of the manifest (`haagent --check-config`: the daemon would
    /// start and fail); otherwise a host that is not one is only noted (`haagentctl validate`
    /// on an operator's workstation).
    pub require_node: bool,
}

/// What to print and the exit code.
pub struct Outcome {
    /// Text or JSON, ending in a newline.
    pub output: String,
    /// One of the `EXIT_*` codes.
    pub code: u8,
}

/// Runs the checks.
pub fn run(opts: &CheckOptions<'_>) -> Outcome {
    let name = opts.file.display().to_string();
    let bytes = match read(opts.file) {
        Ok(b) => b,
        Err(e) => return unreadable(&name, &e, opts.json),
    };
    let mut report = parse_bytes(&bytes);
    let (node, note) = add_host_checks(&mut report, opts, opts.file);
    outcome(&name, &report, node.as_deref(), note.as_deref(), opts.json)
}

/// What [`run`] prints for a manifest's bytes, without the host checks: the path from text to
/// report that the fuzz target `manifest` drives.
pub fn check_bytes(name: &str, bytes: &[u8], json: bool) -> Outcome {
    outcome(name, &parse_bytes(bytes), None, None, json)
}

pub(super) fn outcome(
    name: &str,
    report: &Report,
    node: Option<&str>,
    note: Option<&str>,
    json: bool,
) -> Outcome {
    let code = if report.errors() > 0 {
        EXIT_INVALID
    } else {
        EXIT_VALID
    };
    let output = if json {
        json_output(name, report, node, note)
    } else {
        text_output(name, report, note)
    };
    Outcome { output, code }
}

pub(super) fn unreadable(name: &str, e: &ManifestError, json: bool) -> Outcome {
    let source = match e {
        ManifestError::Unreadable { source, .. } => source.to_string(),
        other => other.to_string(),
    };
    let output = if json {
        format!(
            "{}\n",
            json!({ "file": name, "valid": false, "unreadable": source })
        )
    } else {
        format!("{name}: error: cannot read the manifest: {source}\n")
    };
    Outcome {
        output,
        code: EXIT_UNREADABLE,
    }
}

/// Adds the host checks to `report` when its manifest is valid and this host is one of its
/// nodes; returns the node checked, or a note saying why none was. A host that is not a node
/// is an error when `required` or when named by `--node`.
fn add_host_checks(
    report: &mut Report,
    opts: &CheckOptions<'_>,
    file: &Path,
) -> (Option<String>, Option<String>) {
    let (node, required) = (opts.node, opts.require_node);
    let Some(manifest) = &report.manifest else {
        return (None, None);
    };
    let explicit = node.is_some();
    let known: Vec<&str> = manifest.nodes.keys().map(String::as_str).collect();
    let not_a_node = |message: String, fix: String| {
        vec![
            Diagnostic::error(YamlPath::root().key("nodes"), message)
                .at_key()
                .hint(fix),
        ]
    };
    let problems = match node.map(str::to_owned).or_else(hostname) {
        Some(node) if manifest.nodes.contains_key(&node) => {
            let credentials = std::env::var_os("CREDENTIALS_DIRECTORY");
            let host = Host {
                net_dir: Path::new("/sys/class/net"),
                credentials_dir: credentials.as_deref().map(Path::new),
                manifest: Some(file),
            };
            let problems = host.check(manifest, &node);
            return finish_host(report, problems, Some(node));
        }
        Some(node) if explicit => not_a_node(
            format!("node `{node}` (from --node) is not in the manifest"),
            format!("nodes are {}", quoted_some(&known)),
        ),
        Some(node) if required => not_a_node(
            format!("this host ({node}) is not a node of the manifest: the agent would not start"),
            format!(
                "run it on one of the nodes ({}), or pass --node NAME (HAAGENT_NODE=NAME) if the hostname differs from the node's name",
                quoted_some(&known)
            ),
        ),
        Some(node) => {
            let note = format!(
                "host checks skipped: this host ({node}) is not a node of the manifest; pass --node NAME to check it as one"
            );
            return (None, Some(note));
        }
        None if required => not_a_node(
            "the hostname is unknown, so this host is no node of the manifest".into(),
            "pass --node NAME (HAAGENT_NODE=NAME)".into(),
        ),
        None => {
            let note = "host checks skipped: the hostname is unknown; pass --node NAME";
            return (None, Some(note.into()));
        }
    };
    finish_host(report, problems, None)
}

/// Adds the host's problems to `report`; the node is returned when there was one to check.
fn finish_host(
    report: &mut Report,
    problems: Vec<Diagnostic>,
    node: Option<String>,
) -> (Option<String>, Option<String>) {
    let extra = finish(None, problems, report.tree.take());
    report.tree = extra.tree;
    report.problems.extend(extra.problems);
    super::diag::sort(&mut report.problems);
    if report.errors() > 0 {
        report.manifest = None;
    }
    (node, None)
}

/// The short hostname, which is a node's default name.
pub fn hostname() -> Option<String> {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let short = raw.trim().split('.').next()?.to_owned();
    (!short.is_empty()).then_some(short)
}

fn counts(report: &Report) -> (usize, usize) {
    let errors = report.errors();
    (errors, report.problems.len() - errors)
}

fn text_output(name: &str, report: &Report, note: Option<&str>) -> String {
    let mut out: String = report.problems.iter().map(|p| p.render(name)).collect();
    if let Some(note) = note {
        let _ = writeln!(out, "{name}: note: {note}");
    }
    let (errors, warnings) = counts(report);
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match &report.manifest {
        Some(m) => {
            // Health checks and tracked interfaces are named only when there are some.
            let checks = m
                .groups
                .values()
                .flat_map(|g| &g.resources)
                .filter(|r| r.check.is_some())
                .count();
            let tracked = m.tracked_interfaces().len();
            let mut extra = String::new();
            if checks > 0 {
                extra.push_str(&format!(", {}", plural(checks, "health check")));
            }
            if tracked > 0 {
                extra.push_str(&format!(", {}", plural(tracked, "tracked interface")));
            }
            let _ = writeln!(
                out,
                "{name}: valid: cluster `{}`, {}, {}, {}{extra}; {}",
                m.cluster,
                plural(m.nodes.len(), "node"),
                plural(m.heartbeat.links.len(), "link"),
                plural(m.groups.len(), "group"),
                plural(warnings, "warning")
            );
        }
        None => {
            let _ = writeln!(
                out,
                "{name}: invalid: {}, {}",
                plural(errors, "error"),
                plural(warnings, "warning")
            );
        }
    }
    out
}

fn json_output(name: &str, report: &Report, node: Option<&str>, note: Option<&str>) -> String {
    let (errors, warnings) = counts(report);
    let value = json!({
        "file": name,
        "valid": report.manifest.is_some(),
        "errors": errors,
        "warnings": warnings,
        "node": node,
        "note": note,
        "problems": report.problems,
    });
    format!("{value}\n")
}
