//! The heartbeat datagram: versioned, binary, authenticated with HMAC-SHA256.
//!
//! One logical datagram (what the engine sends once per interval) is carried by one to
//! [`MAX_PAGES`] wire pages, each at most [`MAX_LEN`] bytes and each signed on its own; the
//! receiver's [`pages::Assembler`] puts a datagram back together once all its pages arrived.
//! Format 3 ([`v3`]) names nodes and groups by a 32-bit hash of their names ([`names`]), so
//! every manifest within the validated limits fits in a few pages and nothing is ever cut:
//! what does not fit is an error. Format 4 (the same codec) adds maintenance intents and
//! per-group digests; format 2 is the previous release's (0.1.0) and format 3 came between
//! releases. Each is spoken to peers that do not accept a newer one yet (a rolling upgrade):
//! every node sends in the newest format all its live peers accept (`engine/gossip.rs`), so an
//! older peer keeps decoding, and what its format cannot say (maintenance, group digests,
//! manifest digests in format 2) is left out. The decoder checks length, magic, version and
//! key before the MAC, and the MAC before it reads any field, so an unauthenticated sender can
//! only make it count a drop; it never panics (randomized tests below, a fuzz target in
//! `fuzz/`).

mod codec;
pub mod names;
pub mod pages;
pub mod v2;
pub mod v3;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::auth::{Key, KeyRing};
pub use names::Names;

/// First bytes of every datagram.
pub const MAGIC: [u8; 4] = *b"HAAG";
/// The newest format version this code speaks.
pub const VERSION: u8 = 4;
/// Every format version this code speaks, as a bitmask (bit `v` for version `v`).
pub const SPOKEN: u8 = 1 << 2 | 1 << 3 | 1 << 4;
/// Length of the HMAC-SHA256 tag.
pub const MAC_LEN: usize = 32;
/// Largest page accepted or produced: fits one Ethernet frame with IPv6 and UDP headers.
pub const MAX_LEN: usize = 1400;
/// Most pages of one datagram.
pub const MAX_PAGES: u8 = 16;
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
    /// A stop failed: the group may still run on the sender, which retries; nobody else may
    /// start it until it is stopped, its node fenced, or an operator clears it.
    Blocked = 6,
}

impl GroupState {
    /// The state with this wire number.
    pub fn from_u8(b: u8) -> Option<GroupState> {
        Some(match b {
            1 => GroupState::Starting,
            2 => GroupState::Running,
            3 => GroupState::Stopping,
            4 => GroupState::Failed,
            5 => GroupState::Claiming,
            6 => GroupState::Blocked,
            _ => return None,
        })
    }
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
    /// Maintenance of `group`, or of the whole cluster when `None`: nothing is started,
    /// stopped or moved, and resources changing are left alone (format 4 only).
    Maintenance {
        /// The group, or the whole cluster.
        group: Option<String>,
        /// On or off.
        on: bool,
    },
    /// Put `node` in standby (it holds nothing) or take it out.
    Standby {
        /// The node.
        node: String,
        /// Standby on or off.
        on: bool,
    },
    /// An operator checked by hand that `group` no longer runs on `node`, where a stop failed:
    /// the group is no longer blocked there (format 3 only).
    Unblock {
        /// The group.
        group: String,
        /// The node.
        node: String,
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
    /// A digest of the sender's manifest (0 when its format does not say).
    #[serde(default)]
    pub digest: u64,
    /// The format versions the sender accepts, as a bitmask (bit `v` for version `v`).
    #[serde(default = "v2_only")]
    pub versions: u8,
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
    /// The digest of each group's definition in the sender's manifest, sent (format 4) while
    /// the sender knows a live peer whose manifest digest differs: a group is not moved onto a
    /// node whose definition of it differs (`engine/drift.rs`).
    #[serde(default)]
    pub group_digests: Vec<(String, u32)>,
}

fn v2_only() -> u8 {
    1 << 2
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
            digest: 0,
            versions: SPOKEN,
            seen: vec![],
            groups: vec![],
            intents: vec![],
            keys: vec![],
            group_digests: vec![],
        }
    }
}

