//! The cost of one live `memscope top` refresh on this machine, by phase:
//! the collection `top` runs ([`memscope_tui::live_options`]: every process,
//! `smaps_rollup` within the default 500 ms budget, descriptors, memory
//! cgroups, one collection cache), the analysis of the snapshot
//! ([`memscope_tui::View::new`]) and the drawing of a 200×50 frame (into
//! ratatui's test backend: the terminal's own output is left out).
//! `scripts/bench-top` runs it at several process counts, beside procps
//! `top -b -n 1` and the floor of reading the same files.
//!
//! ```text
//! cargo run --release -p memscope-tui --example refresh_cost -- [REFRESHES]   median and p90 per phase
//! cargo run --release -p memscope-tui --example refresh_cost -- --once        one refresh, nothing printed
//! ```

use std::time::{Duration, Instant};

use memscope_kernel::KernelRoot;
use memscope_model::collect;
use memscope_tui::{App, View, live_options, ui};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn main() {
    let arg = std::env::args().nth(1).unwrap_or_default();
    let once = arg == "--once";
    let refreshes: usize = if once { 1 } else { arg.parse().unwrap_or(20) };
    let root = KernelRoot::live();
    let opts = live_options(Duration::from_millis(500), 32 << 30, true);
    let mut app = App::new(Duration::from_secs(2), "live");
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).expect("test backend");
    let (mut c, mut v, mut d) = (Vec::new(), Vec::new(), Vec::new());
    let mut processes = 0;
    for _ in 0..refreshes {
        let t = Instant::now();
        let snap = collect(&root, &opts);
        c.push(t.elapsed());
        processes = snap.processes.len();
        let t = Instant::now();
        let view = View::new(&snap);
        v.push(t.elapsed());
        app.push(view);
        let t = Instant::now();
        terminal.draw(|f| ui::draw(f, &mut app)).expect("draw");
        d.push(t.elapsed());
    }
    if once {
        return;
    }
    let ms = |x: &Duration| x.as_secs_f64() * 1e3;
    let stats = |mut x: Vec<Duration>| {
        x.sort();
        (ms(&x[x.len() / 2]), ms(&x[(x.len() * 9 / 10).min(x.len() - 1)]))
    };
    let total: Vec<Duration> = (0..refreshes).map(|i| c[i] + v[i] + d[i]).collect();
    let (cm, cp) = stats(c);
    let (vm, vp) = stats(v);
    let (dm, dp) = stats(d);
    let (tm, tp) = stats(total);
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("VmHWM:")).map(|v| v.trim().to_string()))
        .unwrap_or_default();
    println!(
        "{processes} processes, {refreshes} refreshes (median / p90 ms): collect {cm:.1} / {cp:.1} · \
         analyse {vm:.1} / {vp:.1} · draw {dm:.1} / {dp:.1} · refresh {tm:.1} / {tp:.1} · peak RSS {hwm}"
    );
}
