//! Format 3: nodes and groups by the hash of their names, lists spread over pages.
//!
//! ```text
//! 0   "HAAG"  4 version (3)  5 kind (1 heartbeat, 2 leaving)  6 key id
//! 7   flags (1 standby, 2 quorate)  8 page index  9 page count (1 to 16)
//! 10  cluster (str)   .. sender (str)
//! ..  generation (u64)  .. sequence (u64)  .. connectivity (u16)
//! ..  manifest digest (u64)  .. accepted format versions (u8, bit v for version v)
//! ..  seen peers      (u8 count: u32 node, u64 last sequence heard from it)   page 0 only
//! ..  accepted keys   (u8 count: u8 key id)                                  page 0 only
//! ..  groups          (u16 count: u32 group, u8 state)                       this page's share
//! ..  intents         (u8 count: u64 clock, u32 origin, u8 kind: 1 move (u32 group, u32 node
//!                     or 0), 2 standby (u32 node, u8 on), 3 unblock (u32 group, u32 node))
//!                                                                            this page's share
//! end-32  HMAC-SHA256 of everything before it
//! ```
//! Every page carries the header with the datagram's sequence number, so a receiver knows which
//! pages belong together and counts any of them as a sign of life; groups fill the pages
//! first, then intents. 32 nodes, 256 groups and 64 intents take three pages.

use super::codec::{Reader, count8, put_str};
use super::names::{Names, hash};
use super::{
    Datagram, DecodeError, EncodeError, GroupState, Intent, IntentKind, MAC_LEN, MAGIC, MAX_LEN,
    MAX_PAGES, Page, Stamp, kind, seal,
};
use crate::auth::Key;

const BODY_START: usize = 10;

/// Encodes `d` in format 3 as one or more pages, each signed with `key`.
pub fn encode(d: &Datagram, key: &Key) -> Result<Vec<Vec<u8>>, EncodeError> {
    let mut head = Vec::with_capacity(160);
    head.extend_from_slice(&MAGIC);
    head.extend_from_slice(&[3, d.kind as u8, key.id]);
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
    let mut rest = head;
    rest.extend_from_slice(&[0, 0]);
    let pages = fill(first, &rest, &groups, &intents)?;
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

/// Spreads the groups, then the intents, over pages: the first starts as `first`, the others
/// as `rest`; each list gets its count in front of its share.
fn fill(
    first: Vec<u8>,
    rest: &[u8],
    groups: &[Vec<u8>],
    intents: &[Vec<u8>],
) -> Result<Vec<Vec<u8>>, EncodeError> {
    let room = MAX_LEN - MAC_LEN;
    let mut pages = Vec::new();
    let (mut gi, mut ii) = (0, 0);
    let mut page = first;
    loop {
        if page.len() + 3 > room {
            return Err(EncodeError::TooBig);
        }
        let mut g_part = Vec::new();
        let mut n_groups: u16 = 0;
        while gi < groups.len() && page.len() + 3 + g_part.len() + groups[gi].len() <= room {
            g_part.extend_from_slice(&groups[gi]);
            gi += 1;
            n_groups = n_groups
                .checked_add(1)
                .ok_or(EncodeError::TooMany("groups"))?;
        }
        let mut i_part = Vec::new();
        let mut n_intents: u8 = 0;
        while gi == groups.len()
            && ii < intents.len()
            && n_intents < u8::MAX
            && page.len() + 3 + g_part.len() + i_part.len() + intents[ii].len() <= room
        {
            i_part.extend_from_slice(&intents[ii]);
            ii += 1;
            n_intents += 1;
        }
        page.extend_from_slice(&n_groups.to_be_bytes());
        page.extend_from_slice(&g_part);
        page.push(n_intents);
        page.extend_from_slice(&i_part);
        pages.push(page);
        if gi == groups.len() && ii == intents.len() {
            return Ok(pages);
        }
        if pages.len() >= usize::from(MAX_PAGES) || (n_groups == 0 && n_intents == 0) {
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
    }
    w
}

/// Parses an authenticated format 3 page.
pub fn parse(body: &[u8], names: &Names) -> Result<Page, DecodeError> {
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
    let intents = r.list(|r| read_intent(r, names))?;
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
    };
    Ok(Page {
        datagram,
        index,
        count,
    })
}

fn read_intent(r: &mut Reader<'_>, names: &Names) -> Result<Intent, DecodeError> {
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
        _ => return Err(DecodeError::Malformed),
    };
    Ok(Intent { stamp, what })
}
