//! A flooder: a thread in a namespace (the client's) that sends forged heartbeats at full
//! speed to one address: haagent's (UDP: its magic, format 3, key id 1 and a MAC of junk, so
//! each reaches the MAC check of a socket that accepts its source) or keepalived's (VRRPv3
//! advertisements of the right router id with a wrong checksum). The source is the
//! namespace's own address, or any address forged with a raw socket (a peer's, to pass a
//! source filter).

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::Result;

/// What the flooder sent.
#[derive(Clone, Copy, Debug, Default)]
pub struct FloodReport {
    /// Datagrams sent.
    pub sent: u64,
    /// Send calls the kernel refused (buffer full).
    pub refused: u64,
    /// For how long.
    pub elapsed: Duration,
}

impl FloodReport {
    /// Datagrams per second.
    pub fn rate(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Whose heartbeats are forged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forged {
    /// haagent's datagrams, to the given UDP port.
    Haagent,
    /// VRRPv3 advertisements (IP protocol 112) of router id 51, as keepalived speaks.
    Vrrp,
}

/// A flood running in the background.
pub struct Flood {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Result<FloodReport>>,
}

/// The forged payload: `size` bytes (at least a header and a MAC).
pub fn payload(size: usize) -> Vec<u8> {
    let mut p = vec![0u8; size.max(48)];
    p[..8].copy_from_slice(&[b'H', b'A', b'A', b'G', 3, 0, 1, 0]);
    for (i, b) in p.iter_mut().enumerate().skip(8) {
        *b = (i % 251) as u8;
    }
    p
}

impl Flood {
    /// Floods `target` from namespace `netns` with `size`-byte datagrams; from `spoof` as the
    /// source address when given (a raw socket), else from the namespace's own address.
    pub fn start(
        netns: &str,
        target: SocketAddrV4,
        spoof: Option<Ipv4Addr>,
        size: usize,
    ) -> Result<Flood> {
        Flood::of(Forged::Haagent, netns, target, spoof, size)
    }

    /// Floods as [`Flood::start`] does, with `forged` heartbeats (VRRP ignores the port); a
    /// VRRP flood needs `spoof` (the source, forged or not).
    pub fn of(
        forged: Forged,
        netns: &str,
        target: SocketAddrV4,
        spoof: Option<Ipv4Addr>,
        size: usize,
    ) -> Result<Flood> {
        let ns =
            File::open(format!("/run/netns/{netns}")).map_err(|e| format!("netns {netns}: {e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || {
            // SAFETY: setns with an open namespace fd changes only this thread's namespace.
            let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            let entered = match rc {
                0 => Ok(()),
                _ => Err(format!("setns: {}", std::io::Error::last_os_error())),
            };
            let _ = ready_tx.send(entered.clone());
            entered?;
            match spoof {
                Some(src) => raw(&packet(forged, src, target, size), *target.ip(), &flag),
                None if forged == Forged::Haagent => plain(target, size, &flag),
                None => Err("a VRRP flood needs its source address".into()),
            }
        });
        ready_rx.recv().map_err(|e| e.to_string())??;
        Ok(Flood { stop, handle })
    }

    /// Stops the flood and returns what it sent.
    pub fn stop(self) -> Result<FloodReport> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .join()
            .map_err(|_| "flood thread panicked".to_owned())?
    }
}

fn plain(target: SocketAddrV4, size: usize, stop: &AtomicBool) -> Result<FloodReport> {
    let s = UdpSocket::bind("0.0.0.0:0").map_err(|e| format!("flood socket: {e}"))?;
    let p = payload(size);
    let mut r = FloodReport::default();
    let start = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..256 {
            match s.send_to(&p, target) {
                Ok(_) => r.sent += 1,
                Err(_) => r.refused += 1,
            }
        }
    }
    r.elapsed = start.elapsed();
    Ok(r)
}

/// The IPv4 packet of one forged heartbeat of `size` bytes (UDP payload, or VRRP message), by hand; the
/// kernel fills the IP checksum and id. haagent's: UDP without a checksum (IPv4 allows it);
/// VRRP's: TTL 255 as RFC 5798 requires, its checksum wrong on purpose.
pub fn packet(forged: Forged, src: Ipv4Addr, target: SocketAddrV4, size: usize) -> Vec<u8> {
    let body = match forged {
        Forged::Haagent => {
            let body = payload(size);
            let mut udp = Vec::with_capacity(8 + body.len());
            udp.extend_from_slice(&40000u16.to_be_bytes());
            udp.extend_from_slice(&target.port().to_be_bytes());
            udp.extend_from_slice(&((8 + body.len()) as u16).to_be_bytes());
            udp.extend_from_slice(&[0, 0]);
            udp.extend_from_slice(&body);
            udp
        }
        Forged::Vrrp => {
            // Version 3, advertisement; router id 51, priority 200, one address, 1 s.
            let mut v = vec![0x31, 51, 200, 1, 0x00, 100, 0xde, 0xad];
            v.extend_from_slice(&target.ip().octets());
            v.resize(size.max(v.len()), 0);
            v
        }
    };
    let (proto, ttl) = match forged {
        Forged::Haagent => (libc::IPPROTO_UDP as u8, 64),
        Forged::Vrrp => (112, 255),
    };
    let total = 20 + body.len();
    let mut pkt = vec![0u8; 20];
    pkt[0] = 0x45;
    pkt[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    pkt[8] = ttl;
    pkt[9] = proto;
    pkt[12..16].copy_from_slice(&src.octets());
    pkt[16..20].copy_from_slice(&target.ip().octets());
    pkt.extend_from_slice(&body);
    pkt
}

/// Sends `pkt` (a whole IPv4 packet) to `dst` through a raw socket until stopped.
fn raw(pkt: &[u8], dst: Ipv4Addr, stop: &AtomicBool) -> Result<FloodReport> {
    // SAFETY: plain socket creation; the fd is owned at once.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW) };
    if fd < 0 {
        return Err(format!("raw socket: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: fd is a fresh socket nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_in is plain data.
    let mut to: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    to.sin_family = libc::AF_INET as libc::sa_family_t;
    to.sin_addr.s_addr = u32::from(dst).to_be();
    let mut r = FloodReport::default();
    let start = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..256 {
            // SAFETY: the buffer and address outlive the call and are passed with their sizes.
            let n = unsafe {
                libc::sendto(
                    fd.as_raw_fd(),
                    pkt.as_ptr().cast(),
                    pkt.len(),
                    0,
                    std::ptr::from_ref(&to).cast(),
                    size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            };
            if n < 0 {
                r.refused += 1;
            } else {
                r.sent += 1;
            }
        }
    }
    r.elapsed = start.elapsed();
    Ok(r)
}
