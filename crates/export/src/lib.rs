//! Renderers: every output of memscope is written here, to an
//! `impl io::Write`, so tests render into a `Vec<u8>` and compare.
//!
//! - [`style`]: colour on or off (decided by the caller: TTY, `NO_COLOR`,
//!   `--no-color`), word wrapping, time stamps;
//! - [`pages`]: `memscope phys` and `memscope pages PID` (`memscope.phys/1`,
//!   `memscope.pages/1`);
//! - [`fds`]: `memscope fds` as tables, JSON (`memscope.fds/1`) or CSV,
//!   and the diagnosis of one process;
//! - [`metrics`]: Prometheus metrics of a snapshot (`memscope serve`), one
//!   module per family;
//! - [`report`]: `memscope report` as a table, JSON (`memscope.report/1`)
//!   or CSV;
//! - [`cgroup_ledger`]: `memscope report --cgroup` as tables, JSON
//!   (`memscope.report-cgroup/1`) or CSV;
//! - [`cgroups`]: `memscope cgroups` as tables, JSON (`memscope.cgroups/1`)
//!   or CSV;
//! - [`run`]: the summary of `memscope run`, text or JSON (`memscope.run/1`);
//! - [`pressure`]: `memscope pressure`, once or one line per trigger event
//!   (`memscope.pressure/1`);
//! - [`trace`]: `memscope trace` as a call-site tree, folded stacks, CSV or
//!   JSON (`memscope.trace/1`).
//! - the detail views, each as a table, JSON (via [`json::write_doc`]) and
//!   CSV: [`ps`], [`maps`], [`numa`], [`zones`], [`slab`], [`vmalloc`];
//! - [`oom`]: `memscope oom`, each OOM kill explained, as text, JSON
//!   (`memscope.oom/1`) or CSV;
//! - [`rt`]: `memscope rt check` and `rt latency` as tables, JSON
//!   (`memscope.rt-check/1`, `memscope.rt-latency/1`) or CSV.
//!
//! A view with the three usual forms implements [`Render`], so that a
//! command prints it in the format asked for with one call.

pub mod cgroup_ledger;
pub mod cgroup_rows;
pub mod cgroups;
pub mod chart;
pub mod diff;
pub mod fds;
pub mod json;
pub mod leaks;
pub mod maps;
pub mod metrics;
pub mod numa;
pub mod oom;
pub mod pages;
pub mod pressure;
pub mod ps;
pub mod report;
pub mod rt;
pub mod run;
pub mod slab;
pub mod style;
pub mod table;
pub mod trace;
pub mod utrace;
pub mod vmalloc;
pub mod zones;

pub use style::Style;

/// A view that prints as a table, one JSON document or CSV: the three forms
/// of the report and the detail views, behind one call for the commands.
pub trait Render {
    /// The JSON document.
    fn write_json(&self, w: &mut dyn std::io::Write) -> std::io::Result<()>;
    /// CSV, one row per line of the view.
    fn write_csv(&self, w: &mut dyn std::io::Write) -> std::io::Result<()>;
    /// The human table.
    fn write_table(&self, w: &mut dyn std::io::Write, s: &Style) -> std::io::Result<()>;
}

/// `Render` for a view whose module has `write_json(w, v)`, `write_csv(w, v)`
/// and `write_table(w, v, style)`.
macro_rules! render_by_module {
    ($($module:ident => $view:ty),* $(,)?) => {$(
        impl Render for $view {
            fn write_json(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
                $module::write_json(w, self)
            }
            fn write_csv(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
                $module::write_csv(w, self)
            }
            fn write_table(&self, w: &mut dyn std::io::Write, s: &Style) -> std::io::Result<()> {
                $module::write_table(w, self, s)
            }
        }
    )*};
}

render_by_module!(
    report => memscope_analysis::report::Report,
    ps => memscope_analysis::ps::Ps,
    maps => memscope_analysis::maps::MapsView,
    numa => memscope_analysis::numa::NumaView,
    zones => memscope_analysis::zones::ZonesView,
    slab => memscope_analysis::slab::SlabView,
    vmalloc => memscope_analysis::vmalloc::VmallocView,
    oom => memscope_analysis::oom::OomView,
    cgroup_ledger => memscope_analysis::cgroup_ledger::CgroupLedger,
);
