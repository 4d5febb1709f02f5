//! Small sysfs formats: hugepage size directories, firmware memory map
//! entries, cpu / node lists (`0-3,8`) and CPU masks.

/// `hugepages-2048kB` → 2 MiB in bytes (the directory names under
/// `/sys/kernel/mm/hugepages` and `…/nodeN/hugepages`).
pub fn hugepage_dir_size(name: &str) -> Option<u64> {
    let kb: u64 = name.strip_prefix("hugepages-")?.strip_suffix("kB")?.parse().ok()?;
    kb.checked_mul(1024)
}

/// Human name of a page size: `2MiB`, `1GiB`, `64KiB`.
pub fn page_size_name(bytes: u64) -> String {
    if bytes >= 1 << 30 && bytes.is_multiple_of(1 << 30) {
        format!("{}GiB", bytes >> 30)
    } else if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{}MiB", bytes >> 20)
    } else {
        format!("{}KiB", bytes >> 10)
    }
}

/// A cpu or node list such as `0-3,8,10-11` → the numbers. `None` if malformed.
pub fn parse_list(text: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                if b < a || b - a > 1 << 16 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// The numbers as a kernel list, ranges folded: `[0, 1, 2, 3, 8]` → `0-3,8`
/// (the syntax `cpuset.cpus` and `cpuset.mems` accept and print). Sorted and
/// deduplicated first; the empty list is the empty string.
pub fn format_list(numbers: &[u32]) -> String {
    let mut v = numbers.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let start = v[i];
        let mut end = start;
        while i + 1 < v.len() && v[i + 1] == end + 1 {
            i += 1;
            end = v[i];
        }
        parts.push(if end == start { start.to_string() } else { format!("{start}-{end}") });
        i += 1;
    }
    parts.join(",")
}

/// A hexadecimal CPU mask such as `/proc/irq/default_smp_affinity`
/// (`ff`, or 32-bit groups `00000000,00000003` with the highest group
/// first, as `bitmap_print_to_pagebuf` prints) → the CPU numbers, ascending.
/// `None` if malformed.
pub fn parse_mask(text: &str) -> Option<Vec<u32>> {
    let groups: Vec<&str> = text.trim().split(',').collect();
    if groups.iter().any(|g| g.is_empty() || g.len() > 8) || groups.len() > 2048 {
        return None;
    }
    let mut out = Vec::new();
    for (i, g) in groups.iter().rev().enumerate() {
        let bits = u32::from_str_radix(g, 16).ok()?;
        out.extend((0..32).filter(|b| bits & (1 << b) != 0).map(|b| i as u32 * 32 + b));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sizes() {
        assert_eq!(hugepage_dir_size("hugepages-2048kB"), Some(2 << 20));
        assert_eq!(hugepage_dir_size("hugepages-1048576kB"), Some(1 << 30));
        assert_eq!(hugepage_dir_size("hugepages-xkB"), None);
        assert_eq!(page_size_name(2 << 20), "2MiB");
        assert_eq!(page_size_name(1 << 30), "1GiB");
        assert_eq!(page_size_name(64 << 10), "64KiB");
    }

    #[test]
    fn lists() {
        assert_eq!(parse_list("0-3,8\n"), Some(vec![0, 1, 2, 3, 8]));
        assert_eq!(parse_list(""), Some(vec![]));
        assert_eq!(parse_list("3-1"), None);
        assert_eq!(format_list(&[8, 0, 1, 2, 3, 3]), "0-3,8");
        assert_eq!(format_list(&[5]), "5");
        assert_eq!(format_list(&[]), "");
    }

    #[test]
    fn masks() {
        assert_eq!(parse_mask("3\n"), Some(vec![0, 1]));
        assert_eq!(parse_mask("00000001,00000004"), Some(vec![2, 32]));
        assert_eq!(parse_mask(""), None);
        assert_eq!(parse_mask("x"), None);
        assert_eq!(parse_mask("1,,2"), None);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") { let _ = (hugepage_dir_size(&s), parse_list(&s), parse_mask(&s)); }

        #[test]
        fn list_round_trips(v in proptest::collection::vec(0u32..300, 0..40)) {
            let mut sorted = v.clone();
            sorted.sort_unstable();
            sorted.dedup();
            prop_assert_eq!(parse_list(&format_list(&v)), Some(sorted));
        }
    }
}
