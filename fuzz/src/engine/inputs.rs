//! Inputs other than datagrams, drawn from the fuzz data: mostly what the drivers would report
//! (the names of the manifest, completions of the actions asked for), sometimes what they never
//! should (unknown names, indices past the end, extreme numbers), which the engine must shrug
//! off all the same.

use haagent::engine::runs::Runs;
use haagent::engine::{
    Active, AddrSeen, Command, Input, JobKind, Op, Previous, Probe, ResourceRef, UnitSeen,
};
use haagent::manifest::model::ResourceKind;
use libfuzzer_sys::arbitrary::{Result, Unstructured};

use super::Harness;
use crate::manifests;

const ACTIVE: [Active; 6] = [
    Active::Active,
    Active::Activating,
    Active::Deactivating,
    Active::Inactive,
    Active::Failed,
    Active::Other,
];

impl Harness {
    /// A node name: one of the manifest's (this node included), or a stranger.
    pub(super) fn node(&self, u: &mut Unstructured<'_>) -> Result<String> {
        let names: Vec<&String> = self.manifest().nodes.keys().collect();
        Ok(match u.int_in_range(0..=names.len())? {
            i if i < names.len() => names[i].clone(),
            _ => "stranger".into(),
        })
    }

    /// A group name: one of the manifest's, of another shape's, or unknown.
    pub(super) fn group(&self, u: &mut Unstructured<'_>) -> Result<String> {
        Ok((*u.choose(&["db", "web", "cache", "#00c0ffee"])?).to_owned())
    }

    fn units(&self) -> Vec<String> {
        let groups = self.manifest().groups.values();
        let mut units: Vec<String> = groups
            .flat_map(|g| &g.resources)
            .filter_map(|r| match &r.kind {
                ResourceKind::Unit(u) => Some(u.clone()),
                ResourceKind::Vip(_) => None,
            })
            .collect();
        units.extend(["fence@n1.service".into(), "other.service".into()]);
        units
    }

    fn unit_seen(&self, u: &mut Unstructured<'_>) -> Result<UnitSeen> {
        let units = self.units();
        let job = *u.choose(&[
            None,
            Some(JobKind::Start),
            Some(JobKind::Stop),
            Some(JobKind::Restart),
            Some(JobKind::Other),
        ])?;
        Ok(UnitSeen {
            unit: u.choose(&units)?.clone(),
            active: *u.choose(&ACTIVE)?,
            sub: "running".into(),
            job,
            origin: None,
        })
    }

    fn addr_seen(&self, u: &mut Unstructured<'_>) -> Result<AddrSeen> {
        let mut addrs: Vec<std::net::IpAddr> = manifests::all()
            .iter()
            .flat_map(|m| m.groups.values())
            .flat_map(|g| &g.resources)
            .filter_map(|r| match &r.kind {
                ResourceKind::Vip(v) => Some(v.address),
                ResourceKind::Unit(_) => None,
            })
            .collect();
        addrs.push([10, 9, 0, 99].into());
        Ok(AddrSeen {
            addr: *u.choose(&addrs)?,
            interface: (*u.choose(&["eth0", "eth1"])?).into(),
            present: u.arbitrary()?,
        })
    }

    /// What an earlier run left: units, addresses, its last checkpoint, its peers' runs.
    pub(super) fn probe(&mut self, u: &mut Unstructured<'_>) -> Result<Probe> {
        let mut probe = Probe::default();
        for _ in 0..u.int_in_range(0..=4)? {
            probe.units.push(self.unit_seen(u)?);
        }
        for _ in 0..u.int_in_range(0..=2)? {
            probe.addrs.push(self.addr_seen(u)?);
        }
        if u.arbitrary()? {
            let mut holding = Vec::new();
            for _ in 0..u.int_in_range(0..=3)? {
                holding.push(self.group(u)?);
            }
            let ago_ms = *u.choose(&[0, 100, 5000, u64::MAX])?;
            let stands_ms = *u.choose(&[None, Some(0), Some(300), Some(u64::MAX)])?;
            probe.previous = Some(Previous {
                ago_ms,
                holding,
                stands_ms,
                maintenance: Vec::new(),
            });
        }
        for _ in 0..u.int_in_range(0..=3)? {
            let node = self.node(u)?;
            let mut runs = Runs {
                current: Some((self.generation(u)?, self.number(u)?)),
                ..Runs::default()
            };
            for _ in 0..u.int_in_range(0..=12)? {
                runs.retired.push(self.generation(u)?);
            }
            probe.peers.push((node, runs));
        }
        Ok(probe)
    }

