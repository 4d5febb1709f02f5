//! Facts the kernel prints once, at boot, and nowhere else.
//!
//! The percpu allocator's first chunk is carved out of memblock before the
//! buddy allocator starts, so it is not part of `MemTotal`, yet meminfo's
//! `Percpu` counts it (mm/percpu.c `pcpu_setup_first_chunk`: "include all
//! regions of the first chunk"). Its size per CPU is only printed in the boot
//! log: `percpu: Embedded 53 pages/cpu s185560 r0 d31528 u1048576` (embed
//! allocator) or `percpu: 53 4K pages/cpu @… s… r… d…` (page allocator).

/// Pages per CPU unit of the percpu first chunk, from one log line.
pub fn percpu_first_chunk_pages(line: &str) -> Option<u64> {
    let msg = &line[line.find("percpu: ")? + "percpu: ".len()..];
    let mut it = msg.split_ascii_whitespace();
    let first = it.next()?;
    let pages = if first == "Embedded" { it.next()? } else { first };
    let pages: u64 = pages.parse().ok()?;
    // Embedded N pages/cpu | N 4K pages/cpu
    let rest: Vec<&str> = it.take(2).collect();
    let ok = rest.first() == Some(&"pages/cpu")
        || (rest.len() == 2 && rest[0].ends_with('K') && rest[1] == "pages/cpu");
    ok.then_some(pages)
}

/// Search a log (one message per line, `/dev/kmsg` or `dmesg` style) for the
/// percpu first-chunk line.
pub fn find_percpu_first_chunk_pages(log: &str) -> Option<u64> {
    log.lines().find_map(percpu_first_chunk_pages)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn both_allocators() {
        assert_eq!(
            percpu_first_chunk_pages("6,57,38991,-;percpu: Embedded 53 pages/cpu s185560 r0 d31528 u1048576"),
            Some(53)
        );
        assert_eq!(
            percpu_first_chunk_pages("[    0.1] percpu: 32 4K pages/cpu s91224 r8192 d31656"),
            Some(32)
        );
        assert_eq!(percpu_first_chunk_pages("percpu: Embedded x pages/cpu"), None);
        assert_eq!(percpu_first_chunk_pages("setup_percpu: NR_CPUS:256"), None);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") { let _ = find_percpu_first_chunk_pages(&s); }
    }
}
