//! Formats 3 and 4: nodes and groups by the hash of their names, lists spread over pages.
//! Format 4 is format 3 with two additions, so one codec reads both: intents of kind 4
//! (maintenance) and, after the intents, a list of per-group digests. A format 3 decoder
//! refuses both, which is why a node speaks 4 only once every live peer says it accepts it.
//!
//! ```text
//! 0   "HAAG"  4 version (3 or 4)  5 kind (1 heartbeat, 2 leaving)  6 key id
//! 7   flags (1 standby, 2 quorate)  8 page index  9 page count (1 to 16)
//! 10  cluster (str)   .. sender (str)
//! ..  generation (u64)  .. sequence (u64)  .. connectivity (u16)
//! ..  manifest digest (u64)  .. accepted format versions (u8, bit v for version v)
//! ..  seen peers      (u8 count: u32 node, u64 last sequence heard from it)   page 0 only
//! ..  accepted keys   (u8 count: u8 key id)                                  page 0 only
//! ..  groups          (u16 count: u32 group, u8 state)                       this page's share
//! ..  intents         (u8 count: u64 clock, u32 origin, u8 kind: 1 move (u32 group, u32 node
//!                     or 0), 2 standby (u32 node, u8 on), 3 unblock (u32 group, u32 node),
//!                     4 maintenance (u32 group or 0 for the whole cluster, u8 on): format 4)
//!                                                                            this page's share
//! ..  group digests   (format 4 only; u16 count: u32 group, u32 digest of its definition)
//!                                                                            this page's share
//! end-32  HMAC-SHA256 of everything before it
//! ```
//! Every page carries the header with the datagram's sequence number, so a receiver knows which
//! pages belong together and counts any of them as a sign of life; groups fill the pages
//! first, then intents, then group digests. 32 nodes, 256 groups and 64 intents take three
//! pages; 256 group digests (sent only while a peer's manifest differs, `engine/drift.rs`) two
//! more.

use super::codec::{Reader, count8, put_str};
use super::names::{Names, hash};
use super::{
    Datagram, DecodeError, EncodeError, GroupState, Intent, IntentKind, MAC_LEN, MAGIC, MAX_LEN,
    MAX_PAGES, Page, Stamp, kind, seal,
};
use crate::auth::Key;

const BODY_START: usize = 10;

/// Encodes `d` in format `version` (3 or 4) as one or more pages, each signed with `key`.
/// What format 3 cannot say (a maintenance intent, group digests) is an error.
pub fn encode(d: &Datagram, key: &Key, version: u8) -> Result<Vec<Vec<u8>>, EncodeError> {
    let says_4 = !d.group_digests.is_empty()
        || d.intents
            .iter()
            .any(|i| matches!(i.what, IntentKind::Maintenance { .. }));
    if !(3..=4).contains(&version) || (version == 3 && says_4) {
        return Err(EncodeError::Version(version));
    }
    let mut head = Vec::with_capacity(160);
    head.extend_from_slice(&MAGIC);
    head.extend_from_slice(&[version, d.kind as u8, key.id]);
    head.push(u8::from(d.standby) | u8::from(d.quorate) << 1);
    head.extend_from_slice(&[0, 0]);
    put_str(&mut head, &d.cluster)?;
    put_str(&mut head, &d.sender)?;
    head.extend_from_slice(&d.generation.to_be_bytes());
    head.extend_from_slice(&d.seq.to_be_bytes());
    head.extend_from_slice(&d.connectivity.to_be_bytes());
    head.extend_from_slice(&d.digest.to_be_bytes());
    head.push(d.versions);
    let mut first = head.clone();
    first.push(count8(d.seen.len(), "peers")?);
    for (n, seq) in &d.seen {
        first.extend_from_slice(&hash(n).to_be_bytes());
        first.extend_from_slice(&seq.to_be_bytes());
    }
    first.push(count8(d.keys.len(), "keys")?);
    first.extend_from_slice(&d.keys);
    let groups: Vec<Vec<u8>> = d.groups.iter().map(|(g, s)| group(g, *s)).collect();
    let intents: Vec<Vec<u8>> = d.intents.iter().map(intent).collect();
    let digests: Vec<Vec<u8>> = d
        .group_digests
        .iter()
        .map(|(g, x)| [hash(g).to_be_bytes(), x.to_be_bytes()].concat())
        .collect();
    let mut rest = head;
    rest.extend_from_slice(&[0, 0]);
    let lists = [
        List::new(&groups, 2),
        List::new(&intents, 1),
        List::new(&digests, if version >= 4 { 2 } else { 0 }),
    ];
    let pages = fill(first, &rest, lists)?;
    let count = u8::try_from(pages.len())
        .ok()
        .filter(|n| *n <= MAX_PAGES)
        .ok_or(EncodeError::TooBig)?;
    Ok(pages
        .into_iter()
        .enumerate()
        .map(|(i, mut p)| {
            p[8] = i as u8;
            p[9] = count;
            seal(p, key)
        })
        .collect())
}

