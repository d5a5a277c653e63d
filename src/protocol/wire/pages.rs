//! Putting datagrams back together from their pages. Each page is authenticated on its own;
//! a datagram is whole once every page of one sequence number arrived, and only whole
//! datagrams reach the engine. A newer sequence number from a sender drops what was gathered
//! of an older one (a lost page is never waited for), and at most [`SENDERS`] senders are
//! tracked at once.

use std::collections::BTreeMap;

use super::{Datagram, Page};

/// Most senders with a datagram in part at once.
pub const SENDERS: usize = 64;

/// A datagram in part.
struct Partial {
    generation: u64,
    seq: u64,
    pages: Vec<Option<Datagram>>,
}

/// Gathers pages, per sender.
#[derive(Default)]
pub struct Assembler {
    partial: BTreeMap<String, Partial>,
}

impl Assembler {
    /// Takes a page; returns the datagram once it is whole.
    pub fn push(&mut self, page: Page) -> Option<Datagram> {
        if page.count == 1 {
            return Some(page.datagram);
        }
        let d = page.datagram;
        let stamp = (d.generation, d.seq);
        let fresh = |p: &Partial| {
            (p.generation, p.seq) == stamp && p.pages.len() == usize::from(page.count)
        };
        match self.partial.get(&d.sender) {
            Some(p) if fresh(p) => {}
            // An older datagram's page, arriving late: the newer one is gathered instead.
            Some(p) if (p.generation, p.seq) > stamp => return None,
            _ => {
                if self.partial.len() >= SENDERS && !self.partial.contains_key(&d.sender) {
                    let first = self.partial.keys().next().cloned()?;
                    self.partial.remove(&first);
                }
                let partial = Partial {
                    generation: d.generation,
                    seq: d.seq,
                    pages: vec![None; usize::from(page.count)],
                };
                self.partial.insert(d.sender.clone(), partial);
            }
        }
        let sender = d.sender.clone();
        let p = self.partial.get_mut(&sender)?;
        p.pages[usize::from(page.index)].get_or_insert(d);
        if p.pages.iter().any(Option::is_none) {
            return None;
        }
        let p = self.partial.remove(&sender)?;
        let mut pages = p.pages.into_iter().flatten();
        let mut whole = pages.next()?;
        for more in pages {
            whole.groups.extend(more.groups);
            whole.intents.extend(more.intents);
            whole.group_digests.extend(more.group_digests);
        }
        Some(whole)
    }
}
