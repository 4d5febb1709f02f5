//! Pure parsers: text (or bytes) in, typed values out.
//!
//! Conventions shared by every parser here:
//! - Quantities the kernel prints in kB (KiB) become bytes at this boundary;
//!   counts of pages stay counts of pages (`*_pages` or documented per field).
//! - Keys keep the kernel's spelling (`MemFree`, `nr_free_pages`).
//! - Unknown fields are kept; a field the file does not contain is `None`.
//! - A malformed line never yields a number: it is skipped and listed in
//!   [`Malformed`] so that the caller can say so.
//! - No parser panics on any input (property-tested in each module).

pub mod allocinfo;
pub mod arcstats;
pub mod buddyinfo;
pub mod cgroupfs;
pub mod choice;
pub mod cmdline;
pub mod cpu_dma_latency;
pub mod file_nr;
pub mod interrupts;
pub mod iomem;
pub mod kallsyms;
pub mod kconfig;
pub mod kernel_version;
pub mod kmsg;
pub mod kpageflags;
pub mod meminfo;
pub mod modules;
pub mod mountinfo;
pub mod net;
pub mod oom;
pub mod pagetypeinfo;
pub mod pid;
pub mod pressure;
pub mod proc_stat;
pub mod release;
pub mod runtime;
pub mod slabinfo;
pub mod sockstat;
pub mod sys_slab;
pub mod sysfs;
pub mod vmallocinfo;
pub mod vmstat;
pub mod zoneinfo;

use serde::{Deserialize, Serialize};

/// A parser's complaint: which line and what item. [`crate::KernelRoot`]
/// adds the path to make a [`crate::ReadError::Parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number; 0 for the file as a whole.
    pub line: usize,
    /// What could not be parsed.
    pub item: String,
}

impl ParseError {
    /// A complaint about `item` on 1-based `line`.
    pub fn new(line: usize, item: impl Into<String>) -> ParseError {
        ParseError { line, item: item.into() }
    }
}

/// A line a parser skipped because it did not have the expected form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Malformed {
    /// 1-based line number.
    pub line: usize,
    /// The line as read (truncated to 120 characters).
    pub text: String,
}

impl Malformed {
    pub(crate) fn new(line_index: usize, text: &str) -> Malformed {
        Malformed { line: line_index + 1, text: text.chars().take(120).collect() }
    }
}

/// Parse a file holding one unsigned decimal number (sysfs style).
pub fn single_u64(text: &str) -> Result<u64, ParseError> {
    text.trim().parse::<u64>().map_err(|_| ParseError::new(1, "a single unsigned number"))
}

/// Parse a file holding one signed decimal number (sysctls such as
/// `kernel.sched_rt_runtime_us`, where -1 has a meaning).
pub fn single_i64(text: &str) -> Result<i64, ParseError> {
    text.trim().parse::<i64>().map_err(|_| ParseError::new(1, "a single signed number"))
}

/// Parse a hexadecimal number with or without `0x`.
pub fn hex_u64(text: &str) -> Option<u64> {
    let t = text.trim();
    let t = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).unwrap_or(t);
    if t.is_empty() {
        return None;
    }
    u64::from_str_radix(t, 16).ok()
}

/// The value part of a `Key:   1234 kB` line: bytes when the unit is `kB`,
/// the plain number when there is no unit. `None` for anything else
/// (another unit, a number that does not fit, trailing garbage).
pub(crate) fn kb_value(value: &str) -> Option<KbValue> {
    let mut it = value.split_ascii_whitespace();
    let num: u64 = it.next()?.parse().ok()?;
    match (it.next(), it.next()) {
        (None, _) => Some(KbValue::Plain(num)),
        (Some("kB"), None) => num.checked_mul(1024).map(KbValue::Bytes),
        _ => None,
    }
}

/// A field name as the kernel prints it: borrowed from the names this
/// crate knows (`VmRSS`, `Pss`, `Uid`, …), so that parsing the files of
/// hundreds of processes again and again allocates no key, owned for any
/// other name (another kernel's, an edited tree's).
pub type FieldName = std::borrow::Cow<'static, str>;

/// `name` as a [`FieldName`]: the fields of `/proc/PID/status` and
/// `/proc/PID/smaps_rollup` (fs/proc/array.c, fs/proc/task_mmu.c) are
/// borrowed. A `match` on string literals compares the length first, then
/// the bytes of the few names of that length.
pub fn field_name(name: &str) -> FieldName {
    macro_rules! known {
        ($($n:literal),* $(,)?) => {
            match name {
                $($n => FieldName::Borrowed($n),)*
                _ => FieldName::Owned(name.to_owned()),
            }
        };
    }
    known!(
        // status, in kB
        "VmPeak",
        "VmSize",
        "VmLck",
        "VmPin",
        "VmHWM",
        "VmRSS",
        "RssAnon",
        "RssFile",
        "RssShmem",
        "VmData",
        "VmStk",
        "VmExe",
        "VmLib",
        "VmPTE",
        "VmSwap",
        "HugetlbPages",
        // status, text
        "Name",
        "Umask",
        "State",
        "Tgid",
        "Ngid",
        "Pid",
        "PPid",
        "TracerPid",
        "Uid",
        "Gid",
        "FDSize",
        "Groups",
        "NStgid",
        "NSpid",
        "NSpgid",
        "NSsid",
        "Kthread",
        "CoreDumping",
        "THP_enabled",
        "untag_mask",
        "Threads",
        "SigQ",
        "SigPnd",
        "ShdPnd",
        "SigBlk",
        "SigIgn",
        "SigCgt",
        "CapInh",
        "CapPrm",
        "CapEff",
        "CapBnd",
        "CapAmb",
        "NoNewPrivs",
        "Seccomp",
        "Seccomp_filters",
        "Speculation_Store_Bypass",
        "SpeculationIndirectBranch",
        "Cpus_allowed",
        "Cpus_allowed_list",
        "Mems_allowed",
        "Mems_allowed_list",
        "voluntary_ctxt_switches",
        "nonvoluntary_ctxt_switches",
        // smaps_rollup (and smaps)
        "Rss",
        "Pss",
        "Pss_Dirty",
        "Pss_Anon",
        "Pss_File",
        "Pss_Shmem",
        "Shared_Clean",
        "Shared_Dirty",
        "Private_Clean",
        "Private_Dirty",
        "Referenced",
        "Anonymous",
        "KSM",
        "LazyFree",
        "AnonHugePages",
        "ShmemPmdMapped",
        "FilePmdMapped",
        "Shared_Hugetlb",
        "Private_Hugetlb",
        "Swap",
        "SwapPss",
        "Locked",
        "Size",
    )
}

/// What [`kb_value`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KbValue {
    /// A quantity printed in kB, converted to bytes.
    Bytes(u64),
    /// A number without a unit.
    Plain(u64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kb_values() {
        assert_eq!(kb_value("   12 kB"), Some(KbValue::Bytes(12 * 1024)));
        assert_eq!(kb_value("7"), Some(KbValue::Plain(7)));
        assert_eq!(kb_value("7 MB"), None);
        assert_eq!(kb_value("x kB"), None);
        assert_eq!(kb_value("18446744073709551615 kB"), None);
        assert_eq!(kb_value(""), None);
    }

    #[test]
    fn hex() {
        assert_eq!(hex_u64("0x1000"), Some(4096));
        assert_eq!(hex_u64("ff"), Some(255));
        assert_eq!(hex_u64("0x"), None);
        assert_eq!(hex_u64("zz"), None);
    }
}
