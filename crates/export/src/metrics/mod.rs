//! Prometheus metrics of a snapshot, in the OpenMetrics text format
//! (prometheus-client), for `memscope serve`.
//!
//! ```text
//!  Snapshot ──Input::new──▶ Input { ledger, process rows, … }
//!     each family in FAMILIES: family::collect(&Input, &mut Out)   (pure)
//!     Out ──encode──▶ "# HELP … # TYPE … memscope_ledger_bytes{category="free"} … # EOF"
//! ```
//!
//! One table per family drives the encoding, the exporter's landing page and
//! the tests: every metric is a [`MetricDef`] (name, type, unit in the name,
//! help, label names) in its family's `METRICS`, and [`FAMILIES`] lists the
//! families. A further view is one module here and one line in [`FAMILIES`].
//! Ledger category labels are the keys of [`ledger::CATEGORIES`], the same
//! table the report and `--explain` use.
//!
//! Series are bounded whatever the host runs: processes, slab caches and
//! memory cgroups are the top N plus one `other` series holding the rest,
//! vmalloc areas are grouped by kind, zones and nodes are few.
//!
//! The per-view figures come from the analysis the commands use
//! (`memscope_analysis::{slab, vmalloc, zones, memcg, processes}`): a family
//! chooses and names series, it does not redo arithmetic.
//!
//! A figure that could not be read is not exported as 0: its series is left
//! out and `memscope_unavailable_info{figure, reason}` says why.
//!
//! File descriptors and memory cgroups come with the snapshot when it was
//! collected with them (`CollectOptions::fds`, `CollectOptions::cgroups`);
//! without, their families say nothing.
//!
//! [`ledger::CATEGORIES`]: memscope_analysis::ledger::CATEGORIES

mod cgroup_ledger;
mod cgroups;
mod fds;
mod ledger;
mod pressure;
mod processes;
mod scrape;
mod slab;
mod sockets;
mod vmalloc;
mod zones;

use memscope_analysis::ledger::{self as ledger_analysis, Ledger, LedgerError, LedgerOptions};
use memscope_analysis::processes::{self as process_analysis, ProcessRow};
use memscope_model::cgroup_stats::CgroupStat;
use memscope_model::{Sample, Snapshot};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

/// The two exposition formats a scraper may ask for (HTTP `Accept`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0 text: what Prometheus asks for first.
    OpenMetrics,
    /// The classic Prometheus text format 0.0.4: what `curl`, `promtool
    /// check metrics` and older scrapers read. Counters are named with their
    /// `_total` suffix in HELP and TYPE, and there is no `# EOF`.
    Text004,
}

impl Format {
    /// The HTTP `Content-Type` of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Text004 => "text/plain; version=0.0.4; charset=utf-8",
        }
    }

    /// The format an HTTP `Accept` header asks for: OpenMetrics when it is
    /// named with a non-zero quality, else the classic text format (the
    /// content negotiation of the Go client library).
    pub fn from_accept(accept: Option<&str>) -> Format {
        let Some(accept) = accept else { return Format::Text004 };
        for part in accept.split(',') {
            let mut params = part.split(';').map(str::trim);
            let media = params.next().unwrap_or("");
            if !media.eq_ignore_ascii_case("application/openmetrics-text") {
                continue;
            }
            let q = params
                .filter_map(|p| p.strip_prefix("q="))
                .next()
                .and_then(|q| q.parse::<f64>().ok())
                .unwrap_or(1.0);
            if q > 0.0 {
                return Format::OpenMetrics;
            }
        }
        Format::Text004
    }
}

/// What a metric is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A value that goes up and down.
    Gauge,
    /// A value that only goes up (resets on reboot); its sample is named `<name>_total`.
    Counter,
    /// Always 1; the labels carry the information. Exposed as a gauge named
    /// `…_info` (the convention of node_exporter's `node_uname_info`), since
    /// Prometheus' classic text parser and promtool do not know the
    /// OpenMetrics `info` type.
    Info,
}

impl Kind {
    /// OpenMetrics type name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Info => "gauge",
        }
    }
}

