//! `memscope cgroups` output: the tree (or a flat list) as tables, JSON
//! (`"schema": "memscope.cgroups/1"`) or CSV; documented in docs/json.md.
//!
//! ```text
//! { schema, taken_at, taken_at_unix_ms, layout: {kind, hierarchies[], visible_root},
//!   cgroups: [{path, container?: {container_id, container_name, image, pod, namespace},
//!              depth, versions, procs, processes, processes_with_pss, pss_bytes,
//!              memory: {version, current_bytes, peak_bytes, limit_bytes,
//!                       effective_limit_bytes, limited_by, swap_bytes,
//!                       swap_limit_bytes, oom_events, oom_kills, stat: {anon_bytes, …},
//!                       pressure: {some: {avg10, avg60, avg300, total_usec}, full: {…}},
//!                       beyond_pss: {…}},
//!              cpuset: {version, cpus, mems}, pids: {version, current, max},
//!              unavailable: {field: reason}}] }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

use memscope_analysis::cgroups::{Difference, ProcessUsage, binding_limit, difference, unavailable_reason};
use memscope_analysis::fmt_bytes;
use memscope_analysis::pressure::fmt_avg;
use memscope_kernel::cgroup::{Layout, LayoutKind};
use memscope_kernel::parse::cgroupfs::Limit;
use memscope_kernel::parse::pressure::{Pressure, PsiLine};
use memscope_kernel::parse::sysfs::format_list;
use memscope_model::cgroups::tree::{Cgroup, CgroupTree, Figure, SPLIT};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::report::fmt_usec;
use crate::style::{self, Style, timestamp, wrap};

/// The JSON schema name of `memscope cgroups`.
pub const CGROUPS_SCHEMA: &str = "memscope.cgroups/1";

/// Which cgroups to show and how.
#[derive(Debug, Clone, Copy, Default)]
pub struct CgroupsOptions {
    /// One row per cgroup with its full path, largest memory first.
    pub flat: bool,
    /// Only cgroups down to this depth below the top.
    pub depth: Option<usize>,
    /// Also cgroups without processes or memory.
    pub all: bool,
}

/// What `memscope cgroups` shows: the tree and, when processes were read,
/// the PSS of each cgroup's processes.
#[derive(Debug, Clone)]
pub struct CgroupsView<'a> {
    /// The cgroups.
    pub tree: &'a CgroupTree,
    /// Per cgroup (same order), its processes' PSS; `None` when not read.
    pub usage: Option<&'a [ProcessUsage]>,
    /// When the figures were read.
    pub taken_at_unix_ms: u64,
    /// Why some processes' PSS could not be read (distinct reasons).
    pub pss_unavailable: Vec<String>,
    /// What the container runtimes call the cgroups, where they say.
    pub names: Option<&'a memscope_model::containers::ContainerNames>,
}

