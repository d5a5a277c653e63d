//! What a user sees: a client in the client namespace that asks an address every few
//! milliseconds (a UDP datagram, or a TCP connection) and records who answered and the longest
//! time without an answer. The hosts answer through `tb-echo.py`, which replies with its name.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::net::{SocketAddr, SocketAddrV4, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::Result;

/// The echo server's file name in each host's `/run`.
pub const ECHO_SCRIPT_NAME: &str = "tb-echo.py";
/// The echo server.
pub const ECHO_SCRIPT: &str = include_str!("echo.py");

/// A unit that runs the echo server on `port`, bound to `bind` (any address when `None`).
pub fn echo_unit(port: u16, bind: Option<std::net::Ipv4Addr>) -> String {
    let bind = bind.map(|b| format!(" {b}")).unwrap_or_default();
    format!(
        "[Unit]\nDescription=test-bed echo server\n\n[Service]\nExecStart=/usr/bin/python3 -u /run/{ECHO_SCRIPT_NAME} {port}{bind}\n"
    )
}

/// How the probe asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A datagram with a sequence number; the answer must come from the target address.
    Udp,
    /// A TCP connection; the answer is the name the server writes.
    Tcp,
}

/// What the probe saw.
#[derive(Clone, Debug, Default)]
pub struct ProbeReport {
    /// Questions asked.
    pub sent: u64,
    /// Answers received.
    pub answered: u64,
    /// Longest time without an answer: between two answers, before the first or after the last.
    pub longest_gap: Duration,
    /// Answers per host name.
    pub by_host: BTreeMap<String, u64>,
    /// Who answered last.
    pub last_host: Option<String>,
    /// Time from the last answer to the end of the probe.
    pub silent_at_end: Duration,
}

/// A probe running in the background.
pub struct Probe {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Result<ProbeReport>>,
}

impl Probe {
    /// Starts probing `target` from network namespace `netns` every `every`.
    pub fn start(netns: &str, target: SocketAddrV4, mode: Mode, every: Duration) -> Result<Probe> {
        let ns =
            File::open(format!("/run/netns/{netns}")).map_err(|e| format!("netns {netns}: {e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || {
            let entered = enter(&ns);
            let _ = ready_tx.send(entered.clone());
            entered?;
            Ok(run(target, mode, every, &flag))
        });
        ready_rx.recv().map_err(|e| e.to_string())??;
        Ok(Probe { stop, handle })
    }

    /// Stops the probe and returns what it saw.
    pub fn stop(self) -> Result<ProbeReport> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .join()
            .map_err(|_| "probe thread panicked".to_owned())?
    }

    /// Probes for `duration` and returns what it saw.
    pub fn run_for(
        netns: &str,
        target: SocketAddrV4,
        mode: Mode,
        every: Duration,
        duration: Duration,
    ) -> Result<ProbeReport> {
        let probe = Probe::start(netns, target, mode, every)?;
        std::thread::sleep(duration);
        probe.stop()
    }
}

/// Moves this thread (only) into the network namespace.
pub(crate) fn enter(ns: &File) -> Result<()> {
    // SAFETY: setns takes a valid open namespace fd and a flag; it changes only this thread's
    // network namespace, which is what the probe thread exists for.
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(format!("setns: {}", std::io::Error::last_os_error()))
    }
}

fn run(target: SocketAddrV4, mode: Mode, every: Duration, stop: &AtomicBool) -> ProbeReport {
    let mut report = ProbeReport::default();
    let udp = (mode == Mode::Udp)
        .then(|| udp_socket(target, every))
        .flatten();
    let start = Instant::now();
    let mut last_answer = start;
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let asked = Instant::now();
        seq += 1;
        report.sent += 1;
        let answer = match (&udp, mode) {
            (Some(sock), Mode::Udp) => ask_udp(sock, seq, every),
            (_, Mode::Tcp) => ask_tcp(target, every),
            _ => None,
        };
        if let Some(host) = answer {
            let now = Instant::now();
            report.longest_gap = report.longest_gap.max(now - last_answer);
            last_answer = now;
            report.answered += 1;
            *report.by_host.entry(host.clone()).or_default() += 1;
            report.last_host = Some(host);
        }
        if let Some(rest) = every.checked_sub(asked.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    report.silent_at_end = last_answer.elapsed();
    report.longest_gap = report.longest_gap.max(report.silent_at_end);
    report
}

fn udp_socket(target: SocketAddrV4, every: Duration) -> Option<UdpSocket> {
    let sock = UdpSocket::bind("0.0.0.0:0").ok()?;
    sock.connect(target).ok()?;
    sock.set_read_timeout(Some(every.max(Duration::from_millis(1))))
        .ok()?;
    Some(sock)
}

fn ask_udp(sock: &UdpSocket, seq: u64, every: Duration) -> Option<String> {
    let question = seq.to_string();
    sock.send(question.as_bytes()).ok()?;
    let deadline = Instant::now() + every;
    let mut buf = [0u8; 512];
    // Late answers to earlier questions are skipped: only this question's answer counts.
    while Instant::now() < deadline {
        let n = sock.recv(&mut buf).ok()?;
        let text = String::from_utf8_lossy(&buf[..n]);
        if let Some((host, s)) = text.rsplit_once(' ')
            && s == question
        {
            return Some(host.to_owned());
        }
    }
    None
}

fn ask_tcp(target: SocketAddrV4, every: Duration) -> Option<String> {
    let timeout = every.max(Duration::from_millis(20));
    let mut stream = TcpStream::connect_timeout(&SocketAddr::V4(target), timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    let mut name = String::new();
    stream.read_to_string(&mut name).ok()?;
    (!name.is_empty()).then_some(name)
}

/// Asks the echo server at `target` how many datagrams it has received, from netns `netns`.
pub fn echo_count(netns: &str, target: SocketAddrV4) -> Result<u64> {
    let ns =
        File::open(format!("/run/netns/{netns}")).map_err(|e| format!("netns {netns}: {e}"))?;
    std::thread::spawn(move || {
        enter(&ns)?;
        let sock =
            udp_socket(target, Duration::from_millis(500)).ok_or("cannot open a UDP socket")?;
        for _ in 0..5 {
            let _ = sock.send(b"stats");
            let mut buf = [0u8; 512];
            if let Ok(n) = sock.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                let count = text.rsplit_once(' ').and_then(|(_, c)| c.parse().ok());
                return count.ok_or_else(|| format!("odd stats answer `{text}`"));
            }
        }
        Err(format!("no stats answer from {target}"))
    })
    .join()
    .map_err(|_| "stats thread panicked".to_owned())?
}
