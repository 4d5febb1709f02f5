//! Pressure stall information: `/proc/pressure/{memory,cpu,io,irq}` and a v2
//! cgroup's `memory.pressure` (kernel/sched/psi.c `psi_show`,
//! Documentation/accounting/psi.rst).
//!
//! ```text
//! some avg10=0.00 avg60=0.00 avg300=0.00 total=1602356
//! full avg10=0.00 avg60=0.00 avg300=0.00 total=1005797
//! ```
//! `some` is the share of wall time in which at least one task was stalled
//! waiting for the resource, `full` the share in which every non-idle task
//! was stalled at once. `avg10`/`avg60`/`avg300` are running averages over
//! 10 s, 60 s and 300 s, in percent with two decimals; `total` is the
//! cumulative stall time in microseconds since boot (or since the cgroup
//! was created). The `full` line is absent from `/proc/pressure/cpu` before
//! 5.13 (it reads all zeros since), and `/proc/pressure/irq` (6.1+,
//! CONFIG_IRQ_TIME_ACCOUNTING) has only `full`.

use serde::{Deserialize, Serialize};

use crate::parse::Malformed;

/// One line: the stall averages and the total.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PsiLine {
    /// Percent of the last 10 s stalled.
    pub avg10: f64,
    /// Percent of the last 60 s stalled.
    pub avg60: f64,
    /// Percent of the last 300 s stalled.
    pub avg300: f64,
    /// `total`: cumulative stall time, microseconds.
    pub total_usec: u64,
}

/// A pressure file: its `some` and `full` lines, each absent when the file
/// does not have it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pressure {
    /// `some`: at least one task stalled.
    pub some: Option<PsiLine>,
    /// `full`: all non-idle tasks stalled at once.
    pub full: Option<PsiLine>,
    /// Lines that did not have the expected form.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<Malformed>,
}

impl Pressure {
    /// Parse the text of a pressure file.
    pub fn parse(text: &str) -> Pressure {
        let mut p = Pressure::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let mut words = line.split_ascii_whitespace();
            let slot = match words.next() {
                Some("some") if p.some.is_none() => &mut p.some,
                Some("full") if p.full.is_none() => &mut p.full,
                _ => {
                    p.malformed.push(Malformed::new(i, line));
                    continue;
                }
            };
            match parse_fields(words) {
                Some(l) => *slot = Some(l),
                None => p.malformed.push(Malformed::new(i, line)),
            }
        }
        p
    }

    /// True when neither line could be read.
    pub fn is_empty(&self) -> bool {
        self.some.is_none() && self.full.is_none()
    }
}

/// `avg10=… avg60=… avg300=… total=…`, each exactly once; other keys
/// (none today) are ignored.
fn parse_fields<'a>(words: impl Iterator<Item = &'a str>) -> Option<PsiLine> {
    let (mut a10, mut a60, mut a300, mut total) = (None, None, None, None);
    for w in words {
        let (k, v) = w.split_once('=')?;
        let avg = || v.parse::<f64>().ok().filter(|x| x.is_finite() && *x >= 0.0);
        match k {
            "avg10" if a10.is_none() => a10 = Some(avg()?),
            "avg60" if a60.is_none() => a60 = Some(avg()?),
            "avg300" if a300.is_none() => a300 = Some(avg()?),
            "total" if total.is_none() => total = Some(v.parse::<u64>().ok()?),
            "avg10" | "avg60" | "avg300" | "total" => return None,
            _ => {}
        }
    }
    Some(PsiLine { avg10: a10?, avg60: a60?, avg300: a300?, total_usec: total? })
}

/// A PSI trigger as written to a pressure file (Documentation/accounting/
/// psi.rst, "Monitoring for pressure thresholds"): notify when the `some`
/// (or `full`) stall time exceeds `threshold_usec` within any
/// `window_usec`. The kernel accepts windows from 500 ms to 10 s; an
/// unprivileged writer (no CAP_SYS_RESOURCE, 6.x) needs a window that is a
/// multiple of 2 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trigger {
    /// `full` instead of `some`.
    pub full: bool,
    /// Stall time that fires the trigger, microseconds.
    pub threshold_usec: u64,
    /// Window, microseconds.
    pub window_usec: u64,
}

impl Trigger {
    /// The text written to the pressure file (`some 150000 1000000`),
    /// NUL-terminated as the kernel's example does.
    pub fn text(&self) -> String {
        format!("{} {} {}\0", if self.full { "full" } else { "some" }, self.threshold_usec, self.window_usec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn memory_pressure_of_a_6_18_host() {
        let p = Pressure::parse(
            "some avg10=12.50 avg60=3.08 avg300=0.71 total=1602356\n\
             full avg10=10.01 avg60=2.50 avg300=0.60 total=1005797\n",
        );
        assert_eq!(p.some, Some(PsiLine { avg10: 12.5, avg60: 3.08, avg300: 0.71, total_usec: 1602356 }));
        assert_eq!(p.full, Some(PsiLine { avg10: 10.01, avg60: 2.5, avg300: 0.6, total_usec: 1005797 }));
        assert!(p.malformed.is_empty());
    }

    #[test]
    fn cpu_pressure_before_5_13_has_no_full_line() {
        let p = Pressure::parse("some avg10=0.00 avg60=0.00 avg300=0.00 total=14036781\n");
        assert_eq!(p.some.map(|l| l.total_usec), Some(14036781));
        assert_eq!(p.full, None);
        assert!(!p.is_empty());
    }

    #[test]
    fn irq_pressure_has_only_full_and_no_final_newline() {
        // node_exporter's fixture of /proc/pressure/irq, as captured.
        let p = Pressure::parse("full avg10=0.00 avg60=0.00 avg300=0.00 total=8494");
        assert_eq!(p.some, None);
        assert_eq!(p.full.map(|l| l.total_usec), Some(8494));
    }

    #[test]
    fn malformed_lines_are_listed_never_numbers() {
        let p = Pressure::parse(
            "some avg10=x avg60=0.00 avg300=0.00 total=1\n\
             full avg10=0.00 avg60=0.00 avg300=0.00\n\
             half avg10=0.00 avg60=0.00 avg300=0.00 total=1\n\
             some avg10=-1 avg60=0.00 avg300=0.00 total=1\n",
        );
        assert!(p.is_empty());
        assert_eq!(p.malformed.iter().map(|m| m.line).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    }

    #[test]
    fn a_repeated_line_keeps_the_first() {
        let p = Pressure::parse(
            "some avg10=1.00 avg60=0.00 avg300=0.00 total=5\nsome avg10=2.00 avg60=0.00 avg300=0.00 total=6\n",
        );
        assert_eq!(p.some.map(|l| l.total_usec), Some(5));
        assert_eq!(p.malformed.len(), 1);
    }

    #[test]
    fn trigger_text_is_what_the_kernel_documents() {
        let t = Trigger { full: false, threshold_usec: 150_000, window_usec: 1_000_000 };
        assert_eq!(t.text(), "some 150000 1000000\0");
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") { let _ = Pressure::parse(&s); }

        #[test]
        fn never_panics_on_near_lines(
            kind in "(some|full|x)",
            a in "[0-9.]{0,8}", b in "[0-9.e-]{0,8}", t in "[0-9]{0,22}",
        ) {
            let _ = Pressure::parse(&format!("{kind} avg10={a} avg60={b} avg300={a} total={t}\n"));
        }
    }
}