impl CgroupsView<'_> {
    /// The container or pod the runtimes name cgroup `i` by.
    fn container(&self, i: usize) -> Option<memscope_analysis::containers::ContainerLabel> {
        memscope_analysis::containers::label_of(&self.tree.cgroups[i].path, self.names?)
    }

    /// `[name]` after a cgroup's label, where a runtime names it.
    fn name_suffix(&self, i: usize) -> String {
        self.container(i).and_then(|l| l.display()).map(|n| format!(" [{n}]")).unwrap_or_default()
    }

    fn usage(&self, i: usize) -> Option<&ProcessUsage> {
        self.usage.and_then(|u| u.get(i))
    }

    fn difference(&self, i: usize) -> Option<Difference> {
        difference(&self.tree.cgroups[i], self.usage(i)?)
    }

    /// Processes in each cgroup and its descendants, from `cgroup.procs`.
    fn subtree_procs(&self) -> Vec<usize> {
        let cgs = &self.tree.cgroups;
        let index: HashMap<&str, usize> = cgs.iter().enumerate().map(|(i, c)| (c.path.as_str(), i)).collect();
        let mut out = vec![0; cgs.len()];
        for c in cgs {
            let n = c.procs.as_ref().map(Vec::len).unwrap_or(0);
            if n == 0 {
                continue;
            }
            let mut p = c.path.as_str();
            loop {
                if let Some(&i) = index.get(p) {
                    out[i] += n;
                }
                match p.rfind('/') {
                    Some(0) if p.len() > 1 => p = "/",
                    Some(k) if k > 0 => p = &p[..k],
                    _ => break,
                }
            }
        }
        out
    }

    /// Indices of the cgroups to show, in display order, and how many were
    /// hidden for being empty.
    pub fn rows(&self, o: &CgroupsOptions) -> (Vec<usize>, usize) {
        let subtree = self.subtree_procs();
        let mut hidden = 0;
        let mut rows: Vec<usize> = Vec::new();
        for (i, c) in self.tree.cgroups.iter().enumerate() {
            if o.depth.is_some_and(|d| c.depth > d) {
                continue;
            }
            let current = current(c).unwrap_or(0);
            let used = c.depth == 0 || subtree[i] > 0 || current > 0;
            if !used && !o.all {
                hidden += 1;
                continue;
            }
            rows.push(i);
        }
        if o.flat {
            let cgs = &self.tree.cgroups;
            rows.sort_by(|&a, &b| {
                current(&cgs[b]).cmp(&current(&cgs[a])).then(cgs[a].path.cmp(&cgs[b].path))
            });
        }
        (rows, hidden)
    }
}

fn current(c: &Cgroup) -> Option<u64> {
    c.memory.as_ref().and_then(|m| m.current_bytes.as_ref().ok().copied())
}

/// `some avg10 / full avg10` of a pressure file (`12.50% / 3%`).
fn pressure_text(p: &Pressure) -> String {
    let a = |l: Option<PsiLine>| l.map(|l| fmt_avg(l.avg10)).unwrap_or_else(|| "-".into());
    format!("{} / {}", a(p.some), a(p.full))
}

fn limit_text(l: &Limit) -> String {
    match l {
        Limit::Max => "unlimited".into(),
        Limit::Value(v) => fmt_bytes(*v as i64),
    }
}

/// Collects why cells are empty, per column, to print once below a table.
#[derive(Default)]
struct Gaps {
    by_column: BTreeMap<&'static str, (usize, String)>,
}

impl Gaps {
    fn cell<T>(&mut self, column: &'static str, v: &Figure<T>, f: impl Fn(&T) -> String) -> String {
        match v {
            Ok(x) => f(x),
            Err(e) => {
                let entry = self.by_column.entry(column).or_insert((0, unavailable_reason(e)));
                entry.0 += 1;
                "-".into()
            }
        }
    }

    fn write(&self, w: &mut dyn Write, s: &Style) -> io::Result<()> {
        for (col, (n, reason)) in &self.by_column {
            let text =
                format!("{col}: unavailable for {n} cgroup{} ({reason})", if *n == 1 { "" } else { "s" });
            writeln!(w, "{}", wrap(&text, s.width, "- ", "  "))?;
        }
        Ok(())
    }
}

/// A one-line description of the layout: `hybrid: memory on v1 at …`.
pub fn describe_layout(l: &Layout) -> String {
    let mut parts = Vec::new();
    for c in ["memory", "cpuset", "pids"] {
        match l.controller(c) {
            Some(h) => parts.push(format!("{c} {} at {}", h.version.name(), h.mount_point)),
            None => parts.push(format!("{c} not mounted")),
        }
    }
    let kind = match l.kind {
        LayoutKind::V2 => "cgroup v2",
        LayoutKind::V1 => "cgroup v1",
        LayoutKind::Hybrid => "hybrid cgroups (v1 controllers and a v2 hierarchy)",
        LayoutKind::None => "no cgroup hierarchy mounted",
    };
    format!("{kind}: {}", parts.join("; "))
}

