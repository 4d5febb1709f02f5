//! One module per command; [`run`] dispatches.

mod capture;
mod cgroup_spec;
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

use crate::errors::bad_input;

use crate::cli::{Args, Command, ReportArgs};

/// Run the command the arguments name (`report` when none).
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    refuse_ignored_flags(&args)?;
    if let Some(dir) = &args.global.root {
        check_tree(dir)?;
    }
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
            completions(shell, &mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Man(a)) => man(&a),
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

/// Refuse a global flag the command would ignore (`plot --csv`, `leaks
/// --root` without `--watch`): a flag that silently does nothing misleads.
fn refuse_ignored_flags(args: &Args) -> anyhow::Result<()> {
    let g = &args.global;
    let Some(cmd) = &args.command else { return Ok(()) };
    // (name, reads --root, prints --json, prints --csv)
    let (name, root, json, csv) = match cmd {
        Command::Capture(_) => ("capture", true, false, false),
        Command::Record(_) => ("record", true, false, false),
        Command::Serve(_) => ("serve", true, false, false),
        Command::Top(a) => ("top", a.db.is_none(), false, false),
        Command::Leaks(a) => ("leaks", a.watch.is_some(), true, false),
        Command::Diff(_) => ("diff", false, true, false),
        Command::Plot(_) => ("plot", false, false, false),
        Command::Completions { .. } => ("completions", false, false, false),
        Command::Man(_) => ("man", false, false, false),
        Command::Run(_) => ("run", false, true, false),
        _ => return Ok(()),
    };
    let flag = if g.root.is_some() && !root {
        "--root"
    } else if g.json && !json {
        "--json"
    } else if g.csv && !csv {
        "--csv"
    } else {
        return Ok(());
    };
    let why = match (name, flag) {
        ("leaks", "--root") => "`leaks` reads a recording (--db); --root applies to `leaks --watch` only",
        ("top", "--root") => "`top --db` replays a recording; --root applies to the live view",
        ("plot", _) => "`plot` draws an image (--out FILE.svg or FILE.png)",
        (_, "--root") => "it acts on, or reads from, the running system or a recording, not a captured tree",
        _ => "it has no such output",
    };
    bad_input!("`{name}` does not take {flag}: {why}")
}

/// `memscope completions SHELL`: clap_complete's script, and for fish the
/// values of positional arguments (`memscope man COMMAND`, `memscope
/// completions SHELL`), which its fish generator leaves to file names.
fn completions(shell: clap_complete::Shell, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut cmd = crate::cli::command();
    clap_complete::generate(shell, &mut cmd, "memscope", out);
    if shell != clap_complete::Shell::Fish {
        return Ok(());
    }
    for sub in cmd.get_subcommands() {
        for arg in sub.get_positionals() {
            let values: Vec<String> =
                arg.get_possible_values().iter().map(|v| v.get_name().to_owned()).collect();
            if !values.is_empty() {
                writeln!(
                    out,
                    "complete -c memscope -n \"__fish_memscope_using_subcommand {}\" -f -a \"{}\"",
                    sub.get_name(),
                    values.join(" ")
                )?;
            }
        }
    }
    Ok(())
}

/// `memscope man`: memscope(1), one command's page, or (`--out DIR`) every
/// page as a file, named as the pages refer to each other (`memscope-report.1`).
fn man(a: &crate::cli::ManArgs) -> anyhow::Result<ExitCode> {
    use anyhow::Context as _;
    let pages = crate::cli::man_pages(&crate::cli::command());
    // clap_mangen names the source after the subcommand (`check 0.1.0`);
    // every page is memscope's.
    let page = |cmd| {
        clap_mangen::Man::new(cmd)
            .source(concat!("memscope ", env!("CARGO_PKG_VERSION")))
            .manual("User Commands")
    };
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for (_, cmd) in pages {
            let man = page(cmd);
            let path = dir.join(man.get_filename());
            let mut roff = Vec::new();
            man.render(&mut roff)?;
            std::fs::write(&path, roff).with_context(|| format!("writing {}", path.display()))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    // The value was checked against these names when the command line was parsed.
    let Some((_, cmd)) = pages.into_iter().find(|(name, _)| *name == a.command) else {
        bad_input!("no manual page for `{}`", a.command.as_deref().unwrap_or_default());
    };
    page(cmd).render(&mut std::io::stdout())?;
    Ok(ExitCode::SUCCESS)
}

/// `--root DIR` must be a directory that holds a captured tree.
fn check_tree(dir: &std::path::Path) -> anyhow::Result<()> {
    if let Err(why) = KernelRoot::check_tree(dir) {
        bad_input!("--root {}: {why}; make a tree with `memscope capture --out DIR`", dir.display());
    }
    Ok(())
}

/// The base page size: the running kernel's or the captured tree's. A tree
/// without one in its MANIFEST is read with 4 KiB pages, said on stderr.
fn page_size(recorded: Option<u64>) -> u64 {
    recorded.unwrap_or_else(|| {
        eprintln!(
            "memscope: the page size is not recorded in this tree (MANIFEST page_size); 4 KiB is assumed"
        );
        4096
    })
}
