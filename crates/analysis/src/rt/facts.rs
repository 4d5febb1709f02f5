//! Views of the host's facts that the judgements share: the CPU count for
//! `N` in kernel CPU lists, the build configuration, the isolated CPUs
//! (from sysfs or the command line), and CPU lists in words.

use memscope_kernel::ReadError;
use memscope_kernel::parse::cmdline::{Isolcpus, parse_cpulist};
use memscope_kernel::parse::kconfig::Kconfig;
use memscope_kernel::parse::sysfs::format_list;
use memscope_kernel::paths;
use memscope_model::rt::HostFacts;

/// What the judgements derive from [`HostFacts`].
pub trait HostView {
    /// Number of possible CPUs (for `N` in kernel CPU lists).
    fn nr_cpus(&self) -> u32;
    /// The build configuration, when read.
    fn config(&self) -> Option<&Kconfig>;
    /// The file the build configuration came from (or would have).
    fn config_path(&self) -> &str;
    /// The isolated CPUs: from sysfs, else from `isolcpus=` on the command
    /// line.
    fn isolated_cpus(&self) -> Vec<u32>;
    /// `isolcpus=` of the command line.
    fn isolcpus(&self) -> Option<Isolcpus>;
    /// A CPU list parameter of the command line (`nohz_full=`, `rcu_nocbs=`).
    fn cmdline_cpus(&self, name: &str) -> Option<Vec<u32>>;
}

impl HostView for HostFacts {
    /// Number of possible CPUs (for `N` in kernel CPU lists).
    fn nr_cpus(&self) -> u32 {
        let from =
            |l: &Result<Vec<u32>, ReadError>| l.as_ref().ok().and_then(|v| v.iter().max().map(|m| m + 1));
        from(&self.possible).or_else(|| from(&self.online)).unwrap_or(1)
    }

    fn config(&self) -> Option<&Kconfig> {
        self.config.as_ref().ok().map(|(_, k)| k)
    }

    fn config_path(&self) -> &str {
        self.config.as_ref().map(|(p, _)| p.as_str()).unwrap_or(paths::CONFIG_GZ)
    }

    /// The isolated CPUs: from sysfs, else from `isolcpus=` on the command
    /// line.
    fn isolated_cpus(&self) -> Vec<u32> {
        if let Ok(v) = &self.isolated
            && !v.is_empty()
        {
            return v.clone();
        }
        self.isolcpus().map(|i| i.cpus).unwrap_or_default()
    }

    fn isolcpus(&self) -> Option<Isolcpus> {
        let c = self.cmdline.as_ref().ok()?;
        Isolcpus::parse(c.value("isolcpus")?, self.nr_cpus())
    }

    fn cmdline_cpus(&self, name: &str) -> Option<Vec<u32>> {
        parse_cpulist(self.cmdline.as_ref().ok()?.value(name)?, self.nr_cpus())
    }
}

/// `0-3,8` from a list of CPUs ([`format_list`]); `none` for the empty list.
pub fn cpulist_string(cpus: &[u32]) -> String {
    let s = format_list(cpus);
    if s.is_empty() { "none".into() } else { s }
}

/// A split of the online CPUs into housekeeping and isolated, for advice:
/// the first quarter (at least one CPU) keeps the housekeeping.
pub fn suggested_split(online: &[u32]) -> Option<(Vec<u32>, Vec<u32>)> {
    if online.len() < 2 {
        return None;
    }
    let hk = online.len().div_ceil(4).max(1);
    Some((online[..hk].to_vec(), online[hk..].to_vec()))
}
