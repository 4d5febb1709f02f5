//! What `--cgroup SPEC` names, for `report --cgroup` and `ps --cgroup`: one
//! memory cgroup, found by its path, a container id prefix, a pod UID, a
//! systemd unit, or (when none of those match) a name the container
//! runtimes' files give ([`memscope_analysis::containers::named_by`]).
//!
//! Both commands accept the same names and refuse the same way: no match
//! or several unrelated matches is bad input (exit 2), said in one line.

use anyhow::Context;
use memscope_analysis::cgroup_ledger::{self, Unresolved};
use memscope_analysis::containers;
use memscope_kernel::KernelRoot;
use memscope_kernel::cgroup::{Layout, Version};
use memscope_kernel::parse::pid::cgroup::ProcCgroup;
use memscope_model::cgroups::ledger::{memory_hierarchy, memory_paths};
use memscope_model::containers::ContainerNames;

use crate::errors::bad_input;

/// The memory cgroup a SPEC names.
pub struct Resolved {
    /// The cgroup hierarchies.
    pub layout: Layout,
    /// The version of the memory hierarchy.
    pub version: Version,
    /// The cgroup path, as `/proc/PID/cgroup` prints it.
    pub path: String,
    /// What the container runtimes call the cgroups.
    pub names: ContainerNames,
}

impl Resolved {
    /// Is a process with these `/proc/PID/cgroup` lines in the cgroup or one
    /// of its descendants? Placed by its line of the memory hierarchy: the
    /// v1 memory controller's on a v1 or hybrid host, the v2 line otherwise.
    pub fn contains(&self, cg: &ProcCgroup) -> bool {
        memory_line(cg, self.version).is_some_and(|p| in_subtree(p, &self.path))
    }
}

/// A process's cgroup in the memory hierarchy of this version.
fn memory_line(cg: &ProcCgroup, version: Version) -> Option<&str> {
    match version {
        Version::V1 => cg.v1_path("memory"),
        Version::V2 => cg.v2_path(),
    }
}

/// Is `p` the cgroup `top` or below it?
pub fn in_subtree(p: &str, top: &str) -> bool {
    let top = top.trim_end_matches('/');
    top.is_empty() || p == top || p.strip_prefix(top).is_some_and(|rest| rest.starts_with('/'))
}

/// The memory cgroup `spec` names, or bad input (exit 2) saying why not.
pub fn resolve(root: &KernelRoot, spec: &str) -> anyhow::Result<Resolved> {
    let layout = Layout::detect(root).context("cannot find the cgroup hierarchies")?;
    let version = memory_hierarchy(&layout).context("cannot read the memory cgroups")?.version;
    let paths = memory_paths(root, &layout).context("cannot read the memory cgroups")?;
    let names = memscope_model::containers::read(root);
    let path = match cgroup_ledger::resolve(&paths, spec) {
        Ok(p) => p,
        Err(Unresolved::NoMatch) => match containers::named_by(&paths, spec, &names).as_slice() {
            [one] => one.clone(),
            [] => bad_input!(
                "no memory cgroup matches `{spec}` (a cgroup path, container id prefix or name, namespace/pod, pod UID or unit name)"
            ),
            many => bad_input!("`{spec}` matches several cgroups: {}", many.join(", ")),
        },
        Err(Unresolved::Ambiguous(some)) => {
            bad_input!("`{spec}` matches several cgroups: {}", some.join(", "))
        }
    };
    Ok(Resolved { layout, version, path, names })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subtree_is_the_cgroup_and_what_is_below_it_not_a_sibling_with_the_same_prefix() {
        assert!(in_subtree("/docker/abc", "/docker/abc"));
        assert!(in_subtree("/docker/abc/sub", "/docker/abc"));
        assert!(in_subtree("/docker/abc/sub", "/docker/abc/"));
        assert!(!in_subtree("/docker/abcd", "/docker/abc"));
        assert!(!in_subtree("/docker", "/docker/abc"));
        assert!(in_subtree("/anything", "/"));
    }

    #[test]
    fn a_process_is_placed_by_its_memory_hierarchy_line() {
        let hybrid = ProcCgroup::parse("12:memory:/docker/abc\n0::/system.slice/docker.service\n");
        assert_eq!(memory_line(&hybrid, Version::V1), Some("/docker/abc"));
        assert_eq!(memory_line(&hybrid, Version::V2), Some("/system.slice/docker.service"));
        let v2_only = ProcCgroup::parse("0::/user.slice\n");
        assert_eq!(memory_line(&v2_only, Version::V1), None);
    }
}
