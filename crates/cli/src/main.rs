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