/// One metric: one definition drives encoding, the landing page and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDef {
    /// Family name as exposed. Counters end in `_total` here and in the
    /// exposition; info metrics end in `_info`.
    pub name: &'static str,
    /// Type.
    pub kind: Kind,
    /// HELP text (one sentence, no final period: the encoder adds it).
    pub help: &'static str,
    /// Label names, in the order series give their values.
    pub labels: &'static [&'static str],
}

/// A family of metrics: one module, one line in [`FAMILIES`].
pub struct Family {
    /// Short name (`ledger`, `processes`, …).
    pub name: &'static str,
    /// Its metrics.
    pub metrics: &'static [MetricDef],
    /// Fill `out` from the input.
    pub collect: fn(&Input, &mut Out),
}

/// Every family, in exposition order.
pub const FAMILIES: &[Family] = &[
    Family { name: "ledger", metrics: ledger::METRICS, collect: ledger::collect },
    Family { name: "zones", metrics: zones::METRICS, collect: zones::collect },
    Family { name: "slab", metrics: slab::METRICS, collect: slab::collect },
    Family { name: "vmalloc", metrics: vmalloc::METRICS, collect: vmalloc::collect },
    Family { name: "sockets", metrics: sockets::METRICS, collect: sockets::collect },
    Family { name: "pressure", metrics: pressure::METRICS, collect: pressure::collect },
    Family { name: "processes", metrics: processes::METRICS, collect: processes::collect },
    Family { name: "fds", metrics: fds::METRICS, collect: fds::collect },
    Family { name: "cgroups", metrics: cgroups::METRICS, collect: cgroups::collect },
    Family { name: "cgroup_ledger", metrics: cgroup_ledger::METRICS, collect: cgroup_ledger::collect },
    Family { name: "scrape", metrics: scrape::METRICS, collect: scrape::collect },
];

/// Every metric of every family.
pub fn all_metrics() -> impl Iterator<Item = &'static MetricDef> {
    FAMILIES.iter().flat_map(|f| f.metrics.iter())
}

/// How many series the bounded families may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsOptions {
    /// Processes exported one by one (largest PSS first); the rest are summed
    /// into `pid="other"`.
    pub top_processes: usize,
    /// Slab caches exported one by one (largest first); the rest are summed
    /// into `cache="other"`.
    pub top_slab_caches: usize,
    /// Memory cgroups exported one by one (largest charge first, parents
    /// before children); the rest are summed into `cgroup="other"`.
    pub top_cgroups: usize,
}

impl Default for MetricsOptions {
    fn default() -> Self {
        MetricsOptions { top_processes: 20, top_slab_caches: 20, top_cgroups: 20 }
    }
}

/// Figures about the exporter itself, kept by its caller.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ExporterStats {
    /// Collections done since start, this one included.
    pub collections: u64,
    /// Wall time of this collection and its analysis, seconds.
    pub collection_seconds: f64,
}

/// What the families read: the snapshot and what analysis made of it.
pub struct Input<'a> {
    /// The snapshot.
    pub snap: &'a Snapshot,
    /// The ledger, or why there is none.
    pub ledger: Result<Ledger, LedgerError>,
    /// Every process with an address space, largest PSS (RSS) first.
    pub processes: Vec<ProcessRow>,
    /// Page size (4 KiB assumed when the snapshot does not say).
    pub page_size_bytes: u64,
    /// Series bounds.
    pub opts: MetricsOptions,
    /// The exporter's own figures.
    pub stats: ExporterStats,
    /// The ledger files of the memory cgroups to export one by one and of
    /// the topmost others ([`Collected::cgroup_stats`]), when read.
    pub cgroup_stats: Option<&'a Sample<Vec<CgroupStat>>>,
}

/// What one collection of the exporter read: the snapshot, and the ledger
/// files of the memory cgroups it exports ([`cgroup_ledger_paths`]).
#[derive(Debug, Clone)]
pub struct Collected {
    /// The snapshot.
    pub snapshot: Snapshot,
    /// The memory cgroups' ledger files, when read.
    pub cgroup_stats: Option<Sample<Vec<CgroupStat>>>,
}

impl From<Snapshot> for Collected {
    fn from(snapshot: Snapshot) -> Collected {
        Collected { snapshot, cgroup_stats: None }
    }
}

