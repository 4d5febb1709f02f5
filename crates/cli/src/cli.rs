//! Command-line arguments (clap derive). Command and flag names are stable:
//! tests and users depend on them.

use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  memscope                                  the ledger and the top processes (run as root)
  memscope report --explain                 what each ledger line means
  memscope report --json | jq .unaccounted_bytes
  memscope report --budget-ms 200           cap the time spent walking page tables for PSS
  memscope capture --out host1.tree         keep the evidence; later, anywhere:
  memscope --root host1.tree report

Exit status: 0 success (unavailable figures are reported, not errors), 1 error, 2 bad usage.";

/// Where did my memory go? A signed ledger of every byte of RAM, with evidence.
///
/// memscope reads /proc and /sys (or a tree captured with `memscope capture`)
/// and accounts for installed RAM line by line: what the firmware and kernel
/// reserved at boot, free memory, processes, page cache, slab, vmalloc, page
/// tables, huge pages … and the signed remainder no counter explains,
/// `unaccounted`, where kernel leaks show up.
///
/// Run as root for the full picture; as another user, figures that need
/// privileges are marked unavailable with what would unlock them.
#[derive(Debug, Parser)]
#[command(name = "memscope", version, about, long_about, propagate_version = true, after_long_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    pub global: Global,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options of every command.
#[derive(Debug, Clone, ClapArgs)]
pub struct Global {
    /// Read a captured tree (from `memscope capture`) instead of the running system.
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Print JSON (documented in docs/json.md) instead of a table.
    #[arg(long, global = true, conflicts_with = "csv")]
    pub json: bool,

    /// Print CSV instead of a table.
    #[arg(long, global = true)]
    pub csv: bool,

    /// Never colour the output (also: the NO_COLOR environment variable).
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The memory ledger: every byte of installed RAM, and the top processes (default).
    Report(ReportArgs),
    /// Copy exactly the files memscope reads into DIR, for offline analysis with --root.
    Capture(CaptureArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to standard output: `memscope man | man -l -`.
    Man,
}

/// `memscope report`
#[derive(Debug, Clone, Default, ClapArgs)]
pub struct ReportArgs {
    /// Show this many processes, largest PSS first.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,

    /// Show this many of the largest slab caches and vmalloc callers under their lines.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub detail: usize,

    /// Show lines that are 0 bytes too.
    #[arg(long)]
    pub all: bool,

    /// Stop reading smaps_rollup (PSS) after this many milliseconds; the
    /// remaining processes keep their cheap /proc/PID/status figures, marked.
    #[arg(long, value_name = "MS")]
    pub budget_ms: Option<u64>,

    /// Do not read smaps_rollup of processes with a larger RSS (it walks their
    /// page tables under their mmap lock). Sizes like 512M, 20G.
    #[arg(long, value_name = "SIZE", value_parser = crate::output::parse_size)]
    pub max_rss: Option<u64>,

    /// Explain every ledger category and exit.
    #[arg(long)]
    pub explain: bool,
}

/// `memscope capture`
#[derive(Debug, Clone, ClapArgs)]
pub struct CaptureArgs {
    /// Directory to write the tree into (created; must be empty if it exists).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}
