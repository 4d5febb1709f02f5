//! One entry point to every kernel-file parser, for fuzzing: the first byte
//! of the input picks the parser, the rest is the file. Used by the
//! cargo-fuzz target (`fuzz/fuzz_targets/parsers.rs`, `scripts/fuzz`) and by
//! the bounded run on stable that is part of the test suite
//! (`crates/kernel/tests/fuzz_parsers.rs`), so both drive the same code.
//!
//! A parser may reject input; it may never panic, loop or allocate without
//! bound.

use crate::parse::*;

/// How many parsers [`parse_any`] dispatches to (selector values modulo
/// this).
pub const PARSERS: u8 = 37;

/// Run the parser that `data[0]` selects on `data[1..]`, and use what it
/// returns the way memscope does (lookups, formatting), discarding it.
pub fn parse_any(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(body);
    match which % PARSERS {
        0 => drop(meminfo::Meminfo::parse(&text)),
        1 => drop(meminfo::Meminfo::parse_node(&text)),
        2 => drop(vmstat::Vmstat::parse(&text)),
        3 => drop(zoneinfo::Zoneinfo::parse(&text)),
        4 => drop(buddyinfo::Buddyinfo::parse(&text)),
        5 => drop(slabinfo::Slabinfo::parse(&text)),
        6 => drop(vmallocinfo::Vmallocinfo::parse(&text)),
        7 => {
            let m = iomem::Iomem::parse(&text);
            let _ = (m.system_ram_bytes(), m.inside_ram_bytes("Kernel code"));
        }
        8 => drop(sockstat::Sockstat::parse(&text)),
        9 => drop(arcstats::Arcstats::parse(&text)),
        10 => drop(kmsg::find_percpu_first_chunk_pages(&text)),
        11 => drop(pid::stat::Stat::parse(&text)),
        12 => drop(pid::status::Status::parse(&text)),
        13 => drop(pid::smaps_rollup::SmapsRollup::parse(&text)),
        14 => drop(pid::cgroup::ProcCgroup::parse(&text)),
        15 => drop(mountinfo::Mountinfo::parse(&text)),
        16 => {
            let _ = (cgroupfs::Limit::parse(&text), cgroupfs::Limit::parse_v1_bytes(&text));
            let _ = (cgroupfs::parse_ids(&text), cgroupfs::parse_controllers(&text));
        }
        17 => drop(sysfs::parse_list(&text).map(|l| sysfs::format_list(&l))),
        18 => drop(pid::limits::Limits::parse(&text)),
        19 => drop(pid::fdinfo::FdInfo::parse(&text)),
        20 => drop(pid::fd::FdTarget::parse(&text)),
        21 => {
            let _ = file_nr::FileNr::parse(&text);
            for (name, format) in net::TABLES {
                drop(net::SocketTable::parse(&text, name, *format));
            }
        }
        22 => drop(pagetypeinfo::Pagetypeinfo::parse(&text)),
        23 => drop(pid::numa_maps::NumaMaps::parse(&text)),
        24 => drop((pid::ns::parse_link(&text), sys_slab::parse_flag(&text))),
        25 => drop(choice::Choice::parse(&text)),
        26 => {
            let c = cmdline::Cmdline::parse(&text);
            drop((
                c.value("isolcpus"),
                cmdline::parse_cpulist(&text, 4096),
                cmdline::Isolcpus::parse(&text, 4096),
            ));
        }
        27 => drop(kconfig::Kconfig::parse(&text)),
        28 => drop(kernel_version::KernelVersion::parse(&text)),
        29 => drop(interrupts::Interrupts::parse(&text)),
        30 => drop(cpu_dma_latency::parse(body)),
        31 => drop(sysfs::parse_mask(&text)),
        32 => {
            drop(kpageflags::BitsFilter::parse(&text));
            let mut entries = Vec::new();
            pid::pagemap::decode_u64s(body, &mut entries);
            for e in entries {
                let _ = (
                    kpageflags::describe(kpageflags::expand_overloaded(e, e)),
                    pid::pagemap::PagemapEntry(e).pfn(),
                );
            }
        }
        33 => drop(kallsyms::Kallsyms::parse(&text)),
        34 => drop(allocinfo::Allocinfo::parse(&text)),
        35 => {
            use runtime::RuntimeFormat as F;
            drop((runtime::parse_docker_config("", &text), runtime::parse_oci_bundle("x", &text)));
            drop((runtime::parse_storage_containers(&text), runtime::parse_pod_log_dir(&text)));
            for f in [F::DockerConfig, F::OciBundle, F::StorageContainers] {
                drop(f.scrub(&text));
            }
        }
        _ => drop(pid::maps::Maps::parse(body)),
    }
}