fn label(c: &Cgroup, o: &CgroupsOptions) -> String {
    if o.flat || c.depth == 0 { c.path.clone() } else { format!("{}{}", "  ".repeat(c.depth), c.name()) }
}

fn versions(c: &Cgroup) -> String {
    let v: Vec<&str> = c.versions().iter().map(|v| v.name()).collect();
    if v.is_empty() { "-".into() } else { v.join("+") }
}

/// Write the cgroups as tables, with the memory beyond PSS explained.
pub fn write_table(w: &mut dyn Write, v: &CgroupsView, o: &CgroupsOptions, s: &Style) -> io::Result<()> {
    let mut guard = s.guard(w);
    let w: &mut dyn Write = &mut guard;
    let tree = v.tree;
    writeln!(w, "{}", s.heading(&format!("cgroups at {}", timestamp(v.taken_at_unix_ms))))?;
    writeln!(w, "{}", wrap(&describe_layout(&tree.layout), s.width, "", "  "))?;
    if let Some(r) = tree.layout.visible_root() {
        writeln!(w, "Only the subtree {r} is visible here (a container's own cgroup).")?;
    }
    writeln!(w)?;
    let (rows, hidden) = v.rows(o);
    let bytes = |x: &u64| fmt_bytes(*x as i64);

    let mut gaps = Gaps::default();
    let mut t = s.table(&[
        "cgroup",
        "ver",
        "procs",
        "current",
        "peak",
        "limit",
        "pressure some/full",
        "stalled",
        "swap",
        "PSS",
        "not in PSS",
    ]);
    for &i in &rows {
        let c = &tree.cgroups[i];
        let procs = gaps.cell("procs", &c.procs, |p| p.len().to_string());
        let (psi, stalled) = match &c.memory {
            Some(m) => (
                gaps.cell("pressure", &m.pressure, pressure_text),
                match &m.pressure {
                    Ok(p) => p.some.map(|l| fmt_usec(l.total_usec)).unwrap_or_else(|| "-".into()),
                    Err(_) => "-".into(),
                },
            ),
            None => ("-".into(), "-".into()),
        };
        let (cur, peak, lim, swap) = match &c.memory {
            Some(m) => (
                gaps.cell("current", &m.current_bytes, bytes),
                gaps.cell("peak", &m.peak_bytes, bytes),
                match binding_limit(v.tree, i) {
                    // A tighter ancestor binds: show its limit and where it is set.
                    Some((b, j)) if j != i => format!("{} ({})", fmt_bytes(b as i64), tree.cgroups[j].path),
                    _ => gaps.cell("limit", &m.limit, limit_text),
                },
                gaps.cell("swap", &m.swap_bytes, bytes),
            ),
            None => ("-".into(), "-".into(), "-".into(), "-".into()),
        };
        let (pss, beyond) = match (v.usage(i), v.difference(i)) {
            (Some(u), Some(d)) if u.processes > 0 => {
                (fmt_bytes(u.pss_bytes as i64), fmt_bytes(d.not_in_pss_bytes))
            }
            (Some(u), _) if u.processes > 0 => (fmt_bytes(u.pss_bytes as i64), "-".into()),
            _ => ("-".into(), "-".into()),
        };
        t.add_row(vec![
            crate::table::Cell::new(label(c, o) + &v.name_suffix(i)),
            s.dim(versions(c)),
            s.num(procs),
            s.num(cur),
            s.num(peak),
            s.num(lim),
            s.num(psi),
            s.num(stalled),
            s.num(swap),
            s.num(pss),
            s.num(beyond),
        ]);
    }
    style::write_table(w, &t)?;
    if hidden > 0 {
        let (noun, verb) = if hidden == 1 { ("cgroup", "is") } else { ("cgroups", "are") };
        writeln!(w, "({hidden} {noun} without processes or memory {verb} hidden; --all shows them.)")?;
    }

    writeln!(w, "\n{}", s.heading("memory.stat split, events and limits"))?;
    let mut t = s.table(&[
        "cgroup",
        "anon",
        "file",
        "shmem",
        "kernel",
        "slab",
        "sock",
        "oom",
        "oom kills",
        "cpus",
        "mems",
        "pids",
    ]);
    for &i in &rows {
        let c = &tree.cgroups[i];
        let mut cells = vec![crate::table::Cell::new(label(c, o) + &v.name_suffix(i))];
        match &c.memory {
            Some(m) => {
                for (col, key) in [
                    ("anon", "anon"),
                    ("file", "file"),
                    ("shmem", "shmem"),
                    ("kernel", "kernel"),
                    ("slab", "slab"),
                    ("sock", "sock"),
                ] {
                    cells.push(s.num(gaps.cell(col, &m.split_key(key), bytes)));
                }
                cells.push(s.num(gaps.cell("oom", &m.oom_events(), |n| n.to_string())));
                let kills = gaps.cell("oom kills", &m.oom_kills(), |n| n.to_string());
                cells.push(if kills != "0" && kills != "-" {
                    s.colored(kills, crate::table::Color::Red)
                        .set_alignment(crate::table::CellAlignment::Right)
                } else {
                    s.num(kills)
                });
            }
            None => cells.extend((0..8).map(|_| s.num("-"))),
        }
        match &c.cpuset {
            Some(cs) => {
                cells.push(crate::table::Cell::new(gaps.cell("cpus", &cs.cpus, |l| format_list(l))));
                cells.push(crate::table::Cell::new(gaps.cell("mems", &cs.mems, |l| format_list(l))));
            }
            None => cells.extend([s.dim("-"), s.dim("-")]),
        }
        let pids = match &c.pids {
            Some(p) => {
                let cur = gaps.cell("pids", &p.current, |n| n.to_string());
                let max = gaps.cell("pids max", &p.max, |l| match l {
                    Limit::Max => "unlimited".into(),
                    Limit::Value(v) => v.to_string(),
                });
                format!("{cur} / {max}")
            }
            None => "-".into(),
        };
        cells.push(s.num(pids));
        t.add_row(cells);
    }
    style::write_table(w, &t)?;

    write_beyond_pss(w, v, &rows, s)?;

    writeln!(w, "\n{}", s.heading("Notes"))?;
    let notes = [
        "Memory figures include each cgroup's descendants; PSS adds up the processes of the cgroup and \
         its descendants, so both compare row by row."
            .to_string(),
        "memory.current counts what is charged to the cgroup: page cache it read or wrote and kernel memory \
         allocated for it (slab, stacks, page tables, sockets) belong to the cgroup, not to any process; \
         PSS counts only the pages processes map."
            .to_string(),
    ];
    for n in &notes {
        writeln!(w, "{}", wrap(n, s.width, "- ", "  "))?;
    }
    if let Some(n) = memscope_analysis::cgroups::root_figure_note(v.tree) {
        writeln!(w, "{}", wrap(&n, s.width, "- ", "  "))?;
    }
    if v.usage.is_none() {
        writeln!(w, "{}", wrap("PSS was not read (--no-pss).", s.width, "- ", "  "))?;
    }
    for r in &v.pss_unavailable {
        writeln!(w, "{}", wrap(&format!("PSS unavailable for some processes: {r}"), s.width, "- ", "  "))?;
    }
    gaps.write(w, s)?;
    Ok(())
}

