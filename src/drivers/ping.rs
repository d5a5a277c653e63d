//! The connectivity check (Heartbeat's ping nodes): every `interval`, one ICMP echo request to
//! each target, and the number that answered within `timeout` goes to the engine, which uses
//! it as ipfail does (never run where fewer targets answer) and as the two-node tie-breaker.
//!
//! Raw ICMP sockets (CAP_NET_RAW, which the agent holds for ARP anyway): unprivileged ICMP
//! datagram sockets depend on `net.ipv4.ping_group_range`, which is closed by default.

use std::collections::BTreeSet;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::manifest::model::Connectivity;

const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;

/// An echo request; the kernel computes ICMPv6 checksums itself, ICMPv4's are ours.
pub fn echo_request(v6: bool, id: u16, seq: u16) -> [u8; 16] {
    let mut p = [0u8; 16];
    p[0] = if v6 { ECHO_REQUEST_V6 } else { ECHO_REQUEST_V4 };
    p[4..6].copy_from_slice(&id.to_be_bytes());
    p[6..8].copy_from_slice(&seq.to_be_bytes());
    p[8..16].copy_from_slice(b"haagent\0");
    if !v6 {
        let sum = checksum(&p);
        p[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    p
}

/// The RFC 1071 Internet checksum.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The (id, seq) of an echo reply; `packet` starts with the IPv4 header for ICMPv4 raw sockets
/// and with the ICMPv6 header for ICMPv6 ones.
pub fn parse_reply(v6: bool, packet: &[u8]) -> Option<(u16, u16)> {
    let icmp = if v6 {
        packet
    } else {
        let ihl = usize::from(packet.first()? & 0x0f) * 4;
        packet.get(ihl..)?
    };
    let want = if v6 { ECHO_REPLY_V6 } else { ECHO_REPLY_V4 };
    if icmp.len() < 8 || icmp[0] != want {
        return None;
    }
    let id = u16::from_be_bytes([icmp[4], icmp[5]]);
    let seq = u16::from_be_bytes([icmp[6], icmp[7]]);
    Some((id, seq))
}

/// A raw ICMP socket behind tokio's UDP type: its send_to/recv_from are the plain datagram
/// syscalls, which raw sockets take as they are.
fn raw(v6: bool) -> io::Result<UdpSocket> {
    let (domain, proto) = if v6 {
        (Domain::IPV6, Protocol::ICMPV6)
    } else {
        (Domain::IPV4, Protocol::ICMPV4)
    };
    let s = Socket::new(domain, Type::RAW, Some(proto))?;
    s.set_nonblocking(true)?;
    UdpSocket::from_std(std::net::UdpSocket::from(std::os::fd::OwnedFd::from(s)))
}

/// Spawns the checker; each round's count of answering targets goes to `tx`.
pub fn spawn(cfg: &Connectivity, tx: mpsc::UnboundedSender<u16>) -> io::Result<()> {
    let targets = cfg.ping.clone();
    if targets.is_empty() {
        return Ok(());
    }
    let v4 = targets
        .iter()
        .any(IpAddr::is_ipv4)
        .then(|| raw(false))
        .transpose()?;
    let v6 = targets
        .iter()
        .any(IpAddr::is_ipv6)
        .then(|| raw(true))
        .transpose()?;
    let (every, timeout) = (cfg.interval, cfg.timeout.min(cfg.interval));
    let id = std::process::id() as u16;
    tokio::spawn(async move {
        let mut seq: u16 = 0;
        loop {
            let started = Instant::now();
            seq = seq.wrapping_add(1);
            let n = round(&targets, v4.as_ref(), v6.as_ref(), id, seq, timeout).await;
            if tx.send(n).is_err() {
                return;
            }
            tokio::time::sleep_until(started + every).await;
        }
    });
    Ok(())
}

async fn round(
    targets: &[IpAddr],
    v4: Option<&UdpSocket>,
    v6: Option<&UdpSocket>,
    id: u16,
    seq: u16,
    timeout: Duration,
) -> u16 {
    for t in targets {
        let (sock, is_v6) = match t {
            IpAddr::V4(_) => (v4, false),
            IpAddr::V6(_) => (v6, true),
        };
        if let Some(s) = sock {
            // An unreachable target simply does not answer this round.
            let _ = s
                .send_to(&echo_request(is_v6, id, seq), SocketAddr::new(*t, 0))
                .await;
        }
    }
    let deadline = Instant::now() + timeout;
    let (a, b) = tokio::join!(
        collect(v4, false, (id, seq), targets, deadline),
        collect(v6, true, (id, seq), targets, deadline),
    );
    (a.len() + b.len()) as u16
}

/// The targets of one family that answered `(id, seq)` before `deadline`.
async fn collect(
    sock: Option<&UdpSocket>,
    v6: bool,
    echo: (u16, u16),
    targets: &[IpAddr],
    deadline: Instant,
) -> BTreeSet<IpAddr> {
    let mut answered = BTreeSet::new();
    let Some(sock) = sock else {
        return answered;
    };
    let expected = targets.iter().filter(|t| t.is_ipv6() == v6).count();
    let mut buf = [0u8; 1500];
    while answered.len() < expected {
        tokio::select! {
            r = sock.recv_from(&mut buf) => {
                // Every ICMP packet reaches a raw socket: keep only our echo's replies.
                if let Ok((n, from)) = r
                    && parse_reply(v6, &buf[..n]) == Some(echo)
                    && targets.contains(&from.ip())
                {
                    answered.insert(from.ip());
                }
            }
            _ = tokio::time::sleep_until(deadline) => break,
        }
    }
    answered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_echo_request_checksums_to_zero() {
        let p = echo_request(false, 0x1234, 7);
        assert_eq!(p[0], 8);
        assert_eq!(checksum(&p), 0, "a packet with its checksum sums to zero");
        assert_eq!(
            echo_request(true, 1, 1)[2..4],
            [0, 0],
            "ICMPv6: the kernel's job"
        );
    }

    #[test]
    fn replies_parse_past_the_ipv4_header() {
        let mut reply = echo_request(false, 0x1234, 7);
        reply[0] = 0;
        let mut packet = vec![0x45u8];
        packet.extend_from_slice(&[0; 19]);
        packet.extend_from_slice(&reply);
        assert_eq!(parse_reply(false, &packet), Some((0x1234, 7)));
        assert_eq!(parse_reply(false, &packet[..24]), None, "truncated");
        let mut v6 = echo_request(true, 9, 3);
        v6[0] = 129;
        assert_eq!(parse_reply(true, &v6), Some((9, 3)));
        assert_eq!(
            parse_reply(true, &echo_request(true, 9, 3)),
            None,
            "a request"
        );
    }
}
