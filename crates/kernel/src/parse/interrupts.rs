//! `/proc/interrupts` (kernel/irq/proc.c `show_interrupts`, plus the
//! architecture's lines such as x86 `arch_show_interrupts`).
//!
//! ```text
//!            CPU0       CPU1
//!  24:          1          0  IO-APIC   5-edge      ACPI:Ged
//! LOC:     160032     157223   Local timer interrupts
//! ERR:          0
//! ```
//! The header names the online CPUs (not always contiguous). Each line
//! starts with the interrupt (a number, or a name such as `LOC`), then one
//! count per online CPU, then the chip, hardware irq, trigger type and the
//! handlers' names. `ERR` and `MIS` print a single total.

use serde::{Deserialize, Serialize};

use super::Malformed;

/// One line of the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterruptLine {
    /// `24`, `LOC`, `NMI`, …
    pub irq: String,
    /// Counts in the order of [`Interrupts::cpus`] (fewer for `ERR`/`MIS`).
    pub counts: Vec<u64>,
    /// The rest of the line: chip, hardware irq, type and handler names
    /// for device interrupts; a description for architecture lines.
    pub description: String,
}

impl InterruptLine {
    /// The interrupt number, for device interrupts.
    pub fn number(&self) -> Option<u32> {
        self.irq.parse().ok()
    }

    /// The count on the CPU at `index` in the header.
    pub fn count_at(&self, index: usize) -> Option<u64> {
        self.counts.get(index).copied()
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interrupts {
    /// CPU numbers of the columns (`CPU0 CPU2` → `[0, 2]`).
    pub cpus: Vec<u32>,
    /// One entry per line.
    pub lines: Vec<InterruptLine>,
    /// Lines that were skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<Malformed>,
}

impl Interrupts {
    /// Parse the file. Never fails; malformed lines are listed.
    pub fn parse(text: &str) -> Interrupts {
        let mut out = Interrupts::default();
        let mut lines = text.lines().enumerate();
        let Some((_, header)) = lines.next() else { return out };
        let mut header_ok = true;
        for w in header.split_ascii_whitespace() {
            match w.strip_prefix("CPU").and_then(|n| n.parse().ok()) {
                Some(n) => out.cpus.push(n),
                None => header_ok = false,
            }
        }
        if !header_ok {
            out.malformed.push(Malformed::new(0, header));
        }
        for (i, line) in lines {
            if line.trim().is_empty() {
                continue;
            }
            let Some((irq, rest)) = line.split_once(':') else {
                out.malformed.push(Malformed::new(i, line));
                continue;
            };
            let irq = irq.trim();
            if irq.is_empty() || irq.contains(char::is_whitespace) {
                out.malformed.push(Malformed::new(i, line));
                continue;
            }
            let mut counts = Vec::with_capacity(out.cpus.len());
            let mut rest = rest.trim_start();
            while counts.len() < out.cpus.len().max(1) {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                match rest[..end].parse::<u64>() {
                    Ok(n) => {
                        counts.push(n);
                        rest = rest[end..].trim_start();
                    }
                    Err(_) => break,
                }
            }
            out.lines.push(InterruptLine {
                irq: irq.to_string(),
                counts,
                description: rest.trim().to_string(),
            });
        }
        out
    }

    /// The line of one interrupt (`"24"`, `"LOC"`).
    pub fn get(&self, irq: &str) -> Option<&InterruptLine> {
        self.lines.iter().find(|l| l.irq == irq)
    }

    /// The column index of a CPU.
    pub fn column(&self, cpu: u32) -> Option<usize> {
        self.cpus.iter().position(|c| *c == cpu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE: &str = "           CPU0       CPU1       \n  \
24:          1          0  IO-APIC   5-edge      ACPI:Ged\n  \
28:          0          0 PCI-MSIX-0000:00:01.0   0-edge      virtio0-config\n\
NMI:          0          0   Non-maskable interrupts\n\
LOC:     160032     157223   Local timer interrupts\n\
ERR:          0\n\
MIS:          0\n";

    #[test]
    fn two_cpus() {
        let i = Interrupts::parse(SAMPLE);
        assert_eq!(i.cpus, vec![0, 1]);
        assert!(i.malformed.is_empty(), "{:?}", i.malformed);
        let l = i.get("24").unwrap();
        assert_eq!(l.number(), Some(24));
        assert_eq!(l.counts, vec![1, 0]);
        assert_eq!(l.description, "IO-APIC   5-edge      ACPI:Ged");
        let loc = i.get("LOC").unwrap();
        assert_eq!(loc.count_at(i.column(1).unwrap()), Some(157223));
        assert_eq!(loc.description, "Local timer interrupts");
        assert_eq!(i.get("ERR").unwrap().counts, vec![0]);
        assert!(i.get("28").unwrap().description.ends_with("virtio0-config"));
    }

    #[test]
    fn sparse_online_cpus() {
        let i = Interrupts::parse("  CPU0  CPU3\n 1:  5  6  chip  1-edge  i8042\n");
        assert_eq!(i.cpus, vec![0, 3]);
        assert_eq!(i.column(3), Some(1));
        assert_eq!(i.get("1").unwrap().counts, vec![5, 6]);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let i = Interrupts::parse(&s);
            for l in &i.lines { prop_assert!(l.counts.len() <= i.cpus.len().max(1)); }
        }
    }
}