    /// A generation: small, a driver's (below 2^32), or extreme.
    pub(super) fn generation(&self, u: &mut Unstructured<'_>) -> Result<u64> {
        Ok(match u.int_in_range(0..=5u8)? {
            0 => 0,
            1 => u64::from(u32::MAX),
            2 => u64::MAX,
            3 => u.int_in_range(1..=8)?,
            _ => u.arbitrary()?,
        })
    }

    /// A number of any size, extremes likelier.
    pub(super) fn number(&self, u: &mut Unstructured<'_>) -> Result<u64> {
        Ok(match u.int_in_range(0..=3u8)? {
            0 => 0,
            1 => u64::MAX,
            2 => u.int_in_range(0..=1000)?,
            _ => u.arbitrary()?,
        })
    }

    /// A resource action reported done: one asked for (mostly), or one never asked for.
    pub(super) fn done(&mut self, u: &mut Unstructured<'_>) -> Result<Input> {
        let (res, op) = if !self.pending.is_empty() && u.ratio(7u8, 8)? {
            let i = u.choose_index(self.pending.len())?;
            self.pending.remove(i)
        } else {
            let index = *u.choose(&[0, 1, 2, 3, usize::MAX])?;
            let op = *u.choose(&[Op::Start, Op::Stop])?;
            (ResourceRef::new(&self.group(u)?, index), op)
        };
        let ok = u.ratio(3u8, 4)?;
        let detail = if ok { String::new() } else { "failed".into() };
        Ok(Input::Done {
            res,
            op,
            ok,
            detail,
        })
    }

    /// A fence unit finished: one started (mostly), or any node.
    pub(super) fn fenced(&mut self, u: &mut Unstructured<'_>) -> Result<Input> {
        let node = if !self.fencing.is_empty() && u.ratio(7u8, 8)? {
            let i = u.choose_index(self.fencing.len())?;
            self.fencing.remove(i)
        } else {
            self.node(u)?
        };
        Ok(Input::Fenced {
            node,
            ok: u.arbitrary()?,
        })
    }

    pub(super) fn unit(&mut self, u: &mut Unstructured<'_>) -> Result<Input> {
        Ok(Input::Unit(self.unit_seen(u)?))
    }

    pub(super) fn addr(&mut self, u: &mut Unstructured<'_>) -> Result<Input> {
        Ok(Input::Addr(self.addr_seen(u)?))
    }

    /// An operator command (the daemon checks names first; the engine must not rely on it).
    pub(super) fn command(&mut self, u: &mut Unstructured<'_>) -> Result<Input> {
        let c = match u.int_in_range(0..=4u8)? {
            0 => Command::Failover {
                group: self.group(u)?,
                to: self.node(u)?,
            },
            1 => Command::Clear {
                group: self.group(u)?,
            },
            2 => Command::Standby {
                node: self.node(u)?,
                on: u.arbitrary()?,
            },
            3 => Command::OverrideWaitForAll,
            _ => Command::Unblock {
                group: self.group(u)?,
                node: self.node(u)?,
            },
        };
        Ok(Input::Control(c))
    }

    /// Pings, reloads, new keys, pauses and shutdown.
    pub(super) fn other(&mut self, u: &mut Unstructured<'_>) -> Result<Input> {
        Ok(match u.int_in_range(0..=5u8)? {
            0 | 1 => Input::Ping {
                reachable: *u.choose(&[0, 1, 2, u16::MAX])?,
            },
            2 => {
                self.shape = u.choose_index(manifests::all().len())?;
                Input::Reload(Box::new(self.manifest().clone()))
            }
            3 => Input::Keys {
                ids: (*u.choose(&[&[1u8][..], &[2, 1], &[2], &[1, 2]])?).to_vec(),
            },
            4 => Input::Paused {
                ms: *u.choose(&[1, 400, 1000, 60_000, u64::MAX])?,
            },
            _ => Input::Shutdown,
        })
    }
}
