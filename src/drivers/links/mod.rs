//! The heartbeat links as UDP sockets: one socket per link ([`socket`]: binding, buffer,
//! kernel source filter), one receiving task per link ([`recv`]: batched reads, checks, drops
//! counted in [`drops`]). Unicast links send to every peer's address on the link and accept
//! only those addresses; multicast links send to their group (loopback off), broadcast links
//! to 255.255.255.255; the manifest names no per-node address on those, so they accept any
//! source and rely on the MAC. Sending never blocks: a heartbeat that cannot leave now is
//! lost, like one lost on the wire. Sending signs the engine's datagram with the key it chose.

mod batch;
pub mod drops;
pub mod filter;
mod recv;
mod socket;

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use socket2::SockRef;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use crate::auth::KeyRing;
use crate::manifest::Manifest;
use crate::manifest::model::{Link, Transport};
use crate::protocol::wire::{self, Datagram, Names};

/// An authenticated datagram, and the link it came on.
#[derive(Clone, Debug)]
pub struct Received {
    /// Link name.
    pub link: String,
    /// The datagram.
    pub datagram: Datagram,
}

/// The keys the links sign and check with; a reload sends new ones.
pub type Keys = watch::Receiver<Arc<KeyRing>>;

/// Datagrams dropped by the links, by reason and source (shared with the status).
pub type Drops = Arc<Mutex<drops::Ledger>>;

/// A link that could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("heartbeat link `{link}`: {what}: {source}")]
pub struct LinkError {
    link: String,
    what: String,
    #[source]
    source: io::Error,
}

/// One open link.
struct Open {
    socket: Arc<UdpSocket>,
    /// What the socket was opened for: a reload keeps it while these stay the same.
    link: Link,
    bind: SocketAddr,
    dests: Vec<SocketAddr>,
    /// The sources it accepts (empty: any).
    sources: Vec<IpAddr>,
    /// Whether the kernel filters them.
    filtered: bool,
    /// The last send error, logged once until it changes.
    last_error: Option<io::ErrorKind>,
}

/// Every link of this node, with the tasks receiving on them (ended when dropped, so a reload
/// that reopens the links leaves no old socket feeding the engine).
pub struct Links {
    open: BTreeMap<String, Open>,
    receivers: Vec<tokio::task::AbortHandle>,
    keys: Keys,
    drops: Drops,
    encode_failed: bool,
}

impl Drop for Links {
    fn drop(&mut self) {
        self.receivers
            .iter()
            .for_each(tokio::task::AbortHandle::abort);
    }
}

impl Links {
    /// Opens every link of `m` for node `me` and starts receiving on each: authenticated
    /// datagrams go to `tx`, drops are counted in `drops`. Must run inside a tokio runtime.
    pub fn open(
        m: &Manifest,
        me: &str,
        keys: Keys,
        drops: Drops,
        tx: &mpsc::UnboundedSender<Received>,
    ) -> Result<Links, LinkError> {
        Links::open_beside(m, me, keys, drops, tx, None)
    }

    /// Opens the links of a reloaded manifest beside these, which keep running until the
    /// new ones replace them. A link with the same transport, interface, address and port
    /// keeps its socket (a unicast address cannot be bound twice), with the new manifest's
    /// sources; the others get new sockets.
    pub fn reopen(
        &self,
        m: &Manifest,
        me: &str,
        tx: &mpsc::UnboundedSender<Received>,
    ) -> Result<Links, LinkError> {
        let (keys, drops) = (self.keys.clone(), self.drops.clone());
        Links::open_beside(m, me, keys, drops, tx, Some(self))
    }

    fn open_beside(
        m: &Manifest,
        me: &str,
        keys: Keys,
        drops: Drops,
        tx: &mpsc::UnboundedSender<Received>,
        old: Option<&Links>,
    ) -> Result<Links, LinkError> {
        let mut open = BTreeMap::new();
        let mut kept = Vec::new();
        for link in &m.heartbeat.links {
            let err = |what: &str| {
                let link = link.name.clone();
                let what = what.to_owned();
                move |source| LinkError { link, what, source }
            };
            let (bind, dests) = endpoints(m, me, link).map_err(err("addresses"))?;
            let sources = sources(m, link);
            // Matched by what the socket is, not by name: a renamed link keeps its socket too.
            let same = old.and_then(|o| {
                o.open.values().find(|o| {
                    o.bind == bind
                        && o.link.transport == link.transport
                        && o.link.interface == link.interface
                })
            });
            let (socket, filtered) = match same {
                Some(o) => {
                    kept.push(link.name.clone());
                    (Arc::clone(&o.socket), o.filtered)
                }
                None => {
                    let (s, filtered) = socket::open(link, bind, &sources)
                        .map_err(err(&format!("cannot bind {bind}")))?;
                    let s = UdpSocket::from_std(s.into()).map_err(err("tokio"))?;
                    (Arc::new(s), filtered)
                }
            };
            let open_link = Open {
                socket,
                link: link.clone(),
                bind,
                dests,
                sources,
                filtered,
                last_error: None,
            };
            open.insert(link.name.clone(), open_link);
        }
        // Every link opened: only now change the filters of the sockets kept.
        for name in kept {
            if let Some(l) = open.get_mut(&name) {
                l.filtered = socket::set_filter(SockRef::from(&*l.socket), &l.sources).map_err(
                    |source| LinkError {
                        link: name.clone(),
                        what: "source filter".into(),
                        source,
                    },
                )?;
            }
        }
        let mut links = Links {
            open,
            receivers: Vec::new(),
            keys,
            drops,
            encode_failed: false,
        };
        links.spawn_receivers(&m.cluster, &Arc::new(Names::of(m)), tx);
        Ok(links)
    }

