//! One module per command; [`run`] dispatches.

mod capture;
mod cgroups;
mod diff;
mod fds;
mod leaks;
mod maps;
mod numa;
pub mod oom;
pub mod pages;
pub mod phys;
mod plot;
mod pressure;
mod ps;
mod record;
mod report;
mod rt;
mod run;
mod serve;
mod slab;
mod top;
mod trace;
mod utrace;
mod vmalloc;
mod zones;

use std::process::ExitCode;

use memscope_kernel::KernelRoot;

use crate::cli::{Args, Command, ReportArgs};

/// Run the command the arguments name (`report` when none).
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = KernelRoot::from_option(args.global.root.as_deref());
    match args.command {
        None => report::run(&root, &args.global, &ReportArgs { top: 10, detail: 5, ..Default::default() }),
        Some(Command::Report(a)) => report::run(&root, &args.global, &a),
        Some(Command::Capture(a)) => capture::run(&root, &a),
        Some(Command::Serve(a)) => serve::run(&root, &a),
        Some(Command::Top(a)) => top::run(&root, &a),
        Some(Command::Record(a)) => record::run(&root, &a),
        Some(Command::Leaks(a)) => leaks::run(&root, &args.global, &a),
        Some(Command::Diff(a)) => diff::run(&args.global, &a),
        Some(Command::Plot(a)) => plot::run(&a),
        Some(Command::Completions { shell }) => {
            let mut cmd = <Args as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "memscope", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Man) => {
            let cmd = <Args as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Cgroups(a)) => cgroups::run(&root, &args.global, &a),
        Some(Command::Run(a)) => run::run(&root, &args.global, &a),
        Some(Command::Trace(a)) => trace::run(&root, &args.global, &a),
        Some(Command::Phys(a)) => phys::run(&root, &args.global, &a),
        Some(Command::Pages(a)) => pages::run(&root, &args.global, &a),
        Some(Command::Fds(a)) => fds::run(&root, &args.global, &a),
        Some(Command::Ps(a)) => ps::run(&root, &args.global, &a),
        Some(Command::Pressure(a)) => pressure::run(&root, &args.global, &a),
        Some(Command::Maps(a)) => maps::run(&root, &args.global, &a),
        Some(Command::Numa(a)) => numa::run(&root, &args.global, &a),
        Some(Command::Zones(a)) => zones::run(&root, &args.global, &a),
        Some(Command::Slab(a)) => slab::run(&root, &args.global, &a),
        Some(Command::Vmalloc(a)) => vmalloc::run(&root, &args.global, &a),
        Some(Command::Oom(a)) => oom::run(&root, &args.global, &a),
        Some(Command::Rt(a)) => rt::run(&root, &args.global, &a),
    }
}

/// The base page size: the running kernel's or the captured tree's. A tree
/// without one in its MANIFEST is read with 4 KiB pages, said on stderr.
fn page_size(root: &KernelRoot) -> u64 {
    root.page_size().unwrap_or_else(|| {
        eprintln!(
            "memscope: the page size is not recorded in this tree (MANIFEST page_size); 4 KiB is assumed"
        );
        4096
    })
}
