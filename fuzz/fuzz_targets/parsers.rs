//! Every kernel-file parser on arbitrary input: the first byte picks the
//! parser, the rest is the file. A parser may reject input; it may never
//! panic, loop or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use memscope_kernel::parse::*;

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(body);
    match which % 20 {
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
        18 => {
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
        _ => drop(pid::maps::Maps::parse(body)),
    }
});
