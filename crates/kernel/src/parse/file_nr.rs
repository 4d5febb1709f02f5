//! `/proc/sys/fs/file-nr` (fs/file_table.c `proc_nr_files`): the system's
//! open file objects.
//!
//! ```text
//! 485     0       2466170         (tab-separated)
//! ```
//! Three numbers: allocated `struct file`s, free ones (always 0 since 2.6:
//! files are freed at once), and the maximum, `fs.file-max`. The first is a
//! count of open *files*, not descriptors: descriptors shared by `dup` or
//! inherited across `fork` point at one file, and the kernel holds files no
//! process has a descriptor for. When it reaches `file-max`, opening a file
//! fails with `ENFILE` for every process without `CAP_SYS_ADMIN`
//! (`alloc_empty_file`); privileged processes are exempt
//! (Documentation/admin-guide/sysctl/fs.rst).

use serde::{Deserialize, Serialize};

use crate::parse::ParseError;

/// The three numbers of `file-nr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileNr {
    /// Allocated file objects (exact: the kernel sums its per-CPU counter).
    pub allocated: u64,
    /// Free file objects (0 on every kernel since 2.6).
    pub free: u64,
    /// `fs.file-max`.
    pub max: u64,
}

impl FileNr {
    /// Parse the file: exactly three unsigned numbers.
    pub fn parse(text: &str) -> Result<FileNr, ParseError> {
        let nums: Vec<&str> = text.split_ascii_whitespace().collect();
        let [a, f, m] = nums.as_slice() else {
            return Err(ParseError::new(1, "three numbers (allocated, free, max)"));
        };
        let num = |s: &str, what: &str| s.parse::<u64>().map_err(|_| ParseError::new(1, what));
        Ok(FileNr { allocated: num(a, "allocated")?, free: num(f, "free")?, max: num(m, "max")? })
    }

    /// File objects in use: allocated minus free.
    pub fn in_use(&self) -> u64 {
        self.allocated.saturating_sub(self.free)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn captured() {
        // A 6.18 kernel with 24 GiB of RAM.
        let f = FileNr::parse("485\t0\t2466170\n").unwrap();
        assert_eq!(f, FileNr { allocated: 485, free: 0, max: 2466170 });
        assert_eq!(f.in_use(), 485);
    }

    #[test]
    fn file_max_at_its_ceiling() {
        // `sysctl fs.file-max=-1` stores LONG_MAX.
        let f = FileNr::parse("1024\t0\t9223372036854775807\n").unwrap();
        assert_eq!(f.max, i64::MAX as u64);
    }

    #[test]
    fn wrong_shapes_fail() {
        assert!(FileNr::parse("485 0\n").is_err());
        assert!(FileNr::parse("485 0 x\n").is_err());
        assert!(FileNr::parse("1 2 3 4\n").is_err());
        assert!(FileNr::parse("").is_err());
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") { let _ = FileNr::parse(&s); }
    }
}
