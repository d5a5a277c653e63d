//! Datagrams of peers, drawn from the fuzz data and sent through the real wire path: built as a
//! peer's engine would (its run's generation and sequence numbers, acknowledgements of what this
//! node sent, groups, intents, keys), then fields pushed to extremes (old, retired or
//! overflowing runs, unknown names, Lamport clocks at the top), encoded and signed with the
//! cluster's key in format 2 or 3, optionally one byte of a page changed and the page signed
//! again (so the parser behind the MAC sees it), decoded and gathered per link as the link
//! driver does, and handed to the engine whole.

use haagent::engine::Input;
use haagent::protocol::wire::{self, Datagram, GroupState, Intent, IntentKind, Kind, Stamp};
use libfuzzer_sys::arbitrary::{Result, Unstructured};

use super::Harness;

const STATES: [GroupState; 6] = [
    GroupState::Starting,
    GroupState::Running,
    GroupState::Stopping,
    GroupState::Failed,
    GroupState::Claiming,
    GroupState::Blocked,
];

impl Harness {
    /// A datagram from the fuzz data arrives on a link.
    pub(super) fn heard(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        let d = self.datagram(u)?;
        let version = *u.choose(&[2u8, 3])?;
        let key = self.ring.keys()[u.choose_index(self.ring.keys().len())?].clone();
        let Ok(mut pages) = wire::encode(&d, &key, version) else {
            return Ok(());
        };
        if u.ratio(1u8, 8)? {
            let i = u.choose_index(pages.len())?;
            let body_len = pages[i].len() - wire::MAC_LEN;
            let at = u.choose_index(body_len)?;
            let mut body = pages[i][..body_len].to_vec();
            body[at] ^= u.int_in_range(1..=255u8)?;
            pages[i] = wire::seal(body, &key);
        }
        if u.ratio(1u8, 8)? {
            pages.reverse();
        }
        let links: Vec<String> = self
            .manifest()
            .heartbeat
            .links
            .iter()
            .map(|l| l.name.clone())
            .collect();
        let link = u.choose(&links)?.clone();
        for page in pages {
            let cluster = &self.manifest().cluster;
            let Ok(page) = wire::decode(&page, &self.ring, cluster, &self.names) else {
                continue;
            };
            let whole = self.pages.entry(link.clone()).or_default().push(page);
            if let Some(datagram) = whole {
                let link = link.clone();
                self.handle(Input::Heard { link, datagram }, false);
            }
        }
        Ok(())
    }

    /// A peer's datagram: plausible, then pushed.
    fn datagram(&mut self, u: &mut Unstructured<'_>) -> Result<Datagram> {
        let sender = self.node(u)?;
        let (generation, seq) = self.run_of(&sender, u)?;
        let kind = if u.ratio(1u8, 16)? {
            Kind::Leaving
        } else {
            Kind::Heartbeat
        };
        let cluster = self.manifest().cluster.clone();
        let mut d = Datagram::bare(kind, &cluster, &sender, generation, seq);
        d.connectivity = *u.choose(&[0, 1, 2, u16::MAX])?;
        d.standby = u.ratio(1u8, 8)?;
        d.quorate = u.ratio(7u8, 8)?;
        d.digest = if u.ratio(7u8, 8)? {
            self.engine.digest()
        } else {
            u.arbitrary()?
        };
        if u.ratio(1u8, 8)? {
            d.versions = u.arbitrary()?;
        }
        let nodes: Vec<String> = self.manifest().nodes.keys().cloned().collect();
        for node in nodes {
            if u.ratio(3u8, 4)? {
                let seq = self.ack(&node, u)?;
                d.seen.push((node, seq));
            }
        }
        for _ in 0..u.int_in_range(0..=3)? {
            d.groups.push((self.group(u)?, *u.choose(&STATES)?));
        }
        for _ in 0..u.int_in_range(0..=2)? {
            d.intents.push(self.intent(u)?);
        }
        d.keys = (*u.choose(&[&[1u8][..], &[1, 2], &[2], &[], &[7, 255]])?).to_vec();
        Ok(d)
    }

    /// The sender's run and sequence number: mostly the next of its run, sometimes a restart,
    /// an old or retired run, a copy, or the extremes.
    fn run_of(&mut self, sender: &str, u: &mut Unstructured<'_>) -> Result<(u64, u64)> {
        let (g, s) = self.peers.get(sender).copied().unwrap_or((5, 5 << 32));
        let pick = u.int_in_range(0..=11u8)?;
        let next = match pick {
            // Replays and copies: the peer itself moves on from where it was.
            1 => return Ok((g.saturating_sub(1), s)),
            2 => return Ok((g, s)),
            3 => return Ok((g, s.saturating_sub(1))),
            0 => (
                g.saturating_add(1),
                (g.saturating_add(1) & 0xffff_ffff) << 32,
            ),
            4 => (self.generation(u)?, self.number(u)?),
            5 => (g, u64::MAX),
            _ => (g, s.saturating_add(1)),
        };
        self.peers.insert(sender.to_owned(), next);
        Ok(next)
    }

    /// What a peer says it last received from `node`: for this node, one of its recent
    /// sequence numbers (an acknowledgement), else anything.
    fn ack(&self, node: &str, u: &mut Unstructured<'_>) -> Result<u64> {
        if node == self.me && !self.sent.is_empty() && u.ratio(7u8, 8)? {
            let recent = self.sent.len().saturating_sub(4);
            return Ok(self.sent[u.int_in_range(recent..=self.sent.len() - 1)?]);
        }
        self.number(u)
    }

    fn intent(&self, u: &mut Unstructured<'_>) -> Result<Intent> {
        let clock = *u.choose(&[1, 2, 3, 1000, u64::MAX - 1, u64::MAX])?;
        let stamp = Stamp {
            clock,
            origin: self.node(u)?,
        };
        let what = match u.int_in_range(0..=2u8)? {
            0 => IntentKind::Move {
                group: self.group(u)?,
                to: if u.arbitrary()? {
                    Some(self.node(u)?)
                } else {
                    None
                },
            },
            1 => IntentKind::Standby {
                node: self.node(u)?,
                on: u.arbitrary()?,
            },
            _ => IntentKind::Unblock {
                group: self.group(u)?,
                node: self.node(u)?,
            },
        };
        Ok(Intent { stamp, what })
    }
}
