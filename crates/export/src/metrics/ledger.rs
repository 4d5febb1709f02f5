//! The memory ledger: installed RAM, MemTotal, one series per ledger
//! category (`sum(memscope_ledger_bytes)` is installed RAM), the parts of
//! the boot-time reservation, and the signed remainder.

use std::collections::BTreeMap;

use memscope_analysis::hints::unavailable_reason;
use memscope_analysis::ledger::{InstalledSource, LedgerError, Source};

use super::{Input, Kind, MetricDef, Out};

pub const METRICS: &[MetricDef] = &[
    MetricDef {
        name: "memscope_installed_bytes",
        kind: Kind::Gauge,
        help: "Installed RAM: the System RAM ranges of /proc/iomem (or /sys/firmware/memmap)",
        labels: &[],
    },
    MetricDef {
        name: "memscope_mem_total_bytes",
        kind: Kind::Gauge,
        help: "MemTotal of /proc/meminfo: the RAM the kernel manages after its boot-time reservations",
        labels: &[],
    },
    MetricDef {
        name: "memscope_ledger_bytes",
        kind: Kind::Gauge,
        help: "Installed RAM by ledger category (memscope report --explain); the categories add up to \
               installed RAM, unaccounted is signed",
        labels: &["category"],
    },
    MetricDef {
        name: "memscope_ledger_detail_bytes",
        kind: Kind::Gauge,
        help: "Parts of a ledger category (not added to the ledger sum): the boot-time reservation, \
               the ZFS ARC inside unaccounted",
        labels: &["category", "parent"],
    },
    MetricDef {
        name: "memscope_unaccounted_bytes",
        kind: Kind::Gauge,
        help: "MemTotal minus every kernel counter of the ledger, signed: kernel memory no counter \
               shows (pipe and driver buffers, page fragments, leaks); growth suggests a kernel leak",
        labels: &[],
    },
];

const INSTALLED: &MetricDef = &METRICS[0];
const MEM_TOTAL: &MetricDef = &METRICS[1];
const LEDGER: &MetricDef = &METRICS[2];
const DETAIL: &MetricDef = &METRICS[3];
const UNACCOUNTED: &MetricDef = &METRICS[4];

pub fn collect(input: &Input, out: &mut Out) {
    let l = match &input.ledger {
        Ok(l) => l,
        Err(LedgerError::NoMemTotal(e)) => {
            out.unavailable(
                "memscope_ledger_bytes",
                format!("no ledger without MemTotal: {}", unavailable_reason(e)),
            );
            return;
        }
    };
    if l.installed_source == InstalledSource::MemTotal {
        let why = l
            .line("reserved")
            .and_then(|r| r.reason.clone())
            .unwrap_or_else(|| "installed RAM unknown".into());
        out.unavailable(INSTALLED.name, why);
    } else {
        out.uint(INSTALLED, &[], l.installed_bytes);
    }
    out.uint(MEM_TOTAL, &[], l.mem_total_bytes);
    out.int(UNACCOUNTED, &[], l.unaccounted_bytes);

    // Some categories have several top-level lines (hugetlb: one per page
    // size): one series per category, their sum.
    let mut top: BTreeMap<&str, (usize, Option<i64>)> = BTreeMap::new();
    for (i, line) in l.lines.iter().enumerate().filter(|(_, x)| x.is_top()) {
        let e = top.entry(line.category).or_insert((i, None));
        if let Some(b) = line.bytes {
            e.1 = Some(e.1.unwrap_or(0) + b);
        }
    }
    let mut top: Vec<_> = top.into_iter().collect();
    top.sort_by_key(|(_, (i, _))| *i);
    for (category, (_, bytes)) in top {
        match bytes {
            Some(b) => out.int(LEDGER, &[category], b),
            None => {
                let why = l
                    .lines
                    .iter()
                    .find(|x| x.category == category && x.source == Source::Unavailable)
                    .and_then(|x| x.reason.clone())
                    .unwrap_or_else(|| "unavailable".into());
                out.unavailable(format!("memscope_ledger_bytes{{category=\"{category}\"}}"), why);
            }
        }
    }
    for line in l.lines.iter().filter(|x| !x.is_top() && x.name.is_none()) {
        let parent = line.parent.unwrap_or("");
        match line.bytes {
            Some(b) => out.int(DETAIL, &[line.category, parent], b),
            None => out.unavailable(
                format!("memscope_ledger_detail_bytes{{category=\"{}\"}}", line.category),
                line.reason.clone().unwrap_or_default(),
            ),
        }
    }
}
