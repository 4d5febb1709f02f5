//! Readers: the kernel path of each file and the parser that reads it, in
//! one place. Each returns the parsed value or a [`ReadError`].

use serde::{Deserialize, Serialize};

use crate::parse::allocinfo::Allocinfo;
use crate::parse::arcstats::Arcstats;
use crate::parse::buddyinfo::Buddyinfo;
use crate::parse::iomem::Iomem;
use crate::parse::kallsyms::Kallsyms;
use crate::parse::meminfo::Meminfo;
use crate::parse::mountinfo::Mountinfo;
use crate::parse::pid::cgroup::ProcCgroup;
use crate::parse::pid::smaps_rollup::SmapsRollup;
use crate::parse::pid::stat::Stat;
use crate::parse::pid::status::Status;
use crate::parse::slabinfo::Slabinfo;
use crate::parse::sockstat::Sockstat;
use crate::parse::sysfs::hugepage_dir_size;
use crate::parse::vmallocinfo::Vmallocinfo;
use crate::parse::vmstat::Vmstat;
use crate::parse::zoneinfo::Zoneinfo;
use crate::parse::{hex_u64, kmsg};
use crate::root::{KernelRoot, ReadError};

/// Kernel paths read by memscope, named once.
pub mod paths {
    /// System memory counters.
    pub const MEMINFO: &str = "/proc/meminfo";
    /// Virtual memory counters.
    pub const VMSTAT: &str = "/proc/vmstat";
    /// Zones.
    pub const ZONEINFO: &str = "/proc/zoneinfo";
    /// Buddy free lists.
    pub const BUDDYINFO: &str = "/proc/buddyinfo";
    /// Slab caches (root only).
    pub const SLABINFO: &str = "/proc/slabinfo";
    /// SLUB caches in sysfs: flags, aliases.
    pub const SYS_SLAB: &str = "/sys/kernel/slab";
    /// vmalloc areas.
    pub const VMALLOCINFO: &str = "/proc/vmallocinfo";
    /// Physical address map.
    pub const IOMEM: &str = "/proc/iomem";
    /// Firmware memory map (world-readable), one directory per entry.
    pub const FIRMWARE_MEMMAP: &str = "/sys/firmware/memmap";
    /// Huge page pools, one directory per size.
    pub const HUGEPAGES: &str = "/sys/kernel/mm/hugepages";
    /// NUMA nodes.
    pub const NODES: &str = "/sys/devices/system/node";
    /// Socket counters (IPv4 and shared).
    pub const SOCKSTAT: &str = "/proc/net/sockstat";
    /// Socket counters (IPv6).
    pub const SOCKSTAT6: &str = "/proc/net/sockstat6";
    /// ZFS ARC counters.
    pub const ARCSTATS: &str = "/proc/spl/kstat/zfs/arcstats";
    /// Kernel release.
    pub const OSRELEASE: &str = "/proc/sys/kernel/osrelease";
    /// Kernel log (records, one per read; root or `dmesg_restrict=0`).
    pub const KMSG: &str = "/dev/kmsg";
    /// CPUs that may ever be online.
    pub const CPU_POSSIBLE: &str = "/sys/devices/system/cpu/possible";
    /// CPUs online now.
    pub const CPU_ONLINE: &str = "/sys/devices/system/cpu/online";
    /// NUMA nodes online now (absent without NUMA support).
    pub const NODE_ONLINE: &str = "/sys/devices/system/node/online";
    /// Mounts seen by memscope itself: where each cgroup hierarchy is.
    pub const MOUNTINFO: &str = "/proc/self/mountinfo";
    /// Kernel symbols (addresses hidden by `kernel.kptr_restrict`).
    pub const KALLSYMS: &str = "/proc/kallsyms";
    /// Per-call-site allocation totals (memory allocation profiling, 6.10+).
    pub const ALLOCINFO: &str = "/proc/allocinfo";
    /// Whether allocation profiling counts now (`0`, `1`, `never`).
    pub const MEM_PROFILING: &str = "/proc/sys/vm/mem_profiling";
    /// The running kernel's BPF type information (CONFIG_DEBUG_INFO_BTF).
    pub const BTF_VMLINUX: &str = "/sys/kernel/btf/vmlinux";
    /// Where tracefs is mounted on current systems.
    pub const TRACEFS: &str = "/sys/kernel/tracing";
    /// Where tracefs appears under debugfs on older systems.
    pub const DEBUGFS_TRACING: &str = "/sys/kernel/debug/tracing";
    /// Who may see kernel addresses in kallsyms (0, 1, 2).
    pub const KPTR_RESTRICT: &str = "/proc/sys/kernel/kptr_restrict";
    /// Kernel lockdown state (`[none] integrity confidentiality`).
    pub const LOCKDOWN: &str = "/sys/kernel/security/lockdown";
    /// Whether users without CAP_BPF may load BPF programs.
    pub const UNPRIVILEGED_BPF_DISABLED: &str = "/proc/sys/kernel/unprivileged_bpf_disabled";
}

