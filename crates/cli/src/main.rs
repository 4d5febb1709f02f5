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

/// mimalloc, not glibc's malloc. A scan allocates and frees a few hundred
/// small strings and maps per process, on several threads, and the
/// watching commands do it again every pass. glibc gave the choice of one
/// arena per thread, whose freed chunks `serve` did not get back (about 10
/// MiB more over a thousand scrapes), or one arena for all, whose lock the
/// threads waited on (the cheap files of `ps` with 320 sleepers: 14 ms
/// beside a walking worker, 8 ms with an arena each); and malloc and free
/// were a fifth of a `record` pass's CPU. With mimalloc's per-thread heaps
/// a `record` pass over 300 processes took 17.4–19.9 ms of CPU instead of
/// 23.7–24.5 ms, and a thousand scrapes keep `serve`'s RSS flat (tests/serve.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Args::from_arg_matches(&cli::command().get_matches()).unwrap_or_else(|e| e.exit());
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
