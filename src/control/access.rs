//! Who may use the control interface, as a pure decision: root may change the cluster (failover,
//! standby, online, clear, reload); root and members of the `haagent` group may read it (status
//! and properties). The bus policy (`units/org.haagent.Agent1.conf`) says the same; the daemon
//! decides again from the caller's credentials, so a loosened or broken policy does not open
//! the interface. Also here: finding a group's id and a user's groups in `/etc/group` and
//! `/etc/passwd` text, for buses that do not report a caller's groups.

/// The group whose members may read the status.
pub const GROUP: &str = "haagent";

/// What a call needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Reading the cluster's state: root or a member of [`GROUP`].
    Read,
    /// Changing the cluster: root only.
    Change,
}

/// A caller as the bus identifies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The unix user id of the calling process.
    pub uid: u32,
    /// Its group ids, primary and supplementary.
    pub gids: Vec<u32>,
}

/// Whether `caller` may make a call that needs `need`; `group` is the id of [`GROUP`], `None`
/// when that group does not exist (then only root may read).
pub fn allowed(need: Need, caller: &Caller, group: Option<u32>) -> bool {
    if caller.uid == 0 {
        return true;
    }
    match need {
        Need::Change => false,
        Need::Read => group.is_some_and(|g| caller.gids.contains(&g)),
    }
}

/// The refusal a caller gets, naming the call, who asked and who may.
pub fn refusal(need: Need, uid: u32, call: &str) -> String {
    match need {
        Need::Change => format!(
            "uid {uid} may not call {call}: changing the cluster needs root (members of the `{GROUP}` group may only read)"
        ),
        Need::Read => format!(
            "uid {uid} may not call {call}: reading the cluster needs root or membership of the `{GROUP}` group"
        ),
    }
}

/// The id of group `name` in `/etc/group` text (`name:password:gid:members`).
pub fn group_id(etc_group: &str, name: &str) -> Option<u32> {
    group_entries(etc_group)
        .find(|e| e.name == name)
        .map(|e| e.gid)
}

/// The groups of user `uid`, as `getgrouplist` would give them from these files: the primary
/// group of its `/etc/passwd` line and every group of `/etc/group` listing its name. Empty
/// when the user has no `/etc/passwd` line.
pub fn groups_of(etc_passwd: &str, etc_group: &str, uid: u32) -> Vec<u32> {
    let Some((name, primary)) = etc_passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        let (_, id, gid) = (f.next()?, f.next()?, f.next()?);
        (id.parse::<u32>().ok()? == uid).then_some((name, gid.parse::<u32>().ok()?))
    }) else {
        return Vec::new();
    };
    let mut gids = vec![primary];
    gids.extend(
        group_entries(etc_group)
            .filter(|e| e.members.split(',').any(|m| m == name))
            .map(|e| e.gid),
    );
    gids.sort_unstable();
    gids.dedup();
    gids
}

/// One well-formed line of `/etc/group`.
struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: &'a str,
}

/// The well-formed lines of `/etc/group` text; comments and malformed lines are skipped, as
/// the C library skips them.
fn group_entries(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    text.lines().filter_map(|line| {
        let mut f = line.split(':');
        let name = f.next().filter(|n| !n.is_empty() && !n.starts_with('#'))?;
        let _password = f.next()?;
        let gid = f.next()?.parse().ok()?;
        let members = f.next().unwrap_or("");
        Some(GroupEntry { name, gid, members })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUP_FILE: &str = "root:x:0:\n# a comment\nadm:x:4:syslog,ops\nhaagent:x:998:ops,reader\nreader:x:1001:\nbroken:x:notanumber:ops\n";
    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\nops:x:1000:1000::/home/ops:/bin/sh\nreader:x:1001:1001::/:/bin/sh\nprimary:x:1002:998::/:/bin/sh\n";

    fn caller(uid: u32, gids: &[u32]) -> Caller {
        Caller {
            uid,
            gids: gids.to_vec(),
        }
    }

    #[test]
    fn root_may_do_everything() {
        for need in [Need::Read, Need::Change] {
            assert!(allowed(need, &caller(0, &[0]), Some(998)));
            assert!(allowed(need, &caller(0, &[]), None));
        }
    }

    #[test]
    fn members_of_the_group_may_read_but_not_change() {
        let member = caller(1000, &[4, 998, 1000]);
        assert!(allowed(Need::Read, &member, Some(998)));
        assert!(!allowed(Need::Change, &member, Some(998)));
    }

    #[test]
    fn others_may_do_nothing() {
        let other = caller(1003, &[1003, 4]);
        assert!(!allowed(Need::Read, &other, Some(998)));
        assert!(!allowed(Need::Change, &other, Some(998)));
        // A root *group* is not root: only uid 0 is.
        assert!(!allowed(Need::Change, &caller(1003, &[0]), Some(998)));
    }

    #[test]
    fn without_the_group_only_root_reads() {
        assert!(!allowed(Need::Read, &caller(1000, &[998]), None));
        assert!(allowed(Need::Read, &caller(0, &[]), None));
    }

    #[test]
    fn refusals_name_the_call_the_caller_and_who_may() {
        let r = refusal(Need::Change, 1001, "Failover");
        assert!(r.contains("uid 1001") && r.contains("Failover") && r.contains("needs root"));
        let r = refusal(Need::Read, 1003, "Status");
        assert!(r.contains("`haagent` group") && r.contains("Status"), "{r}");
    }

    #[test]
    fn group_ids_come_from_well_formed_lines() {
        assert_eq!(group_id(GROUP_FILE, "haagent"), Some(998));
        assert_eq!(group_id(GROUP_FILE, "root"), Some(0));
        assert_eq!(group_id(GROUP_FILE, "broken"), None);
        assert_eq!(group_id(GROUP_FILE, "nosuch"), None);
        assert_eq!(group_id("", "haagent"), None);
    }

    #[test]
    fn a_users_groups_are_its_primary_group_and_the_groups_listing_it() {
        assert_eq!(groups_of(PASSWD, GROUP_FILE, 1000), vec![4, 998, 1000]);
        assert_eq!(groups_of(PASSWD, GROUP_FILE, 1001), vec![998, 1001]);
        // Primary group only: the group's member list does not name it.
        assert_eq!(groups_of(PASSWD, GROUP_FILE, 1002), vec![998]);
        assert_eq!(groups_of(PASSWD, GROUP_FILE, 4242), Vec::<u32>::new());
        // A member list is matched by whole names, not prefixes.
        assert_eq!(groups_of("op:x:7:7::/:/bin/sh\n", GROUP_FILE, 7), vec![7]);
    }
}