/// The top cgroups by memory.current, with current − PSS split into page
/// cache no process maps, kernel memory and the rest.
fn write_beyond_pss(w: &mut dyn Write, v: &CgroupsView, rows: &[usize], s: &Style) -> io::Result<()> {
    let mut with: Vec<(usize, Difference)> = rows
        .iter()
        .filter(|&&i| v.usage(i).is_some_and(|u| u.processes > 0))
        .filter_map(|&i| v.difference(i).map(|d| (i, d)))
        .collect();
    if with.is_empty() {
        return Ok(());
    }
    with.sort_by(|a, b| b.1.current_bytes.cmp(&a.1.current_bytes).then(a.0.cmp(&b.0)));
    writeln!(w, "\n{}", s.heading("memory.current beyond the processes' PSS"))?;
    for (i, d) in with.iter().take(8) {
        let c = &v.tree.cgroups[*i];
        let b = |x: i64| fmt_bytes(x);
        let mut text =
            format!("{}: current {} = PSS {}", c.path, b(d.current_bytes as i64), b(d.pss_bytes as i64));
        match (d.page_cache_unmapped_bytes, d.kernel_bytes, d.other_bytes) {
            (Some(pc), Some(k), Some(o)) => {
                text.push_str(&format!(
                    " + page cache no process maps {} + kernel {} + other {}",
                    b(pc as i64),
                    b(k as i64),
                    b(o)
                ));
            }
            (pc, k, _) => {
                text.push_str(&format!(" + {} not in PSS", b(d.not_in_pss_bytes)));
                if let Some(pc) = pc {
                    text.push_str(&format!(", of which page cache no process maps {}", b(pc as i64)));
                }
                if let Some(k) = k {
                    text.push_str(&format!(", kernel {}", b(k as i64)));
                }
            }
        }
        if d.processes_without_pss > 0 {
            text.push_str(&format!(
                " ({} process{} without PSS)",
                d.processes_without_pss,
                if d.processes_without_pss == 1 { "" } else { "es" }
            ));
        }
        writeln!(w, "{}", wrap(&text, s.width, "- ", "  "))?;
    }
    writeln!(
        w,
        "{}",
        wrap(
            "other: charges left by processes that exited or moved, pages charged here but mapped by \
             processes elsewhere (or the reverse, negative), and anonymous memory of processes whose PSS \
             could not be read.",
            s.width,
            "  ",
            "  "
        )
    )?;
    Ok(())
}