/// One huge page pool (`/sys/kernel/mm/hugepages/hugepages-<size>kB`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HugepagePool {
    /// Page size in bytes.
    pub page_size_bytes: u64,
    /// `nr_hugepages`: pages in the pool (persistent and surplus).
    pub nr_hugepages: Option<u64>,
    /// `free_hugepages`: pages not in use.
    pub free_hugepages: Option<u64>,
    /// `resv_hugepages`: reserved for mappings but not yet faulted.
    pub resv_hugepages: Option<u64>,
    /// `surplus_hugepages`: allocated beyond `nr_hugepages` by overcommit.
    pub surplus_hugepages: Option<u64>,
}

/// One entry of `/sys/firmware/memmap`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareRange {
    /// First byte.
    pub start: u64,
    /// Last byte (inclusive).
    pub end: u64,
    /// `System RAM`, `Reserved`, `ACPI Tables`, …
    pub kind: String,
}

/// One NUMA node's memory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeMemory {
    /// Node number.
    pub node: u32,
    /// `nodeN/meminfo`.
    pub meminfo: Meminfo,
    /// `nodeN/hugepages/*`.
    pub hugepages: Vec<HugepagePool>,
}

impl KernelRoot {
    /// `/proc/meminfo`.
    pub fn meminfo(&self) -> Result<Meminfo, ReadError> {
        Ok(Meminfo::parse(&self.read_text(paths::MEMINFO)?))
    }

    /// `/proc/vmstat`.
    pub fn vmstat(&self) -> Result<Vmstat, ReadError> {
        Ok(Vmstat::parse(&self.read_text(paths::VMSTAT)?))
    }

    /// `/proc/zoneinfo`.
    pub fn zoneinfo(&self) -> Result<Zoneinfo, ReadError> {
        Ok(Zoneinfo::parse(&self.read_text(paths::ZONEINFO)?))
    }

    /// `/proc/buddyinfo`.
    pub fn buddyinfo(&self) -> Result<Buddyinfo, ReadError> {
        Ok(Buddyinfo::parse(&self.read_text(paths::BUDDYINFO)?))
    }

    /// `/proc/slabinfo` (root only).
    pub fn slabinfo(&self) -> Result<Slabinfo, ReadError> {
        self.read_parsed(paths::SLABINFO, Slabinfo::parse)
    }

    /// Which slab caches are reclaimable: `/sys/kernel/slab/NAME/reclaim_account`
    /// for each name (root only). Caches whose flag cannot be read are absent.
    pub fn slab_reclaim_account<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> std::collections::BTreeMap<String, bool> {
        names
            .into_iter()
            .filter_map(|n| {
                let v = self.read_u64(&format!("{}/{n}/reclaim_account", paths::SYS_SLAB)).ok()?;
                Some((n.to_string(), v != 0))
            })
            .collect()
    }

    /// `/proc/vmallocinfo`. As non-root the file may be readable with
    /// addresses zeroed; the sizes and callers are still right.
    pub fn vmallocinfo(&self) -> Result<Vmallocinfo, ReadError> {
        Ok(Vmallocinfo::parse(&self.read_text(paths::VMALLOCINFO)?))
    }

    /// `/proc/iomem`.
    pub fn iomem(&self) -> Result<Iomem, ReadError> {
        Ok(Iomem::parse(&self.read_text(paths::IOMEM)?))
    }

    /// `/sys/firmware/memmap/*/{start,end,type}`, in address order.
    pub fn firmware_memmap(&self) -> Result<Vec<FirmwareRange>, ReadError> {
        let mut out = Vec::new();
        for name in self.list_dir(paths::FIRMWARE_MEMMAP)? {
            let dir = format!("{}/{name}", paths::FIRMWARE_MEMMAP);
            let hex = |f: &str| -> Result<u64, ReadError> {
                let p = format!("{dir}/{f}");
                let t = self.read_text(&p)?;
                hex_u64(&t).ok_or(ReadError::Parse { path: p, line: 1, item: "a hex address".into() })
            };
            let kind = self.read_text(&format!("{dir}/type"))?.trim().to_string();
            out.push(FirmwareRange { start: hex("start")?, end: hex("end")?, kind });
        }
        out.sort_by_key(|r| r.start);
        Ok(out)
    }