/// One list of a datagram spread over pages: its encoded items and the width of the count in
/// front of each page's share (0: not in this format, then it must be empty).
struct List<'a> {
    items: &'a [Vec<u8>],
    width: usize,
    next: usize,
}

impl<'a> List<'a> {
    fn new(items: &'a [Vec<u8>], width: usize) -> List<'a> {
        List {
            items,
            width,
            next: 0,
        }
    }

    fn done(&self) -> bool {
        self.next == self.items.len()
    }

    /// The most items one page's share may count.
    fn cap(&self) -> usize {
        if self.width == 1 { 255 } else { 65_535 }
    }
}

/// Spreads the lists over pages, in order (a list starts only once the one before it is
/// done): the first page starts as `first`, the others as `rest`; each list gets its count in
/// front of its share.
fn fill(
    first: Vec<u8>,
    rest: &[u8],
    mut lists: [List<'_>; 3],
) -> Result<Vec<Vec<u8>>, EncodeError> {
    let room = MAX_LEN - MAC_LEN;
    let counts: usize = lists.iter().map(|l| l.width).sum();
    let mut pages = Vec::new();
    let mut page = first;
    loop {
        if page.len() + counts > room {
            return Err(EncodeError::TooBig);
        }
        let mut used = page.len() + counts;
        let mut shares: Vec<(usize, Vec<u8>)> = Vec::with_capacity(lists.len());
        let mut before_done = true;
        for l in &mut lists {
            let (mut n, mut part) = (0, Vec::new());
            while before_done
                && l.width > 0
                && !l.done()
                && n < l.cap()
                && used + l.items[l.next].len() <= room
            {
                part.extend_from_slice(&l.items[l.next]);
                used += l.items[l.next].len();
                l.next += 1;
                n += 1;
            }
            if l.width == 0 && !l.done() {
                return Err(EncodeError::Version(3));
            }
            before_done &= l.done();
            shares.push((n, part));
        }
        let mut any = false;
        for (l, (n, part)) in lists.iter().zip(shares) {
            match l.width {
                0 => continue,
                1 => page.push(n as u8),
                _ => page.extend_from_slice(&(n as u16).to_be_bytes()),
            }
            any |= n > 0;
            page.extend_from_slice(&part);
        }
        pages.push(page);
        if lists.iter().all(List::done) {
            return Ok(pages);
        }
        if pages.len() >= usize::from(MAX_PAGES) || !any {
            return Err(EncodeError::TooBig);
        }
        page = rest.to_vec();
    }
}

fn group(g: &str, s: GroupState) -> Vec<u8> {
    let mut w = hash(g).to_be_bytes().to_vec();
    w.push(s as u8);
    w
}

fn intent(i: &Intent) -> Vec<u8> {
    let mut w = i.stamp.clock.to_be_bytes().to_vec();
    w.extend_from_slice(&hash(&i.stamp.origin).to_be_bytes());
    match &i.what {
        IntentKind::Move { group, to } => {
            w.push(1);
            w.extend_from_slice(&hash(group).to_be_bytes());
            w.extend_from_slice(&to.as_deref().map_or(0, hash).to_be_bytes());
        }
        IntentKind::Standby { node, on } => {
            w.push(2);
            w.extend_from_slice(&hash(node).to_be_bytes());
            w.push(u8::from(*on));
        }
        IntentKind::Unblock { group, node } => {
            w.push(3);
            w.extend_from_slice(&hash(group).to_be_bytes());
            w.extend_from_slice(&hash(node).to_be_bytes());
        }
        IntentKind::Maintenance { group, on } => {
            w.push(4);
            w.extend_from_slice(&group.as_deref().map_or(0, hash).to_be_bytes());
            w.push(u8::from(*on));
        }
    }
    w
}

/// Parses an authenticated format 3 or 4 page (`body[4]` says which).
pub fn parse(body: &[u8], names: &Names) -> Result<Page, DecodeError> {
    let version = body[4];
    let kind = kind(body[5])?;
    let flags = body[7];
    let mut r = Reader { buf: body, at: 8 };
    let (index, count) = (r.u8()?, r.u8()?);
    if count == 0 || count > MAX_PAGES || index >= count || flags > 3 {
        return Err(DecodeError::Malformed);
    }
    debug_assert_eq!(r.at, BODY_START);
    let cluster = r.str()?;
    let sender = r.str()?;
    let (generation, seq, connectivity) = (r.u64()?, r.u64()?, r.u16()?);
    let (digest, versions) = (r.u64()?, r.u8()?);
    let seen = r.list(|r| Ok((names.node(r.u32()?), r.u64()?)))?;
    let keys = r.list(Reader::u8)?;
    let groups = r.long_list(|r| {
        let g = names.group(r.u32()?);
        let s = GroupState::from_u8(r.u8()?).ok_or(DecodeError::Malformed)?;
        Ok((g, s))
    })?;
    let intents = r.list(|r| read_intent(r, names, version))?;
    let group_digests = if version >= 4 {
        r.long_list(|r| Ok((names.group(r.u32()?), r.u32()?)))?
    } else {
        Vec::new()
    };
    if !r.done() || (index > 0 && (!seen.is_empty() || !keys.is_empty())) {
        return Err(DecodeError::Malformed);
    }
    let datagram = Datagram {
        kind,
        cluster,
        sender,
        generation,
        seq,
        connectivity,
        standby: flags & 1 != 0,
        quorate: flags & 2 != 0,
        digest,
        versions,
        seen,
        groups,
        intents,
        keys,
        group_digests,
    };
    Ok(Page {
        datagram,
        index,
        count,
    })
}

fn read_intent(r: &mut Reader<'_>, names: &Names, version: u8) -> Result<Intent, DecodeError> {
    let stamp = Stamp {
        clock: r.u64()?,
        origin: names.node(r.u32()?),
    };
    let what = match r.u8()? {
        1 => {
            let group = names.group(r.u32()?);
            let to = match r.u32()? {
                0 => None,
                h => Some(names.node(h)),
            };
            IntentKind::Move { group, to }
        }
        2 => {
            let node = names.node(r.u32()?);
            let on = match r.u8()? {
                0 => false,
                1 => true,
                _ => return Err(DecodeError::Malformed),
            };
            IntentKind::Standby { node, on }
        }
        3 => IntentKind::Unblock {
            group: names.group(r.u32()?),
            node: names.node(r.u32()?),
        },
        4 if version >= 4 => {
            let group = match r.u32()? {
                0 => None,
                h => Some(names.group(h)),
            };
            let on = match r.u8()? {
                0 => false,
                1 => true,
                _ => return Err(DecodeError::Malformed),
            };
            IntentKind::Maintenance { group, on }
        }
        _ => return Err(DecodeError::Malformed),
    };
    Ok(Intent { stamp, what })
}
