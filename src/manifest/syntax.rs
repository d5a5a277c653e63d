//! Problems below the manifest's meaning: bytes that are not UTF-8, and the YAML parser's
//! errors told in our words at the right place (a tab where it is, a duplicate key with its
//! YAML path, a second document at its `---`), never the library's advice to its programmers.

use serde_saphyr::Error;
use serde_saphyr::budget::BudgetBreach;

use super::diag::Diagnostic;
use super::tree::{Pos, Seg, Tree, YamlPath};

/// The manifest text, or where its first byte that is not UTF-8 is.
pub(super) fn utf8(bytes: &[u8]) -> Result<&str, Diagnostic> {
    let e = match std::str::from_utf8(bytes) {
        Ok(text) => return Ok(text),
        Err(e) => e,
    };
    let valid = &bytes[..e.valid_up_to()];
    let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let column = std::str::from_utf8(&valid[line_start..]).map_or(0, |l| l.chars().count());
    let lines = valid.iter().filter(|&&b| b == b'\n').count();
    let byte = bytes[e.valid_up_to()];
    let mut d = Diagnostic::error(
        YamlPath::root(),
        format!("byte 0x{byte:02x} is not UTF-8: the manifest must be UTF-8 text"),
    )
    .hint("save the file as UTF-8 (`iconv -f latin1 -t utf-8` converts Latin-1)");
    d.pos = Some(Pos {
        line: u32::try_from(lines.saturating_add(1)).unwrap_or(u32::MAX),
        column: u32::try_from(column.saturating_add(1)).unwrap_or(u32::MAX),
    });
    Err(d)
}

/// The parser's error `e` as our diagnostic: rephrased where we know the case, at the place
/// the operator has to look.
pub(super) fn parser_error(e: &Error, text: &str, tree: Option<&Tree>, hint: String) -> Diagnostic {
    let pos = e.location().filter(|l| l.line() > 0).map(|l| Pos {
        line: u32::try_from(l.line()).unwrap_or(u32::MAX),
        column: u32::try_from(l.column()).unwrap_or(u32::MAX),
    });
    let path = match (tree, pos) {
        (Some(t), Some(p)) => t.path_at(p),
        _ => YamlPath::root(),
    };
    let message = first_line(&e.without_snippet().to_string());
    let mut d = match e.without_snippet() {
        Error::DuplicateMappingKey { key, .. } => duplicate(key.as_deref(), path),
        Error::MultipleDocuments { .. } => {
            let d = Diagnostic::error(YamlPath::root(), "a second YAML document starts here")
                .hint("a manifest is one document: remove this `---` and what follows it, or merge the two");
            return at(d, pos.map(|p| document_start(text, p)));
        }
        Error::Budget { breach, .. } => budget(breach),
        _ if message.contains("recursion limit") => {
            too_big("the YAML is nested deeper than the parser allows (64 levels)".into())
        }
        _ if message.contains("tab") => {
            let d = Diagnostic::error(YamlPath::root(), "a tab where YAML allows only spaces")
                .hint("indent with spaces: YAML does not allow tabs in indentation");
            return at(d, pos.map(|p| tab_near(text, p)));
        }
        _ => Diagnostic::error(path, message).hint(hint),
    };
    d.pos = pos;
    d
}

fn at(mut d: Diagnostic, pos: Option<Pos>) -> Diagnostic {
    d.pos = pos;
    d
}

/// A key written twice in one mapping, at the second one; `path` ends in or under it.
fn duplicate(key: Option<&str>, mut path: YamlPath) -> Diagnostic {
    let Some(key) = key else {
        return Diagnostic::error(path, "a key is written twice in this mapping")
            .hint("write each key once: the deserializer cannot tell which one you meant");
    };
    // The path found for the position is the last node before it: the first entry's value,
    // or something inside it. Cut it back to the key itself.
    if let Some(at) = path.0.iter().rposition(|s| *s == Seg::Key(key.to_owned())) {
        path.0.truncate(at + 1);
    }
    Diagnostic::error(path, format!("duplicate key `{key}`"))
        .hint("write each key once: merge the two entries or rename one")
}

/// What the parser's budget refused, in words.
fn budget(breach: &BudgetBreach) -> Diagnostic {
    too_big(match breach {
        BudgetBreach::Depth { depth } => {
            format!("the YAML is nested {depth} levels deep, more than the parser allows (64)")
        }
        BudgetBreach::Aliases { .. } | BudgetBreach::Anchors { .. } => {
            "the YAML uses more anchors or aliases than the parser allows".to_owned()
        }
        other => format!("the YAML is larger than the parser allows ({other:?})"),
    })
}

fn too_big(message: String) -> Diagnostic {
    Diagnostic::error(YamlPath::root(), message).hint(
        "a manifest is a few levels deep and small; look for a runaway `[` or `{`, or an alias that expands itself",
    )
}

/// The `---` line that opened the document the parser found at `pos`, or `pos` itself.
fn document_start(text: &str, pos: Pos) -> Pos {
    let before = text.lines().take(pos.line as usize).collect::<Vec<_>>();
    before
        .iter()
        .rposition(|l| l.starts_with("---"))
        .map_or(pos, |i| Pos {
            line: u32::try_from(i + 1).unwrap_or(u32::MAX),
            column: 1,
        })
}