/// One page of a datagram on the wire: the datagram's fields, with this page's share of its
/// lists, and where the page stands among the datagram's pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// The datagram (lists: this page's share).
    pub datagram: Datagram,
    /// This page's index, from 0.
    pub index: u8,
    /// How many pages the datagram has.
    pub count: u8,
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

impl DecodeError {
    /// The reason's name in status and logs (`bad_mac`, `replay`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DecodeError::Truncated => "truncated",
            DecodeError::Oversized => "oversized",
            DecodeError::BadMagic => "bad_magic",
            DecodeError::Version => "version",
            DecodeError::UnknownKey => "unknown_key",
            DecodeError::BadMac => "bad_mac",
            DecodeError::Malformed => "malformed",
            DecodeError::WrongCluster => "wrong_cluster",
            DecodeError::Replay => "replay",
        }
    }
}

/// Why a datagram could not be encoded: it does not fit the format (validation keeps every
/// manifest within what fits, so this is a bug or a manifest beyond the limits).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A name longer than 255 bytes.
    #[error("`{0}` is too long for a heartbeat (255 bytes at most)")]
    TooLong(String),
    /// More items than a list can count.
    #[error("too many {0} for a heartbeat")]
    TooMany(&'static str),
    /// The datagram needs more than [`MAX_PAGES`] pages.
    #[error("the datagram needs more than {MAX_PAGES} pages")]
    TooBig,
    /// A version this code does not speak.
    #[error("format version {0} is not spoken here")]
    Version(u8),
}

/// Encodes `d` in format `version` and signs every page with `key`.
pub fn encode(d: &Datagram, key: &Key, version: u8) -> Result<Vec<Vec<u8>>, EncodeError> {
    match version {
        3 | 4 => v3::encode(d, key, version),
        2 => v2::encode(d, key).map(|one| vec![one]),
        v => Err(EncodeError::Version(v)),
    }
}

/// Appends the MAC of `body` under `key`. The encoders use it; tests and the fuzz target use
/// it to get arbitrary bodies past the MAC check.
pub fn seal(mut body: Vec<u8>, key: &Key) -> Vec<u8> {
    let tag = key.mac.clone().chain_update(&body).finalize().into_bytes();
    body.extend_from_slice(&tag);
    body
}

/// Checks and decodes one page of a datagram of cluster `cluster`, signed with a key of
/// `keys`; hashed names are read back with `names`.
pub fn decode(
    bytes: &[u8],
    keys: &KeyRing,
    cluster: &str,
    names: &Names,
) -> Result<Page, DecodeError> {
    if bytes.len() > MAX_LEN {
        return Err(DecodeError::Oversized);
    }
    if bytes.len() < HEADER_LEN + MAC_LEN {
        return Err(DecodeError::Truncated);
    }
    if bytes[..4] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    let version = bytes[4];
    if !(2..=4).contains(&version) {
        return Err(DecodeError::Version);
    }
    let key = keys.get(bytes[6]).ok_or(DecodeError::UnknownKey)?;
    let (body, tag) = bytes.split_at(bytes.len() - MAC_LEN);
    let mac: Hmac<Sha256> = key.mac.clone();
    mac.chain_update(body)
        .verify_slice(tag)
        .map_err(|_| DecodeError::BadMac)?;
    let page = match version {
        2 => v2::parse(body).map(|datagram| Page {
            datagram,
            index: 0,
            count: 1,
        })?,
        _ => v3::parse(body, names)?,
    };
    if page.datagram.cluster != cluster {
        return Err(DecodeError::WrongCluster);
    }
    Ok(page)
}

/// The kind byte of a datagram.
fn kind(b: u8) -> Result<Kind, DecodeError> {
    match b {
        1 => Ok(Kind::Heartbeat),
        2 => Ok(Kind::Leaving),
        _ => Err(DecodeError::Malformed),
    }
}

#[cfg(test)]
mod tests;
