//! `memscope serve`: the Prometheus exporter.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use memscope_export::metrics::{Collected, MetricsOptions, cgroup_ledger_paths};
use memscope_kernel::KernelRoot;
use memscope_kernel::cgroup::Layout;
use memscope_model::cgroup_stats::read_paths;
use memscope_model::{CollectCache, CollectOptions, ProcessMode, collect};
use memscope_serve::{Limits, Options, WebConfig, exposure_warning, serve};

use crate::cli::ServeArgs;

pub fn run(root: &KernelRoot, a: &ServeArgs) -> anyhow::Result<ExitCode> {
    let web = match &a.web_config {
        Some(path) => WebConfig::load(path).context("invalid --web-config")?,
        None => WebConfig::default(),
    };
    let scheme = if web.tls.is_some() { "https" } else { "http" };
    // Before binding, so that it is said even if the bind then fails.
    if let Some(w) = exposure_warning(a.listen, &web) {
        eprintln!("memscope serve: warning: {w}");
    }
    let collect_opts = CollectOptions {
        processes: ProcessMode::Full,
        rollup_budget: Some(Duration::from_millis(a.budget_ms)),
        rollup_max_rss_bytes: Some(a.max_rss),
        // Descriptors in the same per-process pass (one stat of /proc/PID/fd,
        // one read of /proc/PID/limits), and the memory cgroups.
        fds: true,
        cgroups: true,
        // What is fixed after boot (the boot log's percpu line, slab caches'
        // reclaim flags) is read once, not on every scrape.
        cache: Some(CollectCache::new()),
        // Of status, only the text fields the metrics use.
        status_keys: memscope_model::WATCHED_STATUS,
        // Each process's rollup is read again only where it can have moved.
        incremental: (!a.full_pss).then(memscope_model::IncrementalPss::new),
        ..CollectOptions::default()
    };
    let root = root.clone();
    let top_cgroups = a.top_cgroups;
    let opts = Options {
        listen: a.listen,
        min_interval: a.min_interval,
        metrics: MetricsOptions {
            top_processes: a.top,
            top_slab_caches: a.top_slab,
            top_cgroups: a.top_cgroups,
        },
        web,
        limits: Limits { max_connections: a.max_connections, ..Limits::default() },
        collect: Arc::new(move || {
            let snapshot = collect(&root, &collect_opts);
            // The ledger files of the cgroups exported one by one and of the
            // topmost others: at most the cgroups the snapshot read.
            let cgroup_stats = match &snapshot.cgroups {
                Some(Ok(sample)) => {
                    let paths = cgroup_ledger_paths(sample, top_cgroups);
                    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
                    Some(Layout::detect(&root).and_then(|layout| read_paths(&root, &layout, &paths)))
                }
                _ => None,
            };
            Collected { snapshot, cgroup_stats }
        }),
    };
    serve(opts, |addr| {
        // Tests and scripts read the bound address (port 0 picks one) from here.
        eprintln!("memscope serve: listening on {scheme}://{addr}/metrics");
    })?;
    Ok(ExitCode::SUCCESS)
}
