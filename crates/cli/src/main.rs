//! `memscope`: where did my memory, and my other kernel resources, go?
//!
//! This binary only parses arguments, wires the crates together and turns
//! results into exit codes:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (figures that were unavailable are said so in the output) |
//! | 1 | memscope could not do what was asked (the error is printed) |
//! | 2 | bad input: the command line, or a value in it (a pattern, a user, a `--root` that is no tree) |
//! | 3 | `zones --can-alloc`: the free lists do not hold the blocks asked for |

mod cli;
mod cmd;
mod errors;
mod history;
mod output;
mod page_args;
mod progress;

use std::process::ExitCode;

use clap::FromArgMatches;

fn main() -> ExitCode {
    let args = cli::Args::from_arg_matches(&cli::command().get_matches()).unwrap_or_else(|e| e.exit());
    // Still one thread: parsing the command line starts none.
    if !args.command.as_ref().is_none_or(cli::Command::is_one_shot_scan) {
        one_malloc_arena();
    }
    match cmd::run(args) {
        Ok(code) => code,
        Err(e) => {
            // A closed pipe (`memscope report | head`) is not an error.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("memscope: {}", errors::message(&e));
            // Bad input found after the command line was parsed (a
            // pattern, a user name, a tree that is not one) is the user's
            // to fix, like a bad flag: exit 2.
            if e.chain().any(|c| c.downcast_ref::<errors::BadInput>().is_some()) {
                return ExitCode::from(2);
            }
            ExitCode::from(1)
        }
    }
}

/// One malloc arena for every thread, for every command but the one-shot
/// scans. glibc gives each thread that allocates its own arena; the
/// collection workers of `serve`, `record` and `top` allocate what the next
/// collections keep (carried rollups, cached process files), and freed
/// chunks spread over several arenas are not returned: a thousand scrapes
/// grew the exporter by about 10 MiB, with one arena it stays flat. A
/// one-shot scan exits before that matters, and there the arena's lock is
/// what its threads wait on: `ps` with 320 sleepers read the cheap files in
/// 14 ms beside a walking worker with one arena, in 8 ms with one each. The
/// same as `MALLOC_ARENA_MAX=1`, which still overrides it.
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: called first in main, before any other thread exists.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
    }
}