    /// Encodes `d` in format `version`, signs it with key `key` (the signing key if this ring
    /// lacks it) and sends its pages on `link` to all its destinations.
    pub fn send(&mut self, link: &str, d: &Datagram, key: u8, version: u8) {
        let pages = {
            let ring = self.keys.borrow();
            wire::encode(d, ring.get(key).unwrap_or_else(|| ring.signing()), version)
        };
        let pages = match pages {
            Ok(p) => p,
            Err(e) => {
                // Validation keeps manifests within what fits: this is a bug, said once.
                if !self.encode_failed {
                    tracing::error!(error = %e, "heartbeat not sent: it does not fit the format");
                    self.encode_failed = true;
                }
                return;
            }
        };
        let Some(l) = self.open.get_mut(link) else {
            return;
        };
        let mut error = None;
        for dest in &l.dests {
            for bytes in &pages {
                if let Err(e) = l.socket.try_send_to(bytes, *dest) {
                    error = Some(e);
                }
            }
        }
        let kind = error.as_ref().map(io::Error::kind);
        if kind != l.last_error {
            match &error {
                Some(e) => tracing::warn!(link, error = %e, "heartbeat send failed"),
                None => tracing::info!(link, "heartbeat sends work again"),
            }
            l.last_error = kind;
        }
    }

    /// Spawns one receiving task per link, feeding the loop's channel, and the task that
    /// logs a summary of drops that stopped before a minute passed.
    fn spawn_receivers(
        &mut self,
        cluster: &str,
        names: &Arc<Names>,
        tx: &mpsc::UnboundedSender<Received>,
    ) {
        for (name, l) in &self.open {
            let r = recv::Receiver {
                link: name.clone(),
                socket: Arc::clone(&l.socket),
                sources: l.sources.clone(),
                filtered: l.filtered,
                keys: self.keys.clone(),
                drops: self.drops.clone(),
                cluster: cluster.to_owned(),
                names: Arc::clone(names),
                tx: tx.clone(),
            };
            self.receivers.push(tokio::spawn(r.run()).abort_handle());
        }
        let drops = self.drops.clone();
        let summaries = tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
            loop {
                tick.tick().await;
                let due = drops
                    .lock()
                    .map(|mut d| d.summary_due(std::time::Instant::now()));
                if let Ok(Some(s)) = due {
                    tracing::warn!("heartbeat datagrams dropped {s}");
                }
            }
        });
        self.receivers.push(summaries.abort_handle());
    }
}

/// Where the link's socket binds and where it sends.
fn endpoints(m: &Manifest, me: &str, link: &Link) -> io::Result<(SocketAddr, Vec<SocketAddr>)> {
    let port = link.port;
    match &link.transport {
        Transport::Unicast => {
            let mine = m
                .nodes
                .get(me)
                .and_then(|n| n.addresses.get(&link.name))
                .ok_or_else(|| io::Error::other(format!("node `{me}` has no address on it")))?;
            let dests = m
                .nodes
                .iter()
                .filter(|(n, _)| *n != me)
                .filter_map(|(_, n)| n.addresses.get(&link.name))
                .map(|a| SocketAddr::new(*a, port))
                .collect();
            Ok((SocketAddr::new(*mine, port), dests))
        }
        // Bound to the group itself, so the socket gets only the group's datagrams even when
        // another link shares the port.
        Transport::Multicast { group, .. } => Ok((
            SocketAddr::new(*group, port),
            vec![SocketAddr::new(*group, port)],
        )),
        Transport::Broadcast => Ok((
            SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port),
            vec![SocketAddr::new(Ipv4Addr::BROADCAST.into(), port)],
        )),
    }
}

/// The addresses a link accepts datagrams from: every node's on a unicast link (this node's
/// too: harmless, and a copy of its own datagram is the engine's to ignore); none named on
/// multicast and broadcast links (empty: any source).
fn sources(m: &Manifest, link: &Link) -> Vec<IpAddr> {
    match link.transport {
        Transport::Unicast => m
            .nodes
            .values()
            .filter_map(|n| n.addresses.get(&link.name).copied())
            .collect(),
        Transport::Multicast { .. } | Transport::Broadcast => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