/// Where the tab the parser complained about is: the parser points at the scalar or the
/// indentation it was reading, on the tab's line or the line before; the tab is the first
/// one from a column before that point on.
fn tab_near(text: &str, pos: Pos) -> Pos {
    let from_line = pos.line.max(1) as usize - 1;
    for (n, line) in text.lines().enumerate().skip(from_line).take(2) {
        let skip = if n == from_line {
            pos.column.saturating_sub(2) as usize
        } else {
            0
        };
        if let Some(col) = line.chars().skip(skip).position(|c| c == '\t') {
            return Pos {
                line: u32::try_from(n + 1).unwrap_or(u32::MAX),
                column: u32::try_from(skip + col + 1).unwrap_or(u32::MAX),
            };
        }
    }
    pos
}

/// The message without the position suffix that the deserializer appends (we print our own).
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or(message);
    let line = line.split(" at line ").next().unwrap_or(line);
    line.trim().trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use crate::manifest::{Located, parse, parse_bytes};

    fn only(report: &[Located]) -> (u32, u32, &str, &str) {
        assert_eq!(report.len(), 1, "{report:#?}");
        let p = &report[0];
        (p.line, p.column, p.path.as_str(), p.message.as_str())
    }

    #[test]
    fn bytes_that_are_not_utf8_are_located() {
        let report = parse_bytes(b"cluster: web\nnodes:\n  al\xffpha: {}\n");
        let (line, column, _, message) = only(&report.problems);
        assert_eq!((line, column), (3, 5));
        assert_eq!(
            message,
            "byte 0xff is not UTF-8: the manifest must be UTF-8 text"
        );
        let latin1 = parse_bytes(b"cluster: caf\xe9\n");
        assert_eq!(
            (latin1.problems[0].line, latin1.problems[0].column),
            (1, 13)
        );
    }

    #[test]
    fn tabs_are_reported_where_they_are() {
        for (text, line, column) in [
            ("cluster: web\n\tnodes: x\n", 2, 1),
            ("cluster: web\nnodes:\n\talpha: {}\n", 3, 1),
            (
                "cluster: web\nheartbeat:\n  interval: 1s\n\tdead_after: 3s\n",
                4,
                1,
            ),
        ] {
            let report = parse(text);
            let (l, c, _, message) = only(&report.problems);
            assert_eq!(
                (l, c, message),
                (line, column, "a tab where YAML allows only spaces"),
                "{text:?}"
            );
        }
    }

    #[test]
    fn duplicate_keys_get_our_message_and_their_path() {
        let report = parse(
            "cluster: web\nnodes:\n  alpha: { address: 10.0.0.1 }\n  alpha: { address: 10.0.0.2 }\n",
        );
        assert_eq!(
            only(&report.problems),
            (4, 3, "nodes.alpha", "duplicate key `alpha`")
        );
        let hint = report.problems[0].hint.as_deref().unwrap();
        assert!(!hint.contains("Policy") && !report.problems[0].message.contains("Policy"));
        let report = parse("cluster: web\ncluster: db\n");
        assert_eq!(
            only(&report.problems),
            (2, 1, "cluster", "duplicate key `cluster`")
        );
    }

    #[test]
    fn a_second_document_is_pointed_at_its_marker() {
        let report = parse("cluster: web\n---\ncluster: db\n");
        assert_eq!(
            only(&report.problems),
            (2, 1, "(document)", "a second YAML document starts here")
        );
        assert!(
            !report.problems[0]
                .hint
                .as_deref()
                .unwrap()
                .contains("from_str")
        );
    }

    #[test]
    fn runaway_nesting_is_refused_in_words() {
        let text = format!("cluster: {}", "[".repeat(100_000));
        let report = parse(&text);
        let (_, _, _, message) = only(&report.problems);
        assert!(message.starts_with("the YAML is nested"), "{message}");
    }
}

#[cfg(test)]
mod huge_tests {
    use crate::manifest::parse;

    /// A 50 MB scalar as the cluster name, and 5 MB ones in the other places a value is quoted
    /// back: a node reference, a unit, a duration, a key. No message, hint or path grows with it.
    #[test]
    fn a_fifty_megabyte_scalar_is_never_printed_back_whole() {
        let fifty = "x".repeat(50 << 20);
        let huge = &fifty[..5 << 20];
        let base = "cluster: C\nnodes: { a: { address: 10.0.0.1 } }\nauth: { key_file: /k }\nheartbeat: { interval: D }\ngroups:\n  g:\n    nodes: [a, N]\n    resources: [{ unit: U }]\n";
        for (what, from, to) in [
            ("cluster name", "C", fifty.as_str()),
            ("node reference", "N", huge),
            ("unit", "U", huge),
            ("duration", "D", &format!("{huge}s")),
            ("key", "auth:", &format!("{huge}: 1\nauth:")),
        ] {
            let text = base.replacen(from, to, 1);
            let start = std::time::Instant::now();
            let report = parse(&text);
            let printed: usize = report
                .problems
                .iter()
                .map(|p| p.render("m.yaml").len())
                .sum();
            println!(
                "{what}: {} problems, {printed} bytes printed, in {:?}",
                report.problems.len(),
                start.elapsed()
            );
            assert!(!report.problems.is_empty(), "{what}");
            assert!(
                printed < 1_500 * report.problems.len(),
                "{what}: {printed} bytes"
            );
        }
    }
}