fn put<T: Serialize>(obj: &mut Map<String, Value>, gaps: &mut Map<String, Value>, key: &str, v: &Figure<T>) {
    match v {
        Ok(x) => {
            let value = serde_json::to_value(x).unwrap_or(Value::Null);
            // A measured size beyond what any machine can hold is a corrupt
            // file (limits are settings, and may be huge).
            if key.ends_with("_bytes")
                && !key.contains("limit")
                && value.as_u64().is_some_and(|b| b > memscope_analysis::ledger::MAX_RAM_BYTES)
            {
                obj.insert(key.into(), Value::Null);
                gaps.insert(
                    key.into(),
                    Value::String(format!("invalid: {value} is more than any machine can address (4 PiB)")),
                );
                return;
            }
            obj.insert(key.into(), value);
        }
        Err(e) => {
            obj.insert(key.into(), Value::Null);
            gaps.insert(key.into(), Value::String(unavailable_reason(e)));
        }
    }
}

fn cgroup_json(v: &CgroupsView, i: usize) -> Value {
    let c = &v.tree.cgroups[i];
    let mut gaps = Map::new();
    let mut o = Map::new();
    o.insert("path".into(), json!(c.path));
    if let Some(l) = v.container(i) {
        o.insert("container".into(), json!(l));
    }
    o.insert("depth".into(), json!(c.depth));
    o.insert("versions".into(), json!(c.versions()));
    put(&mut o, &mut gaps, "procs", &c.procs.as_ref().map(|p| p.len()).map_err(Clone::clone));
    match v.usage(i) {
        Some(u) => {
            o.insert("processes".into(), json!(u.processes));
            o.insert("processes_with_pss".into(), json!(u.with_pss));
            o.insert("pss_bytes".into(), json!(u.pss_bytes));
        }
        None => {
            for k in ["processes", "processes_with_pss", "pss_bytes"] {
                o.insert(k.into(), Value::Null);
            }
            gaps.insert("pss_bytes".into(), json!("processes were not read (--no-pss)"));
        }
    }
    o.insert(
        "memory".into(),
        match &c.memory {
            None => Value::Null,
            Some(m) => {
                let mut mo = Map::new();
                let mut mg = Map::new();
                mo.insert("version".into(), json!(m.version));
                put(&mut mo, &mut mg, "current_bytes", &m.current_bytes);
                put(&mut mo, &mut mg, "peak_bytes", &m.peak_bytes);
                put(&mut mo, &mut mg, "limit_bytes", &m.limit);
                let binding = binding_limit(v.tree, i);
                mo.insert("effective_limit_bytes".into(), json!(binding.map(|(b, _)| b)));
                mo.insert(
                    "limited_by".into(),
                    json!(binding.filter(|&(_, j)| j != i).map(|(_, j)| v.tree.cgroups[j].path.as_str())),
                );
                put(&mut mo, &mut mg, "swap_bytes", &m.swap_bytes);
                put(&mut mo, &mut mg, "swap_limit_bytes", &m.swap_limit);
                put(&mut mo, &mut mg, "oom_events", &m.oom_events());
                put(&mut mo, &mut mg, "oom_kills", &m.oom_kills());
                put(
                    &mut mo,
                    &mut mg,
                    "pressure",
                    &m.pressure
                        .as_ref()
                        .map(|p| json!({"some": p.some, "full": p.full}))
                        .map_err(Clone::clone),
                );
                let mut stat = Map::new();
                for item in SPLIT {
                    put(&mut stat, &mut mg, &format!("{}_bytes", item.key), &m.split(item));
                }
                mo.insert("stat".into(), Value::Object(stat));
                if let Some(d) = v.difference(i) {
                    let max = memscope_analysis::ledger::MAX_RAM_BYTES;
                    if [Some(d.current_bytes), Some(d.pss_bytes), d.page_cache_unmapped_bytes, d.kernel_bytes]
                        .into_iter()
                        .flatten()
                        .any(|b| b > max)
                    {
                        mo.insert("beyond_pss".into(), Value::Null);
                        mg.insert(
                            "beyond_pss".into(),
                            json!(
                                "invalid: a figure it is made of is more than any machine can address (4 PiB)"
                            ),
                        );
                    } else {
                        mo.insert("beyond_pss".into(), serde_json::to_value(d).unwrap_or(Value::Null));
                    }
                }
                for (k, r) in mg {
                    gaps.insert(format!("memory.{k}"), r);
                }
                Value::Object(mo)
            }
        },
    );
    o.insert(
        "cpuset".into(),
        match &c.cpuset {
            None => Value::Null,
            Some(cs) => {
                let mut co = Map::new();
                let mut cg = Map::new();
                co.insert("version".into(), json!(cs.version));
                put(
                    &mut co,
                    &mut cg,
                    "cpus",
                    &cs.cpus.as_ref().map(|l| format_list(l)).map_err(Clone::clone),
                );
                put(
                    &mut co,
                    &mut cg,
                    "mems",
                    &cs.mems.as_ref().map(|l| format_list(l)).map_err(Clone::clone),
                );
                for (k, r) in cg {
                    gaps.insert(format!("cpuset.{k}"), r);
                }
                Value::Object(co)
            }
        },
    );
    o.insert(
        "pids".into(),
        match &c.pids {
            None => Value::Null,
            Some(p) => {
                let mut po = Map::new();
                let mut pg = Map::new();
                po.insert("version".into(), json!(p.version));
                put(&mut po, &mut pg, "current", &p.current);
                put(&mut po, &mut pg, "max", &p.max);
                for (k, r) in pg {
                    gaps.insert(format!("pids.{k}"), r);
                }
                Value::Object(po)
            }
        },
    );
    o.insert("unavailable".into(), Value::Object(gaps));
    Value::Object(o)
}

