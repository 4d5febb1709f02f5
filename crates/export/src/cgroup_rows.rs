//! `memscope cgroups --ledger` output: each memory cgroup's charge split as
//! `report --cgroup` splits it, one row per cgroup, as a table, JSON
//! (`"schema": "memscope.cgroups-ledger/1"`) or CSV; documented in
//! docs/json.md.
//!
//! ```text
//! { schema, taken_at, taken_at_unix_ms, layout: {kind, hierarchies[], visible_root},
//!   cgroups: [{path, container?, depth, procs, version, usage_bytes, anon_bytes,
//!              page_cache_bytes, shmem_bytes, kernel_bytes, sock_bytes, sock_in_usage,
//!              remainder_bytes, working_set_bytes, unavailable: {field: reason}}] }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

use memscope_analysis::cgroup_rows::{LINES, LedgerRow};
use memscope_analysis::fmt_bytes;
use memscope_kernel::cgroup::Layout;
use memscope_model::cgroup_stats::CgroupStat;
use serde_json::{Map, Value, json};

use crate::cgroups::{CgroupsOptions, describe_layout};
use crate::style::{self, Style, timestamp, wrap};

/// The JSON schema name of `memscope cgroups --ledger`.
pub const SCHEMA: &str = "memscope.cgroups-ledger/1";

/// What `memscope cgroups --ledger` shows.
#[derive(Debug, Clone)]
pub struct LedgerView<'a> {
    /// The hierarchies.
    pub layout: &'a Layout,
    /// The memory cgroups' files, parents first.
    pub stats: &'a [CgroupStat],
    /// Their rows, same order.
    pub rows: &'a [LedgerRow],
    /// When the files were read.
    pub taken_at_unix_ms: u64,
    /// What the container runtimes call the cgroups, where they say.
    pub names: Option<&'a memscope_model::containers::ContainerNames>,
}

fn components(path: &str) -> usize {
    path.split('/').filter(|c| !c.is_empty()).count()
}

