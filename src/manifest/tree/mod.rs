//! A position-only view of the YAML document, so that any problem found after deserialization
//! (an unknown key, a bad value, a broken reference) can be reported at its line and column.
//!
//! The raw serde types stay plain; this tree is read from the same text in a second pass and
//! answers where the node at a YAML path starts, and (for the shape check, which reports every
//! value of the wrong type at once) what kind of node it is. Lookups are by binary search, so
//! locating thousands of problems in a large file stays near-linear.

mod read;

use std::fmt;

use serde_saphyr::Spanned;
use serde_saphyr::options::DuplicateKeyPolicy;

use crate::text::clip;

/// One step of a YAML path: a mapping key or a sequence index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Seg {
    /// A mapping key.
    Key(String),
    /// A sequence index, from 0.
    Index(usize),
}

/// A path from the document root, printed as `groups.web.resources[1].after`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct YamlPath(pub Vec<Seg>);

impl YamlPath {
    /// The document root.
    pub fn root() -> Self {
        Self(Vec::new())
    }

    /// This path extended by a mapping key.
    pub fn key(&self, key: &str) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(key.to_owned()));
        Self(segs)
    }

    /// This path extended by a sequence index.
    pub fn index(&self, index: usize) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(index));
        Self(segs)
    }
}

impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(document)");
        }
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{}", clip(k))?,
                Seg::Key(k) => write!(f, ".{}", clip(k))?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A line and column, both counted from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub column: u32,
}

impl Pos {
    /// The start of the file: used when nothing better is known.
    pub const START: Pos = Pos { line: 1, column: 1 };

    fn of(loc: &serde_saphyr::Location) -> Pos {
        if loc.line() == 0 {
            return Pos::START;
        }
        Pos {
            line: loc.line() as u32,
            column: loc.column() as u32,
        }
    }
}

/// A YAML node reduced to where it and its children start, and what kind of node it is.
#[derive(Debug, Default)]
pub struct Tree {
    pos: Option<Pos>,
    /// Byte offset and length in the text, when the parser knows them.
    span: Option<(usize, usize)>,
    children: Children,
}

#[derive(Debug)]
enum Children {
    Scalar(Scalar),
    /// Entries as (key, where the key starts, value), and their indices sorted by key.
    Map(Vec<(String, Pos, Tree)>, Vec<u32>),
    Seq(Vec<Tree>),
}

impl Default for Children {
    fn default() -> Self {
        Children::Scalar(Scalar::Null)
    }
}

/// What a scalar can be read as: enough to tell whether serde will accept it for a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar {
    /// `~`, `null` or nothing.
    Null,
    /// `true`, `false` (and YAML 1.1's `yes`, `no`...).
    Bool,
    /// A number; `u32` when it is a whole number that fits one.
    Number {
        /// Fits a `u32`.
        u32: bool,
    },
    /// A string; quoted numbers and booleans are read as such by the deserializer.
    Text {
        /// Parses as a `u32`.
        u32: bool,
        /// Reads as a boolean.
        bool: bool,
    },
}

