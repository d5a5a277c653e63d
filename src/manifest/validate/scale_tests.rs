//! The scale limits: a manifest at every limit at once validates, one beyond any limit is
//! refused with an error naming it, and large hostile manifests validate in bounded time.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::manifest::limits::*;
use crate::manifest::{Report, Severity, parse};

/// The size of a generated manifest.
#[derive(Clone)]
struct Shape {
    nodes: usize,
    groups: usize,
    /// VIPs in all, filling groups with [`MAX_VIPS_PER_GROUP`] each from the first.
    vips: usize,
    vips_per_group: usize,
    /// Units in the first group (every other group has one).
    units_in_first: usize,
    links: usize,
    pings: usize,
    /// Bytes of every name.
    name: usize,
}

const AT_LIMITS: Shape = Shape {
    nodes: MAX_NODES,
    groups: MAX_GROUPS,
    vips: MAX_VIPS,
    vips_per_group: MAX_VIPS_PER_GROUP,
    units_in_first: MAX_RESOURCES_PER_GROUP - MAX_VIPS_PER_GROUP,
    links: MAX_LINKS,
    pings: MAX_PING_TARGETS,
    name: MAX_NAME,
};

/// `tag` padded to `len` bytes.
fn name(tag: &str, len: usize) -> String {
    format!("{tag}-{}", "x".repeat(len - tag.len() - 1))
}

fn manifest(s: &Shape) -> String {
    let mut y = format!("cluster: {}\nnodes:\n", name("c", s.name));
    for i in 0..s.nodes {
        let witness = if i + 1 == s.nodes {
            ", witness: true"
        } else {
            ""
        };
        let _ = writeln!(
            y,
            "  {}: {{ address: 10.1.{}.{}{witness} }}",
            name(&format!("n{i}"), s.name),
            i / 200,
            i % 200 + 1
        );
    }
    y.push_str("heartbeat:\n  links:\n");
    for l in 0..s.links {
        let _ = writeln!(y, "    - {{ name: {} }}", name(&format!("l{l}"), s.name));
    }
    y.push_str("auth: { key_file: /etc/haagent/authkey }\nconnectivity:\n  ping:\n");
    for p in 0..s.pings {
        let _ = writeln!(y, "    - 10.2.{}.{}", p / 200, p % 200 + 1);
    }
    y.push_str("groups:\n");
    let (n0, n1) = (name("n0", s.name), name("n1", s.name));
    let mut vips_left = s.vips;
    for g in 0..s.groups {
        let _ = writeln!(
            y,
            "  {}:\n    nodes: [{n0}, {n1}]\n    resources:",
            name(&format!("g{g}"), s.name)
        );
        let vips = vips_left.min(s.vips_per_group);
        vips_left -= vips;
        for k in 0..vips {
            let _ = writeln!(
                y,
                "      - {{ vip: 10.{}.{}.{}/16, interface: eth0 }}",
                100 + g,
                k / 250,
                k % 250 + 1
            );
        }
        let units = if g == 0 { s.units_in_first } else { 1 };
        for u in 0..units {
            let _ = writeln!(
                y,
                "      - {{ unit: u{g}-{u}.service, name: {} }}",
                name(&format!("r{g}-{u}"), s.name)
            );
        }
    }
    y
}

fn timed(text: &str) -> (Report, Duration) {
    let start = Instant::now();
    let report = parse(text);
    (report, start.elapsed())
}

/// A bound that only a quadratic blow-up exceeds (5,000 misspelled names took 55 s before
/// the did-you-mean was capped; they take about a second now in a debug build): generous,
/// because the machine may be busy with other builds. The times are printed.
const BOUND: Duration = Duration::from_secs(30);

