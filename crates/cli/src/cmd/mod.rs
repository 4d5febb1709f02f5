//! One module per command; [`run`] dispatches.

mod capture;
mod cgroups;
mod report;
mod run;
mod trace;

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
    }
}