/// Write the cgroups as one JSON document.
pub fn write_json(w: &mut dyn Write, v: &CgroupsView, o: &CgroupsOptions) -> io::Result<()> {
    let (rows, _) = v.rows(o);
    let doc = json!({
        "schema": CGROUPS_SCHEMA,
        "taken_at": timestamp(v.taken_at_unix_ms),
        "taken_at_unix_ms": v.taken_at_unix_ms,
        "layout": {
            "kind": v.tree.layout.kind,
            "hierarchies": v.tree.layout.hierarchies,
            "visible_root": v.tree.layout.visible_root(),
        },
        "cgroups": rows.iter().map(|&i| cgroup_json(v, i)).collect::<Vec<_>>(),
    });
    serde_json::to_writer_pretty(&mut *w, &doc)?;
    writeln!(w)
}

/// The CSV columns, in order.
pub const CSV_COLUMNS: &[&str] = &[
    "path",
    "depth",
    "versions",
    "procs",
    "processes",
    "processes_with_pss",
    "pss_bytes",
    "memory_version",
    "current_bytes",
    "peak_bytes",
    "limit_bytes",
    "swap_bytes",
    "swap_limit_bytes",
    "oom_events",
    "oom_kills",
    "anon_bytes",
    "file_bytes",
    "shmem_bytes",
    "file_mapped_bytes",
    "kernel_bytes",
    "slab_bytes",
    "sock_bytes",
    "cpus",
    "mems",
    "pids_current",
    "pids_max",
    "pressure_some_avg10",
    "pressure_some_total_usec",
    "pressure_full_avg10",
    "pressure_full_total_usec",
];