    /// Huge page pools of the system (`under` = `/sys/kernel/mm/hugepages`)
    /// or of a node (`/sys/devices/system/node/nodeN/hugepages`).
    pub fn hugepage_pools(&self, under: &str) -> Result<Vec<HugepagePool>, ReadError> {
        let mut pools = Vec::new();
        for name in self.list_dir(under)? {
            let Some(size) = hugepage_dir_size(&name) else { continue };
            let dir = format!("{under}/{name}");
            let num = |f: &str| self.read_u64(&format!("{dir}/{f}")).ok();
            pools.push(HugepagePool {
                page_size_bytes: size,
                nr_hugepages: num("nr_hugepages"),
                free_hugepages: num("free_hugepages"),
                resv_hugepages: num("resv_hugepages"),
                surplus_hugepages: num("surplus_hugepages"),
            });
        }
        pools.sort_by_key(|p| p.page_size_bytes);
        Ok(pools)
    }

    /// Per-node meminfo and huge pages. A machine without NUMA support has
    /// no node directory: [`ReadError::NotReported`].
    pub fn nodes(&self) -> Result<Vec<NodeMemory>, ReadError> {
        let mut nodes = Vec::new();
        for name in self.list_dir(paths::NODES)? {
            let Some(n) = name.strip_prefix("node").and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let dir = format!("{}/{name}", paths::NODES);
            let meminfo = Meminfo::parse_node(&self.read_text(&format!("{dir}/meminfo"))?);
            let hugepages = self.hugepage_pools(&format!("{dir}/hugepages")).unwrap_or_default();
            nodes.push(NodeMemory { node: n, meminfo, hugepages });
        }
        nodes.sort_by_key(|n| n.node);
        Ok(nodes)
    }

    /// `/proc/net/sockstat`.
    pub fn sockstat(&self) -> Result<Sockstat, ReadError> {
        Ok(Sockstat::parse(&self.read_text(paths::SOCKSTAT)?))
    }

    /// `/proc/net/sockstat6`.
    pub fn sockstat6(&self) -> Result<Sockstat, ReadError> {
        Ok(Sockstat::parse(&self.read_text(paths::SOCKSTAT6)?))
    }

    /// ZFS ARC counters (only where ZFS is loaded).
    pub fn arcstats(&self) -> Result<Arcstats, ReadError> {
        Ok(Arcstats::parse(&self.read_text(paths::ARCSTATS)?))
    }

    /// The running kernel's release string.
    pub fn osrelease(&self) -> Result<String, ReadError> {
        Ok(self.read_text(paths::OSRELEASE)?.trim().to_string())
    }

    /// Number of possible CPUs (percpu units).
    pub fn possible_cpus(&self) -> Result<u64, ReadError> {
        let text = self.read_text(paths::CPU_POSSIBLE)?;
        crate::parse::sysfs::parse_list(&text).map(|l| l.len() as u64).ok_or(ReadError::Parse {
            path: paths::CPU_POSSIBLE.into(),
            line: 1,
            item: "a cpu list".into(),
        })
    }

    /// CPUs online now (`/sys/devices/system/cpu/online`), ascending.
    pub fn online_cpus(&self) -> Result<Vec<u32>, ReadError> {
        self.read_list(paths::CPU_ONLINE, "a cpu list")
    }

    /// NUMA nodes online now. A kernel without NUMA support has no
    /// `/sys/devices/system/node`: [`ReadError::NotReported`] (node 0 is
    /// then the only one).
    pub fn online_nodes(&self) -> Result<Vec<u32>, ReadError> {
        self.read_list(paths::NODE_ONLINE, "a node list")
    }

    /// A file holding a cpu or node list (`0-3,8`), ascending.
    pub fn read_list(&self, kpath: &str, what: &str) -> Result<Vec<u32>, ReadError> {
        let text = self.read_text(kpath)?;
        let mut l = crate::parse::sysfs::parse_list(&text).ok_or(ReadError::Parse {
            path: kpath.into(),
            line: 1,
            item: what.into(),
        })?;
        l.sort_unstable();
        l.dedup();
        Ok(l)
    }

    /// `/proc/self/mountinfo`: the mounts memscope itself sees.
    pub fn mountinfo(&self) -> Result<Mountinfo, ReadError> {
        Ok(Mountinfo::parse(&self.read_text(paths::MOUNTINFO)?))
    }

    /// Pages per CPU of the percpu first chunk, from the boot log line
    /// (see [`crate::parse::kmsg`]). `NotReported` when the log no longer
    /// holds it.
    pub fn percpu_first_chunk_pages(&self) -> Result<u64, ReadError> {
        let log = self.kernel_log_matching("percpu: ")?;
        kmsg::find_percpu_first_chunk_pages(&log)
            .ok_or_else(|| ReadError::missing_field(paths::KMSG, "the percpu first-chunk boot line"))
    }

