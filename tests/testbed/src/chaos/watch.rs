//! The checker's eyes, which never ask the agent: one thread reads, every few milliseconds,
//! each host's local addresses from its kernel (`/proc/PID/net/fib_trie` of the host's PID 1:
//! the routing table of its network namespace) and whether the web unit's cgroup holds a
//! process (`cgroup.procs` under the host's cgroup); another, in the client's namespace, asks
//! every VIP every 5 ms and records which host answered. Both keep only changes and answers.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cleanup;

/// What the checker saw of one host at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostSeen {
    /// Its systemd runs.
    pub up: bool,
    /// Its cgroup is frozen (`cgroup.freeze`).
    pub frozen: bool,
    /// Bit `g` set: the VIP of group `g` is one of its local addresses.
    pub vips: u8,
    /// The web unit's cgroup holds a process.
    pub unit: bool,
}

/// Everything the two threads recorded; times in ms since the campaign's start.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    /// `(t, every host's state)` whenever any host's state changed.
    pub states: Vec<(u64, Vec<HostSeen>)>,
    /// The longest time between two samples of the hosts.
    pub max_sample_gap_ms: u64,
    /// Samples taken.
    pub samples: u64,
    /// Per group: `(t, host index)` of every answer.
    pub answers: Vec<Vec<(u64, u8)>>,
    /// Per group: questions asked.
    pub asked: Vec<u64>,
    /// When the threads stopped.
    pub end_ms: u64,
}

/// The host sampler's record: state changes, longest gap between samples, samples taken.
type Samples = (Vec<(u64, Vec<HostSeen>)>, u64, u64);
/// The client's record: per group, `(t, host)` of every answer; per group, questions asked.
type Answers = (Vec<Vec<(u64, u8)>>, Vec<u64>);

/// The two recording threads.
pub struct Watch {
    stop: Arc<AtomicBool>,
    hosts: JoinHandle<Samples>,
    client: JoinHandle<crate::Result<Answers>>,
    t0: Instant,
}

/// Time since `t0` in whole milliseconds.
pub fn ms(t0: Instant) -> u64 {
    t0.elapsed().as_millis() as u64
}

impl Watch {
    /// Starts both threads. `cgroups` are the hosts' cgroups on the machine, in index order.
    pub fn start(
        t0: Instant,
        cgroups: Vec<PathBuf>,
        vips: Vec<SocketAddrV4>,
        client_netns: &str,
    ) -> crate::Result<Watch> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let addrs: Vec<Ipv4Addr> = vips.iter().map(|v| *v.ip()).collect();
        let hosts = std::thread::spawn(move || sample_hosts(t0, &cgroups, &addrs, &flag));
        let ns = File::open(format!("/run/netns/{client_netns}"))
            .map_err(|e| format!("netns {client_netns}: {e}"))?;
        let flag = stop.clone();
        let client = std::thread::spawn(move || {
            crate::probe::enter(&ns)?;
            ask_vips(t0, &vips, &flag)
        });
        Ok(Watch {
            stop,
            hosts,
            client,
            t0,
        })
    }

    /// Stops both threads and returns what they saw.
    pub fn finish(self) -> crate::Result<Timeline> {
        self.stop.store(true, Ordering::Relaxed);
        let (states, max_sample_gap_ms, samples) =
            self.hosts.join().map_err(|_| "host sampler panicked")?;
        let (answers, asked) = self.client.join().map_err(|_| "client prober panicked")??;
        Ok(Timeline {
            states,
            max_sample_gap_ms,
            samples,
            answers,
            asked,
            end_ms: ms(self.t0),
        })
    }
}

fn sample_hosts(t0: Instant, cgroups: &[PathBuf], vips: &[Ipv4Addr], stop: &AtomicBool) -> Samples {
    let mut states: Vec<(u64, Vec<HostSeen>)> = Vec::new();
    let (mut last, mut max_gap, mut samples) = (0u64, 0u64, 0u64);
    while !stop.load(Ordering::Relaxed) {
        let seen: Vec<HostSeen> = cgroups.iter().map(|cg| host_seen(cg, vips)).collect();
        let t = ms(t0);
        if samples > 0 {
            max_gap = max_gap.max(t - last);
        }
        (last, samples) = (t, samples + 1);
        if states.last().is_none_or(|(_, s)| *s != seen) {
            states.push((t, seen));
        }
        std::thread::sleep(Duration::from_millis(4));
    }
    (states, max_gap, samples)
}

