//! Problems found in a manifest, and how they are shown: compiler-style text that editors can
//! jump to (`FILE:LINE:COLUMN: error: MESSAGE`, then the YAML path and a hint) or JSON.

use std::fmt::Write as _;

use serde::Serialize;

use super::tree::{Pos, Tree, YamlPath};
use crate::text::clip_message;

/// How bad a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The manifest cannot be used.
    Error,
    /// Legal, but probably not what the operator wants.
    Warning,
}

/// Where a problem points: at a key itself (unknown keys) or at its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// The key.
    Key,
    /// The value.
    Value,
}

/// One problem, before it is given a position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The YAML path of the offending node.
    pub path: YamlPath,
    /// Key or value.
    pub anchor: Anchor,
    /// What is wrong, lowercase, no trailing period.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
    /// A position known directly (serde errors), overriding the path lookup.
    pub pos: Option<Pos>,
}

impl Diagnostic {
    /// An error at the value of `path`. Values quoted in `message` are clipped, so a huge
    /// scalar is never printed back whole.
    pub fn error(path: YamlPath, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            path,
            anchor: Anchor::Value,
            message: clip_message(message.into()),
            hint: None,
            pos: None,
        }
    }

    /// A warning at the value of `path`.
    pub fn warning(path: YamlPath, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(path, message)
        }
    }

    /// Adds a fix hint (its quoted values clipped, as the message's).
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(clip_message(hint.into()));
        self
    }

    /// Points at the key instead of the value.
    pub fn at_key(mut self) -> Self {
        self.anchor = Anchor::Key;
        self
    }

    /// Gives the problem its line and column.
    pub fn locate(self, tree: Option<&Tree>) -> Located {
        let pos = self.pos.unwrap_or_else(|| match (tree, self.anchor) {
            (Some(t), Anchor::Key) => t.key_pos(&self.path),
            (Some(t), Anchor::Value) => t.value_pos(&self.path),
            (None, _) => Pos::START,
        });
        Located {
            severity: self.severity,
            line: pos.line,
            column: pos.column,
            path: self.path.to_string(),
            message: self.message,
            hint: self.hint,
        }
    }
}

/// A problem with its position, ready to print.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Located {
    /// Error or warning.
    pub severity: Severity,
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub column: u32,
    /// YAML path such as `groups.web.resources[1]`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Located {
    /// Renders as `FILE:LINE:COLUMN: error: MESSAGE`, then the path and the hint indented.
    pub fn render(&self, file: &str) -> String {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut out = format!(
            "{file}:{}:{}: {kind}: {}\n",
            self.line, self.column, self.message
        );
        let _ = writeln!(out, "  at: {}", self.path);
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "  hint: {hint}");
        }
        out
    }
}

/// Sorts problems as they appear in the file, errors before warnings at the same place.
pub fn sort(problems: &mut [Located]) {
    problems.sort_by_key(|a| (a.line, a.column, a.severity));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_compiler_style() {
        let d = Diagnostic::error(
            YamlPath::root().key("heartbeat").key("dead_after"),
            "too short",
        )
        .hint("raise it");
        let tree = Tree::parse("heartbeat:\n  dead_after: 1s\n").unwrap();
        let text = d.locate(Some(&tree)).render("m.yaml");
        assert_eq!(
            text,
            "m.yaml:2:15: error: too short\n  at: heartbeat.dead_after\n  hint: raise it\n"
        );
    }

    #[test]
    fn huge_values_are_clipped_in_messages_hints_and_paths() {
        let huge = "x".repeat(1_000_000);
        let d = Diagnostic::error(
            YamlPath::root().key("nodes").key(&huge),
            format!("invalid node name `{huge}`"),
        )
        .hint(format!("did you mean `{huge}`?"));
        let text = d.locate(None).render("m.yaml");
        assert!(text.len() < 400, "{} bytes", text.len());
        assert!(text.contains(&format!("`{}…`", "x".repeat(60))), "{text}");
    }

    #[test]
    fn unknown_keys_point_at_the_key() {
        let d = Diagnostic::error(
            YamlPath::root().key("heartbeat").key("intervall"),
            "unknown key",
        )
        .at_key();
        let tree = Tree::parse("heartbeat:\n  intervall: 1s\n").unwrap();
        let located = d.locate(Some(&tree));
        assert_eq!((located.line, located.column), (2, 3));
    }
}