    /// Kernel log records containing `needle`, one per line. Live, read from
    /// `/dev/kmsg` without blocking; in a captured tree, from its
    /// `dev/kmsg` text file (which holds only the lines memscope used).
    pub fn kernel_log_matching(&self, needle: &str) -> Result<String, ReadError> {
        let text = if self.is_live() {
            read_kmsg_live(&self.resolve(paths::KMSG))?
        } else {
            self.read_text(paths::KMSG)?
        };
        let found: String = text.lines().filter(|l| l.contains(needle)).map(|l| format!("{l}\n")).collect();
        if self.is_live() {
            self.record(paths::KMSG, found.as_bytes());
        }
        Ok(found)
    }

    /// `/proc/kallsyms`: code symbols, sorted (addresses need root or
    /// CAP_SYSLOG, see [`Kallsyms`]).
    pub fn kallsyms(&self) -> Result<Kallsyms, ReadError> {
        Ok(Kallsyms::parse(&self.read_text(paths::KALLSYMS)?))
    }

    /// `/proc/allocinfo` (memory allocation profiling; root only).
    pub fn allocinfo(&self) -> Result<Allocinfo, ReadError> {
        Ok(Allocinfo::parse(&self.read_text(paths::ALLOCINFO)?))
    }

    /// `/proc/PID/stat`.
    pub fn pid_stat(&self, pid: u32) -> Result<Stat, ReadError> {
        self.read_parsed(&format!("/proc/{pid}/stat"), Stat::parse)
    }

    /// `/proc/PID/status`.
    pub fn pid_status(&self, pid: u32) -> Result<Status, ReadError> {
        Ok(Status::parse(&self.read_text(&format!("/proc/{pid}/status"))?))
    }

    /// `/proc/PID/smaps_rollup` (costly: walks the target's page tables).
    pub fn pid_smaps_rollup(&self, pid: u32) -> Result<SmapsRollup, ReadError> {
        Ok(SmapsRollup::parse(&self.read_text(&format!("/proc/{pid}/smaps_rollup"))?))
    }

    /// `/proc/PID/cgroup`.
    pub fn pid_cgroup(&self, pid: u32) -> Result<ProcCgroup, ReadError> {
        Ok(ProcCgroup::parse(&self.read_text(&format!("/proc/{pid}/cgroup"))?))
    }

    /// `/proc/PID/maps` (cheap: no page-table walk).
    pub fn pid_maps(&self, pid: u32) -> Result<crate::parse::pid::maps::Maps, ReadError> {
        Ok(crate::parse::pid::maps::Maps::parse(&self.read(&format!("/proc/{pid}/maps"))?))
    }

    /// `/proc/PID/smaps` (costly: walks every page table of the target).
    pub fn pid_smaps(&self, pid: u32) -> Result<crate::parse::pid::maps::Maps, ReadError> {
        Ok(crate::parse::pid::maps::Maps::parse(&self.read(&format!("/proc/{pid}/smaps"))?))
    }

    /// `/proc/PID/cmdline` as arguments (NUL-separated; lossy UTF-8).
    pub fn pid_cmdline(&self, pid: u32) -> Result<Vec<String>, ReadError> {
        let data = self.read(&format!("/proc/{pid}/cmdline"))?;
        Ok(data
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect())
    }
}

/// Read every record in `/dev/kmsg` without blocking. Each `read` returns
/// one record (`prio,seq,usec,flags;message`); `EAGAIN` means no more;
/// `EPIPE` means records were overwritten while reading and is skipped
/// (Documentation/ABI/testing/dev-kmsg).
fn read_kmsg_live(path: &std::path::Path) -> Result<String, ReadError> {
    use rustix::fs::{Mode, OFlags, open};
    use rustix::io::{Errno, read};
    let kpath = paths::KMSG;
    let fd = open(path, OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| crate::root::classify(&e.into(), kpath))?;
    let mut out = String::new();
    let mut buf = vec![0u8; 8192];
    // A bounded number of records: the ring holds at most a few MiB.
    for _ in 0..1_000_000 {
        match read(&fd, &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let rec = String::from_utf8_lossy(&buf[..n]);
                out.push_str(rec.lines().next().unwrap_or(""));
                out.push('\n');
            }
            Err(Errno::PIPE) | Err(Errno::INTR) => continue,
            Err(Errno::AGAIN) => break,
            Err(e) => return Err(crate::root::classify(&e.into(), kpath)),
        }
    }
    Ok(out)
}
