//! Errors as the user reads them: bad input (exit 2) told apart from
//! failures (exit 1), and each cause printed once.

use std::fmt;

/// Input the user must fix (a pattern, a user name, a value, a tree that
/// is not one), found after clap parsed the command line: exit 2, like a
/// bad flag.
#[derive(Debug)]
pub struct BadInput(pub String);

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// `Err(BadInput)` with a formatted message.
macro_rules! bad_input {
    ($($arg:tt)*) => {
        return Err(anyhow::Error::new($crate::errors::BadInput(format!($($arg)*))))
    };
}
pub(crate) use bad_input;

/// The error and its causes, `: `-joined, each said once: many errors
/// (io, SQLite) repeat their source's text in their own message, so
/// `{:#}` would print it twice ("Address already in use (os error 98):
/// Address already in use (os error 98)").
pub fn message(e: &anyhow::Error) -> String {
    let mut said: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || said.iter().any(|s| s.contains(&text)) {
            continue;
        }
        // A source that says more than the cause before it ("file is not a
        // database" then "Error code 26: file is not a database"): the
        // longer one replaces it.
        match said.last_mut() {
            Some(last) if text.contains(last.as_str()) => *last = text,
            _ => said.push(text),
        }
    }
    said.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_that_repeats_its_context_is_said_once() {
        let io = std::io::Error::from_raw_os_error(98);
        let e = anyhow::Error::new(io).context("cannot listen on 127.0.0.1:9100");
        let text = message(&e);
        assert_eq!(text.matches("(os error 98)").count(), 1, "{text}");
        assert!(text.starts_with("cannot listen on 127.0.0.1:9100: "), "{text}");
    }

    #[test]
    fn distinct_causes_are_all_kept() {
        let e = anyhow::anyhow!("inner").context("middle").context("outer");
        assert_eq!(message(&e), "outer: middle: inner");
    }

    #[test]
    fn a_source_that_extends_its_cause_replaces_it() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("file is not a database")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let inner = std::io::Error::other("Error code 26: file is not a database");
        let e = anyhow::Error::new(Outer(inner)).context("x.db");
        assert_eq!(message(&e), "x.db: Error code 26: file is not a database");
    }
}
