//! Readers: the kernel path of each file and the parser that reads it, in
//! one place. Each returns the parsed value or a [`ReadError`].

use serde::{Deserialize, Serialize};

use crate::held::HeldFiles;
use crate::root::text_of;

use crate::parse::allocinfo::Allocinfo;
use crate::parse::arcstats::Arcstats;
use crate::parse::buddyinfo::Buddyinfo;
use crate::parse::choice::Choice;
use crate::parse::cmdline::Cmdline;
use crate::parse::file_nr::FileNr;
use crate::parse::interrupts::Interrupts;
use crate::parse::iomem::Iomem;
use crate::parse::kallsyms::Kallsyms;
use crate::parse::kernel_version::KernelVersion;
use crate::parse::meminfo::Meminfo;
use crate::parse::mountinfo::Mountinfo;
use crate::parse::net::{SocketTable, TABLES};
use crate::parse::oom::{self, OomLog};
use crate::parse::pagetypeinfo::Pagetypeinfo;
use crate::parse::pid::cgroup::ProcCgroup;
use crate::parse::pid::fd::FileType;
use crate::parse::pid::fdinfo::FdInfo;
use crate::parse::pid::limits::Limits;
use crate::parse::pid::ns::{self, Namespaces};
use crate::parse::pid::numa_maps::NumaMaps;
use crate::parse::pid::smaps_rollup::SmapsRollup;
use crate::parse::pid::stat::Stat;
use crate::parse::pid::status::{Status, StatusKeys};
use crate::parse::pressure::{Pressure, Trigger};
use crate::parse::runtime::{self, PodName, RuntimeFormat, RuntimeName};
use crate::parse::slabinfo::Slabinfo;
use crate::parse::sockstat::Sockstat;
use crate::parse::sys_slab::{self, SlabSysfs};
use crate::parse::sysfs::hugepage_dir_size;
use crate::parse::vmallocinfo::Vmallocinfo;
use crate::parse::vmstat::Vmstat;
use crate::parse::zoneinfo::Zoneinfo;
use crate::parse::{hex_u64, kmsg, release};
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
    /// Buddy free lists per migrate type (root only).
    pub const PAGETYPEINFO: &str = "/proc/pagetypeinfo";
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
    /// Loaded kernel modules (balloon drivers hold memory no counter shows).
    pub const MODULES: &str = "/proc/modules";
    /// Socket counters (IPv6).
    pub const SOCKSTAT6: &str = "/proc/net/sockstat6";
    /// Memory pressure stall information (4.20+, CONFIG_PSI).
    pub const PRESSURE_MEMORY: &str = "/proc/pressure/memory";
    /// A v2 cgroup's memory pressure, relative to the cgroup's directory.
    pub const CGROUP_MEMORY_PRESSURE: &str = "memory.pressure";
    /// ZFS ARC counters.
    pub const ARCSTATS: &str = "/proc/spl/kstat/zfs/arcstats";
    /// Kernel release.
    pub const OSRELEASE: &str = "/proc/sys/kernel/osrelease";
    /// `Linux version <release> (<builder>) (<compiler>) #<build> …`.
    pub const PROC_VERSION: &str = "/proc/version";
    /// Kernel log (records, one per read; root or `dmesg_restrict=0`).
    pub const KMSG: &str = "/dev/kmsg";
    /// Kernel and system statistics; memscope reads the boot time.
    pub const STAT: &str = "/proc/stat";
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
    /// The uprobe PMU's type number (kernel 4.17+, CONFIG_UPROBE_EVENTS):
    /// user functions can be probed with `perf_event_open`.
    pub const UPROBE_PMU_TYPE: &str = "/sys/bus/event_source/devices/uprobe/type";
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
    /// Flags of every page frame, one `u64` per PFN (root only).
    pub const KPAGEFLAGS: &str = "/proc/kpageflags";
    /// Map count of every page frame, one `u64` per PFN (root only).
    pub const KPAGECOUNT: &str = "/proc/kpagecount";
    /// Memory cgroup inode of every page frame, one `u64` per PFN (root
    /// only; CONFIG_MEMCG).
    pub const KPAGECGROUP: &str = "/proc/kpagecgroup";
    /// Open file objects: allocated, free, max (`fs.file-max`).
    pub const FILE_NR: &str = "/proc/sys/fs/file-nr";
    /// The ceiling of any process's `RLIMIT_NOFILE`.
    pub const NR_OPEN: &str = "/proc/sys/fs/nr_open";
    /// inotify instances a user may hold.
    pub const INOTIFY_MAX_USER_INSTANCES: &str = "/proc/sys/fs/inotify/max_user_instances";
    /// inotify watches a user may hold.
    pub const INOTIFY_MAX_USER_WATCHES: &str = "/proc/sys/fs/inotify/max_user_watches";
    /// epoll watches a user may hold.
    pub const EPOLL_MAX_USER_WATCHES: &str = "/proc/sys/fs/epoll/max_user_watches";
    /// Socket tables of the reader's network namespace (`/proc/PID/net` for
    /// another process's).
    pub const NET: &str = "/proc/net";

    // Real time (`memscope rt check`).
    /// The host name.
    pub const HOSTNAME: &str = "/proc/sys/kernel/hostname";
    /// A random id drawn at each boot (Documentation/admin-guide/sysctl/kernel.rst, `random`).
    pub const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";
    /// The kernel command line.
    pub const CMDLINE: &str = "/proc/cmdline";
    /// The UTS version string (`uname -v`), which names the preemption model.
    pub const KERNEL_VERSION: &str = "/proc/sys/kernel/version";
    /// Where debugfs is mounted (empty when it is not).
    pub const DEBUGFS: &str = "/sys/kernel/debug";
    /// The current preemption model of a PREEMPT_DYNAMIC kernel (debugfs).
    pub const SCHED_PREEMPT: &str = "/sys/kernel/debug/sched/preempt";
    /// `1` on kernels with the out-of-tree PREEMPT_RT patches (mainline RT
    /// kernels since 6.12 do not have it).
    pub const REALTIME: &str = "/sys/kernel/realtime";
    /// The build configuration, gzip (CONFIG_IKCONFIG_PROC).
    pub const CONFIG_GZ: &str = "/proc/config.gz";
    /// Where distributions install `config-<release>`.
    pub const BOOT: &str = "/boot";
    /// RT throttling: microseconds per period RT tasks may run (-1: no limit).
    pub const SCHED_RT_RUNTIME_US: &str = "/proc/sys/kernel/sched_rt_runtime_us";
    /// RT throttling period in microseconds.
    pub const SCHED_RT_PERIOD_US: &str = "/proc/sys/kernel/sched_rt_period_us";
    /// Whether timers may migrate to other CPUs.
    pub const TIMER_MIGRATION: &str = "/proc/sys/kernel/timer_migration";
    /// The NMI (hard lockup) watchdog.
    pub const NMI_WATCHDOG: &str = "/proc/sys/kernel/nmi_watchdog";
    /// Seconds between the per-CPU vmstat updates.
    pub const STAT_INTERVAL: &str = "/proc/sys/vm/stat_interval";
    /// Swap tendency.
    pub const SWAPPINESS: &str = "/proc/sys/vm/swappiness";
    /// CPUs isolated with `isolcpus=` (domain isolation).
    pub const CPU_ISOLATED: &str = "/sys/devices/system/cpu/isolated";
    /// CPUs in full dynticks mode (CONFIG_NO_HZ_FULL only).
    pub const CPU_NOHZ_FULL: &str = "/sys/devices/system/cpu/nohz_full";
    /// Per-CPU directories `cpuN/` (cpufreq, cpuidle).
    pub const CPU_DIR: &str = "/sys/devices/system/cpu";
    /// The cpuidle driver and governor.
    pub const CPUIDLE: &str = "/sys/devices/system/cpu/cpuidle";
    /// Whether SMT siblings are active.
    pub const SMT_ACTIVE: &str = "/sys/devices/system/cpu/smt/active";
    /// The clock source behind CLOCK_MONOTONIC.
    pub const CLOCKSOURCE: &str = "/sys/devices/system/clocksource/clocksource0/current_clocksource";
    /// Transparent huge pages: when to use them.
    pub const THP_ENABLED: &str = "/sys/kernel/mm/transparent_hugepage/enabled";
    /// Transparent huge pages: whether page faults compact memory.
    pub const THP_DEFRAG: &str = "/sys/kernel/mm/transparent_hugepage/defrag";
    /// The CPU latency QoS limit (binary s32, microseconds).
    pub const CPU_DMA_LATENCY: &str = "/dev/cpu_dma_latency";
    /// Interrupt counts per CPU.
    pub const INTERRUPTS: &str = "/proc/interrupts";
    /// Per-interrupt directories `N/` (affinity).
    pub const IRQ: &str = "/proc/irq";
    /// CPUs unbound kernel workqueues may use (hex mask).
    pub const WORKQUEUE_CPUMASK: &str = "/sys/devices/virtual/workqueue/cpumask";
    /// Resource limits of memscope itself: those of the session it runs in.
    pub const SELF_LIMITS: &str = "/proc/self/limits";
    /// The affinity new interrupts get (hex mask).
    pub const IRQ_DEFAULT_AFFINITY: &str = "/proc/irq/default_smp_affinity";
    /// The tuned daemon's active profile (not a kernel file; read through
    /// the root so that a captured tree carries it).
    pub const TUNED_PROFILE: &str = "/etc/tuned/active_profile";
    /// The usual mount points of the cgroup v1 `cpu` controller, whose
    /// `cpu.rt_runtime_us` (CONFIG_RT_GROUP_SCHED) caps RT tasks per group.
    pub const CGROUP_V1_CPU: [&str; 2] = ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"];

    // Process directories.
    /// The process directories: one `PID/` per process.
    pub const PROC: &str = "/proc";
    /// A link to the reader's own process directory (its target is the pid).
    pub const SELF: &str = "/proc/self";
    /// The reader's own status: its uids decide which files it may read.
    pub const SELF_STATUS: &str = "/proc/self/status";
    /// The reader's own network namespace (a link, `net:[inode]`).
    pub const SELF_NETNS: &str = "/proc/self/ns/net";
    /// The reader's own descriptors' details (`fdinfo/N`).
    pub const SELF_FDINFO: &str = "/proc/self/fdinfo";

    /// A process's directory: `/proc/PID`.
    pub fn pid_dir(pid: u32) -> String {
        format!("{PROC}/{pid}")
    }

    /// A file (or directory) of a process: `/proc/PID/<name>`, `name`
    /// such as `limits`, `fd`, `net`, `task/*/stat`.
    pub fn pid_file(pid: u32, name: &str) -> String {
        format!("{PROC}/{pid}/{name}")
    }

    // Not kernel files, read through the root so that a captured tree
    // carries them.
    /// User names of uids in a captured tree (live, the C library's NSS
    /// lookup is used instead).
    pub const PASSWD: &str = "/etc/passwd";

    // Container runtimes' state: the names of containers (see
    // `parse::runtime`). Read through the root so that a captured tree
    // carries them (scrubbed: names, image and pod only).
    /// Docker: one `<id>/config.v2.json` per container.
    pub const DOCKER_CONTAINERS: &str = "/var/lib/docker/containers";
    /// Docker's configuration of a container, under its directory.
    pub const DOCKER_CONFIG: &str = "config.v2.json";
    /// containerd's running tasks: `<namespace>/<id>/config.json`, an OCI
    /// bundle (namespace `k8s.io` for Kubernetes, `moby` for Docker).
    pub const CONTAINERD_TASKS: &str = "/run/containerd/io.containerd.runtime.v2.task";
    /// An OCI bundle's configuration, under the bundle's directory.
    pub const OCI_CONFIG: &str = "config.json";
    /// CRI-O's running containers: `<id>/userdata/config.json`, an OCI
    /// bundle.
    pub const CRIO_CONTAINERS: &str = "/run/containers/storage/overlay-containers";
    /// containers/storage's list of containers (podman as root, CRI-O).
    pub const STORAGE_CONTAINERS_JSON: &str =
        "/var/lib/containers/storage/overlay-containers/containers.json";
    /// The kubelet's pod log directories, `<namespace>_<pod>_<uid>`.
    pub const POD_LOGS: &str = "/var/log/pods";
}

