//! The links' two system calls that neither the standard library nor socket2 offers: reading
//! many datagrams per call (`recvmmsg`), so a flood costs one wake-up per batch rather than
//! per datagram, and forcing a receive buffer beyond `net.core.rmem_max` (`SO_RCVBUFFORCE`,
//! root only). The only `unsafe` of the links, kept to filling and reading C structures.
#![allow(unsafe_code)]

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, BorrowedFd};

/// Datagrams read per call at most.
pub const BATCH: usize = 64;

/// Buffers for one `recvmmsg` call of up to [`BATCH`] datagrams of `slot` bytes each.
pub struct Batch {
    slot: usize,
    data: Vec<u8>,
    names: Vec<libc::sockaddr_storage>,
    got: Vec<(usize, Option<SocketAddr>)>,
}

impl Batch {
    /// Room for [`BATCH`] datagrams of up to `slot` bytes (longer ones are cut to `slot`).
    pub fn new(slot: usize) -> Batch {
        Batch {
            slot,
            data: vec![0; slot.saturating_mul(BATCH)],
            // SAFETY: sockaddr_storage is plain data; all zeroes is a valid (unspecified) value.
            names: vec![unsafe { std::mem::zeroed() }; BATCH],
            got: Vec::with_capacity(BATCH),
        }
    }

    /// Reads the datagrams waiting on `fd` without blocking, up to [`BATCH`]; how many were
    /// read, or `WouldBlock` if none was waiting.
    pub fn recv(&mut self, fd: BorrowedFd<'_>) -> io::Result<usize> {
        self.got.clear();
        let mut iovecs: Vec<libc::iovec> = self
            .data
            .chunks_exact_mut(self.slot)
            .map(|c| libc::iovec {
                iov_base: c.as_mut_ptr().cast(),
                iov_len: c.len(),
            })
            .collect();
        let mut hdrs: Vec<libc::mmsghdr> = iovecs
            .iter_mut()
            .zip(self.names.iter_mut())
            .map(|(iov, name)| {
                // SAFETY: msghdr is plain data; the fields that matter are set below.
                let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
                h.msg_name = std::ptr::from_mut(name).cast();
                h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
                h.msg_iov = std::ptr::from_mut(iov);
                h.msg_iovlen = 1;
                libc::mmsghdr {
                    msg_hdr: h,
                    msg_len: 0,
                }
            })
            .collect();
        let len = libc::c_uint::try_from(hdrs.len()).unwrap_or(0);
        // SAFETY: every header points into `iovecs`, `self.data` and `self.names`, which live
        // (unmoved) until the call returns; the kernel writes within the lengths given.
        let n = unsafe {
            libc::recvmmsg(
                fd.as_raw_fd(),
                hdrs.as_mut_ptr(),
                len,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
        for (h, name) in hdrs.iter().zip(&self.names).take(n) {
            let len = usize::try_from(h.msg_len).unwrap_or(0).min(self.slot);
            // SAFETY: the kernel filled the name it was given (or left it zeroed).
            let from = unsafe { socket_addr(name) };
            self.got.push((len, from));
        }
        Ok(n)
    }

    /// Datagram `i` of the last read: its bytes and its source.
    pub fn get(&self, i: usize) -> Option<(&[u8], Option<SocketAddr>)> {
        let (len, from) = *self.got.get(i)?;
        let start = i.checked_mul(self.slot)?;
        Some((self.data.get(start..start.checked_add(len)?)?, from))
    }
}

/// The source address in `s`, if IPv4 or IPv6.
///
/// # Safety
/// `s` must hold a socket address as the kernel writes it (its family says its layout).
unsafe fn socket_addr(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match libc::c_int::from(s.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says this is a sockaddr_in, which sockaddr_storage can hold.
            let a = unsafe { &*std::ptr::from_ref(s).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddrV4::new(ip, u16::from_be(a.sin_port)).into())
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this is a sockaddr_in6, which sockaddr_storage can hold.
            let a = unsafe { &*std::ptr::from_ref(s).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            let port = u16::from_be(a.sin6_port);
            Some(SocketAddrV6::new(ip, port, a.sin6_flowinfo, a.sin6_scope_id).into())
        }
        _ => None,
    }
}

/// Sets the receive buffer to `bytes` beyond `net.core.rmem_max` (root only).
pub fn force_recv_buffer(fd: BorrowedFd<'_>, bytes: usize) -> io::Result<()> {
    let v = libc::c_int::try_from(bytes).map_err(io::Error::other)?;
    // SAFETY: a c_int option value, passed with its size.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            std::ptr::from_ref(&v).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
