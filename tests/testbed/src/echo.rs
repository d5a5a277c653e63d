//! The echo server in Rust (`tb-echo`), for measurements where the service's own start-up
//! time must not hide the agent's: it answers within a millisecond of exec, where the Python
//! one (`echo.py`) needs a hundred or more. Same protocol: each UDP datagram and each TCP
//! connection gets this host's name (and the datagram back).

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};
use std::path::PathBuf;

use libc::{IP_FREEBIND, SOL_IP};

/// The `tb-echo` binary of the running executable's profile, built first if needed.
pub fn binary() -> crate::Result<PathBuf> {
    Ok(crate::build::cargo_build(&["-p", "haagent-testbed", "--bin", "tb-echo"])?.join("tb-echo"))
}

/// A unit running `tb-echo` on `port`, bound to `bind`. It is built first, into the cargo
/// profile directory every host sees at [`crate::BIN_DIR`] (a bed's default `bin_dir`): the
/// path cargo wrote it to may be hidden from the hosts (a checkout under `/tmp`, say).
pub fn unit(port: u16, bind: Ipv4Addr) -> crate::Result<String> {
    binary()?;
    Ok(format!(
        "[Unit]\nDescription=test-bed echo server (native)\n\n[Service]\nExecStart={}/tb-echo {port} {bind}\n# Within the stop budget of the quickest timers the tests use (a stop takes a millisecond).\nTimeoutStopSec=200ms\n",
        crate::BIN_DIR
    ))
}

/// Serves forever on `port` at `bind`.
pub fn serve(port: u16, bind: Ipv4Addr) -> std::io::Result<()> {
    let name = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let name = name.trim().to_owned();
    let addr = SocketAddrV4::new(bind, port);
    let tcp = listener(addr)?;
    let tcp_name = name.clone();
    std::thread::spawn(move || {
        for mut conn in tcp.incoming().flatten() {
            let _ = conn.write_all(tcp_name.as_bytes());
        }
    });
    let udp = udp(addr)?;
    let mut buf = [0u8; 512];
    loop {
        let (n, peer) = udp.recv_from(&mut buf)?;
        let mut reply = name.as_bytes().to_vec();
        reply.push(b' ');
        reply.extend_from_slice(&buf[..n]);
        let _ = udp.send_to(&reply, peer);
    }
}

/// Binding to a VIP that is not there yet (`IP_FREEBIND`), so replies leave from the VIP.
fn freebind(fd: std::os::fd::RawFd) {
    let one: libc::c_int = 1;
    // SAFETY: a plain setsockopt on an open socket with a correctly sized int option.
    unsafe {
        libc::setsockopt(
            fd,
            SOL_IP,
            IP_FREEBIND,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

fn socket(kind: libc::c_int, addr: SocketAddrV4) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: socket() returns a new descriptor we own, or -1.
    let fd = unsafe { libc::socket(libc::AF_INET, kind, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh, valid descriptor owned by nobody else.
    let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    freebind(fd);
    let one: libc::c_int = 1;
    // SAFETY: as in freebind.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    let sa = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*addr.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: sa is a valid sockaddr_in of the size passed.
    let rc = unsafe {
        libc::bind(
            fd,
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(owned)
}

fn listener(addr: SocketAddrV4) -> std::io::Result<TcpListener> {
    let fd = socket(libc::SOCK_STREAM, addr)?;
    use std::os::fd::AsRawFd;
    // SAFETY: listen on a bound stream socket.
    if unsafe { libc::listen(fd.as_raw_fd(), 128) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(TcpListener::from(fd))
}

fn udp(addr: SocketAddrV4) -> std::io::Result<UdpSocket> {
    Ok(UdpSocket::from(socket(libc::SOCK_DGRAM, addr)?))
}
