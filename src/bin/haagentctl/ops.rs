//! The commands that talk to the running agent over D-Bus: status, failover, standby, online,
//! clear, reload. Every call has a time limit (`--call-timeout`), so an agent that holds its
//! bus name but does not answer is reported instead of waited for. Exit codes: 0 done (status:
//! every group running), 1 degraded or refused, and those of [`crate::failure`].

use std::future::Future;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use haagent::control::access::Need;
use haagent::control::proxy::AgentProxy;
use haagent::control::status::Status;
use zbus::proxy::CacheProperties;

use crate::failure::Failure;
use crate::render;

/// The least time between two redraws of `status --watch`.
pub const WATCH_GAP: Duration = Duration::from_millis(250);
/// The most time between two redraws of `status --watch`.
pub const WATCH_REFRESH: Duration = Duration::from_secs(5);

/// A connection to the local agent.
pub struct Agent {
    proxy: AgentProxy<'static>,
    limit: Duration,
}

/// Connects to the agent on the system bus, each step within `limit`.
pub async fn connect(limit: Duration) -> Result<Agent, Failure> {
    let conn = tokio::time::timeout(limit, zbus::Connection::system())
        .await
        .map_err(|_| {
            Failure::Unreachable(format!(
                "the system bus did not answer within {limit:?}; is dbus running? (`systemctl status dbus`)"
            ))
        })?
        .map_err(|e| Failure::no_bus(&e))?;
    // No property cache: it would fetch every property first, and wait on a silent agent.
    let proxy = AgentProxy::builder(&conn)
        .cache_properties(CacheProperties::No)
        .build()
        .await
        .map_err(|e| Failure::no_bus(&e))?;
    let agent = Agent { proxy, limit };
    // A proxy is made without a call; ask once so an absent agent is reported as such.
    agent.call("Node", Need::Read, agent.proxy.node()).await?;
    Ok(agent)
}

impl Agent {
    /// One call to the agent, within the call timeout.
    async fn call<T>(
        &self,
        name: &str,
        need: Need,
        call: impl Future<Output = zbus::Result<T>>,
    ) -> Result<T, Failure> {
        match tokio::time::timeout(self.limit, call).await {
            Ok(r) => r.map_err(|e| Failure::of_call(e, name, need)),
            Err(_) => Err(Failure::timeout(name, self.limit)),
        }
    }

    /// A call that changes the cluster.
    async fn change<T>(
        &self,
        name: &str,
        call: impl Future<Output = zbus::Result<T>>,
    ) -> Result<T, Failure> {
        self.call(name, Need::Change, call).await
    }

    /// The status.
    pub async fn status(&self) -> anyhow::Result<Status> {
        let json = self.call("Status", Need::Read, self.proxy.status()).await?;
        serde_json::from_str(&json).context("the agent's status is not what this haagentctl reads")
    }

    /// `haagentctl status`.
    pub async fn print_status(&self, json: bool) -> anyhow::Result<ExitCode> {
        let s = self.status().await?;
        if json {
            println!("{}", serde_json::to_string_pretty(&s)?);
        } else {
            print!("{}", render::status(&s, std::time::SystemTime::now()));
        }
        let healthy = s.groups.values().all(|g| g.state == "running");
        Ok(ExitCode::from(if healthy { 0 } else { 1 }))
    }

