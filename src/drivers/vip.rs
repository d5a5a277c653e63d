//! Virtual IPs through rtnetlink: add (idempotent, with label; IPv6 without duplicate address
//! detection so it is usable at once), remove (absent is fine), look up, and a monitor of
//! address changes so a VIP removed behind the agent's back is noticed.
//!
//! The sockets live on a thread of their own ([`start`]): the kernel adds an address (and its
//! routes) inside the `sendmsg` that carries the request, so a thousand of them sent from the
//! loop's thread would hold it for tens of milliseconds. The loop's tasks only queue requests
//! and read answers; a [`Vips::batch`] keeps up to [`WINDOW`] requests in flight on the one
//! socket instead of one round trip after another.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures_util::stream::{self, Stream, StreamExt, TryStreamExt};
use rtnetlink::packet_core::NetlinkPayload;
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use rtnetlink::{AddressMessageBuilder, Handle, MulticastGroup};
use tokio::sync::mpsc;

use crate::manifest::model::Vip;

/// A VIP operation that failed.
#[derive(Debug, thiserror::Error)]
#[error("{op} {addr}/{prefix} on {interface}: {source}")]
pub struct VipError {
    op: &'static str,
    addr: IpAddr,
    prefix: u8,
    interface: String,
    #[source]
    source: io::Error,
}

/// An address appeared or vanished on an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrChange {
    /// Added (true) or removed.
    pub added: bool,
    /// Interface index.
    pub ifindex: u32,
    /// The address.
    pub addr: IpAddr,
}

/// The netlink side of the VIP driver.
#[derive(Clone)]
pub struct Vips {
    handle: Handle,
}

fn nl_error(e: rtnetlink::Error) -> io::Error {
    match e {
        // The Debug form dumps raw header bytes; the errno is what a reader needs.
        rtnetlink::Error::NetlinkError(m) => m.to_io(),
        other => io::Error::other(other.to_string()),
    }
}

/// Requests in flight at once on the socket: a thousand VIPs take a few dozen round trips, and
/// the kernel's acknowledgements of a window always fit the socket's receive buffer.
pub const WINDOW: usize = 64;

/// One change of a [`Vips::batch`], with the caller's key for its result.
pub struct Change<K> {
    /// The caller's name for it.
    pub key: K,
    /// Add (true) or remove.
    pub add: bool,
    /// The VIP.
    pub vip: Vip,
}

/// Starts the netlink thread: one connection for requests, one for the address monitor, whose
/// changes go to `changes`. Returns the requests' end.
pub fn start(changes: mpsc::UnboundedSender<AddrChange>) -> io::Result<Vips> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("netlink".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            rt.block_on(async move {
                // Sockets are registered with the runtime that creates them: this one.
                let opened = rtnetlink::new_connection().and_then(|(conn, handle, _)| {
                    tokio::spawn(conn);
                    monitor(changes)?;
                    Ok(handle)
                });
                let failed = opened.is_err();
                let _ = ready_tx.send(opened);
                if !failed {
                    std::future::pending::<()>().await;
                }
            });
        })?;
    let handle = ready_rx
        .recv()
        .map_err(|_| io::Error::other("the netlink thread ended at start"))??;
    Ok(Vips { handle })
}

impl Vips {
    fn error(op: &'static str, vip: &Vip, source: io::Error) -> VipError {
        VipError {
            op,
            addr: vip.address,
            prefix: vip.prefix,
            interface: vip.interface.clone(),
            source,
        }
    }

