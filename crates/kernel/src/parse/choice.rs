//! Files that list the possible settings and mark the current one:
//!
//! | file | looks like | marked with |
//! |---|---|---|
//! | `/sys/kernel/debug/sched/preempt` (kernel/sched/debug.c `sched_dynamic_show`) | `none voluntary (full) lazy` | `( )` |
//! | `/sys/kernel/mm/transparent_hugepage/enabled`, `…/defrag` (mm/huge_memory.c) | `always [madvise] never` | `[ ]` |
//! | `/sys/block/*/queue/scheduler` | `[mq-deadline] none` | `[ ]` |
//!
//! A file may also hold a single word with no marks (a setting without
//! alternatives): then it is the current one.

use serde::{Deserialize, Serialize};

/// The settings a file offers and the one in force.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    /// Every setting, in the order printed, marks removed.
    pub options: Vec<String>,
    /// The marked one (`None` when none is marked, or more than one is).
    pub selected: Option<String>,
}

impl Choice {
    /// Parse the first line. Never fails.
    pub fn parse(text: &str) -> Choice {
        let line = text.lines().next().unwrap_or("");
        let mut out = Choice::default();
        let mut marked = Vec::new();
        for word in line.split_ascii_whitespace() {
            let inner = word
                .strip_prefix('[')
                .and_then(|w| w.strip_suffix(']'))
                .or_else(|| word.strip_prefix('(').and_then(|w| w.strip_suffix(')')));
            match inner {
                Some(w) if !w.is_empty() => {
                    marked.push(w.to_string());
                    out.options.push(w.to_string());
                }
                _ => out.options.push(word.to_string()),
            }
        }
        out.selected = match (marked.len(), out.options.len()) {
            (1, _) => marked.pop(),
            (0, 1) => out.options.first().cloned(),
            _ => None,
        };
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sched_preempt() {
        let c = Choice::parse("none voluntary (full) lazy\n");
        assert_eq!(c.options, vec!["none", "voluntary", "full", "lazy"]);
        assert_eq!(c.selected.as_deref(), Some("full"));
    }

    #[test]
    fn sched_preempt_on_preempt_rt_offers_fewer_modes() {
        let c = Choice::parse("(full) lazy\n");
        assert_eq!(c.selected.as_deref(), Some("full"));
        assert_eq!(c.options.len(), 2);
    }

    #[test]
    fn transparent_hugepage() {
        let c = Choice::parse("always defer defer+madvise [madvise] never\n");
        assert_eq!(c.selected.as_deref(), Some("madvise"));
        assert_eq!(c.options.len(), 5);
    }

    #[test]
    fn single_word_and_no_mark() {
        assert_eq!(Choice::parse("performance\n").selected.as_deref(), Some("performance"));
        assert_eq!(Choice::parse("a b c").selected, None);
        assert_eq!(Choice::parse("[a] [b]").selected, None);
        assert_eq!(Choice::parse("").selected, None);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let c = Choice::parse(&s);
            if let Some(sel) = &c.selected { prop_assert!(c.options.contains(sel)); }
        }
    }
}