impl LedgerView<'_> {
    /// Each cgroup's depth below the shallowest cgroup read.
    fn depths(&self) -> Vec<usize> {
        let top = self.stats.iter().map(|s| components(&s.path)).min().unwrap_or(0);
        self.stats.iter().map(|s| components(&s.path).saturating_sub(top)).collect()
    }

    /// Processes in each cgroup and its descendants, from `cgroup.procs`
    /// (each cgroup's count added to it and its ancestors: cgroups × depth).
    fn subtree_procs(&self) -> Vec<usize> {
        let index: HashMap<&str, usize> =
            self.stats.iter().enumerate().map(|(i, s)| (s.path.as_str(), i)).collect();
        let mut out = vec![0; self.stats.len()];
        for s in self.stats {
            let n = match &s.procs {
                Some(Ok(n)) => *n,
                _ => 0,
            };
            if n == 0 {
                continue;
            }
            let mut p = s.path.as_str();
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
    /// hidden for having neither processes nor memory.
    pub fn shown(&self, o: &CgroupsOptions) -> (Vec<usize>, usize) {
        let subtree = self.subtree_procs();
        let depths = self.depths();
        let mut hidden = 0;
        let mut out = Vec::new();
        for (i, (&procs, &depth)) in subtree.iter().zip(&depths).enumerate().take(self.rows.len()) {
            if o.depth.is_some_and(|d| depth > d) {
                continue;
            }
            let used = depth == 0 || procs > 0 || self.rows[i].usage_bytes.unwrap_or(0) > 0;
            if !used && !o.all {
                hidden += 1;
                continue;
            }
            out.push(i);
        }
        if o.flat {
            out.sort_by(|&a, &b| {
                self.rows[b]
                    .usage_bytes
                    .cmp(&self.rows[a].usage_bytes)
                    .then(self.stats[a].path.cmp(&self.stats[b].path))
            });
        }
        (out, hidden)
    }

    fn label(&self, i: usize, depth: usize, o: &CgroupsOptions) -> String {
        let path = &self.stats[i].path;
        let base = if o.flat || depth == 0 {
            path.clone()
        } else {
            format!("{}{}", "  ".repeat(depth), path.rsplit('/').next().unwrap_or(path))
        };
        let name = self
            .names
            .and_then(|n| memscope_analysis::containers::label_of(path, n))
            .and_then(|l| l.display())
            .map(|n| format!(" [{n}]"))
            .unwrap_or_default();
        base + &name
    }

    fn procs(&self, i: usize) -> Option<usize> {
        self.stats[i].procs.as_ref().and_then(|p| p.as_ref().ok().copied())
    }
}

/// Write the rows as a table, with why cells are empty below it.
pub fn write_table(w: &mut dyn Write, v: &LedgerView, o: &CgroupsOptions, s: &Style) -> io::Result<()> {
    let mut guard = s.guard(w);
    let w: &mut dyn Write = &mut guard;
    writeln!(w, "{}", s.heading(&format!("cgroup memory ledgers at {}", timestamp(v.taken_at_unix_ms))))?;
    writeln!(w, "{}", wrap(&describe_layout(v.layout), s.width, "", "  "))?;
    writeln!(w)?;
    let (shown, hidden) = v.shown(o);
    let depths = v.depths();
    let mut header = vec!["cgroup", "procs", "usage"];
    header.extend(LINES.iter().map(|(_, label)| *label));
    header.extend(["remainder", "working set"]);
    let mut t = s.table(&header);
    // Column → (cgroups without the figure, the first reason).
    let mut gaps: BTreeMap<&str, (usize, String)> = BTreeMap::new();
    let mut v1_sock = false;
    for &i in &shown {
        let r = &v.rows[i];
        let mut cell = |column: &'static str, key: &str, value: Option<String>| match value {
            Some(x) => s.num(x),
            None => {
                let why = r.unavailable.get(key).cloned().unwrap_or_else(|| "unavailable".into());
                let e = gaps.entry(column).or_insert((0, why));
                e.0 += 1;
                s.num("-")
            }
        };
        let b = |x: Option<u64>| x.map(|x| fmt_bytes(x as i64));
        let mut cells = vec![
            crate::table::Cell::new(v.label(i, depths[i], o)),
            s.num(v.procs(i).map_or_else(|| "-".into(), |n| n.to_string())),
            cell("usage", "usage_bytes", b(r.usage_bytes)),
        ];
        for (key, label) in LINES {
            let mut text = b(r.line(key));
            if !r.in_usage(key) {
                v1_sock = true;
                text = text.map(|t| format!("({t})"));
            }
            cells.push(cell(label, &format!("{key}_bytes"), text));
        }
        cells.push(cell("remainder", "remainder_bytes", r.remainder_bytes.map(fmt_bytes)));
        cells.push(cell("working set", "working_set_bytes", b(r.working_set_bytes)));
        t.add_row(cells);
    }
    style::write_table(w, &t)?;
    if hidden > 0 {
        let (noun, verb) = if hidden == 1 { ("cgroup", "is") } else { ("cgroups", "are") };
        writeln!(w, "({hidden} {noun} without processes or memory {verb} hidden; --all shows them.)")?;
    }
    writeln!(w, "\n{}", s.heading("Notes"))?;
    let mut notes = vec![
        "usage = anon + page cache + shmem + kernel + sock + remainder, each figure including the cgroup's \
         descendants; the remainder (signed) is what the per-cpu batched counters have not yet caught up \
         with, a few pages per CPU. page cache is memory.stat file − shmem. working set = usage − inactive \
         page cache, the figure the kubelet evicts by. memscope report --cgroup CGROUP explains one row."
            .to_string(),
    ];
    // mm/memcontrol-v1.c mem_cgroup_usage(): the v1 root has no page
    // counter; its usage is computed from statistics, without kernel memory.
    if shown.iter().any(|&i| v.stats[i].path == "/" && v.stats[i].top && v.rows[i].version == "v1") {
        notes.push(
            "The root's usage is not a counter on cgroup v1: the kernel computes it from the page cache and \
             anonymous pages, without the kernel memory charged to its children, so the root's remainder is \
             about minus its kernel line."
                .into(),
        );
    }
    if v1_sock {
        notes.push(
            "(sock) in parentheses: cgroup v1 charges TCP socket buffers to memory.kmem.tcp.usage_in_bytes, \
             outside the usage, so they are not in the sum."
                .into(),
        );
    }
    for n in &notes {
        writeln!(w, "{}", wrap(n, s.width, "- ", "  "))?;
    }
    for (col, (n, why)) in &gaps {
        let text = format!("{col}: unavailable for {n} cgroup{} ({why})", if *n == 1 { "" } else { "s" });
        writeln!(w, "{}", wrap(&text, s.width, "- ", "  "))?;
    }
    Ok(())
}

