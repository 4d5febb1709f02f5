//! `memscope ps` output: table, JSON (`memscope.ps/1`), CSV.
//!
//! ```text
//! { schema, kernel, taken_at, taken_at_unix_ms, sort, group_by,
//!   processes: [{pid, comm, uid, user, pss_bytes, uss_bytes, rss_bytes, swap_bytes,
//!                rss_anon_bytes, rss_file_bytes, rss_shmem_bytes, source, pss_unavailable?,
//!                command, mem_percent, state, started_after_boot_ms, started_at_unix_s,
//!                cgroup, container?}],
//!   groups: [{key, runtime?, id?, processes, with_pss, pss_bytes, uss_bytes, rss_bytes,
//!             rss_without_pss_bytes, swap_bytes, pids}],
//!   totals: {…}, scan: {…}, notes: [..] }
//! ```

use std::io::{self, Write};

use memscope_analysis::fmt_bytes;
use memscope_analysis::processes::{ProcessTotals, RowSource, SortKey};
use memscope_analysis::ps::{Group, GroupBy, Ps, PsRow, ScanSummary};
use memscope_analysis::units::count;
use serde::Serialize;

use crate::report::opt_bytes;
use crate::style::{self, Style, timestamp, wrap};

/// The JSON schema name of `memscope ps`.
pub const PS_SCHEMA: &str = "memscope.ps/1";

#[derive(Serialize)]
struct PsJson<'a> {
    schema: &'static str,
    kernel: Option<&'a str>,
    taken_at: String,
    taken_at_unix_ms: u64,
    sort: SortKey,
    group_by: Option<GroupBy>,
    processes: &'a [PsRow],
    groups: &'a [Group],
    totals: &'a ProcessTotals,
    scan: &'a ScanSummary,
    notes: &'a [String],
}

/// Write the view as one JSON document.
pub fn write_json(w: &mut dyn Write, p: &Ps) -> io::Result<()> {
    let doc = PsJson {
        schema: PS_SCHEMA,
        kernel: p.kernel.as_deref(),
        taken_at: timestamp(p.taken_at_unix_ms),
        taken_at_unix_ms: p.taken_at_unix_ms,
        sort: p.sort,
        group_by: p.group_by,
        processes: &p.processes,
        groups: &p.groups,
        totals: &p.totals,
        scan: &p.scan,
        notes: &p.notes,
    };
    serde_json::to_writer_pretty(&mut *w, &doc)?;
    writeln!(w)
}

fn num(v: Option<u64>) -> String {
    v.map(|b| b.to_string()).unwrap_or_default()
}

/// Write the processes (or, grouped, the groups) as CSV.
pub fn write_csv(w: &mut dyn Write, p: &Ps) -> io::Result<()> {
    let mut c = csv::Writer::from_writer(w);
    if p.group_by.is_some() {
        let counted = p.groups.iter().any(|g| g.fds.is_some());
        let mut header = vec![
            "key",
            "runtime",
            "id",
            "processes",
            "with_pss",
            "pss_bytes",
            "uss_bytes",
            "rss_bytes",
            "rss_without_pss_bytes",
            "swap_bytes",
        ];
        if counted {
            header.push("fds");
        }
        c.write_record(&header)?;
        for g in &p.groups {
            let mut record = vec![
                g.key.clone(),
                g.runtime.unwrap_or("").to_string(),
                g.id.clone().unwrap_or_default(),
                g.processes.to_string(),
                g.with_pss.to_string(),
                g.pss_bytes.to_string(),
                g.uss_bytes.to_string(),
                g.rss_bytes.to_string(),
                g.rss_without_pss_bytes.to_string(),
                g.swap_bytes.to_string(),
            ];
            if counted {
                record.push(num(g.fds));
            }
            c.write_record(&record)?;
        }
    } else {
        let counted = fds_counted(p);
        let mut header = vec![
            "pid",
            "user",
            "comm",
            "pss_bytes",
            "uss_bytes",
            "rss_bytes",
            "rss_anon_bytes",
            "rss_file_bytes",
            "rss_shmem_bytes",
            "swap_bytes",
            "source",
            "cgroup",
        ];
        if counted {
            header.extend(["fds", "fd_soft_limit"]);
        }
        header.extend(["mem_percent", "state", "started_after_boot_ms", "started_at_unix_s", "command"]);
        c.write_record(&header)?;
        for r in &p.processes {
            let x = &r.row;
            let mut record = vec![
                x.pid.to_string().as_str(),
                r.user.as_deref().unwrap_or(""),
                x.comm.as_str(),
                num(x.pss_bytes).as_str(),
                num(x.uss_bytes).as_str(),
                num(x.rss_bytes).as_str(),
                num(x.rss_anon_bytes).as_str(),
                num(x.rss_file_bytes).as_str(),
                num(x.rss_shmem_bytes).as_str(),
                num(x.swap_bytes).as_str(),
                match x.source {
                    RowSource::SmapsRollup => "smaps_rollup",
                    RowSource::Smaps => "smaps",
                    RowSource::Status => "status",
                },
                r.cgroup.as_deref().unwrap_or(""),
            ]
            .into_iter()
            .map(str::to_string)
            .collect::<Vec<String>>();
            if counted {
                record.push(num(x.fds));
                record.push(x.fd_soft_limit.map(|l| l.to_string()).unwrap_or_default());
            }
            record.extend([
                r.mem_percent.map(|p| format!("{p:.2}")).unwrap_or_default(),
                r.state.map(String::from).unwrap_or_default(),
                num(r.started_after_boot_ms),
                num(r.started_at_unix_s),
                r.command.clone().unwrap_or_default(),
            ]);
            c.write_record(&record)?;
        }
    }
    c.flush()
}

