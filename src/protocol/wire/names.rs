//! Node and group names on the wire: format 3 carries a 32-bit hash of each name instead of the
//! name (FNV-1a; 0 is reserved for "none"), so a datagram of 32 nodes and 256 groups stays small.
//! The receiver reads them back with the names of its own manifest; a hash it does not know
//! (a group another node's newer manifest has) reads as `#` and eight hex digits, which no
//! manifest name can be, and the engine ignores it. Validation refuses manifests where two
//! nodes, or two groups, share a hash.

use std::collections::HashMap;

use crate::manifest::Manifest;

pub use crate::manifest::limits::name_hash as hash;

/// The names a node can read back from their hashes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names {
    nodes: HashMap<u32, String>,
    groups: HashMap<u32, String>,
}

impl Names {
    /// The nodes and groups of `m`.
    pub fn of(m: &Manifest) -> Names {
        Names::new(m.nodes.keys(), m.groups.keys())
    }

    /// A table of these node and group names.
    pub fn new<'a>(
        nodes: impl IntoIterator<Item = &'a String>,
        groups: impl IntoIterator<Item = &'a String>,
    ) -> Names {
        let table = |it: &mut dyn Iterator<Item = &'a String>| {
            it.map(|n| (hash(n), n.clone())).collect::<HashMap<_, _>>()
        };
        Names {
            nodes: table(&mut nodes.into_iter()),
            groups: table(&mut groups.into_iter()),
        }
    }

    /// The node named by `h`.
    pub fn node(&self, h: u32) -> String {
        self.nodes.get(&h).cloned().unwrap_or_else(|| unknown(h))
    }

    /// The group named by `h`.
    pub fn group(&self, h: u32) -> String {
        self.groups.get(&h).cloned().unwrap_or_else(|| unknown(h))
    }
}

/// How a hash no name of this manifest has reads.
pub fn unknown(h: u32) -> String {
    format!("#{h:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_values_and_no_zero() {
        assert_eq!(hash(""), 0x811c_9dc5);
        assert_eq!(hash("a"), 0xe40c_292c);
        assert_eq!(hash("foobar"), 0xbf9c_f968);
    }

    #[test]
    fn known_names_read_back_and_unknown_ones_are_marked() {
        let (nodes, groups) = (vec!["alpha".to_owned()], vec!["web".to_owned()]);
        let n = Names::new(&nodes, &groups);
        assert_eq!(n.node(hash("alpha")), "alpha");
        assert_eq!(n.group(hash("web")), "web");
        assert_eq!(n.group(hash("db")), unknown(hash("db")));
        assert!(unknown(7).starts_with('#'));
    }
}
