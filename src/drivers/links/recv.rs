//! One link's receive path: read datagrams in batches, drop those from a source the link does
//! not accept, those that fail the protocol's checks (size, magic, version, key, MAC,
//! cluster) and copies of a datagram already taken on this link, and hand only the rest, put
//! together from their pages, to the loop. A dropped datagram is counted here and costs the
//! engine nothing. After each batch the task yields, so a flood cannot starve the loop.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::batch::Batch;
use super::drops::WRONG_SOURCE;
use super::{Drops, Keys, Received, filter};
use crate::protocol::ReplayGuard;
use crate::protocol::wire::pages::Assembler;
use crate::protocol::wire::{self, Names};

/// What one link's task needs.
pub struct Receiver {
    /// Link name.
    pub link: String,
    /// Its socket.
    pub socket: Arc<UdpSocket>,
    /// The sources it accepts (empty: any).
    pub sources: Vec<IpAddr>,
    /// Whether the kernel filters sources (what passes from elsewhere is a sample).
    pub filtered: bool,
    /// Keys to check with.
    pub keys: Keys,
    /// Where drops are counted.
    pub drops: Drops,
    /// The cluster's name.
    pub cluster: String,
    /// Node and group names by hash.
    pub names: Arc<Names>,
    /// The loop's channel.
    pub tx: mpsc::UnboundedSender<Received>,
}

/// Per-link state kept between batches.
struct State {
    pages: Assembler,
    guard: ReplayGuard,
    dropped: Vec<(&'static str, IpAddr, u64)>,
}

impl Receiver {
    /// Receives until the loop's channel closes (or the task is aborted).
    pub async fn run(self) {
        // One byte over the maximum, so the decoder sees (and counts) oversized input.
        let mut batch = Batch::new(wire::MAX_LEN + 1);
        let mut st = State {
            pages: Assembler::default(),
            guard: ReplayGuard::default(),
            dropped: Vec::new(),
        };
        loop {
            if let Err(e) = self.socket.readable().await {
                tracing::debug!(link = %self.link, error = %e, "heartbeat receive");
                tokio::task::yield_now().await;
                continue;
            }
            loop {
                let read = self
                    .socket
                    .try_io(Interest::READABLE, || batch.recv(self.socket.as_fd()));
                match read {
                    Ok(n) => {
                        if !self.take(&batch, n, &mut st) {
                            return;
                        }
                        tokio::task::yield_now().await;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    // ICMP errors from an earlier send surface here; they are not fatal.
                    Err(e) => tracing::debug!(link = %self.link, error = %e, "heartbeat receive"),
                }
            }
        }
    }

    /// Sorts `n` datagrams of `batch`; false once the loop is gone.
    fn take(&self, batch: &Batch, n: usize, st: &mut State) -> bool {
        let ring = Arc::clone(&self.keys.borrow());
        for i in 0..n {
            let Some((bytes, from)) = batch.get(i) else {
                continue;
            };
            let src = from.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
            if !self.sources.is_empty() && !self.sources.contains(&src) {
                let n = if self.filtered {
                    u64::from(filter::SAMPLE_EVERY)
                } else {
                    1
                };
                st.dropped.push((WRONG_SOURCE, src, n));
                continue;
            }
            let page = match wire::decode(bytes, &ring, &self.cluster, &self.names) {
                Ok(p) => p,
                Err(why) => {
                    st.dropped.push((why.name(), src, 1));
                    continue;
                }
            };
            let Some(datagram) = st.pages.push(page) else {
                continue;
            };
            if let Err(why) = st.guard.accept(&datagram) {
                st.dropped.push((why.name(), src, 1));
                continue;
            }
            let link = self.link.clone();
            if self.tx.send(Received { link, datagram }).is_err() {
                return false;
            }
        }
        if !st.dropped.is_empty() {
            let mut d = self
                .drops
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (why, src, n) in st.dropped.drain(..) {
                d.count(why, src, n);
            }
            if let Some(s) = d.summary_due(Instant::now()) {
                tracing::warn!("heartbeat datagrams dropped {s}");
            }
        }
        true
    }
}