fn row_json(v: &LedgerView, i: usize, depth: usize) -> Value {
    let r = &v.rows[i];
    let s = &v.stats[i];
    let mut o = Map::new();
    o.insert("path".into(), json!(s.path));
    if let Some(l) = v.names.and_then(|n| memscope_analysis::containers::label_of(&s.path, n)) {
        o.insert("container".into(), json!(l));
    }
    o.insert("depth".into(), json!(depth));
    let mut unavailable: Map<String, Value> =
        r.unavailable.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    match &s.procs {
        Some(Ok(n)) => {
            o.insert("procs".into(), json!(n));
        }
        Some(Err(e)) => {
            o.insert("procs".into(), Value::Null);
            unavailable.insert("procs".into(), json!(memscope_analysis::hints::unavailable_reason(e)));
        }
        None => {
            o.insert("procs".into(), Value::Null);
        }
    }
    if let Ok(Value::Object(fields)) = serde_json::to_value(r) {
        for (k, val) in fields {
            if k != "path" && k != "unavailable" {
                o.insert(k, val);
            }
        }
    }
    o.insert("unavailable".into(), Value::Object(unavailable));
    Value::Object(o)
}

/// Write the rows as one JSON document.
pub fn write_json(w: &mut dyn Write, v: &LedgerView, o: &CgroupsOptions) -> io::Result<()> {
    let (shown, _) = v.shown(o);
    let depths = v.depths();
    let doc = json!({
        "schema": SCHEMA,
        "taken_at": timestamp(v.taken_at_unix_ms),
        "taken_at_unix_ms": v.taken_at_unix_ms,
        "layout": {
            "kind": v.layout.kind,
            "hierarchies": v.layout.hierarchies,
            "visible_root": v.layout.visible_root(),
        },
        "cgroups": shown.iter().map(|&i| row_json(v, i, depths[i])).collect::<Vec<_>>(),
    });
    serde_json::to_writer_pretty(&mut *w, &doc)?;
    writeln!(w)
}

/// The CSV columns, in order.
pub const CSV_COLUMNS: &[&str] = &[
    "path",
    "depth",
    "version",
    "procs",
    "usage_bytes",
    "anon_bytes",
    "page_cache_bytes",
    "shmem_bytes",
    "kernel_bytes",
    "sock_bytes",
    "sock_in_usage",
    "remainder_bytes",
    "working_set_bytes",
];

/// Write one CSV row per cgroup: unavailable figures are empty.
pub fn write_csv(w: &mut dyn Write, v: &LedgerView, o: &CgroupsOptions) -> io::Result<()> {
    let (shown, _) = v.shown(o);
    let depths = v.depths();
    let mut c = csv::Writer::from_writer(w);
    c.write_record(CSV_COLUMNS)?;
    fn opt<T: ToString>(x: Option<T>) -> String {
        x.map(|x| x.to_string()).unwrap_or_default()
    }
    for &i in &shown {
        let r = &v.rows[i];
        let mut rec = vec![
            v.stats[i].path.clone(),
            depths[i].to_string(),
            r.version.to_string(),
            opt(v.procs(i)),
            opt(r.usage_bytes),
        ];
        rec.extend(LINES.iter().map(|(k, _)| opt(r.line(k))));
        rec.extend([r.sock_in_usage.to_string(), opt(r.remainder_bytes), opt(r.working_set_bytes)]);
        c.write_record(&rec)?;
    }
    c.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use memscope_analysis::cgroup_rows::rows;
    use memscope_kernel::KernelRoot;

    fn fixture(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(name)
    }

    #[test]
    fn csv_and_json_carry_the_same_rows() {
        let root = KernelRoot::at(fixture("cgroups-v1-docker-host"));
        let layout = Layout::detect(&root).unwrap();
        let stats = memscope_model::cgroup_stats::read_all(&root, &layout, true).unwrap();
        let rows = rows(&stats);
        let v = LedgerView { layout: &layout, stats: &stats, rows: &rows, taken_at_unix_ms: 0, names: None };
        let o = CgroupsOptions::default();
        let mut out = Vec::new();
        write_csv(&mut out, &v, &o).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], CSV_COLUMNS.join(","));
        let mut out = Vec::new();
        write_json(&mut out, &v, &o).unwrap();
        let doc: Value = serde_json::from_slice(&out).unwrap();
        let cgroups = doc["cgroups"].as_array().unwrap();
        assert_eq!(cgroups.len(), lines.len() - 1);
        for (c, line) in cgroups.iter().zip(&lines[1..]) {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells[0], c["path"].as_str().unwrap());
            for (n, col) in CSV_COLUMNS.iter().enumerate().skip(4) {
                let want = match &c[*col] {
                    Value::Null => String::new(),
                    x => x.to_string(),
                };
                assert_eq!(cells[n], want, "{col} of {}", cells[0]);
            }
        }
    }
}
