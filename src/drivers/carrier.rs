//! The carrier of the interfaces VIPs track (`track_interface`), read from sysfs every 100 ms
//! and reported when it changes (and once at start for each): `carrier` is `1` with a link,
//! `0` without, and unreadable while the interface is down or gone, which counts as no
//! carrier. A poll of a handful of files rather than a netlink link monitor: it cannot miss a
//! change between a dump and a subscription, and 100 ms is well below any `dead_after`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::engine::Input;

/// How often the carriers are read.
const EVERY: Duration = Duration::from_millis(100);

/// The watcher; dropping it ends the task.
pub struct Carrier {
    wanted: watch::Sender<BTreeSet<String>>,
}

impl Carrier {
    /// Watches `interfaces`, reporting to `tx`.
    pub fn spawn(interfaces: BTreeSet<String>, tx: mpsc::UnboundedSender<Input>) -> Carrier {
        let (wanted, mut rx) = watch::channel(interfaces);
        tokio::spawn(async move {
            let mut known: BTreeMap<String, bool> = BTreeMap::new();
            let mut tick = tokio::time::interval(EVERY);
            loop {
                tick.tick().await;
                if rx.has_changed().is_err() {
                    return;
                }
                let wanted = rx.borrow_and_update().clone();
                known.retain(|i, _| wanted.contains(i));
                for interface in wanted {
                    let up = has_carrier(&interface);
                    if known.insert(interface.clone(), up) != Some(up) {
                        if !up {
                            tracing::warn!(interface, "tracked interface has no carrier");
                        }
                        if tx.send(Input::Carrier { interface, up }).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Carrier { wanted }
    }

    /// Watches these interfaces from now on (a reload).
    pub fn track(&self, interfaces: BTreeSet<String>) {
        self.wanted.send_replace(interfaces);
    }
}

/// Whether `interface` has a carrier now.
pub fn has_carrier(interface: &str) -> bool {
    std::fs::read_to_string(format!("/sys/class/net/{interface}/carrier"))
        .is_ok_and(|s| s.trim() == "1")
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_interface_that_does_not_exist_has_no_carrier() {
        assert!(!super::has_carrier("hc-none0"));
    }
}
