//! What the agent reports beyond its decisions: the status `haagentctl status` shows, the
//! picture a metrics scrape renders, and the metrics endpoint itself (started, moved by a
//! reload, stopped).

use std::time::SystemTime;

use super::Agent;
use crate::control;
use crate::manifest::Manifest;

impl Agent {
    /// The status `haagentctl status` shows.
    pub(super) fn status(&self) -> control::status::Status {
        let snapshot = self.engine.snapshot(self.now());
        let drops = self.drops.lock().map(|d| d.report()).unwrap_or_default();
        let t = &self.m.heartbeat;
        let wall = SystemTime::now();
        let mut s = control::status::build(snapshot, t, wall, &self.exec.history, drops);
        s.loop_latency = self.latency.report(self.now().0);
        s
    }

    /// What a metrics scrape shows.
    pub(super) fn scrape(&self) -> control::metrics::Scrape {
        let c = &self.exec.notifier.counts;
        let n = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        control::metrics::Scrape {
            status: self.status(),
            tracker: self.exec.tracker.clone(),
            notifications: [n(&c.started), n(&c.failed), n(&c.dropped)],
            reloads: self.reloads.clone(),
            digest: self.engine.digest(),
        }
    }

    /// (Re)starts the metrics endpoint the manifest asks for, if it is not the one listening.
    pub(super) fn serve_metrics(&mut self, old: Option<&Manifest>) {
        let want = self.m.metrics.as_ref().map(|e| e.listen);
        if self.metrics.is_some() && old.and_then(|o| o.metrics.as_ref()).map(|e| e.listen) == want
        {
            return;
        }
        if let Some(task) = self.metrics.take() {
            task.abort();
        }
        let Some(addr) = want else { return };
        // Bound here (a quick syscall), so a port in use is reported at once, then served
        // off the loop.
        let bound = std::net::TcpListener::bind(addr)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .and_then(tokio::net::TcpListener::from_std);
        match bound {
            Ok(l) => {
                tracing::info!(listen = %addr, "serving metrics on /metrics");
                let task = tokio::spawn(control::metrics::http::serve(l, self.scrape_tx.clone()));
                self.metrics = Some(task.abort_handle());
            }
            Err(e) => {
                tracing::error!(listen = %addr, error = %e, "cannot serve metrics: the endpoint is off")
            }
        }
    }
}
