//! `/proc/stat`: only the boot time is read (`btime`, seconds since the
//! epoch; Documentation/filesystems/proc.rst, "Miscellaneous kernel
//! statistics in /proc/stat"). It turns kernel log stamps (time since boot)
//! into wall-clock times.

/// The `btime N` line's value.
pub fn btime(text: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn boot_time_line() {
        let text = "cpu  10 0 5 100 0 0 0 0 0 0\nintr 1 2\nctxt 99\nbtime 1764870000\nprocesses 12\n";
        assert_eq!(btime(text), Some(1_764_870_000));
        assert_eq!(btime("cpu 1\nbtime x\n"), None);
        assert_eq!(btime(""), None);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") { let _ = btime(&s); }
    }
}