/// Write one CSV row per cgroup: unavailable figures are empty, no limit is
/// `max`.
pub fn write_csv(w: &mut dyn Write, v: &CgroupsView, o: &CgroupsOptions) -> io::Result<()> {
    let (rows, _) = v.rows(o);
    let mut c = csv::Writer::from_writer(w);
    c.write_record(CSV_COLUMNS)?;
    fn s<T: ToString>(v: &Figure<T>) -> String {
        v.as_ref().map(|x| x.to_string()).unwrap_or_default()
    }
    for &i in &rows {
        let cg = &v.tree.cgroups[i];
        let u = v.usage(i);
        let mut rec: Vec<String> = vec![
            cg.path.clone(),
            cg.depth.to_string(),
            cg.versions().iter().map(|v| v.name()).collect::<Vec<_>>().join("+"),
            cg.procs.as_ref().map(|p| p.len().to_string()).unwrap_or_default(),
            u.map(|u| u.processes.to_string()).unwrap_or_default(),
            u.map(|u| u.with_pss.to_string()).unwrap_or_default(),
            u.map(|u| u.pss_bytes.to_string()).unwrap_or_default(),
        ];
        match &cg.memory {
            Some(m) => {
                rec.push(m.version.name().to_string());
                rec.extend([
                    s(&m.current_bytes),
                    s(&m.peak_bytes),
                    s(&m.limit),
                    s(&m.swap_bytes),
                    s(&m.swap_limit),
                    s(&m.oom_events()),
                    s(&m.oom_kills()),
                ]);
                for k in ["anon", "file", "shmem", "file_mapped", "kernel", "slab", "sock"] {
                    rec.push(s(&m.split_key(k)));
                }
            }
            None => rec.extend((0..15).map(|_| String::new())),
        }
        match &cg.cpuset {
            Some(cs) => {
                rec.push(cs.cpus.as_ref().map(|l| format_list(l)).unwrap_or_default());
                rec.push(cs.mems.as_ref().map(|l| format_list(l)).unwrap_or_default());
            }
            None => rec.extend([String::new(), String::new()]),
        }
        match &cg.pids {
            Some(p) => rec.extend([s(&p.current), s(&p.max)]),
            None => rec.extend([String::new(), String::new()]),
        }
        let psi = cg.memory.as_ref().and_then(|m| m.pressure.as_ref().ok());
        for l in [psi.and_then(|p| p.some), psi.and_then(|p| p.full)] {
            rec.push(l.map(|l| l.avg10.to_string()).unwrap_or_default());
            rec.push(l.map(|l| l.total_usec.to_string()).unwrap_or_default());
        }
        c.write_record(&rec)?;
    }
    c.flush()?;
    Ok(())
}
