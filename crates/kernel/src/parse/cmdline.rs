//! `/proc/cmdline`: the kernel command line, and the CPU lists its
//! real-time parameters take.
//!
//! The kernel splits the line the way `next_arg()` in lib/cmdline.c does:
//! words separated by blanks, where double quotes protect blanks and are
//! removed (`name="a b"` and `"name=a b"` both give the value `a b`). A bare
//! `--` ends the kernel's parameters; what follows goes to init. In a
//! parameter's name `-` and `_` are the same (`parameq()` in kernel/params.c).
//!
//! CPU lists (`isolcpus=`, `nohz_full=`, `rcu_nocbs=`, `irqaffinity=`) are
//! read by `bitmap_parselist()` (lib/bitmap-str.c,
//! Documentation/admin-guide/kernel-parameters.rst "cpu lists"): `0,2-5`,
//! `N` for the last CPU, `all`, and the group form `0-15:2/4` (the first 2
//! of every 4).

use serde::{Deserialize, Serialize};

/// One kernel parameter: `name` or `name=value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Param {
    /// The name as written.
    pub name: String,
    /// The value after the first `=`, quotes removed; `None` for a bare flag.
    pub value: Option<String>,
}

/// The kernel command line, split.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cmdline {
    /// Kernel parameters, in order (a parameter may repeat).
    pub params: Vec<Param>,
    /// Words after `--`, passed to init.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init_args: Vec<String>,
}

/// Kernel parameter names compare with `-` and `_` equal (`parameq()`).
fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes().zip(b.bytes()).all(|(x, y)| {
            let n = |c: u8| if c == b'-' { b'_' } else { c };
            n(x) == n(y)
        })
}

impl Cmdline {
    /// Split a command line. Never fails.
    pub fn parse(text: &str) -> Cmdline {
        let mut out = Cmdline::default();
        let mut words = split_words(text.trim_end_matches(['\n', '\0'])).into_iter();
        for word in words.by_ref() {
            if word == "--" {
                break;
            }
            let (name, value) = match word.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (word, None),
            };
            out.params.push(Param { name, value });
        }
        out.init_args = words.collect();
        out
    }

    /// The last occurrence of a parameter (for most parameters the last one
    /// wins). Names match with `-` and `_` equal.
    pub fn get(&self, name: &str) -> Option<&Param> {
        self.params.iter().rev().find(|p| same_name(&p.name, name))
    }

    /// The value of the last occurrence of `name=value`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|p| p.value.as_deref())
    }

    /// Is the parameter present (with or without a value)?
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Split into words like `next_arg()`: blanks separate, double quotes
/// group and are dropped.
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    for c in text.chars() {
        if c == '"' {
            quoted = !quoted;
            in_word = true;
        } else if c.is_whitespace() && !quoted {
            if in_word {
                words.push(std::mem::take(&mut cur));
                in_word = false;
            }
        } else {
            cur.push(c);
            in_word = true;
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// A CPU list as the kernel's `bitmap_parselist()` reads it, for a machine
/// with `nr_cpus` possible CPUs (`N` is `nr_cpus - 1`). Sorted, without
/// duplicates. `None` when malformed or naming a CPU at or beyond `nr_cpus`
/// (the kernel rejects such a list).
pub fn parse_cpulist(text: &str, nr_cpus: u32) -> Option<Vec<u32>> {
    let text = text.trim();
    // The kernel's NR_CPUS is at most 8192; a larger count is not a machine.
    let nr_cpus = nr_cpus.min(1 << 16);
    let last = nr_cpus.checked_sub(1);
    let num = |t: &str| -> Option<u32> { if t == "N" { last } else { t.parse().ok() } };
    let mut cpus = Vec::new();
    for region in text.split(',').filter(|r| !r.is_empty()) {
        if region == "all" {
            cpus.extend(0..nr_cpus);
            continue;
        }
        let (range, group) = match region.split_once(':') {
            Some((r, g)) => (r, Some(g)),
            None => (region, None),
        };
        let (start, end) = match range.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => {
                let n = num(range)?;
                (n, n)
            }
        };
        if end < start || end >= nr_cpus {
            return None;
        }
        let (used, size) = match group {
            Some(g) => {
                let (u, s) = g.split_once('/')?;
                let (u, s): (u32, u32) = (u.parse().ok()?, s.parse().ok()?);
                if u == 0 || s == 0 || u > s {
                    return None;
                }
                (u, s)
            }
            None => (1, 1),
        };
        cpus.extend((start..=end).filter(|c| (c - start) % size < used));
    }
    cpus.sort_unstable();
    cpus.dedup();
    Some(cpus)
}

/// `isolcpus=[flag,…,]cpu-list` (kernel/sched/isolation.c
/// `housekeeping_isolcpus_setup`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Isolcpus {
    /// Flags given: `nohz`, `domain`, `managed_irq`. Without flags the kernel
    /// applies `domain` alone.
    pub flags: Vec<String>,
    /// Words the kernel skips with a warning.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_flags: Vec<String>,
    /// The isolated CPUs.
    pub cpus: Vec<u32>,
}