    /// Applies `changes`, up to [`WINDOW`] in flight at once, each interface's index read
    /// once; yields each result as it comes.
    pub fn batch<K: Send + 'static>(
        &self,
        changes: Vec<Change<K>>,
    ) -> impl Stream<Item = (K, Result<(), VipError>)> + Send + 'static {
        let mut indexes: BTreeMap<String, Result<u32, (io::ErrorKind, String)>> = BTreeMap::new();
        for c in &changes {
            indexes.entry(c.vip.interface.clone()).or_insert_with(|| {
                crate::drivers::netif::index(&c.vip.interface)
                    .map_err(|e| (e.kind(), e.to_string()))
            });
        }
        let this = self.clone();
        stream::iter(changes)
            .map(move |c| {
                let this = this.clone();
                let index = indexes[&c.vip.interface]
                    .clone()
                    .map_err(|(kind, text)| io::Error::new(kind, text));
                async move {
                    let result = match c.add {
                        true => this.add_at(index, &c.vip).await,
                        false => this.remove_at(index, &c.vip).await,
                    };
                    (c.key, result)
                }
            })
            .buffer_unordered(WINDOW)
    }

    /// Adds `vip` (replacing an identical address, so a second add is not an error).
    pub async fn add(&self, vip: &Vip) -> Result<(), VipError> {
        self.add_at(crate::drivers::netif::index(&vip.interface), vip)
            .await
    }

    async fn add_at(&self, index: io::Result<u32>, vip: &Vip) -> Result<(), VipError> {
        let index = index.map_err(|e| Self::error("add", vip, e))?;
        let mut req = self
            .handle
            .address()
            .add(index, vip.address, vip.prefix)
            .replace();
        let attrs = &mut req.message_mut().attributes;
        match vip.address {
            IpAddr::V4(_) => {
                if let Some(label) = &vip.label {
                    attrs.push(AddressAttribute::Label(label.clone()));
                }
            }
            IpAddr::V6(_) => attrs.push(AddressAttribute::Flags(AddressFlags::Nodad)),
        }
        req.execute()
            .await
            .map_err(|e| Self::error("add", vip, nl_error(e)))
    }

    /// Removes `vip`; an address that is not there counts as removed.
    pub async fn remove(&self, vip: &Vip) -> Result<(), VipError> {
        self.remove_at(crate::drivers::netif::index(&vip.interface), vip)
            .await
    }

    async fn remove_at(&self, index: io::Result<u32>, vip: &Vip) -> Result<(), VipError> {
        let index = match index {
            Ok(i) => i,
            // No interface, no address on it.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Self::error("remove", vip, e)),
        };
        let msg = message(index, vip.address, vip.prefix);
        match self.handle.address().del(msg).execute().await {
            Ok(()) => Ok(()),
            Err(rtnetlink::Error::NetlinkError(m)) if m.raw_code() == -libc::EADDRNOTAVAIL => {
                Ok(())
            }
            Err(e) => Err(Self::error("remove", vip, nl_error(e))),
        }
    }

    /// Every address on this host, with its interface index: one dump, for the start-up probe.
    pub async fn addresses(&self) -> io::Result<Vec<(u32, IpAddr)>> {
        let mut all = self.handle.address().get().execute();
        let mut out = Vec::new();
        while let Some(msg) = all.try_next().await.map_err(nl_error)? {
            if let Some(a) = address_of(&msg) {
                out.push((msg.header.index, a));
            }
        }
        Ok(out)
    }

    /// Whether `vip` is on its interface now.
    pub async fn present(&self, vip: &Vip) -> Result<bool, VipError> {
        let index = match crate::drivers::netif::index(&vip.interface) {
            Ok(i) => i,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Self::error("look up", vip, e)),
        };
        let mut found = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .set_address_filter(vip.address)
            .execute();
        while let Some(msg) = found
            .try_next()
            .await
            .map_err(|e| Self::error("look up", vip, nl_error(e)))?
        {
            if address_of(&msg) == Some(vip.address) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

fn message(index: u32, addr: IpAddr, prefix: u8) -> AddressMessage {
    match addr {
        IpAddr::V4(a) => AddressMessageBuilder::<Ipv4Addr>::new()
            .index(index)
            .address(a, prefix)
            .build(),
        IpAddr::V6(a) => AddressMessageBuilder::<Ipv6Addr>::new()
            .index(index)
            .address(a, prefix)
            .build(),
    }
}

/// The address a message is about: IPv4's local address (IFA_ADDRESS is the peer's on
/// point-to-point links), IPv6's address.
fn address_of(msg: &AddressMessage) -> Option<IpAddr> {
    let mut address = None;
    for a in &msg.attributes {
        match a {
            AddressAttribute::Local(ip) => return Some(*ip),
            AddressAttribute::Address(ip) => address = Some(*ip),
            _ => {}
        }
    }
    address
}

/// Spawns a task that reports every address added or removed on this host.
fn monitor(tx: mpsc::UnboundedSender<AddrChange>) -> io::Result<()> {
    let (conn, _handle, mut messages) = rtnetlink::new_multicast_connection(&[
        MulticastGroup::Ipv4Ifaddr,
        MulticastGroup::Ipv6Ifaddr,
    ])?;
    tokio::spawn(conn);
    tokio::spawn(async move {
        while let Some((msg, _)) = messages.next().await {
            let (added, m) = match msg.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewAddress(m)) => (true, m),
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelAddress(m)) => (false, m),
                _ => continue,
            };
            let Some(addr) = address_of(&m) else { continue };
            let change = AddrChange {
                added,
                ifindex: m.header.index,
                addr,
            };
            if tx.send(change).is_err() {
                return;
            }
        }
    });
    Ok(())
}
