//! Golden scenarios: the classic cases of a failover cluster, each as inputs in and the actions
//! the engines emit out. Multi-node scenarios wire engines together in memory (`cluster.rs`);
//! the assertions are on what a node does (`Acquire`/`Release` events, `AddVip` before
//! `StartUnit`, nothing started before a given moment), so a changed rule fails them.

mod cluster;
mod failover;
mod leave;
mod operator;
mod restart;
mod split;
mod startup;
mod wire_drops;
