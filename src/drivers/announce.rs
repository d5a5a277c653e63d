//! Telling the network where a VIP lives now: gratuitous ARP in both forms for IPv4 (some
//! switches and hosts honour only requests, others only replies), an unsolicited neighbour
//! advertisement with the override flag for IPv6 (RFC 4861 §7.2.6).
//!
//! The one module allowed `unsafe`: a link-layer socket address (`sockaddr_ll`) has no safe
//! constructor in socket2.
#![allow(unsafe_code)]

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV6};

use socket2::{Domain, Protocol, SockAddr, SockAddrStorage, Socket, Type};

const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IP: u16 = 0x0800;

/// The two gratuitous ARP frames for `ip` at `mac`: the request form of RFC 5227 §3 (sender and
/// target protocol address both the VIP, target hardware address zero) and the reply form
/// (target hardware address the sender's own), each broadcast.
pub fn garp_frames(mac: [u8; 6], ip: Ipv4Addr) -> [[u8; 42]; 2] {
    let frame = |op: u16, tha: [u8; 6]| {
        let mut f = [0u8; 42];
        f[0..6].copy_from_slice(&[0xff; 6]);
        f[6..12].copy_from_slice(&mac);
        f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
        f[14..16].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
        f[16..18].copy_from_slice(&ETH_P_IP.to_be_bytes());
        f[18] = 6;
        f[19] = 4;
        f[20..22].copy_from_slice(&op.to_be_bytes());
        f[22..28].copy_from_slice(&mac);
        f[28..32].copy_from_slice(&ip.octets());
        f[32..38].copy_from_slice(&tha);
        f[38..42].copy_from_slice(&ip.octets());
        f
    };
    [frame(1, [0; 6]), frame(2, mac)]
}

/// An unsolicited neighbour advertisement for `ip` at `mac`: override set, solicited not, and
/// the target link-layer address option. The kernel fills in the checksum.
pub fn na_payload(mac: [u8; 6], ip: Ipv6Addr) -> [u8; 32] {
    let mut p = [0u8; 32];
    p[0] = 136; // neighbour advertisement
    p[4] = 0x20; // O (override)
    p[8..24].copy_from_slice(&ip.octets());
    p[24] = 2; // target link-layer address
    p[25] = 1; // length in units of 8 bytes
    p[26..32].copy_from_slice(&mac);
    p
}

/// Where a VIP's announcements leave: its interface's index and hardware address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Port {
    /// Interface index.
    pub index: u32,
    /// Its MAC.
    pub mac: [u8; 6],
}

impl Port {
    /// The port of `interface`, read from sysfs now.
    pub fn of(interface: &str) -> io::Result<Port> {
        Ok(Port {
            index: crate::drivers::netif::index(interface)?,
            mac: crate::drivers::netif::mac(interface)?,
        })
    }
}

/// The socket every gratuitous ARP leaves through, kept open: closing a packet socket waits
/// for an RCU grace period in the kernel (10 ms and more, measured on the test bed), so one
/// per announcement held its caller for a second per hundred VIPs.
pub struct Sockets {
    packet: Socket,
}

impl Sockets {
    /// Opens the packet socket.
    pub fn open() -> io::Result<Sockets> {
        // Protocol 0: a send-only packet socket, so no frame is ever queued for reading.
        let packet = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(0)))?;
        Ok(Sockets { packet })
    }

    /// Sends one round of announcements for `ip` out of `port`: both ARP forms, or one NA.
    pub fn announce(&self, ip: IpAddr, port: Port) -> io::Result<()> {
        match ip {
            IpAddr::V4(ip) => {
                let addr = link_layer_broadcast(port.index)?;
                for frame in garp_frames(port.mac, ip) {
                    self.packet.send_to(&frame, &addr)?;
                }
                Ok(())
            }
            IpAddr::V6(ip) => send_na(port.index, port.mac, ip),
        }
    }
}

fn link_layer_broadcast(ifindex: u32) -> io::Result<SockAddr> {
    let ifindex =
        i32::try_from(ifindex).map_err(|_| io::Error::other("interface index out of range"))?;
    let mut storage = SockAddrStorage::zeroed();
    // SAFETY: sockaddr_ll fits in sockaddr_storage (view_as asserts it), and every field is
    // initialised below or left zero, which is valid for this plain C struct.
    let ll = unsafe { storage.view_as::<libc::sockaddr_ll>() };
    ll.sll_family = libc::AF_PACKET as u16;
    ll.sll_protocol = ETH_P_ARP.to_be();
    ll.sll_ifindex = ifindex;
    ll.sll_halen = 6;
    ll.sll_addr[..6].copy_from_slice(&[0xff; 6]);
    let len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: the storage holds an initialised sockaddr_ll of exactly `len` bytes.
    Ok(unsafe { SockAddr::new(storage, len) })
}

fn send_na(ifindex: u32, mac: [u8; 6], ip: Ipv6Addr) -> io::Result<()> {
    let s = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?;
    // RFC 4861 §7.1.2: a receiver drops NAs whose hop limit is not 255.
    s.set_multicast_hops_v6(255)?;
    s.set_unicast_hops_v6(255)?;
    s.set_multicast_if_v6(ifindex)?;
    s.bind(&SocketAddrV6::new(ip, 0, 0, ifindex).into())?;
    let all_nodes = SocketAddrV6::new(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1), 0, 0, ifindex);
    s.send_to(&na_payload(mac, ip), &all_nodes.into())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

    #[test]
    fn garp_request_and_reply_forms_byte_for_byte() {
        let [req, rep] = garp_frames(MAC, Ipv4Addr::new(10, 98, 0, 50));
        let expect_req: [u8; 42] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06, // Ethernet
            0, 1, 0x08, 0x00, 6, 4, 0, 1, // ARP header, op 1 (request)
            2, 0, 0, 0, 0, 1, 10, 98, 0, 50, // sender MAC, sender IP
            0, 0, 0, 0, 0, 0, 10, 98, 0, 50, // target MAC zero, target IP = VIP
        ];
        assert_eq!(req, expect_req);
        assert_eq!(rep[20..22], [0, 2], "op 2 (reply)");
        assert_eq!(
            rep[32..38],
            MAC,
            "the reply form names its own MAC as target"
        );
        assert_eq!(rep[..20], req[..20]);
        assert_eq!(rep[22..32], req[22..32]);
    }

    #[test]
    fn na_carries_override_target_and_link_layer_option() {
        let ip: Ipv6Addr = "fd97::50".parse().unwrap();
        let p = na_payload(MAC, ip);
        assert_eq!(p[0], 136);
        assert_eq!(p[4], 0x20, "override set, solicited clear");
        assert_eq!(p[8..24], ip.octets());
        assert_eq!(p[24..26], [2, 1]);
        assert_eq!(p[26..], MAC);
    }
}