#[test]
fn a_manifest_at_every_limit_validates() {
    let text = manifest(&AT_LIMITS);
    let (report, took) = timed(&text);
    println!("at the limits: {} bytes validated in {took:?}", text.len());
    let errors: Vec<_> = report
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{:#?}", &errors[..errors.len().min(5)]);
    let m = report.manifest.expect("valid");
    assert_eq!(m.nodes.len(), MAX_NODES);
    assert_eq!(m.groups.len(), MAX_GROUPS);
    assert!(m.groups.values().all(|g| g.stateful));
    assert_eq!(
        m.groups.values().map(|g| g.resources.len()).max(),
        Some(MAX_RESOURCES_PER_GROUP)
    );
    assert_eq!(m.heartbeat.links.len(), MAX_LINKS);
    assert_eq!(m.connectivity.ping.len(), MAX_PING_TARGETS);
    assert_eq!(m.cluster.len(), MAX_NAME);
    assert!(took < BOUND, "{took:?}");
}

#[test]
fn one_beyond_any_limit_is_refused_naming_it() {
    let cases: [(&str, Shape, &str, &str); 8] = [
        (
            "nodes",
            Shape {
                nodes: MAX_NODES + 1,
                ..AT_LIMITS
            },
            "33 nodes (witnesses included), more than the limit of 32",
            "nodes.",
        ),
        (
            "groups",
            Shape {
                groups: MAX_GROUPS + 1,
                ..AT_LIMITS
            },
            "257 groups, more than the limit of 256",
            "groups.",
        ),
        (
            "resources",
            Shape {
                units_in_first: AT_LIMITS.units_in_first + 1,
                ..AT_LIMITS
            },
            "1025 resources in one group, more than the limit of 1024",
            ".resources[1024]",
        ),
        (
            "VIPs in a group",
            Shape {
                vips: 1001,
                vips_per_group: 1001,
                units_in_first: 1,
                ..AT_LIMITS
            },
            "1001 VIPs in one group, more than the limit of 1000",
            ".resources[1000].vip",
        ),
        (
            "VIPs in the cluster",
            Shape {
                vips: MAX_VIPS + 1,
                ..AT_LIMITS
            },
            "4001 VIPs in the cluster, more than the limit of 4000",
            ".resources[0].vip",
        ),
        (
            "links",
            Shape {
                links: MAX_LINKS + 1,
                ..AT_LIMITS
            },
            "9 heartbeat links, more than the limit of 8",
            "heartbeat.links[8]",
        ),
        (
            "ping targets",
            Shape {
                pings: MAX_PING_TARGETS + 1,
                ..AT_LIMITS
            },
            "17 ping targets, more than the limit of 16",
            "connectivity.ping[16]",
        ),
        (
            "names",
            Shape {
                name: MAX_NAME + 1,
                ..AT_LIMITS
            },
            "cluster name `c-",
            "cluster",
        ),
    ];
    for (what, shape, message, path) in cases {
        let (report, took) = timed(&manifest(&shape));
        println!("beyond the limit of {what}: refused in {took:?}");
        assert!(report.manifest.is_none(), "{what} accepted");
        let hit = report
            .problems
            .iter()
            .find(|p| p.message.starts_with(message))
            .unwrap_or_else(|| {
                panic!(
                    "{what}: no {message:?} in {:#?}",
                    &report.problems[..report.problems.len().min(5)]
                )
            });
        assert!(hit.path.contains(path), "{what}: at {}", hit.path);
        assert!(
            (hit.line, hit.column) != (1, 1),
            "{what}: not located ({}:{})",
            hit.line,
            hit.column
        );
    }
}

#[test]
fn every_kind_of_name_beyond_63_bytes_names_the_limit() {
    let report = parse(&manifest(&Shape {
        name: MAX_NAME + 1,
        ..AT_LIMITS
    }));
    for what in [
        "cluster name",
        "node name",
        "link name",
        "group name",
        "resource name",
    ] {
        let needle = format!("{what} `");
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.message.starts_with(&needle)
                    && p.message
                        .ends_with("is 64 bytes, more than the limit of 63")),
            "no {what} error"
        );
    }
}

#[test]
fn a_manifest_at_the_limits_with_thousands_of_errors_validates_quickly() {
    // Every resource of the largest group names five resources that do not exist, each a typo
    // of a real one: 5,120 misspelled `after` names against 1,024 candidates.
    let typos = "after: [10.100.0.1x, 10.100.0.2x, 10.100.0.3x, 10.100.0.4x, 10.100.0.5x]";
    let text = manifest(&AT_LIMITS)
        .replace(
            "      - { vip: 10.100.",
            &format!("      - {{ {typos}, vip: 10.100."),
        )
        .replace(
            "      - { unit: u0-",
            &format!("      - {{ {typos}, unit: u0-"),
        );
    let (report, took) = timed(&text);
    println!(
        "at the limits with {} errors: {} bytes validated in {took:?}",
        report.errors(),
        text.len()
    );
    assert_eq!(report.errors(), MAX_RESOURCES_PER_GROUP * 5);
    assert!(took < BOUND, "{took:?}");
}

