//! `/proc/PID/cgroup` (kernel/cgroup/cgroup.c `proc_cgroup_show`).
//!
//! `hierarchy-ID:controller-list:path` per line: `0::/path` for cgroup v2,
//! `4:memory:/path` (or `1:name=systemd:/path`) for v1 hierarchies. The path
//! may itself contain `:`.

use serde::{Deserialize, Serialize};

use crate::parse::Malformed;

/// One line: membership in one hierarchy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// Hierarchy id (0 for the v2 unified hierarchy).
    pub hierarchy_id: u32,
    /// Controllers of a v1 hierarchy (`memory`, `cpu,cpuacct`,
    /// `name=systemd`); empty for v2.
    pub controllers: Vec<String>,
    /// Path relative to the hierarchy's root (or to the cgroup namespace).
    pub path: String,
}

impl Membership {
    /// True for the v2 unified hierarchy line.
    pub fn is_v2(&self) -> bool {
        self.hierarchy_id == 0 && self.controllers.is_empty()
    }
}

/// All lines of the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcCgroup {
    /// One entry per hierarchy.
    pub memberships: Vec<Membership>,
    /// Lines that were skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<Malformed>,
}

impl ProcCgroup {
    /// Parse the file. Never fails; malformed lines are listed.
    pub fn parse(text: &str) -> ProcCgroup {
        let mut out = ProcCgroup::default();
        for (i, line) in text.lines().enumerate() {
            if line.is_empty() {
                continue;
            }
            let mut parts = line.splitn(3, ':');
            let parsed = (|| {
                let id = parts.next()?.parse().ok()?;
                let ctrl = parts.next()?;
                let path = parts.next()?;
                Some(Membership {
                    hierarchy_id: id,
                    controllers: ctrl.split(',').filter(|c| !c.is_empty()).map(str::to_string).collect(),
                    path: path.to_string(),
                })
            })();
            match parsed {
                Some(m) => out.memberships.push(m),
                None => out.malformed.push(Malformed::new(i, line)),
            }
        }
        out
    }

    /// The cgroup v2 path, if the process is in a v2 hierarchy.
    pub fn v2_path(&self) -> Option<&str> {
        self.memberships.iter().find(|m| m.is_v2()).map(|m| m.path.as_str())
    }

    /// The path in the v1 hierarchy that has this controller.
    pub fn v1_path(&self, controller: &str) -> Option<&str> {
        self.memberships
            .iter()
            .find(|m| m.controllers.iter().any(|c| c == controller))
            .map(|m| m.path.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hybrid() {
        let c = ProcCgroup::parse(
            "12:pids:/user.slice\n4:memory:/a:b\n1:name=systemd:/init.scope\n0::/init.scope\nbad\n",
        );
        assert_eq!(c.memberships.len(), 4);
        assert_eq!(c.v2_path(), Some("/init.scope"));
        assert_eq!(c.v1_path("memory"), Some("/a:b"));
        assert_eq!(c.v1_path("name=systemd"), Some("/init.scope"));
        assert_eq!(c.v1_path("cpuset"), None);
        assert_eq!(c.malformed.len(), 1);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") { let _ = ProcCgroup::parse(&s).v2_path(); }
    }
}