/// A node of a [`Tree`], as the shape check walks it.
pub enum Node<'a> {
    /// A scalar.
    Scalar(Scalar),
    /// A mapping's entries: key, where the key starts, value.
    Map(&'a [(String, Pos, Tree)]),
    /// A sequence's items.
    Seq(&'a [Tree]),
}

impl Tree {
    /// Reads the positions of every node of `text`, or the parser's error if the text is not
    /// YAML. A duplicate key does not stop it (the first one is kept), so that the
    /// deserializer's duplicate-key error can be given its YAML path.
    pub fn parse(text: &str) -> Result<Tree, serde_saphyr::Error> {
        let options = serde_saphyr::options! { duplicate_keys: DuplicateKeyPolicy::FirstWins };
        let spanned: Spanned<Tree> = serde_saphyr::from_str_with_options(text, options)?;
        Ok(read::with_pos(spanned))
    }

    /// Where this node starts.
    pub fn pos(&self) -> Pos {
        self.pos.unwrap_or(Pos::START)
    }

    /// This node's text, when the parser gave its span (scalars written in the file).
    pub fn text<'t>(&self, source: &'t str) -> Option<&'t str> {
        let (start, len) = self.span?;
        source.get(start..start.checked_add(len)?)
    }

    /// What kind of node this is.
    pub fn node(&self) -> Node<'_> {
        match &self.children {
            Children::Scalar(s) => Node::Scalar(*s),
            Children::Map(entries, _) => Node::Map(entries),
            Children::Seq(items) => Node::Seq(items),
        }
    }

    /// Where the value at `path` starts, or where its nearest existing ancestor starts.
    pub fn value_pos(&self, path: &YamlPath) -> Pos {
        self.walk(path, false)
    }

    /// Where the key at `path` is written (its value's position for sequence items), falling
    /// back to the nearest existing ancestor: the place to point at for an unknown key.
    pub fn key_pos(&self, path: &YamlPath) -> Pos {
        self.walk(path, true)
    }

    /// The path of the last node that starts at or before `pos`: where a deserializer error at
    /// `pos` belongs.
    pub fn path_at(&self, pos: Pos) -> YamlPath {
        let mut best = (Pos::START, YamlPath::root());
        self.visit(&YamlPath::root(), &mut |path, start| {
            if start <= pos && start >= best.0 {
                best = (start, path.clone());
            }
        });
        best.1
    }

    fn visit(&self, path: &YamlPath, f: &mut dyn FnMut(&YamlPath, Pos)) {
        if let Some(p) = self.pos {
            f(path, p);
        }
        match &self.children {
            Children::Scalar(_) => {}
            Children::Map(entries, _) => {
                for (key, key_pos, child) in entries {
                    let child_path = path.key(key);
                    f(&child_path, *key_pos);
                    child.visit(&child_path, f);
                }
            }
            Children::Seq(items) => {
                for (i, child) in items.iter().enumerate() {
                    child.visit(&path.index(i), f);
                }
            }
        }
    }

    fn walk(&self, path: &YamlPath, want_key: bool) -> Pos {
        let mut node = self;
        let mut best = self.pos.unwrap_or(Pos::START);
        for (i, seg) in path.0.iter().enumerate() {
            let last = i + 1 == path.0.len();
            let next = match (&node.children, seg) {
                (Children::Map(entries, order), Seg::Key(k)) => order
                    .binary_search_by(|&i| entries[i as usize].0.as_str().cmp(k))
                    .ok()
                    .map(|at| &entries[order[at] as usize])
                    .map(|(_, key_pos, child)| (*key_pos, child)),
                (Children::Seq(items), Seg::Index(n)) => {
                    items.get(*n).map(|c| (c.pos.unwrap_or(best), c))
                }
                _ => None,
            };
            let Some((key_pos, child)) = next else {
                return best;
            };
            if last && want_key {
                return key_pos;
            }
            best = child.pos.unwrap_or(key_pos);
            node = child;
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "cluster: web\nnodes:\n  alpha: { address: 10.0.0.1 }\ngroups:\n  web:\n    resources:\n      - vip: 10.0.0.9/24\n      - unit: a.service\n        after: [x]\n";

    fn path(segs: &[&str]) -> YamlPath {
        YamlPath(
            segs.iter()
                .map(|s| match s.parse() {
                    Ok(n) => Seg::Index(n),
                    Err(_) => Seg::Key((*s).to_owned()),
                })
                .collect(),
        )
    }

    #[test]
    fn finds_values_keys_and_items() {
        let t = Tree::parse(DOC).unwrap();
        assert_eq!(
            t.value_pos(&path(&["cluster"])),
            Pos {
                line: 1,
                column: 10
            }
        );
        assert_eq!(
            t.key_pos(&path(&["nodes", "alpha"])),
            Pos { line: 3, column: 3 }
        );
        assert_eq!(
            t.value_pos(&path(&["nodes", "alpha", "address"])),
            Pos {
                line: 3,
                column: 21
            }
        );
        assert_eq!(
            t.key_pos(&path(&["groups", "web", "resources", "1", "after"])),
            Pos { line: 9, column: 9 }
        );
        assert_eq!(
            t.value_pos(&path(&["groups", "web", "resources", "1", "after", "0"])),
            Pos {
                line: 9,
                column: 17
            }
        );
    }

    #[test]
    fn missing_paths_fall_back_to_the_nearest_ancestor() {
        let t = Tree::parse(DOC).unwrap();
        let p = path(&["groups", "web", "failback"]);
        assert_eq!(t.value_pos(&p), t.value_pos(&path(&["groups", "web"])));
        assert_eq!(
            t.value_pos(&path(&["groups", "web", "resources", "7"]))
                .line,
            7
        );
    }

    #[test]
    fn positions_map_back_to_paths() {
        let t = Tree::parse(DOC).unwrap();
        assert_eq!(
            t.path_at(Pos {
                line: 9,
                column: 17
            })
            .to_string(),
            "groups.web.resources[1].after[0]"
        );
        assert_eq!(
            t.path_at(Pos {
                line: 3,
                column: 25
            })
            .to_string(),
            "nodes.alpha.address"
        );
        assert_eq!(t.path_at(Pos { line: 1, column: 1 }).to_string(), "cluster");
    }

    #[test]
    fn paths_print_like_yaml_paths() {
        assert_eq!(
            path(&["groups", "web", "resources", "1", "after"]).to_string(),
            "groups.web.resources[1].after"
        );
        assert_eq!(YamlPath::root().to_string(), "(document)");
    }
}
