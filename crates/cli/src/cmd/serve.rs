//! `memscope serve`: the Prometheus exporter.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use memscope_export::metrics::MetricsOptions;
use memscope_kernel::KernelRoot;
use memscope_model::fds::collect_fd_counts;
use memscope_model::{CollectOptions, ProcessMode, collect};
use memscope_serve::{Collected, Options, WebConfig, serve};

use crate::cli::ServeArgs;

pub fn run(root: &KernelRoot, a: &ServeArgs) -> anyhow::Result<ExitCode> {
    let web = match &a.web_config {
        Some(path) => WebConfig::load(path).context("invalid --web-config")?,
        None => WebConfig::default(),
    };
    let scheme = if web.tls.is_some() { "https" } else { "http" };
    let collect_opts = CollectOptions {
        processes: ProcessMode::Full,
        rollup_budget: Some(Duration::from_millis(a.budget_ms)),
        rollup_max_rss_bytes: Some(a.max_rss),
        ..CollectOptions::default()
    };
    let root = root.clone();
    let opts = Options {
        listen: a.listen,
        min_interval: a.min_interval,
        metrics: MetricsOptions { top_processes: a.top, top_slab_caches: a.top_slab },
        web,
        max_connections: a.max_connections,
        collect: Arc::new(move || Collected {
            snap: collect(&root, &collect_opts),
            fds: Some(collect_fd_counts(&root)),
        }),
    };
    serve(opts, |addr| {
        // Tests and scripts read the bound address (port 0 picks one) from here.
        eprintln!("memscope serve: listening on {scheme}://{addr}/metrics");
    })?;
    Ok(ExitCode::SUCCESS)
}