/// At most this many containers are read per runtime directory: a host
/// runs hundreds, a directory with more is not what it seems.
pub const MAX_RUNTIME_CONTAINERS: usize = 16384;

/// What the container runtimes' files name (see [`crate::parse::runtime`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeNames {
    /// `docker`, `containerd`, `cri-o`, `containers-storage`: what each
    /// runtime's files say, in that order (a container several runtimes
    /// know appears once per runtime).
    pub containers: Vec<(String, RuntimeName)>,
    /// Kubernetes pods, from the kubelet's pod log directories.
    pub pods: Vec<PodName>,
    /// Files that exist but could not be read or parsed (a runtime that
    /// is not installed is not an error).
    pub errors: Vec<ReadError>,
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
    /// The names the container runtimes give their containers, and the
    /// Kubernetes pods the kubelet logs for. Only names, images and pods are
    /// kept; a recording root keeps scrubbed copies of the files
    /// ([`RuntimeFormat::scrub`]).
    pub fn runtime_names(&self) -> RuntimeNames {
        let mut out = RuntimeNames::default();
        let keep = |err: ReadError, out: &mut RuntimeNames| {
            if !matches!(err, ReadError::NotReported { .. }) {
                out.errors.push(err);
            }
        };
        let list = |dir: &str, out: &mut RuntimeNames| match self.list_dir(dir) {
            Ok(mut names) => {
                names.truncate(MAX_RUNTIME_CONTAINERS);
                names
            }
            Err(e) => {
                keep(e, out);
                Vec::new()
            }
        };
        let bundle =
            |runtime: &str, id: &str, kpath: String, format: RuntimeFormat, out: &mut RuntimeNames| {
                let parsed = self.read_text_scrubbed(&kpath, |t| format.scrub(t)).and_then(|text| {
                    match format {
                        RuntimeFormat::DockerConfig => runtime::parse_docker_config(id, &text),
                        _ => runtime::parse_oci_bundle(id, &text),
                    }
                    .map_err(|e| ReadError::from_parse(&kpath, e))
                });
                match parsed {
                    Ok(n) => out.containers.push((runtime.to_string(), n)),
                    Err(e) => keep(e, out),
                }
            };
        for id in list(paths::DOCKER_CONTAINERS, &mut out) {
            let kpath = format!("{}/{id}/{}", paths::DOCKER_CONTAINERS, paths::DOCKER_CONFIG);
            bundle("docker", &id, kpath, RuntimeFormat::DockerConfig, &mut out);
        }
        for ns in list(paths::CONTAINERD_TASKS, &mut out) {
            for id in list(&format!("{}/{ns}", paths::CONTAINERD_TASKS), &mut out) {
                let kpath = format!("{}/{ns}/{id}/{}", paths::CONTAINERD_TASKS, paths::OCI_CONFIG);
                bundle("containerd", &id, kpath, RuntimeFormat::OciBundle, &mut out);
            }
        }
        for id in list(paths::CRIO_CONTAINERS, &mut out) {
            let kpath = format!("{}/{id}/userdata/{}", paths::CRIO_CONTAINERS, paths::OCI_CONFIG);
            bundle("cri-o", &id, kpath, RuntimeFormat::OciBundle, &mut out);
        }
        let kpath = paths::STORAGE_CONTAINERS_JSON;
        let storage = self
            .read_text_scrubbed(kpath, |t| RuntimeFormat::StorageContainers.scrub(t))
            .and_then(|t| runtime::parse_storage_containers(&t).map_err(|e| ReadError::from_parse(kpath, e)));
        match storage {
            Ok(list) => out.containers.extend(
                list.into_iter().take(MAX_RUNTIME_CONTAINERS).map(|n| ("containers-storage".to_string(), n)),
            ),
            Err(e) => keep(e, &mut out),
        }
        out.pods =
            list(paths::POD_LOGS, &mut out).iter().filter_map(|d| runtime::parse_pod_log_dir(d)).collect();
        out
    }

    /// `/proc/meminfo`.
    pub fn meminfo(&self) -> Result<Meminfo, ReadError> {
        Ok(Meminfo::parse(&self.read_text(paths::MEMINFO)?))
    }

    /// The page size of a tree that does not record it: MemTotal is
    /// `totalram_pages` pages (fs/proc/meminfo.c), and `totalram_pages` is the
    /// sum of the zones' `managed` pages (mm/page_alloc.c), so their ratio is
    /// the page size. `None` without both files, before `managed` was printed
    /// (3.8), or when the ratio is no page size within 1%.
    pub(crate) fn page_size_from_counters(&self) -> Option<u64> {
        let total = self.meminfo().ok()?.get("MemTotal")?;
        let managed = self
            .zoneinfo()
            .ok()?
            .zones
            .iter()
            .filter_map(|z| z.get("managed"))
            .fold(0u64, u64::saturating_add);
        if managed == 0 {
            return None;
        }
        [4096u64, 8192, 16384, 65536].into_iter().find(|p| {
            let want = managed.saturating_mul(*p);
            want.abs_diff(total) <= want / 100
        })
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

    /// `/proc/pagetypeinfo` (root only since 5.6).
    pub fn pagetypeinfo(&self) -> Result<Pagetypeinfo, ReadError> {
        Ok(Pagetypeinfo::parse(&self.read_text(paths::PAGETYPEINFO)?))
    }

    /// `/proc/slabinfo` (root only). An empty file (copied by a tool that
    /// ran without root) is an error saying so, not a header parse error.
    pub fn slabinfo(&self) -> Result<Slabinfo, ReadError> {
        let text = self.read_text(paths::SLABINFO)?;
        if text.trim().is_empty() {
            return Err(empty_file(paths::SLABINFO));
        }
        Slabinfo::parse(&text).map_err(|e| ReadError::from_parse(paths::SLABINFO, e))
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

    /// Merge aliases and flags of the slab caches `names` (as `/proc/slabinfo`
    /// names them) from `/sys/kernel/slab` (see [`crate::parse::sys_slab`]).
    /// Flags are read from each cache's real directory, so that a merged
    /// cache is read once under its unique id. `NotReported` without SLUB's
    /// sysfs directory; a flag that cannot be read is absent.
    pub fn slab_sysfs<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Result<SlabSysfs, ReadError> {
        let entries = self.list_dir(paths::SYS_SLAB)?;
        let links: Vec<(String, Option<String>)> = entries
            .into_iter()
            .map(|e| {
                let target = self.read_link(&format!("{}/{e}", paths::SYS_SLAB)).ok();
                (e, target)
            })
            .collect();
        let aliases = sys_slab::aliases(links.iter().map(|(n, t)| (n.as_str(), t.as_deref())));
        let dir_of: std::collections::BTreeMap<&str, &str> =
            links.iter().filter_map(|(n, t)| Some((n.as_str(), t.as_deref()?.rsplit('/').next()?))).collect();
        let mut flags = std::collections::BTreeMap::new();
        for name in names {
            let dir = dir_of.get(name).copied().unwrap_or(name);
            let set: std::collections::BTreeMap<String, bool> = sys_slab::FLAGS
                .iter()
                .filter_map(|f| {
                    let text = self.read_text(&format!("{}/{dir}/{}", paths::SYS_SLAB, f.file)).ok()?;
                    Some((f.label.to_string(), sys_slab::parse_flag(&text)?))
                })
                .collect();
            if !set.is_empty() {
                flags.insert(name.to_string(), set);
            }
        }
        Ok(SlabSysfs { aliases, flags })
    }

    /// `/proc/vmallocinfo`. As non-root the file may be readable with
    /// addresses zeroed; the sizes and callers are still right.
    /// The kernel always has vmalloc areas (module space, percpu chunks,
    /// stacks), so an empty file is a copy made without root: an error, not
    /// "no areas".
    pub fn vmallocinfo(&self) -> Result<Vmallocinfo, ReadError> {
        let text = self.read_text(paths::VMALLOCINFO)?;
        if text.trim().is_empty() {
            return Err(empty_file(paths::VMALLOCINFO));
        }
        Ok(Vmallocinfo::parse(&text))
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

    /// Each node's allocation counters, `nodeN/numastat` (numa_hit,
    /// numa_miss, numa_foreign, interleave_hit, local_node, other_node: pages
    /// allocated since boot; Documentation/admin-guide/numastat.rst).
    pub fn numastat(&self) -> Result<Vec<(u32, Vmstat)>, ReadError> {
        let mut out = Vec::new();
        for name in self.list_dir(paths::NODES)? {
            let Some(n) = name.strip_prefix("node").and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            out.push((n, Vmstat::parse(&self.read_text(&format!("{}/{name}/numastat", paths::NODES))?)));
        }
        out.sort_by_key(|(n, _)| *n);
        Ok(out)
    }

    /// `/proc/net/sockstat`.
    pub fn sockstat(&self) -> Result<Sockstat, ReadError> {
        Ok(Sockstat::parse(&self.read_text(paths::SOCKSTAT)?))
    }

    /// `/proc/net/sockstat6`.
    pub fn sockstat6(&self) -> Result<Sockstat, ReadError> {
        Ok(Sockstat::parse(&self.read_text(paths::SOCKSTAT6)?))
    }

    /// `/proc/modules`: the loaded kernel modules.
    pub fn modules(&self) -> Result<crate::parse::modules::Modules, ReadError> {
        Ok(crate::parse::modules::Modules::parse(&self.read_text(paths::MODULES)?))
    }

    /// ZFS ARC counters (only where ZFS is loaded).
    pub fn arcstats(&self) -> Result<Arcstats, ReadError> {
        Ok(Arcstats::parse(&self.read_text(paths::ARCSTATS)?))
    }

    /// The running kernel's release string: `/proc/sys/kernel/osrelease`,
    /// else the third word of `/proc/version` (captures made by other tools
    /// often hold only one of them), else, in a captured tree, its
    /// MANIFEST's `kernel:`. The first error when none gives one.
    pub fn osrelease(&self) -> Result<String, ReadError> {
        let first = match self.read_text(paths::OSRELEASE) {
            Ok(t) if !t.trim().is_empty() => return Ok(t.trim().to_string()),
            Ok(_) => ReadError::Parse { path: paths::OSRELEASE.into(), line: 1, item: "a release".into() },
            Err(e) => e,
        };
        if let Some(r) =
            self.read_text(paths::PROC_VERSION).ok().as_deref().and_then(release::from_proc_version)
        {
            return Ok(r);
        }
        if !self.is_live()
            && let Some(r) = self.manifest().get("kernel").and_then(|k| release::from_manifest(k))
        {
            return Ok(r);
        }
        Err(first)
    }

    /// The host name, as the kernel knows it.
    pub fn hostname(&self) -> Result<String, ReadError> {
        Ok(self.read_text(paths::HOSTNAME)?.trim().to_string())
    }

    /// The id of this boot (`/proc/sys/kernel/random/boot_id`, a UUID drawn
    /// at boot): kernel log stamps count from boot, so a stamp names one
    /// moment only together with the boot it belongs to.
    pub fn boot_id(&self) -> Result<String, ReadError> {
        let id = self.read_text(paths::BOOT_ID)?.trim().to_string();
        if id.is_empty() || id.len() > 64 {
            return Err(ReadError::missing_field(paths::BOOT_ID, "the boot id"));
        }
        Ok(id)
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
        let log = self.kernel_log_matching_until("percpu: ", Some(BOOT_LOG_USEC))?;
        kmsg::find_percpu_first_chunk_pages(&log)
            .ok_or_else(|| ReadError::missing_field(paths::KMSG, "the percpu first-chunk boot line"))
    }

    /// Kernel log records containing `needle`, one per line. Live, read from
    /// `/dev/kmsg` without blocking; in a captured tree, from its
    /// `dev/kmsg` text file (which holds only the lines memscope used).
    pub fn kernel_log_matching(&self, needle: &str) -> Result<String, ReadError> {
        self.kernel_log_matching_until(needle, None)
    }

    /// Like [`KernelRoot::kernel_log_matching`], but live, stop at the first
    /// record stamped later than `until_usec` after boot: a line printed
    /// during boot is found without reading the rest of the ring (thousands
    /// of records, one `read` each), and once the ring has wrapped past boot
    /// the first record says so at once.
    pub fn kernel_log_matching_until(
        &self,
        needle: &str,
        until_usec: Option<u64>,
    ) -> Result<String, ReadError> {
        let text = if self.is_live() {
            read_kmsg_live(&self.resolve(paths::KMSG), until_usec)?
        } else {
            self.read_text(paths::KMSG)?
        };
        let found: String = text.lines().filter(|l| l.contains(needle)).map(|l| format!("{l}\n")).collect();
        if self.is_live() && self.is_recording() {
            self.record_kmsg(found.lines());
        }
        Ok(found)
    }

    /// Every OOM killer report in the kernel log (see
    /// [`crate::parse::oom`]). Live, the whole ring is read from
    /// `/dev/kmsg` without blocking (records survive until the ring wraps);
    /// in a captured tree, from its `dev/kmsg`, which keeps the reports'
    /// lines.
    pub fn oom_reports(&self) -> Result<OomLog, ReadError> {
        let text = if self.is_live() {
            read_kmsg_live(&self.resolve(paths::KMSG), None)?
        } else {
            self.read_text(paths::KMSG)?
        };
        let log = oom::parse_log(&text);
        if self.is_live() && self.is_recording() {
            self.record_kmsg(oom::report_lines_in(&text, &log).into_iter());
        }
        Ok(log)
    }

    /// Like [`KernelRoot::oom_reports`], for a caller that asks again and
    /// again (`record`, `leaks --watch`): live, `follower` keeps `/dev/kmsg`
    /// open, so that after the first call (the whole ring) each call reads
    /// only the records printed since (each open file of `/dev/kmsg` has its
    /// own position: Documentation/ABI/testing/dev-kmsg), and parses them
    /// after the lines of the reports read before. A report printed across
    /// two calls is whole in the second: an unfinished report's lines are
    /// kept too. In a captured tree every call reads the whole log.
    pub fn oom_reports_followed(&self, follower: &mut KmsgFollower) -> Result<OomLog, ReadError> {
        if !self.is_live() {
            return self.oom_reports();
        }
        let new = match follower.fd.take() {
            Some(fd) => read_kmsg_records(&fd, None).map(|t| (fd, t)),
            None => open_kmsg(&self.resolve(paths::KMSG))
                .and_then(|fd| read_kmsg_records(&fd, None).map(|t| (fd, t))),
        };
        // On an error the next call opens the log again, from the start.
        let (fd, new) = new?;
        follower.fd = Some(fd);
        if let Some(last) = follower.last.as_ref().filter(|_| new.is_empty()) {
            // Nothing printed since: the same reports.
            return Ok(last.clone());
        }
        if self.is_recording() {
            self.record_kmsg(oom::report_lines(&new).into_iter());
        }
        let log = follower.follow(&new);
        follower.last = Some(log.clone());
        Ok(log)
    }

    /// The boot time, seconds since the epoch (`btime` of `/proc/stat`).
    pub fn boot_time_seconds(&self) -> Result<u64, ReadError> {
        let text = self.read_text(paths::STAT)?;
        crate::parse::proc_stat::btime(&text).ok_or_else(|| ReadError::missing_field(paths::STAT, "btime"))
    }

    /// Keep kernel log lines for a capture: added to those kept by earlier
    /// reads (the percpu boot line, OOM reports), in record order.
    fn record_kmsg<'a>(&self, lines: impl Iterator<Item = &'a str>) {
        let before = self.recorded(paths::KMSG).unwrap_or_default();
        let before = String::from_utf8_lossy(&before);
        let mut all: Vec<String> = before.lines().map(str::to_string).collect();
        all.extend(lines.map(str::to_string));
        all.sort_by_key(|l| kmsg_record_seq(l));
        all.dedup();
        let text: String = all.iter().map(|l| format!("{l}\n")).collect();
        self.record(paths::KMSG, text.as_bytes());
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

    /// `/proc/PID/stat` through files held open between passes
    /// ([`HeldFiles`]), when given.
    pub fn pid_stat_held(&self, pid: u32, held: Option<&HeldFiles>) -> Result<Stat, ReadError> {
        let Some(held) = held else { return self.pid_stat(pid) };
        let text = text_of(self.read_pid_file_held(pid, "stat", held)?);
        Stat::parse(&text).map_err(|e| ReadError::from_parse(&format!("/proc/{pid}/stat"), e))
    }

    /// `/proc/PID/comm`: the command name, without its newline.
    pub fn pid_comm(&self, pid: u32) -> Result<String, ReadError> {
        let text = self.read_text(&format!("/proc/{pid}/comm"))?;
        Ok(text.strip_suffix('\n').unwrap_or(&text).to_string())
    }

    /// `/proc/PID/status`.
    pub fn pid_status(&self, pid: u32) -> Result<Status, ReadError> {
        self.pid_status_keeping(pid, StatusKeys::ALL)
    }

    /// `/proc/PID/status` with only the fields `keys` names
    /// ([`Status::parse_keeping`]).
    pub fn pid_status_keeping(&self, pid: u32, keys: StatusKeys) -> Result<Status, ReadError> {
        Ok(Status::parse_keeping(&self.read_text(&format!("/proc/{pid}/status"))?, keys))
    }

    /// [`KernelRoot::pid_status_keeping`] through files held open between
    /// passes ([`HeldFiles`]), when given.
    pub fn pid_status_held(
        &self,
        pid: u32,
        keys: StatusKeys,
        held: Option<&HeldFiles>,
    ) -> Result<std::sync::Arc<Status>, ReadError> {
        match held {
            Some(held) => self.pid_status_through(pid, keys, held),
            None => self.pid_status_keeping(pid, keys).map(std::sync::Arc::new),
        }
    }

    /// `/proc/PID/smaps_rollup` (costly: walks the target's page tables).
    pub fn pid_smaps_rollup(&self, pid: u32) -> Result<SmapsRollup, ReadError> {
        Ok(SmapsRollup::parse(&self.read_text(&format!("/proc/{pid}/smaps_rollup"))?))
    }

    /// `/proc/PID/smaps` summed over every mapping into the fields of a
    /// rollup: what `smaps_rollup` gives on kernels before 4.14, which lack
    /// it (`Pss` is in `smaps` since 2.6.25). As costly as `smaps_rollup`,
    /// and more: the text is one block per mapping.
    pub fn pid_smaps_summed(&self, pid: u32) -> Result<SmapsRollup, ReadError> {
        let maps = crate::parse::pid::maps::Maps::parse(&self.read(&format!("/proc/{pid}/smaps"))?);
        Ok(SmapsRollup::from_smaps(&maps))
    }

    /// `/proc/PID/cgroup`.
    pub fn pid_cgroup(&self, pid: u32) -> Result<ProcCgroup, ReadError> {
        Ok(ProcCgroup::parse(&self.read_text(&format!("/proc/{pid}/cgroup"))?))
    }

    /// `/proc/PID/maps` (cheap: no page-table walk).
    pub fn pid_maps(&self, pid: u32) -> Result<crate::parse::pid::maps::Maps, ReadError> {
        Ok(crate::parse::pid::maps::Maps::parse(&self.read(&format!("/proc/{pid}/maps"))?))
    }

    /// Where a file of process `pid`'s own file system view lives for us:
    /// `/proc/PID/root/PATH` (proc(5)), which follows the process's mount
    /// namespace and chroot, so a container's libraries are found even when
    /// the host has no such path. For the ELF files of its mappings (the
    /// user-space tracer attaches to and symbolises them); the file must
    /// exist. `path` must be absolute, as `/proc/PID/maps` prints it.
    pub fn pid_root_path(&self, pid: u32, path: &str) -> Result<std::path::PathBuf, ReadError> {
        let kpath = pid_root_kpath(pid, path)?;
        let host = self.resolve(&kpath);
        std::fs::metadata(&host).map_err(|e| crate::root::classify(&e, &kpath))?;
        Ok(host)
    }

    /// Open a file of process `pid`'s view (see [`Self::pid_root_path`]) for
    /// positioned reads.
    pub fn open_in_pid_root(&self, pid: u32, path: &str) -> Result<crate::root::KernelFile, ReadError> {
        self.open(&pid_root_kpath(pid, path)?)
    }

    /// `/proc/PID/smaps` (costly: walks every page table of the target).
    pub fn pid_smaps(&self, pid: u32) -> Result<crate::parse::pid::maps::Maps, ReadError> {
        Ok(crate::parse::pid::maps::Maps::parse(&self.read(&format!("/proc/{pid}/smaps"))?))
    }

    /// Open `/proc/PID/pagemap` for positioned reads (see
    /// [`crate::parse::pid::pagemap`]). Opening takes a reference on the
    /// process's address space; reads return nothing once it is gone.
    pub fn open_pagemap(&self, pid: u32) -> Result<crate::root::KernelFile, ReadError> {
        self.open(&format!("/proc/{pid}/pagemap"))
    }

    /// `/proc/sys/fs/file-nr`.
    pub fn file_nr(&self) -> Result<FileNr, ReadError> {
        self.read_parsed(paths::FILE_NR, FileNr::parse)
    }

    /// `/proc/PID/limits` (world-readable).
    pub fn pid_limits(&self, pid: u32) -> Result<Limits, ReadError> {
        Ok(Limits::parse(&self.read_text(&format!("/proc/{pid}/limits"))?))
    }

    /// How many descriptors a process holds, without listing them when the
    /// kernel can say: since Linux 6.2, `stat` of `/proc/PID/fd` reports the
    /// number of open descriptors as its size (fs/proc/fd.c
    /// `proc_fd_getattr`, a bitmap count of the fd table). `stat` needs no
    /// read permission on the directory, so this works for other users'
    /// processes too. A size of 0 (older kernels, a captured tree, or no
    /// descriptors at all) falls back to counting the entries, which needs
    /// the process's owner or root.
    pub fn pid_fd_count(&self, pid: u32) -> Result<u64, ReadError> {
        let kpath = format!("/proc/{pid}/fd");
        if self.is_live() {
            let size =
                std::fs::metadata(self.resolve(&kpath)).map_err(|e| crate::root::classify(&e, &kpath))?.len();
            if size > 0 {
                return Ok(size);
            }
        }
        self.count_dir(&kpath)
    }

    /// [`KernelRoot::pid_fd_count`] through `/proc/PID/fd` held open
    /// between passes ([`HeldFiles`]), when given: `fstat` of the held
    /// directory counts as `stat` of its path does, without the path walk.
    pub fn pid_fd_count_held(&self, pid: u32, held: Option<&HeldFiles>) -> Result<u64, ReadError> {
        match held.and_then(|h| self.pid_dir_size_held(pid, "fd", h)) {
            Some(size) => Ok(size),
            None => self.pid_fd_count(pid),
        }
    }

    /// The descriptor numbers a process holds, ascending (root or the
    /// process's owner).
    pub fn pid_fds(&self, pid: u32) -> Result<Vec<u32>, ReadError> {
        let mut fds: Vec<u32> =
            self.list_dir(&format!("/proc/{pid}/fd"))?.iter().filter_map(|n| n.parse().ok()).collect();
        fds.sort_unstable();
        Ok(fds)
    }

    /// The link text of `/proc/PID/fd/N` (see [`crate::parse::pid::fd`]).
    pub fn pid_fd_target(&self, pid: u32, fd: u32) -> Result<String, ReadError> {
        self.read_link(&format!("/proc/{pid}/fd/{fd}"))
    }

    /// The type of the file descriptor `fd` of `pid` refers to: `statx` of
    /// the magic link with `AT_STATX_DONT_SYNC`, so that a file on a network
    /// file system answers from its cache instead of a round trip. `None` in
    /// a captured tree: its links point at paths of the machine it came from.
    pub fn pid_fd_file_type(&self, pid: u32, fd: u32) -> Result<Option<FileType>, ReadError> {
        use rustix::fs::{AtFlags, CWD, StatxFlags, statx};
        if !self.is_live() {
            return Ok(None);
        }
        let kpath = format!("/proc/{pid}/fd/{fd}");
        let st = statx(CWD, self.resolve(&kpath), AtFlags::STATX_DONT_SYNC, StatxFlags::TYPE)
            .map_err(|e| crate::root::classify(&e.into(), &kpath))?;
        Ok(Some(FileType::from_mode(u32::from(st.stx_mode))))
    }

    /// `/proc/PID/fdinfo/N`.
    pub fn pid_fdinfo(&self, pid: u32, fd: u32) -> Result<FdInfo, ReadError> {
        Ok(FdInfo::parse(&self.read_text(&format!("/proc/{pid}/fdinfo/{fd}"))?))
    }

    /// The network namespace of a process, as its link reads
    /// (`net:[4026531833]`).
    pub fn pid_netns(&self, pid: u32) -> Result<String, ReadError> {
        self.read_link(&format!("/proc/{pid}/ns/net"))
    }

    /// Every socket table of [`TABLES`] under `dir` (`/proc/net`, or
    /// `/proc/PID/net` for another network namespace), each parsed or the
    /// reason it could not be.
    pub fn socket_tables(&self, dir: &str) -> Vec<(String, Result<SocketTable, ReadError>)> {
        TABLES
            .iter()
            .map(|(name, format)| {
                let t =
                    self.read_text(&format!("{dir}/{name}")).map(|t| SocketTable::parse(&t, name, *format));
                (name.to_string(), t)
            })
            .collect()
    }

    /// `/proc/PID/numa_maps` (walks the target's page tables, like smaps;
    /// absent on kernels built without NUMA).
    /// A process that is still there (its `stat` exists) without the file
    /// gives [`ReadError::NotReported`], not `Gone`.
    pub fn pid_numa_maps(&self, pid: u32) -> Result<NumaMaps, ReadError> {
        match self.read_text(&format!("/proc/{pid}/numa_maps")) {
            Ok(text) => Ok(NumaMaps::parse(&text)),
            Err(ReadError::Gone { path }) if self.exists(&paths::pid_file(pid, "stat")) => {
                Err(ReadError::NotReported { path, field: None })
            }
            Err(e) => Err(e),
        }
    }

    /// The namespaces of a process, from the links `/proc/PID/ns/*`
    /// ([`ns::KINDS`]). Types this kernel lacks are left out; the first other
    /// failure (the process is gone, permission denied) is the result.
    pub fn pid_namespaces(&self, pid: u32) -> Result<Namespaces, ReadError> {
        let dir = format!("/proc/{pid}/ns");
        if !self.exists(&dir) {
            // Live, the process has exited; in a captured tree the directory
            // may simply not have been captured.
            return Err(if self.exists(&format!("/proc/{pid}")) {
                ReadError::NotReported { path: dir, field: None }
            } else {
                ReadError::Gone { path: dir }
            });
        }
        let mut out = Namespaces::default();
        for kind in ns::KINDS {
            let kpath = format!("/proc/{pid}/ns/{kind}");
            match self.read_link(&kpath) {
                Ok(target) => match ns::parse_link(&target) {
                    Some((_, inode)) => {
                        out.ids.insert(kind.to_string(), inode);
                    }
                    None => {
                        return Err(ReadError::Parse {
                            path: kpath,
                            line: 1,
                            item: "a `type:[inode]` link".into(),
                        });
                    }
                },
                // A process directory without this link: an older kernel.
                Err(ReadError::Gone { .. }) if self.exists(&dir) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The target of `/proc/PID/exe`: the program's path (` (deleted)`
    /// appended when replaced on disk); needs ptrace read access.
    pub fn pid_exe(&self, pid: u32) -> Result<String, ReadError> {
        self.read_link(&format!("/proc/{pid}/exe"))
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

/// A root-only file copied without root reads empty: say so.
fn empty_file(kpath: &str) -> ReadError {
    ReadError::Io { path: kpath.to_string(), message: "empty (read as non-root?)".to_string() }
}

/// Read every record in `/dev/kmsg` without blocking. Each `read` returns
/// one record (`prio,seq,usec,flags;message`); `EAGAIN` means no more;
/// `EPIPE` means records were overwritten while reading and is skipped
/// (Documentation/ABI/testing/dev-kmsg).
/// How long after boot a boot-time log line may be stamped: the percpu
/// first chunk is set up before the clock runs (stamped 0).
const BOOT_LOG_USEC: u64 = 60_000_000;

/// The time stamp of a `/dev/kmsg` record, `prio,seq,usec,flags[,…];text`
/// (Documentation/ABI/testing/dev-kmsg).
fn kmsg_record_usec(record: &str) -> Option<u64> {
    let head = record.split(';').next()?;
    head.split(',').nth(2)?.parse().ok()
}

/// The sequence number of a `/dev/kmsg` record (`prio,seq,…`).
fn kmsg_record_seq(record: &str) -> Option<u64> {
    let head = record.split(';').next()?;
    head.split(',').nth(1)?.parse().ok()
}

/// Where [`KernelRoot::oom_reports_followed`] stands in the kernel log
/// between calls: the open `/dev/kmsg` and the lines of the OOM reports
/// read so far (at most [`KmsgFollower::KEPT_LINES_MAX`], the oldest
/// dropped first), by sequence number.
#[derive(Debug, Default)]
pub struct KmsgFollower {
    fd: Option<rustix::fd::OwnedFd>,
    kept: std::collections::BTreeMap<u64, String>,
    /// What the last call parsed: the answer while nothing new is printed.
    last: Option<OomLog>,
}

impl KmsgFollower {
    /// The most report lines kept between calls (a report of a machine with
    /// thousands of processes lists each in its task table).
    pub const KEPT_LINES_MAX: usize = 50_000;

    /// A follower that has read nothing yet.
    pub fn new() -> KmsgFollower {
        KmsgFollower::default()
    }

    /// The reports after reading the records `new`: those of the kept
    /// report lines followed by `new`; keeps the report lines of that text
    /// (finished or not) for the next call.
    fn follow(&mut self, new: &str) -> OomLog {
        let mut text = String::new();
        for line in self.kept.values() {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str(new);
        let log = oom::parse_log(&text);
        self.kept = oom::report_lines_in(&text, &log)
            .iter()
            .filter_map(|l| Some((kmsg_record_seq(l)?, l.to_string())))
            .collect();
        while self.kept.len() > KmsgFollower::KEPT_LINES_MAX {
            self.kept.pop_first();
        }
        log
    }
}

fn read_kmsg_live(path: &std::path::Path, until_usec: Option<u64>) -> Result<String, ReadError> {
    read_kmsg_records(&open_kmsg(path)?, until_usec)
}

/// `/dev/kmsg` opened to read without blocking, positioned at the oldest
/// record still in the ring.
fn open_kmsg(path: &std::path::Path) -> Result<rustix::fd::OwnedFd, ReadError> {
    use rustix::fs::{Mode, OFlags, open};
    open(path, OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| crate::root::classify(&e.into(), paths::KMSG))
}

/// The records from `fd`'s position to the newest (or the first stamped
/// after `until_usec`), one line each (a record's continuation lines, the
/// ` KEY=value` dictionary, are left out).
fn read_kmsg_records(fd: &rustix::fd::OwnedFd, until_usec: Option<u64>) -> Result<String, ReadError> {
    use rustix::io::{Errno, read};
    let kpath = paths::KMSG;
    let mut out = String::new();
    let mut buf = vec![0u8; 8192];
    // A bounded number of records: the ring holds at most a few MiB.
    for _ in 0..1_000_000 {
        match read(fd, &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let rec = String::from_utf8_lossy(&buf[..n]);
                let line = rec.lines().next().unwrap_or("");
                if until_usec.zip(kmsg_record_usec(line)).is_some_and(|(until, at)| at > until) {
                    break;
                }
                out.push_str(line);
                out.push('\n');
            }
            Err(Errno::PIPE) | Err(Errno::INTR) => continue,
            Err(Errno::AGAIN) => break,
            Err(e) => return Err(crate::root::classify(&e.into(), kpath)),
        }
    }
    Ok(out)
}

/// The build configuration as found: the path it came from and its bytes
/// (gzip for `/proc/config.gz`; the caller decompresses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelConfigFile {
    /// `/proc/config.gz` or `/boot/config-<release>`.
    pub path: String,
    /// True when `data` is gzip.
    pub gzip: bool,
    /// The file's bytes.
    pub data: Vec<u8>,
}

/// Where an interrupt may run (`/proc/irq/N/`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IrqAffinity {
    /// Interrupt number.
    pub irq: u32,
    /// `smp_affinity_list`: the CPUs asked for (by the driver, irqbalance or
    /// an administrator).
    pub smp_affinity: Result<Vec<u32>, ReadError>,
    /// `effective_affinity_list`: where the interrupt controller actually
    /// delivers it (often one CPU of the set). Absent on some architectures.
    pub effective_affinity: Result<Vec<u32>, ReadError>,
}

/// One idle state of one CPU (`cpuN/cpuidle/stateK/`,
/// Documentation/admin-guide/pm/cpuidle.rst).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdleState {
    /// `state0`, `state1`, …
    pub state: String,
    /// `POLL`, `C1`, `C6`, …
    pub name: String,
    /// Exit latency in microseconds (`latency`): the time to wake from it.
    pub latency_usec: Option<u64>,
    /// Disabled by the administrator or by a QoS limit (`disable` = 1).
    pub disabled: Option<bool>,
}

impl KernelRoot {
    /// `/proc/cmdline`.
    pub fn cmdline(&self) -> Result<Cmdline, ReadError> {
        Ok(Cmdline::parse(&self.read_text(paths::CMDLINE)?))
    }

    /// `/proc/sys/kernel/version` (`uname -v`).
    pub fn kernel_version(&self) -> Result<KernelVersion, ReadError> {
        Ok(KernelVersion::parse(&self.read_text(paths::KERNEL_VERSION)?))
    }

    /// A file that lists settings and marks the current one
    /// (`/sys/kernel/debug/sched/preempt`, THP `enabled`/`defrag`).
    pub fn choice(&self, kpath: &str) -> Result<Choice, ReadError> {
        Ok(Choice::parse(&self.read_text(kpath)?))
    }

    /// A file holding one signed number (sysctls where -1 means something).
    pub fn read_i64(&self, kpath: &str) -> Result<i64, ReadError> {
        self.read_parsed(kpath, crate::parse::single_i64)
    }

    /// A file holding one word (`scaling_governor`, `current_clocksource`).
    pub fn read_word(&self, kpath: &str) -> Result<String, ReadError> {
        let t = self.read_text(kpath)?;
        let t = t.trim();
        if t.is_empty() || t.contains('\n') {
            return Err(ReadError::Parse { path: kpath.into(), line: 1, item: "one word".into() });
        }
        Ok(t.to_string())
    }

    /// A sysfs CPU list file (`isolated`, `nohz_full`,
    /// `smp_affinity_list`), ascending. An empty file is an empty list, and
    /// so is `nohz_full`'s `(null)` (printed when nohz_full= was not given).
    pub fn cpu_list(&self, kpath: &str) -> Result<Vec<u32>, ReadError> {
        match self.read_list(kpath, "a cpu list") {
            Err(ReadError::Parse { .. }) if self.read_text(kpath).is_ok_and(|t| t.trim() == "(null)") => {
                Ok(Vec::new())
            }
            r => r,
        }
    }

    /// The kernel's build configuration: `/proc/config.gz`, else
    /// `/boot/config-<release>`. `NotReported` when neither exists.
    pub fn kernel_config(&self) -> Result<KernelConfigFile, ReadError> {
        match self.read(paths::CONFIG_GZ) {
            Ok(data) => return Ok(KernelConfigFile { path: paths::CONFIG_GZ.into(), gzip: true, data }),
            Err(ReadError::NotReported { .. }) => {}
            Err(e) => return Err(e),
        }
        let release = self.osrelease()?;
        let path = format!("{}/config-{release}", paths::BOOT);
        let data = self.read(&path).map_err(|e| match e {
            ReadError::NotReported { .. } => {
                ReadError::NotReported { path: format!("{} and {path}", paths::CONFIG_GZ), field: None }
            }
            e => e,
        })?;
        Ok(KernelConfigFile { path, gzip: false, data })
    }

    /// `/proc/interrupts`.
    pub fn interrupts(&self) -> Result<Interrupts, ReadError> {
        Ok(Interrupts::parse(&self.read_text(paths::INTERRUPTS)?))
    }

    /// The affinity of every interrupt in `/proc/irq`, by number.
    pub fn irq_affinities(&self) -> Result<Vec<IrqAffinity>, ReadError> {
        let mut out: Vec<IrqAffinity> = self
            .list_dir(paths::IRQ)?
            .iter()
            .filter_map(|n| n.parse::<u32>().ok())
            .map(|irq| {
                let dir = format!("{}/{irq}", paths::IRQ);
                IrqAffinity {
                    irq,
                    smp_affinity: self.cpu_list(&format!("{dir}/smp_affinity_list")),
                    effective_affinity: self.cpu_list(&format!("{dir}/effective_affinity_list")),
                }
            })
            .collect();
        out.sort_by_key(|a| a.irq);
        Ok(out)
    }

    /// `/proc/irq/default_smp_affinity`.
    pub fn irq_default_affinity(&self) -> Result<Vec<u32>, ReadError> {
        let kpath = paths::IRQ_DEFAULT_AFFINITY;
        crate::parse::sysfs::parse_mask(&self.read_text(kpath)?).ok_or(ReadError::Parse {
            path: kpath.into(),
            line: 1,
            item: "a hex cpu mask".into(),
        })
    }

    /// The CPU latency QoS limit in force, in microseconds
    /// (`/dev/cpu_dma_latency`, root only).
    pub fn cpu_dma_latency_usec(&self) -> Result<i32, ReadError> {
        let kpath = paths::CPU_DMA_LATENCY;
        crate::parse::cpu_dma_latency::parse(&self.read(kpath)?).ok_or(ReadError::Parse {
            path: kpath.into(),
            line: 0,
            item: "a 4-byte s32".into(),
        })
    }

    /// The idle states of one CPU, in state order. `NotReported` when the
    /// CPU has no cpuidle directory (no driver, or a virtual machine).
    pub fn cpuidle_states(&self, cpu: u32) -> Result<Vec<IdleState>, ReadError> {
        let dir = format!("{}/cpu{cpu}/cpuidle", paths::CPU_DIR);
        let mut states = Vec::new();
        let mut names = self.list_dir(&dir)?;
        names.retain(|n| n.strip_prefix("state").is_some_and(|k| k.parse::<u32>().is_ok()));
        names.sort_by_key(|n| n["state".len()..].parse::<u32>().unwrap_or(u32::MAX));
        for state in names {
            let sdir = format!("{dir}/{state}");
            states.push(IdleState {
                name: self.read_word(&format!("{sdir}/name"))?,
                latency_usec: self.read_u64(&format!("{sdir}/latency")).ok(),
                disabled: self.read_u64(&format!("{sdir}/disable")).ok().map(|d| d != 0),
                state,
            });
        }
        Ok(states)
    }

    /// The thread ids of a process (`/proc/PID/task`), ascending.
    pub fn pid_tasks(&self, pid: u32) -> Result<Vec<u32>, ReadError> {
        let mut tids: Vec<u32> =
            self.list_dir(&format!("/proc/{pid}/task"))?.iter().filter_map(|n| n.parse().ok()).collect();
        tids.sort_unstable();
        Ok(tids)
    }

    /// `/proc/PID/task/TID/stat`: one thread's scheduling policy, priority,
    /// faults and last CPU.
    pub fn task_stat(&self, pid: u32, tid: u32) -> Result<Stat, ReadError> {
        self.read_parsed(&format!("/proc/{pid}/task/{tid}/stat"), Stat::parse)
    }

    /// `/proc/PID/task/TID/status`: one thread's `Cpus_allowed_list`.
    pub fn task_status(&self, pid: u32, tid: u32) -> Result<Status, ReadError> {
        Ok(Status::parse(&self.read_text(&format!("/proc/{pid}/task/{tid}/status"))?))
    }

    /// `/proc/PID/timerslack_ns` (ptrace access needed).
    pub fn pid_timerslack_ns(&self, pid: u32) -> Result<u64, ReadError> {
        self.read_u64(&format!("/proc/{pid}/timerslack_ns"))
    }
}

#[cfg(test)]
mod rt_reader_tests {
    use super::*;

    /// A throw-away tree with the given files.
    fn tree(name: &str, files: &[(&str, &[u8])]) -> (KernelRoot, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("memscope-read-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (path, data) in files {
            let p = dir.join(path.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, data).unwrap();
        }
        (KernelRoot::at(&dir), dir)
    }

    #[test]
    fn nohz_full_null_is_an_empty_list_and_garbage_is_an_error() {
        let (root, dir) = tree("null", &[(paths::CPU_NOHZ_FULL, b"(null)\n"), (paths::CPU_ISOLATED, b"x\n")]);
        assert_eq!(root.cpu_list(paths::CPU_NOHZ_FULL), Ok(vec![]));
        assert!(matches!(root.cpu_list(paths::CPU_ISOLATED), Err(ReadError::Parse { .. })));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn idle_states_in_numeric_order_and_irqs_by_number() {
        let cpuidle = "/sys/devices/system/cpu/cpu0/cpuidle";
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        for (k, name, lat) in [(0, "POLL", "0"), (2, "C6", "133"), (10, "C10", "890")] {
            files.push((format!("{cpuidle}/state{k}/name"), format!("{name}\n").into_bytes()));
            files.push((format!("{cpuidle}/state{k}/latency"), format!("{lat}\n").into_bytes()));
            files.push((format!("{cpuidle}/state{k}/disable"), b"0\n".to_vec()));
        }
        for irq in ["120", "9", "24"] {
            files.push((format!("/proc/irq/{irq}/smp_affinity_list"), b"0-1\n".to_vec()));
        }
        files.push((paths::CPU_DMA_LATENCY.into(), 0i32.to_ne_bytes().to_vec()));
        let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, d)| (p.as_str(), d.as_slice())).collect();
        let (root, dir) = tree("idle", &refs);
        let names: Vec<String> = root.cpuidle_states(0).unwrap().into_iter().map(|s| s.name).collect();
        assert_eq!(names, vec!["POLL", "C6", "C10"]);
        let irqs = root.irq_affinities().unwrap();
        assert_eq!(irqs.iter().map(|a| a.irq).collect::<Vec<_>>(), vec![9, 24, 120]);
        assert_eq!(irqs[0].smp_affinity, Ok(vec![0, 1]));
        assert!(matches!(irqs[0].effective_affinity, Err(ReadError::NotReported { .. })));
        assert_eq!(root.cpu_dma_latency_usec(), Ok(0));
        assert!(matches!(root.cpuidle_states(1), Err(ReadError::NotReported { .. })));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn kernel_config_falls_back_to_boot_and_names_both_paths() {
        let (root, dir) = tree(
            "config",
            &[(paths::OSRELEASE, b"6.1.0-rt\n"), ("/boot/config-6.1.0-rt", b"CONFIG_HZ=1000\n")],
        );
        let c = root.kernel_config().unwrap();
        assert_eq!((c.path.as_str(), c.gzip), ("/boot/config-6.1.0-rt", false));
        let _ = std::fs::remove_dir_all(&dir);
        let (root, dir) = tree("noconfig", &[(paths::OSRELEASE, b"6.1.0\n")]);
        let e = root.kernel_config().unwrap_err();
        assert_eq!(e.path(), "/proc/config.gz and /boot/config-6.1.0");
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[cfg(test)]
mod kmsg_tests {
    use super::*;

    #[test]
    fn a_kmsg_record_gives_its_time_stamp() {
        assert_eq!(kmsg_record_usec("6,339,0,-;percpu: Embedded 53 pages/cpu"), Some(0));
        assert_eq!(kmsg_record_usec("4,2000,16388017829,-,caller=T1;late"), Some(16_388_017_829));
        assert_eq!(kmsg_record_usec("garbage"), None);
        assert_eq!(kmsg_record_usec("6,1,x,-;bad stamp"), None);
    }

    #[test]
    fn the_live_boot_log_search_stops_after_boot() {
        let root = KernelRoot::live();
        let Ok(boot) = root.kernel_log_matching_until("", Some(BOOT_LOG_USEC)) else {
            eprintln!("skipped: /dev/kmsg is not readable here");
            return;
        };
        assert!(boot.lines().all(|l| kmsg_record_usec(l).is_some_and(|t| t <= BOOT_LOG_USEC)), "{boot}");
    }
}

/// The message of the [`ReadError::Io`] a pressure file gives when the
/// kernel has PSI compiled in but disabled at boot (`psi=0`): `psi_show`
/// then fails every read with `EOPNOTSUPP`.
pub const PSI_DISABLED: &str = "operation not supported: PSI is disabled (the kernel was booted with psi=0)";

/// What [`PressureTrigger::wait`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerWait {
    /// The stall threshold was crossed within the window (`POLLPRI`).
    Fired,
    /// The timeout passed without an event.
    TimedOut,
}

/// A PSI trigger armed on a pressure file ([`KernelRoot::pressure_trigger`]).
/// The kernel keeps the trigger while the file stays open; dropping this
/// closes it.
#[derive(Debug)]
pub struct PressureTrigger {
    fd: rustix::fd::OwnedFd,
    kpath: String,
}

impl PressureTrigger {
    /// Kernel path of the pressure file.
    pub fn path(&self) -> &str {
        &self.kpath
    }

    /// Wait up to `timeout` for the trigger to fire. The kernel fires a
    /// trigger at most once per window. `POLLERR` means the cgroup being
    /// watched was removed: [`ReadError::Gone`]-like, reported as
    /// [`ReadError::NotReported`] for the path.
    pub fn wait(&self, timeout: std::time::Duration) -> Result<TriggerWait, ReadError> {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        let ts = Timespec { tv_sec: timeout.as_secs() as i64, tv_nsec: timeout.subsec_nanos() as i64 };
        let mut fds = [PollFd::new(&self.fd, PollFlags::PRI)];
        loop {
            match poll(&mut fds, Some(&ts)) {
                Ok(0) => return Ok(TriggerWait::TimedOut),
                Ok(_) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(crate::root::classify(&e.into(), &self.kpath)),
            }
        }
        let rev = fds[0].revents();
        if rev.intersects(PollFlags::ERR | PollFlags::NVAL | PollFlags::HUP) {
            return Err(ReadError::NotReported { path: self.kpath.clone(), field: None });
        }
        Ok(if rev.contains(PollFlags::PRI) { TriggerWait::Fired } else { TriggerWait::TimedOut })
    }
}

impl KernelRoot {
    /// System memory pressure (`/proc/pressure/memory`).
    ///
    /// Unavailable as [`ReadError::NotReported`] where the file does not
    /// exist (kernels before 4.20, CONFIG_PSI unset, or `psi=0` on kernels
    /// that then do not create `/proc/pressure`), and as [`ReadError::Io`]
    /// with [`PSI_DISABLED`] where reading fails with `EOPNOTSUPP`.
    pub fn pressure_memory(&self) -> Result<Pressure, ReadError> {
        self.pressure_file(paths::PRESSURE_MEMORY)
    }

    /// A v2 cgroup's `memory.pressure`; `cgroup_dir` is the cgroup's kernel
    /// path (`/sys/fs/cgroup/system.slice`). v1 cgroups have no such file.
    pub fn cgroup_memory_pressure(&self, cgroup_dir: &str) -> Result<Pressure, ReadError> {
        self.pressure_file(&format!("{}/{}", cgroup_dir.trim_end_matches('/'), paths::CGROUP_MEMORY_PRESSURE))
    }

    /// Any pressure file (`/proc/pressure/*`, `<cgroup>/*.pressure`).
    pub fn pressure_file(&self, kpath: &str) -> Result<Pressure, ReadError> {
        let opnotsupp = std::io::Error::from(rustix::io::Errno::OPNOTSUPP).to_string();
        let text = match self.read_text(kpath) {
            Ok(t) => t,
            Err(ReadError::Io { path, message }) if message == opnotsupp => {
                return Err(ReadError::Io { path, message: PSI_DISABLED.to_string() });
            }
            Err(e) => return Err(e),
        };
        let p = Pressure::parse(&text);
        if p.is_empty() {
            return Err(ReadError::Parse {
                path: kpath.to_string(),
                line: 1,
                item: "a some or full line".into(),
            });
        }
        Ok(p)
    }

    /// Arm a PSI trigger on a pressure file of the running kernel: open it
    /// `O_RDWR | O_NONBLOCK` and write the trigger in one `write(2)`
    /// (Documentation/accounting/psi.rst). The kernel rejects a window
    /// outside 500 ms–10 s, a threshold above the window, and, from an
    /// unprivileged writer, a window that is not a multiple of 2 s
    /// (`EINVAL`, [`ReadError::Io`]); `EOPNOTSUPP` is [`PSI_DISABLED`]. A
    /// captured tree has no kernel behind it: [`ReadError::Io`].
    pub fn pressure_trigger(&self, kpath: &str, trigger: &Trigger) -> Result<PressureTrigger, ReadError> {
        use rustix::fs::{Mode, OFlags, open};
        if !self.is_live() {
            return Err(ReadError::Io {
                path: kpath.to_string(),
                message: "PSI triggers need the running kernel, not a captured tree".into(),
            });
        }
        let io_err = |e: rustix::io::Errno| match e {
            rustix::io::Errno::OPNOTSUPP => {
                ReadError::Io { path: kpath.to_string(), message: PSI_DISABLED.into() }
            }
            e => crate::root::classify(&e.into(), kpath),
        };
        let fd = open(self.resolve(kpath), OFlags::RDWR | OFlags::NONBLOCK | OFlags::CLOEXEC, Mode::empty())
            .map_err(io_err)?;
        let text = trigger.text();
        let n = rustix::io::write(&fd, text.as_bytes()).map_err(io_err)?;
        if n != text.len() {
            return Err(ReadError::Io {
                path: kpath.to_string(),
                message: format!("short write of the trigger: {n} of {} bytes", text.len()),
            });
        }
        Ok(PressureTrigger { fd, kpath: kpath.to_string() })
    }
}

#[cfg(test)]
mod pressure_reader_tests {
    use super::*;

    fn tree(name: &str, files: &[(&str, &str)]) -> (KernelRoot, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("memscope-psi-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (p, text) in files {
            let f = dir.join(p.trim_start_matches('/'));
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, text).unwrap();
        }
        (KernelRoot::at(&dir), dir)
    }

    #[test]
    fn system_and_cgroup_pressure_read_from_a_tree() {
        let (root, dir) = tree(
            "read",
            &[
                (
                    "/proc/pressure/memory",
                    "some avg10=1.00 avg60=0.50 avg300=0.10 total=300\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=100\n",
                ),
                (
                    "/sys/fs/cgroup/a/memory.pressure",
                    "some avg10=0.00 avg60=0.00 avg300=0.00 total=7\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=2\n",
                ),
                ("/sys/fs/cgroup/b/memory.pressure", ""),
            ],
        );
        assert_eq!(root.pressure_memory().unwrap().some.unwrap().total_usec, 300);
        assert_eq!(root.cgroup_memory_pressure("/sys/fs/cgroup/a/").unwrap().full.unwrap().total_usec, 2);
        assert_eq!(root.cgroup_memory_pressure("/sys/fs/cgroup/b").unwrap_err().kind(), "parse");
        assert_eq!(root.cgroup_memory_pressure("/sys/fs/cgroup/c").unwrap_err().kind(), "not_reported");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_trigger_is_never_written_into_a_captured_tree() {
        let text = "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
        let (root, dir) = tree("trigger", &[("/proc/pressure/memory", text)]);
        let t = Trigger { full: false, threshold_usec: 150_000, window_usec: 1_000_000 };
        let e = root.pressure_trigger(paths::PRESSURE_MEMORY, &t).unwrap_err();
        assert!(e.to_string().contains("captured tree"), "{e}");
        assert_eq!(std::fs::read_to_string(dir.join("proc/pressure/memory")).unwrap(), text);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn live_system_pressure_reads_or_says_why() {
        // Hosts without PSI give NotReported or PSI_DISABLED, never a parse error.
        match KernelRoot::live().pressure_memory() {
            Ok(p) => assert!(p.some.is_some()),
            Err(ReadError::NotReported { .. }) => {}
            Err(ReadError::Io { message, .. }) => assert_eq!(message, PSI_DISABLED),
            Err(e) => panic!("{e}"),
        }
    }
}

/// `/proc/PID/root/PATH`, refusing a relative path, a `..` component or a
/// NUL (a mapping's name is whatever the kernel printed, e.g. `[heap]` or
/// `/lib/x.so (deleted)`).
fn pid_root_kpath(pid: u32, path: &str) -> Result<String, ReadError> {
    let bad = !path.starts_with('/') || path.contains('\0') || path.split('/').any(|c| c == "..");
    if bad {
        return Err(ReadError::NotReported { path: format!("/proc/{pid}/root{path}"), field: None });
    }
    Ok(format!("/proc/{pid}/root{path}"))
}

#[cfg(test)]
mod runtime_reader_tests {
    use super::*;

    const ID: &str = "3f4e1c9a2b7d8e6f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071";

    #[test]
    fn runtime_names_from_a_tree_and_a_recording_keeps_no_environment() {
        let dir = std::env::temp_dir().join(format!("memscope-runtime-names-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let files = [
            (
                format!("{}/{ID}/{}", paths::DOCKER_CONTAINERS, paths::DOCKER_CONFIG),
                r#"{"Name":"/web","Config":{"Image":"nginx:1.25","Env":["TOKEN=hunter2"]}}"#.to_string(),
            ),
            (
                format!("{}/k8s.io/{ID}/{}", paths::CONTAINERD_TASKS, paths::OCI_CONFIG),
                r#"{"process":{"env":["TOKEN=hunter2"]},"annotations":{"io.kubernetes.cri.container-name":"api"}}"#
                    .to_string(),
            ),
            (format!("{}/broken/{}", paths::DOCKER_CONTAINERS, paths::DOCKER_CONFIG), "{".to_string()),
            (format!("{}/shop_web-1_6f1c2a3b-1111-2222-3333-444455556666/web/0.log", paths::POD_LOGS), String::new()),
        ];
        for (kpath, text) in &files {
            let p = dir.join(kpath.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let (root, rec) = KernelRoot::at(&dir).recording();
        let names = root.runtime_names();
        let by: Vec<(&str, Option<&str>)> =
            names.containers.iter().map(|(r, n)| (r.as_str(), n.name.as_deref())).collect();
        assert_eq!(by, [("docker", Some("web")), ("containerd", Some("api"))]);
        assert_eq!(names.pods.len(), 1);
        assert_eq!((names.pods[0].namespace.as_str(), names.pods[0].name.as_str()), ("shop", "web-1"));
        assert!(matches!(names.errors.as_slice(), [ReadError::Parse { .. }]), "{:?}", names.errors);
        let recorded = rec.files();
        assert_eq!(recorded.len(), 2, "the unparsable file is not kept: {:?}", recorded.keys());
        for data in recorded.values() {
            let text = String::from_utf8_lossy(data);
            assert!(!text.contains("hunter2") && !text.contains("TOKEN"), "{text}");
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[cfg(test)]
mod kmsg_follower_tests {
    use super::*;

    /// A fixture log as `/dev/kmsg` records (`prio,seq,usec,-;text`):
    /// `dmesg` lines are numbered in order, their stamps turned into µs.
    fn as_records(fixture: &str) -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(fixture);
        let text = std::fs::read_to_string(dir.join("log")).unwrap();
        text.lines()
            .filter(|l| !l.starts_with(' ') && !l.is_empty())
            .enumerate()
            .map(|(i, l)| {
                if kmsg_record_seq(l).is_some() {
                    return l.to_string();
                }
                let rest = l.strip_prefix('[').expect("a dmesg line");
                let (stamp, text) = rest.split_once(']').unwrap();
                let usec = (stamp.trim().parse::<f64>().unwrap() * 1e6) as u64;
                let text = text.strip_prefix('[').and_then(|t| t.split_once(']')).map_or(text, |(_, t)| t);
                format!("6,{},{usec},-;{}", 1000 + i, text.trim_start())
            })
            .collect()
    }

    fn reports(text: &str) -> Vec<oom::OomReport> {
        without_line_numbers(oom::parse_log(text))
    }

    fn without_line_numbers(log: OomLog) -> Vec<oom::OomReport> {
        let mut r = log.reports;
        for rep in &mut r {
            // Line numbers count the lines parsed, which the follower drops.
            (rep.first_line, rep.last_line) = (0, 0);
        }
        r
    }

    fn joined(lines: &[String]) -> String {
        lines.iter().map(|l| format!("{l}\n")).collect()
    }

    #[test]
    fn reports_read_in_three_parts_equal_the_whole_log_read_at_once() {
        for fixture in [
            "oom-6.18-memcg-v1-kmsg",
            "oom-5.10-memcg-v2-kmsg",
            "oom-6.6-memcg-oom-group",
            "oom-6.1-global-interleaved",
        ] {
            let records = as_records(fixture);
            let whole = reports(&joined(&records));
            assert!(!whole.is_empty(), "{fixture}: no report");
            let n = records.len();
            for a in 0..=n {
                for b in a..=n {
                    let mut f = KmsgFollower::new();
                    f.follow(&joined(&records[..a]));
                    f.follow(&joined(&records[a..b]));
                    let log = f.follow(&joined(&records[b..]));
                    assert_eq!(
                        without_line_numbers(log),
                        whole,
                        "{fixture}: read in parts at records {a} and {b}"
                    );
                    // What is kept after the last read is the reports' lines only.
                    assert!(f.kept.len() <= n);
                }
            }
        }
    }

    #[test]
    fn a_follower_keeps_no_line_that_is_not_in_a_report() {
        let records = as_records("oom-6.1-global-interleaved");
        let mut f = KmsgFollower::new();
        f.follow(&joined(&records));
        let kept: Vec<&String> = f.kept.values().collect();
        assert!(!kept.is_empty());
        assert!(kept.len() < records.len(), "the journal's lines before the report are dropped");
        assert!(kept.iter().all(|l| !l.contains("Under memory pressure")), "{kept:?}");
    }
}