impl Isolcpus {
    /// Parse the value of `isolcpus=`. The kernel takes leading words that
    /// start with a letter as flags, then the rest as the CPU list.
    pub fn parse(value: &str, nr_cpus: u32) -> Option<Isolcpus> {
        let mut out = Isolcpus::default();
        let mut rest = value.trim();
        while rest.starts_with(|c: char| c.is_ascii_alphabetic()) && rest != "N" && !rest.starts_with("N-") {
            let Some((word, after)) = rest.split_once(',') else { break };
            match word {
                "nohz" | "domain" | "managed_irq" => out.flags.push(word.to_string()),
                other => out.unknown_flags.push(other.to_string()),
            }
            rest = after;
        }
        out.cpus = parse_cpulist(rest, nr_cpus)?;
        Some(out)
    }

    /// Are the CPUs taken out of scheduler load balancing (`domain`, the
    /// default when no flag is given)?
    pub fn domain(&self) -> bool {
        self.flags.is_empty() || self.flags.iter().any(|f| f == "domain")
    }

    /// Are managed interrupts kept off these CPUs where possible
    /// (`managed_irq`)?
    pub fn managed_irq(&self) -> bool {
        self.flags.iter().any(|f| f == "managed_irq")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RT_HOST: &str = "BOOT_IMAGE=/vmlinuz-6.1.0-rt ro quiet isolcpus=managed_irq,domain,2-3 \
nohz_full=2-3 rcu_nocbs=2-3 irqaffinity=0-1 intel_idle.max_cstate=1 console=\"ttyS0,115200 n8\"\n";

    #[test]
    fn parse_real_time_host_line() {
        let c = Cmdline::parse(RT_HOST);
        assert_eq!(c.value("nohz_full"), Some("2-3"));
        assert_eq!(c.value("irqaffinity"), Some("0-1"));
        assert_eq!(c.value("console"), Some("ttyS0,115200 n8"));
        assert!(c.has("quiet"));
        assert_eq!(c.get("quiet").unwrap().value, None);
        assert!(!c.has("isolcpu"));
        let iso = Isolcpus::parse(c.value("isolcpus").unwrap(), 4).unwrap();
        assert_eq!(iso.cpus, vec![2, 3]);
        assert!(iso.domain() && iso.managed_irq());
    }

    #[test]
    fn init_arguments_after_double_dash_are_not_kernel_parameters() {
        let c = Cmdline::parse("quiet rdinit=/init -- --addr 0.0.0.0 isolcpus=1");
        assert!(!c.has("isolcpus"));
        assert_eq!(c.init_args, vec!["--addr", "0.0.0.0", "isolcpus=1"]);
    }

    #[test]
    fn dash_and_underscore_are_the_same_name_and_last_wins() {
        let c = Cmdline::parse("rcu-nocbs=1 rcu_nocbs=2-3");
        assert_eq!(c.value("rcu_nocbs"), Some("2-3"));
        assert_eq!(c.value("rcu-nocbs"), Some("2-3"));
    }

    #[test]
    fn quoted_whole_parameter() {
        let c = Cmdline::parse("\"dyndbg=file x.c +p\" a");
        assert_eq!(c.value("dyndbg"), Some("file x.c +p"));
        assert!(c.has("a"));
    }

    #[test]
    fn cpulists() {
        assert_eq!(parse_cpulist("0,2-5", 8), Some(vec![0, 2, 3, 4, 5]));
        assert_eq!(parse_cpulist("1-N", 4), Some(vec![1, 2, 3]));
        assert_eq!(parse_cpulist("all", 3), Some(vec![0, 1, 2]));
        assert_eq!(parse_cpulist("0-15:2/4", 16), Some(vec![0, 1, 4, 5, 8, 9, 12, 13]));
        assert_eq!(parse_cpulist("", 4), Some(vec![]));
        assert_eq!(parse_cpulist("4", 4), None, "beyond the last CPU");
        assert_eq!(parse_cpulist("3-1", 4), None);
        assert_eq!(parse_cpulist("0-3:3/2", 4), None);
        assert_eq!(parse_cpulist("x", 4), None);
    }

    #[test]
    fn isolcpus_without_flags_means_domain() {
        let iso = Isolcpus::parse("1-3", 4).unwrap();
        assert!(iso.flags.is_empty() && iso.domain() && !iso.managed_irq());
        let iso = Isolcpus::parse("nohz,bogus,3", 4).unwrap();
        assert_eq!(iso.flags, vec!["nohz"]);
        assert_eq!(iso.unknown_flags, vec!["bogus"]);
        assert!(!iso.domain());
        assert_eq!(Isolcpus::parse("N", 4).unwrap().cpus, vec![3]);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*", n in 0u32..300) {
            let c = Cmdline::parse(&s);
            let _ = (c.value("isolcpus"), parse_cpulist(&s, n), Isolcpus::parse(&s, n));
        }

        #[test]
        fn cpulist_stays_below_nr_cpus(s in "[0-9N,:/-]{0,24}", n in 1u32..64) {
            if let Some(list) = parse_cpulist(&s, n) {
                prop_assert!(list.iter().all(|c| *c < n));
                prop_assert!(list.windows(2).all(|w| w[0] < w[1]));
            }
        }
    }
}
