//! When each held VIP is announced again: by resource, and by time too, so the next one due and
//! those due now are found without walking every VIP (a thousand in one group made that walk
//! most of the work of every input while they started).

use std::collections::{BTreeMap, BTreeSet};

use super::{ResourceRef, Time};

/// The refresh times of the VIPs held here.
#[derive(Clone, Debug, Default)]
pub(super) struct Refresh {
    at: BTreeMap<ResourceRef, Time>,
    by_time: BTreeSet<(Time, ResourceRef)>,
}

impl Refresh {
    /// `res` is announced again at `t` (instead of any earlier plan).
    pub(super) fn insert(&mut self, res: ResourceRef, t: Time) {
        if let Some(old) = self.at.insert(res.clone(), t) {
            self.by_time.remove(&(old, res.clone()));
        }
        self.by_time.insert((t, res));
    }

    /// `res` is not announced again.
    pub(super) fn remove(&mut self, res: &ResourceRef) {
        if let Some(old) = self.at.remove(res) {
            self.by_time.remove(&(old, res.clone()));
        }
    }

    /// No VIP of `group` is announced again.
    pub(super) fn forget_group(&mut self, group: &str) {
        self.at.retain(|r, _| r.group != group);
        self.by_time.retain(|(_, r)| r.group != group);
    }

    /// The next refresh due.
    pub(super) fn next(&self) -> Option<Time> {
        self.by_time.first().map(|(t, _)| *t)
    }

    /// The VIPs due at `now`, earliest first.
    pub(super) fn due(&self, now: Time) -> Vec<ResourceRef> {
        self.by_time
            .iter()
            .take_while(|(t, _)| *t <= now)
            .map(|(_, r)| r.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_index_follows_every_change() {
        let mut r = Refresh::default();
        let (a, b) = (ResourceRef::new("g", 0), ResourceRef::new("h", 1));
        r.insert(a.clone(), Time(50));
        r.insert(b.clone(), Time(20));
        assert_eq!(r.next(), Some(Time(20)));
        r.insert(b.clone(), Time(70));
        assert_eq!(r.due(Time(60)), std::slice::from_ref(&a));
        r.remove(&a);
        assert_eq!(r.next(), Some(Time(70)));
        r.forget_group("h");
        assert_eq!((r.next(), r.due(Time(1000))), (None, Vec::new()));
    }
}