/// The memory cgroups of `sample` whose ledger files the exporter needs:
/// the `top` largest and the topmost of the others (summed into
/// `cgroup="other"`), parents first.
pub fn cgroup_ledger_paths(sample: &memscope_model::CgroupSample, top: usize) -> Vec<String> {
    cgroup_ledger::paths_to_read(sample, top)
}

impl<'a> Input<'a> {
    /// Analyse a snapshot for export.
    pub fn new(snap: &'a Snapshot, opts: MetricsOptions, stats: ExporterStats) -> Input<'a> {
        // Slab caches and vmalloc callers have their own families: the
        // ledger family exports the category lines only.
        let ledger = ledger_analysis::build(snap, &LedgerOptions { top_caches: 0, top_callers: 0 });
        let mut processes = process_analysis::rows(snap);
        process_analysis::sort_by_pss(&mut processes);
        Input {
            snap,
            ledger,
            processes,
            page_size_bytes: memscope_analysis::ledger::usable_page_size(snap.page_size_bytes),
            opts,
            stats,
            cgroup_stats: None,
        }
    }

    /// With the memory cgroups' ledger files.
    pub fn with_cgroup_stats(mut self, stats: Option<&'a Sample<Vec<CgroupStat>>>) -> Input<'a> {
        self.cgroup_stats = stats;
        self
    }
}

/// A value of one series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// An integer (bytes, counts).
    Int(i64),
    /// A float (seconds).
    Float(f64),
}

/// The series the families produced, by metric name, and the figures they
/// could not produce.
#[derive(Debug, Default)]
pub struct Out {
    series: Vec<(&'static str, Vec<String>, Value)>,
    unavailable: Vec<(String, String)>,
}

impl Out {
    /// Add one series of `metric` with label values in the order of its
    /// definition's `labels`.
    pub fn int(&mut self, metric: &'static MetricDef, labels: &[&str], v: i64) {
        self.push(metric, labels, Value::Int(v));
    }

    /// Add one series of `metric` from a `u64` (saturating at `i64::MAX`).
    pub fn uint(&mut self, metric: &'static MetricDef, labels: &[&str], v: u64) {
        self.int(metric, labels, i64::try_from(v).unwrap_or(i64::MAX));
    }

    /// Add one float series of `metric`.
    pub fn float(&mut self, metric: &'static MetricDef, labels: &[&str], v: f64) {
        self.push(metric, labels, Value::Float(v));
    }

    fn push(&mut self, metric: &'static MetricDef, labels: &[&str], v: Value) {
        debug_assert_eq!(metric.labels.len(), labels.len(), "label values of {}", metric.name);
        self.series.push((metric.name, labels.iter().map(|s| s.to_string()).collect(), v));
    }

    /// Say that `figure` (a metric or ledger category) could not be had, and why.
    pub fn unavailable(&mut self, figure: impl Into<String>, reason: impl Into<String>) {
        self.unavailable.push((figure.into(), reason.into()));
    }

