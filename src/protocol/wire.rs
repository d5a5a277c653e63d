//! The heartbeat datagram: a versioned binary format, authenticated with HMAC-SHA256.
//!
//! ```text
//! 0   "HAAG" magic
//! 4   version (2)          5  kind (1 heartbeat, 2 leaving)
//! 6   key id               7  reserved, 0
//! 8   cluster (str)        .. sender (str)
//! ..  generation (u64)     .. sequence (u64)
//! ..  connectivity (u16)   .. flags (u8: 1 standby, 2 quorate)
//! ..  seen peers           (u8 count; str name + u64 last sequence heard from it, each)
//! ..  groups               (u8 count, str name + u8 state each)
//! ..  intents              (u8 count, see `Intent`)
//! ..  accepted keys        (u8 count, u8 key id each)
//! end-32  HMAC-SHA256 of everything before it
//! ```
//! Integers are big-endian; `str` is a length byte and that many UTF-8 bytes. The decoder checks
//! length, magic, version and key before the MAC, and the MAC before it reads any field, so an
//! unauthenticated sender can only make it count a drop. It never panics (see the fuzz target in
//! `fuzz/` and the randomized test below).

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::auth::{Key, KeyRing};

/// First bytes of every datagram.
pub const MAGIC: [u8; 4] = *b"HAAG";
/// The format version this code speaks.
pub const VERSION: u8 = 2;
/// Length of the HMAC-SHA256 tag.
pub const MAC_LEN: usize = 32;
/// Largest datagram accepted or produced: fits one Ethernet frame with IPv6 and UDP headers.
pub const MAX_LEN: usize = 1400;
const HEADER_LEN: usize = 8;

/// What a datagram announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The periodic heartbeat.
    Heartbeat = 1,
    /// The sender is shutting down and has released everything: peers take over at once.
    Leaving = 2,
}

/// What a node does with a group, as it tells its peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupState {
    /// Resources are being started.
    Starting = 1,
    /// All resources are up.
    Running = 2,
    /// Resources are being stopped.
    Stopping = 3,
    /// A start or a resource failed here; the node is not eligible for it for a while.
    Failed = 4,
    /// The sender means to start the group once every live peer has seen this claim.
    Claiming = 5,
}

/// When an operator intent was issued: a Lamport clock (every node moves its clock past every
/// stamp it sees, and a new intent gets the next tick), then the origin to break ties, so every
/// node picks the same latest intent.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Stamp {
    /// The issuing node's Lamport clock.
    pub clock: u64,
    /// The node that issued it.
    pub origin: String,
}

/// An operator decision that every node must apply, gossiped until superseded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// When it was issued.
    pub stamp: Stamp,
    /// What it says.
    pub what: IntentKind,
}

/// The operator decisions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentKind {
    /// Run `group` on `to`, or forget an earlier move when `to` is `None`.
    Move {
        /// The group.
        group: String,
        /// The node.
        to: Option<String>,
    },
    /// Put `node` in standby (it holds nothing) or take it out.
    Standby {
        /// The node.
        node: String,
        /// Standby on or off.
        on: bool,
    },
}

/// A decoded datagram.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Datagram {
    /// Heartbeat or leaving.
    pub kind: Kind,
    /// Cluster name.
    pub cluster: String,
    /// Sending node.
    pub sender: String,
    /// Grows at every start of the sender (kept in its state directory).
    pub generation: u64,
    /// Grows with every datagram within a generation.
    pub seq: u64,
    /// Ping targets the sender reaches.
    pub connectivity: u16,
    /// The sender is in standby.
    pub standby: bool,
    /// The sender has quorum.
    pub quorate: bool,
    /// Peers the sender hears, each with the last sequence number it received from them: a
    /// node knows a peer has seen its claim once that number reaches the claim's.
    pub seen: Vec<(String, u64)>,
    /// Groups the sender is starting, running, stopping or failed with.
    pub groups: Vec<(String, GroupState)>,
    /// Operator intents the sender knows.
    pub intents: Vec<Intent>,
    /// Key ids the sender accepts: peers sign with a new key only once everyone accepts it,
    /// so a rotation loses no datagram whatever the order the nodes reload in.
    pub keys: Vec<u8>,
}

impl Datagram {
    /// A datagram that says only who sent it: quorate, seeing no one, holding nothing (the
    /// starting point of tests and of hand-made datagrams).
    pub fn bare(kind: Kind, cluster: &str, sender: &str, generation: u64, seq: u64) -> Self {
        Datagram {
            kind,
            cluster: cluster.into(),
            sender: sender.into(),
            generation,
            seq,
            connectivity: 0,
            standby: false,
            quorate: true,
            seen: vec![],
            groups: vec![],
            intents: vec![],
            keys: vec![],
        }
    }
}

/// Why a datagram was dropped. Each is counted, none is fatal.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    thiserror::Error,
)]
#[serde(rename_all = "snake_case")]
pub enum DecodeError {
    /// Shorter than a header and a MAC, or a field runs past the end.
    #[error("truncated datagram")]
    Truncated,
    /// Longer than [`MAX_LEN`].
    #[error("oversized datagram")]
    Oversized,
    /// Not a haagent datagram.
    #[error("not a haagent datagram")]
    BadMagic,
    /// A version this node does not speak.
    #[error("unsupported version")]
    Version,
    /// Signed with a key id this node does not have.
    #[error("unknown key id")]
    UnknownKey,
    /// The MAC does not match: forged, corrupted, or a different secret.
    #[error("bad MAC")]
    BadMac,
    /// Authenticated but not well formed.
    #[error("malformed datagram")]
    Malformed,
    /// Another cluster's datagram.
    #[error("wrong cluster")]
    WrongCluster,
    /// Not newer than the last one accepted from the sender.
    #[error("replayed datagram")]
    Replay,
}

