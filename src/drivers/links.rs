//! The heartbeat links as UDP sockets: one socket per link, bound to the interface the link
//! names, marked DSCP CS6 (network control) so heartbeats win over bulk traffic. Unicast links
//! send to every peer's address on the link, multicast links to their group (loopback off),
//! broadcast links to 255.255.255.255. Sending never blocks: a heartbeat that cannot leave now
//! is lost, like one lost on the wire.
//!
//! The receiving tasks check every datagram (size, magic, version, key, MAC, cluster) with the
//! protocol layer and hand only authenticated ones to the loop: a forged or malformed datagram
//! is counted here and costs the engine nothing. Sending signs the engine's datagram with the
//! key it chose.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use crate::auth::KeyRing;
use crate::manifest::Manifest;
use crate::manifest::model::{Link, Transport};
use crate::protocol::DropCounts;
use crate::protocol::wire::pages::Assembler;
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

/// Datagrams dropped by the links, by reason (shared with the status).
pub type Drops = Arc<Mutex<DropCounts>>;

/// DSCP CS6 in the IP TOS / traffic class byte.
const TOS_CS6: u32 = 0xc0;

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
    dests: Vec<SocketAddr>,
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
        let mut open = BTreeMap::new();
        for link in &m.heartbeat.links {
            let err = |what: &str| {
                let link = link.name.clone();
                let what = what.to_owned();
                move |source| LinkError { link, what, source }
            };
            let (bind, dests) = endpoints(m, me, link).map_err(err("addresses"))?;
            let socket = socket(link, bind).map_err(err(&format!("cannot bind {bind}")))?;
            let socket = UdpSocket::from_std(socket.into()).map_err(err("tokio"))?;
            let open_link = Open {
                socket: Arc::new(socket),
                dests,
                last_error: None,
            };
            open.insert(link.name.clone(), open_link);
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

    /// Spawns one receiving task per link, feeding the loop's channel.
    fn spawn_receivers(
        &mut self,
        cluster: &str,
        names: &Arc<Names>,
        tx: &mpsc::UnboundedSender<Received>,
    ) {
        for (name, l) in &self.open {
            let (name, socket, tx) = (name.clone(), Arc::clone(&l.socket), tx.clone());
            let (keys, drops) = (self.keys.clone(), self.drops.clone());
            let (cluster, names) = (cluster.to_owned(), Arc::clone(names));
            let task = tokio::spawn(async move {
                // One byte over the maximum, so the decoder sees (and counts) oversized input.
                let mut buf = vec![0u8; wire::MAX_LEN + 1];
                let mut pages = Assembler::default();
                loop {
                    match socket.recv_from(&mut buf).await {
                        Ok((n, _)) => {
                            let ring = Arc::clone(&keys.borrow());
                            match wire::decode(&buf[..n], &ring, &cluster, &names) {
                                Ok(page) => {
                                    let Some(datagram) = pages.push(page) else {
                                        continue;
                                    };
                                    let link = name.clone();
                                    if tx.send(Received { link, datagram }).is_err() {
                                        return;
                                    }
                                }
                                Err(why) => count(&drops, why),
                            }
                        }
                        // ICMP errors from an earlier send surface here; they are not fatal.
                        Err(e) => tracing::debug!(link = %name, error = %e, "heartbeat receive"),
                    }
                }
            });
            self.receivers.push(task.abort_handle());
        }
    }
}

fn count(drops: &Drops, why: wire::DecodeError) {
    let mut d = drops
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if d.get(why) == 0 {
        tracing::warn!(reason = %why, "heartbeat datagram dropped: {why} (counted from now on)");
    }
    d.count(why);
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

fn socket(link: &Link, bind: SocketAddr) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(bind), Type::DGRAM, Some(Protocol::UDP))?;
    s.set_nonblocking(true)?;
    // Several links may share a port on different addresses, and a restarted agent must be
    // able to bind at once.
    s.set_reuse_address(true)?;
    if let Some(ifname) = &link.interface {
        s.bind_device(Some(ifname.as_bytes()))?;
    }
    let ifindex = match &link.interface {
        Some(i) => crate::drivers::netif::index(i)?,
        None => 0,
    };
    match bind.ip() {
        IpAddr::V4(_) => {
            s.set_tos_v4(TOS_CS6)?;
            // The address may not be configured yet at boot; bind anyway.
            s.set_freebind_v4(true)?;
        }
        IpAddr::V6(_) => {
            s.set_only_v6(true)?;
            s.set_tclass_v6(TOS_CS6)?;
            s.set_freebind_v6(true)?;
        }
    }
    match (&link.transport, bind.ip()) {
        (Transport::Multicast { group, ttl }, _) => multicast(&s, *group, *ttl, ifindex)?,
        (Transport::Broadcast, _) => s.set_broadcast(true)?,
        (Transport::Unicast, _) => {}
    }
    s.bind(&bind.into())?;
    Ok(s)
}

fn multicast(s: &Socket, group: IpAddr, ttl: u8, ifindex: u32) -> io::Result<()> {
    match group {
        IpAddr::V4(g) => {
            let iface = socket2::InterfaceIndexOrAddress::Index(ifindex);
            s.join_multicast_v4_n(&g, &iface)?;
            s.set_multicast_ttl_v4(ttl.into())?;
            s.set_multicast_loop_v4(false)?;
            // Only this group's datagrams, not every group some socket on the host joined.
            s.set_multicast_all_v4(false)?;
        }
        IpAddr::V6(g) => {
            s.join_multicast_v6(&g, ifindex)?;
            s.set_multicast_if_v6(ifindex)?;
            s.set_multicast_hops_v6(ttl.into())?;
            s.set_multicast_loop_v6(false)?;
            s.set_multicast_all_v6(false)?;
        }
    }
    Ok(())
}