/// True when the collection counted descriptors (`--sort fds`): the
/// outputs then show them.
fn fds_counted(p: &Ps) -> bool {
    p.processes.iter().any(|r| r.row.fds.is_some())
}

/// Write the view as a readable table, then totals and notes.
pub fn write_table(w: &mut dyn Write, p: &Ps, s: &Style) -> io::Result<()> {
    let mut guard = s.guard(w);
    let w: &mut dyn Write = &mut guard;
    match p.group_by {
        Some(g) => write_groups(w, p, g, s)?,
        None => write_processes(w, p, s)?,
    }
    let t = &p.totals;
    let pss = if t.with_pss == 0 {
        "PSS and USS not read".to_string()
    } else {
        format!(
            "PSS {} (of {} with PSS) · USS {}",
            fmt_bytes(t.pss_bytes as i64),
            t.with_pss,
            fmt_bytes(t.uss_bytes as i64)
        )
    };
    let totals = format!(
        "{}: {pss} · RSS {} · swap {}{}",
        count(t.processes, "process", "processes"),
        fmt_bytes(t.rss_bytes as i64),
        fmt_bytes(t.swap_bytes as i64),
        t.anon_plus_mapped_bytes
            .map(|k| format!(" · kernel AnonPages + Mapped {}", fmt_bytes(k as i64)))
            .unwrap_or_default()
    );
    writeln!(w, "{}", wrap(&totals, s.width, "", "  "))?;
    for n in &p.notes {
        writeln!(w, "{}", wrap(n, s.width, "- ", "  "))?;
    }
    Ok(())
}

fn write_processes(w: &mut dyn Write, p: &Ps, s: &Style) -> io::Result<()> {
    let counted = fds_counted(p);
    // As `ps aux`: who, how much, state and start, the breakdown of RSS,
    // and the command line last. A long command line then pads no other
    // row (one of 1,300 characters made every piped row as wide, and its
    // rendering a fifth of `ps` with 3,000 processes); on a narrow terminal
    // it is cut and the breakdown left out before it.
    let mut header = vec!["pid", "user", "PSS", "USS", "RSS", "swap"];
    if counted {
        header.push("fds / limit");
    }
    header.extend(["%MEM", "S", "start", "anon", "file", "shmem", "command"]);
    let mut t = s.table(&header);
    for r in &p.processes {
        let x = &r.row;
        let pid = match x.source {
            RowSource::SmapsRollup | RowSource::Smaps => s.num(x.pid),
            RowSource::Status => s.num(format!("*{}", x.pid)),
        };
        let mut row = vec![
            pid,
            crate::table::Cell::new(r.user.as_deref().unwrap_or("?")),
            s.num(opt_bytes(x.pss_bytes)),
            s.num(opt_bytes(x.uss_bytes)),
            s.num(opt_bytes(x.rss_bytes)),
            s.num(opt_bytes(x.swap_bytes)),
        ];
        if counted {
            row.push(s.num(fds_cell(x.fds, x.fd_soft_limit)));
        }
        row.extend([
            s.num(r.mem_percent.map(|p| format!("{p:.1}")).unwrap_or_else(|| "-".into())),
            crate::table::Cell::new(r.state.map(String::from).unwrap_or_else(|| "?".into())),
            s.num(start_cell(r.started_at_unix_s, r.started_after_boot_ms, p.taken_at_unix_ms)),
            s.num(opt_bytes(x.rss_anon_bytes)),
            s.num(opt_bytes(x.rss_file_bytes)),
            s.num(opt_bytes(x.rss_shmem_bytes)),
            s.text(r.command.as_deref().unwrap_or(&x.comm)),
        ]);
        t.add_row(row);
    }
    style::write_table_keeping(w, &t, style::Keep::Last)
}