/// One host's state, from files of the machine only.
pub fn host_seen(cg: &std::path::Path, vips: &[Ipv4Addr]) -> HostSeen {
    let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
    let Some(pid) = read(cg.join("init.scope/cgroup.procs"))
        .lines()
        .next()
        .and_then(|l| l.trim().parse::<u32>().ok())
    else {
        return HostSeen::default();
    };
    let local = local_addrs(&read(PathBuf::from(format!("/proc/{pid}/net/fib_trie"))));
    let vips = vips
        .iter()
        .enumerate()
        .filter(|(_, v)| local.contains(v))
        .fold(0u8, |acc, (g, _)| acc | 1 << g);
    HostSeen {
        up: true,
        frozen: read(cg.join("cgroup.freeze")).trim() == "1",
        vips,
        unit: !read(
            cg.join("system.slice")
                .join(super::setup::WEB_UNIT)
                .join("cgroup.procs"),
        )
        .trim()
        .is_empty(),
    }
}

/// The local addresses of a `fib_trie` listing: each `|-- ADDR` line followed by a
/// `/32 host LOCAL` line.
pub fn local_addrs(trie: &str) -> Vec<Ipv4Addr> {
    let mut out = Vec::new();
    let mut addr = None;
    for line in trie.lines() {
        let line = line.trim();
        if let Some(a) = line.strip_prefix("|-- ") {
            addr = a.parse::<Ipv4Addr>().ok();
        } else if line.starts_with("/32 host LOCAL")
            && let Some(a) = addr
            && !out.contains(&a)
        {
            out.push(a);
        }
    }
    out
}

/// Asks each VIP every 5 ms (`G:SEQ`); an echo server answers `HOSTNAME G:SEQ`. An answer to
/// the current or the previous round counts.
fn ask_vips(t0: Instant, vips: &[SocketAddrV4], stop: &AtomicBool) -> crate::Result<Answers> {
    let sock = UdpSocket::bind("0.0.0.0:0").map_err(|e| e.to_string())?;
    let mut answers = vec![Vec::new(); vips.len()];
    let mut asked = vec![0u64; vips.len()];
    let every = Duration::from_millis(5);
    let mut seq = 0u64;
    let mut buf = [0u8; 256];
    while !stop.load(Ordering::Relaxed) {
        // A round missed (the machine busy) is skipped, not made up for in a burst.
        seq = (seq + 1).max((t0.elapsed().as_micros() / every.as_micros()) as u64);
        for (g, v) in vips.iter().enumerate() {
            let _ = sock.send_to(format!("{g}:{seq}").as_bytes(), v);
            asked[g] += 1;
        }
        // Rounds start on a fixed grid, so that a slow round does not stretch the next.
        let next = t0 + every * seq as u32;
        while let Some(left) = next.checked_duration_since(Instant::now()) {
            let _ = sock.set_read_timeout(Some(left.max(Duration::from_micros(100))));
            let Ok(n) = sock.recv(&mut buf) else { continue };
            let text = String::from_utf8_lossy(&buf[..n]);
            let Some((host, q)) = text.rsplit_once(' ') else {
                continue;
            };
            let Some((g, s)) = q.split_once(':') else {
                continue;
            };
            let (Ok(g), Ok(s)) = (g.parse::<usize>(), s.parse::<u64>()) else {
                continue;
            };
            let Some(h) = host.strip_prefix('h').and_then(|i| i.parse::<u8>().ok()) else {
                continue;
            };
            if g < vips.len() && s + 1 >= seq {
                answers[g].push((ms(t0), h - 1));
            }
        }
    }
    Ok((answers, asked))
}

/// The cgroup of each host of a bed on the machine, in index order.
pub fn cgroups(prefix: &str, hosts: usize) -> Vec<PathBuf> {
    (1..=hosts)
        .map(|i| cleanup::cgroup_base().join(crate::net::netns(prefix, &format!("h{i}"))))
        .collect()
}