/// Encodes and signs a datagram with `key`. Fields longer than the format allows are cut, and
/// lists stop where the datagram would exceed [`MAX_LEN`]; validated manifests never get there.
pub fn encode(d: &Datagram, key: &Key) -> Vec<u8> {
    let mut w = Vec::with_capacity(256);
    w.extend_from_slice(&MAGIC);
    w.extend_from_slice(&[VERSION, d.kind as u8, key.id, 0]);
    put_str(&mut w, &d.cluster);
    put_str(&mut w, &d.sender);
    w.extend_from_slice(&d.generation.to_be_bytes());
    w.extend_from_slice(&d.seq.to_be_bytes());
    w.extend_from_slice(&d.connectivity.to_be_bytes());
    w.push(u8::from(d.standby) | u8::from(d.quorate) << 1);
    put_list(&mut w, &d.seen, |w, (s, seq)| {
        put_str(w, s);
        w.extend_from_slice(&seq.to_be_bytes());
    });
    put_list(&mut w, &d.groups, |w, (g, s)| {
        put_str(w, g);
        w.push(*s as u8);
    });
    put_list(&mut w, &d.intents, put_intent);
    put_list(&mut w, &d.keys, |w, id| w.push(*id));
    seal(w, key)
}

/// Appends the MAC of `body` under `key`. `encode` uses it; tests and the fuzz target use it to
/// get arbitrary bodies past the MAC check.
pub fn seal(mut body: Vec<u8>, key: &Key) -> Vec<u8> {
    let tag = mac(key).chain_update(&body).finalize().into_bytes();
    body.extend_from_slice(&tag);
    body
}

fn mac(key: &Key) -> Hmac<Sha256> {
    key.mac.clone()
}

fn put_str(w: &mut Vec<u8>, s: &str) {
    let mut end = s.len().min(255);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    w.push(end as u8);
    w.extend_from_slice(&s.as_bytes()[..end]);
}

/// Writes a count and the items that fit; the count is patched to what was written.
fn put_list<T>(w: &mut Vec<u8>, items: &[T], mut put: impl FnMut(&mut Vec<u8>, &T)) {
    let count_at = w.len();
    w.push(0);
    let mut n = 0u8;
    for item in items.iter().take(255) {
        let before = w.len();
        put(w, item);
        if w.len() + MAC_LEN > MAX_LEN {
            w.truncate(before);
            break;
        }
        n += 1;
    }
    w[count_at] = n;
}

fn put_intent(w: &mut Vec<u8>, i: &Intent) {
    w.extend_from_slice(&i.stamp.clock.to_be_bytes());
    put_str(w, &i.stamp.origin);
    match &i.what {
        IntentKind::Move { group, to } => {
            w.push(1);
            put_str(w, group);
            put_str(w, to.as_deref().unwrap_or(""));
        }
        IntentKind::Standby { node, on } => {
            w.push(2);
            put_str(w, node);
            w.push(u8::from(*on));
        }
    }
}

/// Checks and decodes a datagram of cluster `cluster`, signed with a key of `keys`.
pub fn decode(bytes: &[u8], keys: &KeyRing, cluster: &str) -> Result<Datagram, DecodeError> {
    if bytes.len() > MAX_LEN {
        return Err(DecodeError::Oversized);
    }
    if bytes.len() < HEADER_LEN + MAC_LEN {
        return Err(DecodeError::Truncated);
    }
    if bytes[..4] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    if bytes[4] != VERSION {
        return Err(DecodeError::Version);
    }
    let key = keys.get(bytes[6]).ok_or(DecodeError::UnknownKey)?;
    let (body, tag) = bytes.split_at(bytes.len() - MAC_LEN);
    mac(key)
        .chain_update(body)
        .verify_slice(tag)
        .map_err(|_| DecodeError::BadMac)?;
    let d = parse(body)?;
    if d.cluster != cluster {
        return Err(DecodeError::WrongCluster);
    }
    Ok(d)
}

/// Parses an authenticated body.
fn parse(body: &[u8]) -> Result<Datagram, DecodeError> {
    let kind = match body[5] {
        1 => Kind::Heartbeat,
        2 => Kind::Leaving,
        _ => return Err(DecodeError::Malformed),
    };
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
        let state = match r.u8()? {
            1 => GroupState::Starting,
            2 => GroupState::Running,
            3 => GroupState::Stopping,
            4 => GroupState::Failed,
            5 => GroupState::Claiming,
            _ => return Err(DecodeError::Malformed),
        };
        Ok((name, state))
    })?;
    let intents = r.list(Reader::intent)?;
    let keys = r.list(Reader::u8)?;
    if r.at != body.len() || flags > 3 {
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
        seen,
        groups,
        intents,
        keys,
    })
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or(DecodeError::Truncated)?;
        let out = &self.buf[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(a))
    }

    fn str(&mut self) -> Result<String, DecodeError> {
        let n = usize::from(self.u8()?);
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::Malformed)
    }

    fn list<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let n = self.u8()?;
        (0..n).map(|_| item(self)).collect()
    }

    fn intent(&mut self) -> Result<Intent, DecodeError> {
        let stamp = Stamp {
            clock: self.u64()?,
            origin: self.str()?,
        };
        let what = match self.u8()? {
            1 => {
                let group = self.str()?;
                let to = self.str()?;
                IntentKind::Move {
                    group,
                    to: (!to.is_empty()).then_some(to),
                }
            }
            2 => {
                let node = self.str()?;
                let on = match self.u8()? {
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
}

#[cfg(test)]
mod tests;