/// When a process started, as `ps` shows it: the time of day (UTC) when it
/// started on the day of the snapshot, the date within the year, else the
/// year; `boot+2h13m` when the boot time is unknown (a captured tree
/// without `/proc/stat`); `-` when the start could not be read.
pub fn start_cell(at_unix_s: Option<u64>, after_boot_ms: Option<u64>, taken_at_unix_ms: u64) -> String {
    match (at_unix_s, after_boot_ms) {
        (Some(at), _) => {
            let start = timestamp(at.saturating_mul(1000));
            let taken = timestamp(taken_at_unix_ms);
            // RFC 3339: `2026-12-05T08:37:16Z`.
            match (start.get(..10), taken.get(..10), start.get(..4), taken.get(..4)) {
                (Some(d), Some(t), ..) if d == t => start.get(11..16).unwrap_or(&start).to_string(),
                (_, _, Some(y), Some(ty)) if y == ty => start.get(5..10).unwrap_or(&start).to_string(),
                _ => start.get(..4).unwrap_or(&start).to_string(),
            }
        }
        (None, Some(ms)) => {
            let m = ms / 60_000;
            match m {
                0 => format!("boot+{}s", ms / 1000),
                1..60 => format!("boot+{m}m"),
                60..1440 => format!("boot+{}h{:02}m", m / 60, m % 60),
                _ => format!("boot+{}d{:02}h", m / 1440, (m % 1440) / 60),
            }
        }
        (None, None) => "-".into(),
    }
}

/// `60 / 1024`: open descriptors and the soft `RLIMIT_NOFILE`; `-` for
/// what could not be read.
pub fn fds_cell(fds: Option<u64>, soft: Option<memscope_kernel::parse::pid::limits::Limit>) -> String {
    let n = fds.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
    match soft {
        Some(l) => format!("{n} / {l}"),
        None => format!("{n} / -"),
    }
}

fn write_groups(w: &mut dyn Write, p: &Ps, g: GroupBy, s: &Style) -> io::Result<()> {
    let first = match g {
        GroupBy::User => "user",
        GroupBy::Cgroup => "cgroup",
        GroupBy::Container => "container",
        GroupBy::Cmd => "command",
    };
    let mut header = vec![first];
    if g == GroupBy::Container {
        header.push("runtime");
    }
    header.extend(["procs", "PSS", "USS", "RSS", "swap"]);
    let counted = fds_counted(p);
    if counted {
        header.push("fds");
    }
    let mut t = s.table(&header);
    let mut estimated = false;
    for x in &p.groups {
        let mark = if x.with_pss < x.processes {
            estimated = true;
            "*"
        } else {
            ""
        };
        let mut row = vec![crate::table::Cell::new(&x.key)];
        if g == GroupBy::Container {
            row.push(s.dim(x.runtime.unwrap_or("")));
        }
        row.extend([
            s.num(x.processes),
            s.num(format!("{}{mark}", fmt_bytes(x.pss_bytes as i64))),
            s.num(format!("{}{mark}", fmt_bytes(x.uss_bytes as i64))),
            s.num(fmt_bytes(x.rss_bytes as i64)),
            s.num(fmt_bytes(x.swap_bytes as i64)),
        ]);
        if counted {
            row.push(s.num(x.fds.map(|n| n.to_string()).unwrap_or_else(|| "-".into())));
        }
        t.add_row(row);
    }
    style::write_table(w, &t)?;
    if estimated {
        writeln!(
            w,
            "{}",
            wrap(
                "PSS and USS sum only the processes whose smaps_rollup was read; groups marked * have \
                 processes without (ranked by adding their RSS).",
                s.width,
                "* ",
                "  "
            )
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::start_cell;

    #[test]
    fn start_reads_as_ps_shows_it() {
        // 2025-12-04T18:00:00Z, taken the same day, a later day, a later year.
        let at = 1_764_871_200;
        assert_eq!(start_cell(Some(at), None, (at + 3600) * 1000), "18:00");
        assert_eq!(start_cell(Some(at), None, (at + 10 * 86_400) * 1000), "12-04");
        assert_eq!(start_cell(Some(at), None, (at + 400 * 86_400) * 1000), "2025");
        assert_eq!(start_cell(None, Some(42_000), 0), "boot+42s");
        assert_eq!(start_cell(None, Some(7_980_000), 0), "boot+2h13m");
        assert_eq!(start_cell(None, Some(3 * 86_400_000 + 3_600_000), 0), "boot+3d01h");
        assert_eq!(start_cell(None, None, 0), "-");
    }
}
