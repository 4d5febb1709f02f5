//! Memory per command (the processes of one `comm` summed, as
//! process-exporter groups them) for the largest N commands by PSS (RSS
//! where PSS is unavailable), and one `comm="other"` series with the sum of
//! the rest. Series are labelled by command, not pid: pids churn as
//! processes come and go, and a label per pid grows the series without
//! bound over days; a command keeps its series across restarts. PSS and
//! USS come from `smaps_rollup`, read within the collection's time budget
//! (largest first); processes without it keep the cheap `status` figures,
//! and a command none of whose processes has PSS gets no PSS series rather
//! than 0.

use super::{Input, Kind, MetricDef, Out, top_and_rest};

pub const METRICS: &[MetricDef] = &[
    MetricDef {
        name: "memscope_process_pss_bytes",
        kind: Kind::Gauge,
        help: "Proportional set size (smaps_rollup Pss) of the processes of the largest commands; \
               comm=\"other\" sums the rest",
        labels: &["comm"],
    },
    MetricDef {
        name: "memscope_process_uss_bytes",
        kind: Kind::Gauge,
        help: "Unique set size (smaps_rollup Private_Clean + Private_Dirty) of the processes of the \
               largest commands",
        labels: &["comm"],
    },
    MetricDef {
        name: "memscope_process_rss_bytes",
        kind: Kind::Gauge,
        help: "Resident set size (VmRSS) of the processes of the largest commands; shared pages count \
               in each process",
        labels: &["comm"],
    },
    MetricDef {
        name: "memscope_process_swap_bytes",
        kind: Kind::Gauge,
        help: "Swapped-out memory (VmSwap) of the processes of the largest commands",
        labels: &["comm"],
    },
    MetricDef {
        name: "memscope_command_processes",
        kind: Kind::Gauge,
        help: "Processes with user memory per command, for the commands of the series above",
        labels: &["comm"],
    },
    MetricDef {
        name: "memscope_processes",
        kind: Kind::Gauge,
        help: "Processes with user memory, by whether their PSS was measured (smaps_rollup read) or \
               is unavailable (permission, time budget, size cap)",
        labels: &["pss"],
    },
    MetricDef {
        name: "memscope_process_scan_skipped",
        kind: Kind::Gauge,
        help: "Processes whose smaps_rollup was not read in the last collection, by reason",
        labels: &["reason"],
    },
    MetricDef {
        name: "memscope_process_scan_duration_seconds",
        kind: Kind::Gauge,
        help: "Wall time of the last process scan",
        labels: &[],
    },
];

const PSS: &MetricDef = &METRICS[0];
const USS: &MetricDef = &METRICS[1];
const RSS: &MetricDef = &METRICS[2];
const SWAP: &MetricDef = &METRICS[3];
const PER_COMMAND: &MetricDef = &METRICS[4];
const COUNT: &MetricDef = &METRICS[5];
const SKIPPED: &MetricDef = &METRICS[6];
const DURATION: &MetricDef = &METRICS[7];

/// The label value of the series that sums every process not shown alone.
pub const OTHER: &str = "other";

/// The processes of one command, summed.
#[derive(Default)]
struct Command<'a> {
    comm: &'a str,
    pss: Option<u64>,
    uss: Option<u64>,
    rss: Option<u64>,
    swap: Option<u64>,
    processes: u64,
    rank: u64,
}

/// A sum of figures some of which may be unavailable: unavailable only
/// when every part is.
fn plus(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.saturating_add(y)),
        (x, y) => x.or(y),
    }
}

impl<'a> Command<'a> {
    fn add(&mut self, r: &memscope_analysis::processes::ProcessRow) {
        self.absorb(&Command {
            comm: self.comm,
            pss: r.pss_bytes,
            uss: r.uss_bytes,
            rss: r.rss_bytes,
            swap: r.swap_bytes,
            processes: 1,
            rank: r.rank_bytes(),
        });
    }

    fn absorb(&mut self, o: &Command) {
        self.pss = plus(self.pss, o.pss);
        self.uss = plus(self.uss, o.uss);
        self.rss = plus(self.rss, o.rss);
        self.swap = plus(self.swap, o.swap);
        self.processes += o.processes;
        self.rank = self.rank.saturating_add(o.rank);
    }

    fn write(&self, out: &mut Out, comm: &str) {
        let labels = [comm];
        for (def, v) in [(PSS, self.pss), (USS, self.uss), (RSS, self.rss), (SWAP, self.swap)] {
            if let Some(v) = v {
                out.uint(def, &labels, v);
            }
        }
        out.uint(PER_COMMAND, &labels, self.processes);
    }
}

pub fn collect(input: &Input, out: &mut Out) {
    let mut by_comm: std::collections::BTreeMap<&str, Command> = std::collections::BTreeMap::new();
    for r in &input.processes {
        let c = by_comm.entry(r.comm.as_str()).or_default();
        c.comm = r.comm.as_str();
        c.add(r);
    }
    // A process whose command is the word `other` joins the rest's series.
    let commands: Vec<Command> = by_comm.into_values().collect();
    let (top, rest) =
        top_and_rest(commands, input.opts.top_processes, |c| (c.rank, std::cmp::Reverse(c.comm)));
    let mut other = Command::default();
    for c in rest.iter().chain(top.iter().filter(|c| c.comm == OTHER)) {
        other.absorb(c);
    }
    for c in top.iter().filter(|c| c.comm != OTHER) {
        c.write(out, c.comm);
    }
    if other.processes > 0 {
        other.write(out, OTHER);
    }
    if input.snap.scan.listed == 0 {
        return;
    }
    let measured = input.processes.iter().filter(|r| r.pss_bytes.is_some()).count();
    out.uint(COUNT, &["measured"], measured as u64);
    out.uint(COUNT, &["unavailable"], (input.processes.len() - measured) as u64);
    let s = &input.snap.scan;
    for (reason, n) in [
        ("permission", s.rollup_denied),
        ("time_budget", s.rollup_over_budget),
        ("size_cap", s.rollup_over_size),
        ("failed", s.rollup_failed),
        ("exited", s.gone),
    ] {
        out.uint(SKIPPED, &[reason], n as u64);
    }
    out.float(DURATION, &[], s.elapsed_usec as f64 / 1e6);
}