#[test]
fn five_thousand_misspelled_dependencies_validate_quickly() {
    let mut y = String::from(
        "cluster: c\nnodes: { a: { address: 10.0.0.1 }, b: { address: 10.0.0.2 } }\nauth: { key_file: /k }\nfencing: { unit: f.service }\ngroups:\n  g:\n    nodes: [a, b]\n    resources:\n",
    );
    for i in 0..5000 {
        let _ = writeln!(
            y,
            "      - {{ unit: worker-{i}.service, after: [worker-{i}.servise] }}"
        );
    }
    let (report, took) = timed(&y);
    println!("5,000 misspelled `after` names: validated in {took:?}");
    assert_eq!(
        report
            .problems
            .iter()
            .filter(|p| p.message.contains("unknown resource"))
            .count(),
        5000
    );
    let suggested = report
        .problems
        .iter()
        .filter(|p| {
            p.hint
                .as_deref()
                .is_some_and(|h| h.starts_with("did you mean"))
        })
        .count();
    assert_eq!(suggested, crate::text::Suggester::DEFAULT_BUDGET);
    let listed = report
        .problems
        .iter()
        .find(|p| {
            p.hint
                .as_deref()
                .is_some_and(|h| h.starts_with("resources of this group"))
        })
        .unwrap();
    assert!(
        listed.hint.as_deref().unwrap().ends_with("and 4990 more"),
        "{listed:?}"
    );
    assert!(took < BOUND, "{took:?}");
}

/// Hostile YAML of about `size` bytes: the same shape repeated.
fn hostile(size: usize) -> Vec<(&'static str, String)> {
    let fill = |head: &str, line: &dyn Fn(usize) -> String, tail: &str| {
        let mut y = head.to_owned();
        let mut i = 0;
        while y.len() + tail.len() + 100 < size {
            y.push_str(&line(i));
            i += 1;
        }
        y + tail
    };
    let one_node = "cluster: c\nnodes: { a: { address: 10.0.0.1 } }\ngroups:\n  g:\n";
    vec![
        (
            "unknown keys",
            fill(
                "cluster: c\nnodes:\n  a:\n",
                &|i| format!("    k{i}: 1\n"),
                "",
            ),
        ),
        (
            "wrong types",
            fill(
                "cluster: c\ngroups:\n  g:\n    resources:\n",
                &|_| "      - { after: x, announce: [], interval: {} }\n".into(),
                "",
            ),
        ),
        (
            "nodes",
            fill(
                "cluster: c\nnodes:\n",
                &|i| {
                    format!(
                        "  n{i}: {{ address: 10.{}.{}.{} }}\n",
                        i >> 16 & 255,
                        i >> 8 & 255,
                        i & 255
                    )
                },
                "auth: { key_file: /k }\n",
            ),
        ),
        (
            "group members",
            fill(
                &format!("{one_node}    resources: [{{ unit: a.service }}]\n    nodes: ["),
                &|i| format!("n{i}, "),
                "a]\n",
            ),
        ),
        (
            "misspelled dependencies",
            fill(
                &format!("{one_node}    nodes: [a]\n    resources:\n"),
                &|i| format!("      - {{ unit: u{i}.service, after: [u{i}.servise] }}\n"),
                "",
            ),
        ),
        (
            "a cycle",
            fill(
                &format!(
                    "{one_node}    nodes: [a]\n    resources:\n      - {{ unit: first.service, after: [last.service] }}\n"
                ),
                &|i| format!("      - unit: u{i}.service\n"),
                "      - unit: last.service\n",
            ),
        ),
        (
            "a huge scalar",
            format!("cluster: {}\n", "x".repeat(size - 20)),
        ),
        (
            "aliases",
            fill(
                "cluster: c\nx: &a [1, 2, 3, 4, 5, 6, 7, 8]\ny: [",
                &|_| "*a, ".into(),
                "*a]\n",
            ),
        ),
    ]
}

/// The loader reads at most 1 MiB. Whatever that holds validates in time linear in its size:
/// at most a few times what the YAML parser alone takes to read it (measured on the same text
/// just before, so that a busy machine slows both alike), and the messages grow with the
/// number of problems, never with the size of one value.
#[test]
fn a_mebibyte_of_hostile_yaml_validates_in_linear_time() {
    for (what, text) in hostile(1 << 20) {
        let start = Instant::now();
        let _ = crate::manifest::tree::Tree::parse(&text);
        let read = start.elapsed();
        let (report, took) = timed(&text);
        let out: usize = report
            .problems
            .iter()
            .map(|p| p.message.len() + p.hint.as_ref().map_or(0, String::len) + p.path.len())
            .sum();
        println!(
            "{what}: {} bytes, {} problems ({out} bytes of messages) in {took:?}; reading the YAML alone took {read:?}",
            text.len(),
            report.problems.len(),
        );
        assert!(!report.problems.is_empty(), "{what}");
        assert!(
            took < read * 6 + Duration::from_secs(1),
            "{what}: {took:?} against {read:?}"
        );
        assert!(
            out <= 1_000 * report.problems.len(),
            "{what}: {out} bytes of messages"
        );
    }
}
