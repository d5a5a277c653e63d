//! Opening one link's socket: bound to the link's interface and address, marked DSCP CS6
//! (network control) so heartbeats win over bulk traffic, with a large receive buffer (a burst
//! waits rather than pushing heartbeats out) and, where the manifest names the senders, a
//! kernel filter that drops every other source before it is queued.
//!
//! Unicast sockets bind their own address without `SO_REUSEADDR`: another local process,
//! root or not, then cannot bind the same address and port to take heartbeats away.
//! Multicast and broadcast sockets keep it, since every copy of those reaches every socket.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;

use socket2::{Domain, Protocol, SockFilter, SockRef, Socket, Type};

use super::batch;
use super::filter;
use crate::manifest::model::{Link, Transport};

/// DSCP CS6 in the IP TOS / traffic class byte.
const TOS_CS6: u32 = 0xc0;

/// The receive buffer asked for: about ten thousand full-size datagrams, or a second of a
/// flood of small ones, before the kernel drops any.
pub const RECV_BUFFER: usize = 16 << 20;

/// Opens the socket of `link` bound to `bind`, accepting only datagrams from `sources` when
/// there are any; whether the kernel filters them.
pub fn open(link: &Link, bind: SocketAddr, sources: &[IpAddr]) -> io::Result<(Socket, bool)> {
    let s = Socket::new(Domain::for_address(bind), Type::DGRAM, Some(Protocol::UDP))?;
    s.set_nonblocking(true)?;
    if link.transport != Transport::Unicast {
        // Several links may share a port on different groups; every socket gets its copy.
        s.set_reuse_address(true)?;
    }
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
    match &link.transport {
        Transport::Multicast { group, ttl } => multicast(&s, *group, *ttl, ifindex)?,
        Transport::Broadcast => s.set_broadcast(true)?,
        Transport::Unicast => {}
    }
    recv_buffer(&s, &link.name);
    let filtered = set_filter(SockRef::from(&s), sources)?;
    s.bind(&bind.into())?;
    Ok((s, filtered))
}

/// Filters the socket's sources to `sources` in the kernel (replacing any filter it had), or
/// removes its filter when there are none to filter on; whether it filters now.
pub fn set_filter(s: SockRef<'_>, sources: &[IpAddr]) -> io::Result<bool> {
    match filter::sources_only(sources) {
        Some(program) => {
            let program: Vec<SockFilter> = program
                .iter()
                .map(|i| SockFilter::new(i.code, i.jt, i.jf, i.k))
                .collect();
            s.attach_filter(&program)?;
            Ok(true)
        }
        None => {
            // ENOENT when it had none: nothing to undo.
            let _ = s.detach_filter();
            Ok(false)
        }
    }
}

/// [`RECV_BUFFER`], beyond the system's cap as root, else as much as the cap allows.
fn recv_buffer(s: &Socket, link: &str) {
    if batch::force_recv_buffer(s.as_fd(), RECV_BUFFER).is_ok() {
        return;
    }
    let got = s
        .set_recv_buffer_size(RECV_BUFFER)
        .and_then(|()| s.recv_buffer_size());
    // The kernel reports twice what it was asked (its bookkeeping overhead).
    if let Ok(n) = got
        && n < RECV_BUFFER
    {
        tracing::info!(
            link,
            bytes = n,
            "heartbeat receive buffer smaller than asked: raise net.core.rmem_max"
        );
    }
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
