//! Reading a [`Tree`] from YAML: a serde visitor that keeps each node's position and span and
//! what kind of scalar it is, and indexes each mapping's keys for binary search.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::{Children, Pos, Scalar, Tree};

/// Moves the span the deserializer recorded into the tree node itself.
pub(super) fn with_pos(spanned: Spanned<Tree>) -> Tree {
    let mut tree = spanned.value;
    let at = &spanned.referenced;
    tree.pos = Some(Pos::of(at));
    let span = at.span();
    tree.span = span
        .byte_offset()
        .zip(span.byte_len())
        .and_then(|(o, l)| Some((usize::try_from(o).ok()?, usize::try_from(l).ok()?)));
    tree
}

/// A mapping key of any scalar type, read as text.
struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(Key(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Key, E> {
                Ok(Key("~".to_owned()))
            }
        }
        d.deserialize_any(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TreeVisitor)
    }
}

struct TreeVisitor;

impl TreeVisitor {
    fn scalar<E>(self, kind: Scalar) -> Result<Tree, E> {
        Ok(Tree {
            children: Children::Scalar(kind),
            ..Tree::default()
        })
    }
}

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Tree, E> {
        self.scalar(Scalar::Bool)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Tree, E> {
        self.scalar(Scalar::Number {
            u32: u32::try_from(v).is_ok(),
        })
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Tree, E> {
        self.scalar(Scalar::Number {
            u32: u32::try_from(v).is_ok(),
        })
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Tree, E> {
        self.scalar(Scalar::Number {
            u32: u32::try_from(v).is_ok(),
        })
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Tree, E> {
        self.scalar(Scalar::Number {
            u32: u32::try_from(v).is_ok(),
        })
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Tree, E> {
        self.scalar(Scalar::Number { u32: false })
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Tree, E> {
        let bool = v.len() <= 5
            && ["true", "false", "yes", "no", "on", "off", "y", "n"]
                .contains(&v.to_ascii_lowercase().as_str());
        self.scalar(Scalar::Text {
            u32: v.len() <= 10 && v.parse::<u32>().is_ok(),
            bool,
        })
    }
    fn visit_unit<E: de::Error>(self) -> Result<Tree, E> {
        self.scalar(Scalar::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Tree, E> {
        self.scalar(Scalar::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Tree, D::Error> {
        Tree::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Tree>>()? {
            items.push(with_pos(item));
        }
        Ok(Tree {
            children: Children::Seq(items),
            ..Tree::default()
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
        let mut entries: Vec<(String, Pos, Tree)> = Vec::new();
        while let Some(key) = map.next_key::<Spanned<Key>>()? {
            let value = with_pos(map.next_value::<Spanned<Tree>>()?);
            entries.push((key.value.0, Pos::of(&key.referenced), value));
        }
        // The parser's event budget keeps a mapping far below u32::MAX entries.
        let mut order: Vec<u32> = (0..entries.len())
            .filter_map(|i| u32::try_from(i).ok())
            .collect();
        order.sort_by(|&a, &b| entries[a as usize].0.cmp(&entries[b as usize].0));
        Ok(Tree {
            children: Children::Map(entries, order),
            ..Tree::default()
        })
    }
}