    /// Series of one metric (for tests).
    pub fn series_of(&self, name: &str) -> Vec<(&[String], Value)> {
        self.series.iter().filter(|s| s.0 == name).map(|s| (s.1.as_slice(), s.2)).collect()
    }
}

/// The metric that names unavailable figures (registered by the `scrape` family).
pub(crate) const UNAVAILABLE: &MetricDef = &scrape::METRICS[0];

/// Run every family over `input`.
pub fn collect(input: &Input) -> Out {
    let mut out = Out::default();
    for f in FAMILIES {
        (f.collect)(input, &mut out);
    }
    out
}

/// Encode collected series in the OpenMetrics text format, `# EOF`
/// included: families in [`FAMILIES`] order, series in the order the
/// family produced them, so that two expositions of one snapshot are equal.
pub fn encode_out(out: &Out) -> String {
    let mut unavailable = out.unavailable.clone();
    unavailable.sort();
    unavailable.dedup();
    let mut families = Vec::new();
    for def in all_metrics() {
        let mut series: Vec<(Vec<(String, String)>, Value)> =
            out.series.iter().filter(|s| s.0 == def.name).map(|s| (label_pairs(def, &s.1), s.2)).collect();
        if std::ptr::eq(def, UNAVAILABLE) {
            series.extend(
                unavailable.iter().map(|(f, r)| (label_pairs(def, &[f.clone(), r.clone()]), Value::Int(1))),
            );
        }
        if !series.is_empty() {
            families.push((def, series));
        }
    }
    let mut reg = Registry::default();
    reg.register_collector(Box::new(Exposition { families }));
    let mut text = String::new();
    // Writing into a String cannot fail; an encoder error would be a bug.
    if encode(&mut text, &reg).is_err() {
        text.clear();
        text.push_str("# EOF\n");
    }
    text
}

fn label_pairs(def: &MetricDef, values: &[String]) -> Vec<(String, String)> {
    def.labels.iter().map(|l| l.to_string()).zip(values.iter().cloned()).collect()
}

/// Label pairs and the value of one series.
type Series = (Vec<(String, String)>, Value);

/// The series of one collection, handed to prometheus-client's encoder.
#[derive(Debug)]
struct Exposition {
    families: Vec<(&'static MetricDef, Vec<Series>)>,
}

impl Collector for Exposition {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for (def, series) in &self.families {
            // Counters are described without `_total`: the encoder appends it
            // to their samples.
            let name = def.name.strip_suffix("_total").unwrap_or(def.name);
            let help = format!("{}.", def.help);
            let kind = if def.kind == Kind::Counter { MetricType::Counter } else { MetricType::Gauge };
            let mut metric = encoder.encode_descriptor(name, &help, None, kind)?;
            for (labels, value) in series {
                if labels.is_empty() {
                    encode_value(&mut metric, def.kind, *value)?;
                } else {
                    encode_value(&mut metric.encode_family(labels)?, def.kind, *value)?;
                }
            }
        }
        Ok(())
    }
}

fn encode_value(m: &mut MetricEncoder, kind: Kind, v: Value) -> Result<(), std::fmt::Error> {
    match (kind, v) {
        (Kind::Counter, Value::Int(i)) => {
            m.encode_counter::<NoLabelSet, u64, u64>(&u64::try_from(i).unwrap_or(0), None)
        }
        (Kind::Counter, Value::Float(f)) => m.encode_counter::<NoLabelSet, f64, f64>(&f, None),
        (_, Value::Int(i)) => m.encode_gauge(&i),
        (_, Value::Float(f)) => m.encode_gauge(&f),
    }
}

/// Analyse, collect and encode in OpenMetrics: the body of one scrape.
pub fn render(snap: &Snapshot, opts: MetricsOptions, stats: ExporterStats) -> String {
    let input = Input::new(snap, opts, stats);
    encode_out(&collect(&input))
}

/// [`render`] of a collection with the cgroups' ledger files.
pub fn render_collected(c: &Collected, opts: MetricsOptions, stats: ExporterStats) -> String {
    let input = Input::new(&c.snapshot, opts, stats).with_cgroup_stats(c.cgroup_stats.as_ref());
    encode_out(&collect(&input))
}

/// Rewrite an OpenMetrics exposition of gauges and counters (what
/// [`encode_out`] makes) into the classic text format 0.0.4: a counter's
/// HELP and TYPE name its samples' `_total` name, and `# EOF` goes.
pub fn to_text_004(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + 64);
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "].into_iter().find(|p| line.starts_with(p));
        if let Some(prefix) = meta {
            let rest = &line[prefix.len()..];
            let name = rest.split(' ').next().unwrap_or("");
            if counters.contains(name) {
                out.push_str(prefix);
                out.push_str(name);
                out.push_str("_total");
                out.push_str(&rest[name.len()..]);
                out.push('\n');
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Split `items` into the top `n` by `key` (largest first; the sort is
/// stable, so ties keep their order) and the rest: the bounded-series
/// pattern of the process and slab families, which sum the rest into one
/// `other` series.
pub(crate) fn top_and_rest<T, K: Ord + Copy>(
    mut items: Vec<T>,
    n: usize,
    key: impl Fn(&T) -> K,
) -> (Vec<T>, Vec<T>) {
    items.sort_by_key(|t| std::cmp::Reverse(key(t)));
    let rest = if items.len() > n { items.split_off(n) } else { Vec::new() };
    (items, rest)
}

#[cfg(test)]
mod tests;