    /// `haagentctl status --watch`: the status again on every `Changed` signal, at most one
    /// redraw per [`WATCH_GAP`] (signals in between are one redraw), and every
    /// [`WATCH_REFRESH`] anyway so the ages stay true. Runs until interrupted or the agent
    /// goes away.
    pub async fn watch_status(&self, json: bool) -> anyhow::Result<ExitCode> {
        use futures_util::StreamExt as _;
        use std::io::IsTerminal as _;
        let mut changed = self
            .call("Changed", Need::Read, self.proxy.receive_changed())
            .await?;
        let wake = std::sync::Arc::new(tokio::sync::Notify::new());
        let waker = wake.clone();
        // Drains the signals and never calls out: zbus stops reading the socket, replies
        // included, while a stream's queue is full (see drivers/systemd.rs).
        tokio::spawn(async move {
            while changed.next().await.is_some() {
                waker.notify_one();
            }
        });
        let tty = std::io::stdout().is_terminal();
        loop {
            let s = self.status().await?;
            if json {
                println!("{}", serde_json::to_string(&s)?);
            } else {
                let now = std::time::SystemTime::now();
                let head = format!(
                    "{} (redrawn on every change; Ctrl-C to stop)",
                    haagent::control::status::rfc3339(now)
                );
                let clear = if tty { "\x1b[H\x1b[2J" } else { "\n" };
                print!("{clear}{head}\n{}", render::status(&s, now));
            }
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(WATCH_REFRESH) => {}
            }
            tokio::time::sleep(WATCH_GAP).await;
        }
    }

    /// `haagentctl standby` / `online`.
    pub async fn standby(&self, node: Option<String>, on: bool) -> anyhow::Result<ExitCode> {
        let node = match node {
            Some(n) => n,
            None => self.status().await?.node,
        };
        if on {
            self.change("Standby", self.proxy.standby(&node)).await?;
            println!(
                "{node} is in standby: it gives up its groups and takes none until `haagentctl online {node}`"
            );
        } else {
            self.change("Online", self.proxy.online(&node)).await?;
            println!("{node} is online: it may run groups again");
        }
        Ok(ExitCode::SUCCESS)
    }

    /// `haagentctl clear GROUP`.
    pub async fn clear(&self, group: &str) -> anyhow::Result<ExitCode> {
        self.change("Clear", self.proxy.clear(group)).await?;
        println!(
            "{group}: operator moves and failure marks cleared; it may return to its preferred node"
        );
        Ok(ExitCode::SUCCESS)
    }

    /// `haagentctl unblock GROUP [NODE]`.
    pub async fn unblock(&self, group: &str, node: Option<String>) -> anyhow::Result<ExitCode> {
        let node = match node {
            Some(n) => n,
            None => self.proxy.node().await?,
        };
        self.change("Unblock", self.proxy.unblock(group, &node))
            .await?;
        println!("{group}: no longer counted as running on {node}; it may start elsewhere");
        Ok(ExitCode::SUCCESS)
    }

    /// `haagentctl maintenance on|off [GROUP]`.
    pub async fn maintenance(&self, on: bool, group: Option<String>) -> anyhow::Result<ExitCode> {
        let g = group.as_deref().unwrap_or("");
        self.change("Maintenance", self.proxy.maintenance(g, on))
            .await?;
        let what = group.unwrap_or_else(|| "the cluster".into());
        if on {
            println!(
                "{what} in maintenance on every node: nothing is started, stopped or moved until `haagentctl maintenance off`"
            );
        } else {
            println!("{what} out of maintenance: each node puts right what changed meanwhile");
        }
        Ok(ExitCode::SUCCESS)
    }

    /// `haagentctl reload`.
    pub async fn reload(&self) -> anyhow::Result<ExitCode> {
        self.change("Reload", self.proxy.reload()).await?;
        println!("manifest reloaded");
        Ok(ExitCode::SUCCESS)
    }

    /// `haagentctl failover [GROUP] [--to NODE]`: a planned move, waiting for it unless told not
    /// to. Without a group, this node goes into standby (every group leaves it), like
    /// Heartbeat's `hb_standby`.
    pub async fn failover(
        &self,
        group: Option<String>,
        to: Option<String>,
        wait: Option<Duration>,
    ) -> anyhow::Result<ExitCode> {
        let s = self.status().await?;
        let Some(group) = group else {
            let me = s.node.clone();
            self.change("Standby", self.proxy.standby(&me)).await?;
            println!(
                "{me} is in standby; its groups move away (`haagentctl online {me}` undoes it)"
            );
            if let Some(limit) = wait {
                self.wait_until(limit, |s| {
                    s.groups
                        .values()
                        .all(|g| g.owner.as_deref() != Some(&me) || g.state != "running")
                })
                .await?;
            }
            return Ok(ExitCode::SUCCESS);
        };
        let g = s.groups.get(&group).with_context(|| {
            let known: Vec<&String> = s.groups.keys().collect();
            format!(
                "unknown group `{group}`; groups: {}",
                haagent::text::quoted_list(&known)
            )
        })?;
        let from = g.owner.clone();
        // Without a target, the agent's engine picks one (the same rule status shows as
        // `next`) and says which.
        let to = self
            .change(
                "Move",
                self.proxy.move_group(&group, to.as_deref().unwrap_or("")),
            )
            .await?;
        let Some(limit) = wait else {
            println!("{group}: moving to {to}");
            return Ok(ExitCode::SUCCESS);
        };
        let started = Instant::now();
        let gap = self.wait_for_move(&group, &to, limit).await?;
        println!(
            "{group}: moved from {} to {to} in {} ms; no node ran it for about {} ms (as seen from {})",
            from.as_deref().unwrap_or("nowhere"),
            started.elapsed().as_millis(),
            gap.as_millis(),
            s.node
        );
        println!("the move holds until `haagentctl clear {group}`");
        Ok(ExitCode::SUCCESS)
    }

    /// Polls until `group` runs on `to`; returns the longest time no node ran it.
    async fn wait_for_move(
        &self,
        group: &str,
        to: &str,
        limit: Duration,
    ) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let (mut gap, mut down_since) = (Duration::ZERO, None::<Instant>);
        loop {
            let s = self.status().await?;
            let g = &s.groups[group];
            let running = g.state == "running";
            if running && g.owner.as_deref() == Some(to) {
                if let Some(d) = down_since {
                    gap = gap.max(d.elapsed());
                }
                return Ok(gap);
            }
            match (running, down_since) {
                (false, None) => down_since = Some(Instant::now()),
                (true, Some(d)) => {
                    gap = gap.max(d.elapsed());
                    down_since = None;
                }
                _ => {}
            }
            if started.elapsed() > limit {
                anyhow::bail!(
                    "{group} is not running on {to} after {limit:?}: {} on {}",
                    g.state,
                    g.owner.as_deref().unwrap_or("no node")
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn wait_until(
        &self,
        limit: Duration,
        done: impl Fn(&Status) -> bool,
    ) -> anyhow::Result<()> {
        let started = Instant::now();
        while !done(&self.status().await?) {
            if started.elapsed() > limit {
                anyhow::bail!(
                    "not done after {limit:?}; `haagentctl status` shows where it stands"
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }
}
