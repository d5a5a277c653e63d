//! Format 2, release 0.1.0's, spoken to peers that accept nothing newer (a rolling upgrade):
//! one page, names spelled out, lists counted in a byte.
//!
//! ```text
//! 0   "HAAG"  4 version (2)  5 kind (1 heartbeat, 2 leaving)  6 key id
//! 7   formats the sender accepts (bit v for version v; 0: format 2 only)
//! 8   cluster (str)        .. sender (str)
//! ..  generation (u64)     .. sequence (u64)
//! ..  connectivity (u16)   .. flags (u8: 1 standby, 2 quorate)
//! ..  seen peers           (u8 count; str name + u64 last sequence heard from it, each)
//! ..  groups               (u8 count, str name + u8 state each)
//! ..  intents              (u8 count: u64 clock, str origin, u8 kind: 1 move (str group,
//!                          str node or ""), 2 standby (str node, u8 on))
//! ..  accepted keys        (u8 count, u8 key id each)
//! end-32  HMAC-SHA256 of everything before it
//! ```
//! Integers are big-endian; `str` is a length byte and that many UTF-8 bytes. Format 2 knows
//! no `blocked` group state: a blocked group is said to be stopping, which keeps peers from
//! starting it all the same.
//!
//! Byte 7 was reserved (0) in 0.1.0, whose decoder reads past it (under the MAC). A later
//! release says there which formats it accepts, so two upgraded nodes that speak format 2
//! while an older peer lives still know they share a newer one, and move to it once that
//! peer is gone or upgraded; without it, each would take the other for a 0.1.0 node for as
//! long as it keeps hearing format 2, and the cluster would never leave format 2.

use super::codec::{Reader, count8, put_str};
use super::{
    Datagram, DecodeError, EncodeError, GroupState, HEADER_LEN, Intent, IntentKind, MAC_LEN, MAGIC,
    MAX_LEN, Stamp, kind, seal,
};
use crate::auth::Key;

/// Encodes and signs `d` in format 2.
pub fn encode(d: &Datagram, key: &Key) -> Result<Vec<u8>, EncodeError> {
    let mut w = Vec::with_capacity(256);
    w.extend_from_slice(&MAGIC);
    w.extend_from_slice(&[2, d.kind as u8, key.id, formats_byte(d.versions)]);
    put_str(&mut w, &d.cluster)?;
    put_str(&mut w, &d.sender)?;
    w.extend_from_slice(&d.generation.to_be_bytes());
    w.extend_from_slice(&d.seq.to_be_bytes());
    w.extend_from_slice(&d.connectivity.to_be_bytes());
    w.push(u8::from(d.standby) | u8::from(d.quorate) << 1);
    w.push(count8(d.seen.len(), "peers")?);
    for (s, seq) in &d.seen {
        put_str(&mut w, s)?;
        w.extend_from_slice(&seq.to_be_bytes());
    }
    w.push(count8(d.groups.len(), "groups")?);
    for (g, s) in &d.groups {
        put_str(&mut w, g)?;
        let s = match s {
            GroupState::Blocked => GroupState::Stopping,
            other => *other,
        };
        w.push(s as u8);
    }
    w.push(count8(d.intents.len(), "intents")?);
    for i in &d.intents {
        put_intent(&mut w, i)?;
    }
    w.push(count8(d.keys.len(), "keys")?);
    w.extend_from_slice(&d.keys);
    if w.len() + MAC_LEN > MAX_LEN {
        return Err(EncodeError::TooBig);
    }
    Ok(seal(w, key))
}

/// Byte 7 for the formats a sender accepts: 0 for format 2 alone, as 0.1.0 says it.
fn formats_byte(versions: u8) -> u8 {
    if versions == ONLY_2 {
        0
    } else {
        versions | ONLY_2
    }
}

/// The formats a sender accepts, from byte 7: format 2 always (it sent one).
fn formats_of(b: u8) -> u8 {
    b | ONLY_2
}

/// The bitmask of format 2 alone.
const ONLY_2: u8 = 1 << 2;

fn put_intent(w: &mut Vec<u8>, i: &Intent) -> Result<(), EncodeError> {
    w.extend_from_slice(&i.stamp.clock.to_be_bytes());
    put_str(w, &i.stamp.origin)?;
    match &i.what {
        IntentKind::Move { group, to } => {
            w.push(1);
            put_str(w, group)?;
            put_str(w, to.as_deref().unwrap_or(""))?;
        }
        IntentKind::Standby { node, on } => {
            w.push(2);
            put_str(w, node)?;
            w.push(u8::from(*on));
        }
        IntentKind::Unblock { .. } | IntentKind::Maintenance { .. } => {
            return Err(EncodeError::Version(2));
        }
    }
    Ok(())
}

/// Parses an authenticated format 2 body.
pub fn parse(body: &[u8]) -> Result<Datagram, DecodeError> {
    let kind = kind(body[5])?;
    let mut r = Reader {
        buf: body,
        at: HEADER_LEN,
    };
    let cluster = r.str()?;
    let sender = r.str()?;
    let (generation, seq) = (r.u64()?, r.u64()?);
    let connectivity = r.u16()?;
    let flags = r.u8()?;
    let seen = r.list(|r| Ok((r.str()?, r.u64()?)))?;
    let groups = r.list(|r| {
        let name = r.str()?;
        match GroupState::from_u8(r.u8()?) {
            Some(GroupState::Blocked) | None => Err(DecodeError::Malformed),
            Some(s) => Ok((name, s)),
        }
    })?;
    let intents = r.list(intent)?;
    let keys = r.list(Reader::u8)?;
    if !r.done() || flags > 3 {
        return Err(DecodeError::Malformed);
    }
    Ok(Datagram {
        kind,
        cluster,
        sender,
        generation,
        seq,
        connectivity,
        standby: flags & 1 != 0,
        quorate: flags & 2 != 0,
        digest: 0,
        versions: formats_of(body[7]),
        seen,
        groups,
        intents,
        keys,
        group_digests: Vec::new(),
    })
}

fn intent(r: &mut Reader<'_>) -> Result<Intent, DecodeError> {
    let stamp = Stamp {
        clock: r.u64()?,
        origin: r.str()?,
    };
    let what = match r.u8()? {
        1 => {
            let group = r.str()?;
            let to = r.str()?;
            IntentKind::Move {
                group,
                to: (!to.is_empty()).then_some(to),
            }
        }
        2 => {
            let node = r.str()?;
            let on = match r.u8()? {
                0 => false,
                1 => true,
                _ => return Err(DecodeError::Malformed),
            };
            IntentKind::Standby { node, on }
        }
        _ => return Err(DecodeError::Malformed),
    };
    Ok(Intent { stamp, what })
}
