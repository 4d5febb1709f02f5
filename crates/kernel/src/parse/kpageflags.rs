//! `/proc/kpageflags`: one `u64` of flags per page frame (fs/proc/page.c
//! `stable_page_flags`; Documentation/admin-guide/mm/pagemap.rst).
//!
//! [`FLAGS`] is the one table of page flags: bit, name, kind and meaning. It
//! drives the names printed for a flag set ([`names`]), the `--bits` filter
//! grammar ([`BitsFilter::parse`]) and the help text, so the three cannot
//! disagree. Names are those of the kernel's tools/mm/page-types.c.
//!
//! Three kinds of bits:
//! - **well-known** (0–26): the stable ABI of include/uapi/linux/kernel-page-flags.h;
//! - **kernel hacking** (32–42): include/linux/kernel-page-flags.h, "subject to
//!   change, never rely on them" (`reserved`, `mlocked`, `private`, …);
//! - **overloaded** (47 and up): not kernel ABI. page-types' `expand_overloaded_flags`
//!   (here [`expand_overloaded`]) moves a bit that means something else in
//!   some page state to a bit of its own (`PG_reclaim` read back as
//!   `readahead`), and adds what `/proc/PID/pagemap` says of a mapped page
//!   (`file`, `swap`, `mmap_exclusive`, `softdirty`).
//!
//! Two interpretations, as named functions like page-types': [`well_known`]
//! (the default view: kernel-hacking bits hidden, compound bits shown only on
//! hugetlb pages) and [`expand_overloaded`] (the raw view).
//!
//! Facts that bite (checked against fs/proc/page.c of 6.x):
//! - `KPF_BUDDY` is set on **every** page of a free buddy block, not only its
//!   first page as pagemap.rst says: a page with refcount 0 inside a free
//!   block is reported through `is_free_buddy_page()` (since Linux 4.6).
//!   Pages on the per-CPU free lists are not `PageBuddy` and read flags 0.
//! - Holes in the physical map may read as `KPF_NOPAGE` or, when the
//!   memory section is online but the range is not RAM, as flags 0.
//! - Flags of a folio are reported on each of its pages (`k = folio->flags`),
//!   so counts are in pages, not folios.

use serde::{Deserialize, Serialize};

/// Which family a flag bit belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    /// Stable uapi bit (include/uapi/linux/kernel-page-flags.h).
    WellKnown,
    /// Kernel-hacking bit (include/linux/kernel-page-flags.h): may change.
    KernelHacking,
    /// Not kernel ABI: an overloaded bit moved to a bit of its own, or a
    /// pagemap bit, as page-types' `expand_overloaded_flags` does.
    Overloaded,
}

impl FlagKind {
    /// Name used in help and JSON.
    pub fn name(self) -> &'static str {
        match self {
            FlagKind::WellKnown => "well-known",
            FlagKind::KernelHacking => "kernel hacking (--raw)",
            FlagKind::Overloaded => "overloaded (--raw)",
        }
    }
}

/// One page flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageFlag {
    /// Bit number in the `u64`.
    pub bit: u32,
    /// page-types' long name (`locked`, `anonymous`, `compound_head`).
    pub name: &'static str,
    /// Stable, kernel hacking, or overloaded.
    pub kind: FlagKind,
    /// What the flag means, in one sentence.
    pub help: &'static str,
}

impl PageFlag {
    /// The flag's mask.
    pub const fn mask(&self) -> u64 {
        1u64 << self.bit
    }
}

macro_rules! flags {
    ($( $konst:ident = $bit:literal, $name:literal, $kind:ident, $help:literal; )*) => {
        $(
            #[doc = concat!("`KPF_", stringify!($konst), "` (bit ", stringify!($bit), "): ", $help)]
            pub const $konst: u64 = 1u64 << $bit;
        )*
        /// Every flag memscope knows, in bit order: the one table behind names,
        /// `--bits` and help.
        pub const FLAGS: &[PageFlag] = &[
            $( PageFlag { bit: $bit, name: $name, kind: FlagKind::$kind, help: $help }, )*
        ];
    };
}

flags! {
    LOCKED = 0, "locked", WellKnown,
        "Locked for exclusive access, e.g. during read or write I/O.";
    ERROR = 1, "error", WellKnown,
        "An I/O error occurred on the page (newer kernels have no PG_error and never set it).";
    REFERENCED = 2, "referenced", WellKnown,
        "Referenced since it was last put on or moved within an LRU list.";
    UPTODATE = 3, "uptodate", WellKnown,
        "Holds up-to-date data (for a file page: at least as new as on disk).";
    DIRTY = 4, "dirty", WellKnown,
        "Written to: holds data newer than on disk.";
    LRU = 5, "lru", WellKnown,
        "On one of the LRU lists that reclaim scans.";
    ACTIVE = 6, "active", WellKnown,
        "On an active LRU list.";
    SLAB = 7, "slab", WellKnown,
        "Owned by the slab allocator (every page of the slab).";
    WRITEBACK = 8, "writeback", WellKnown,
        "Being written back to disk.";
    RECLAIM = 9, "reclaim", WellKnown,
        "To be reclaimed once its writeback completes.";
    BUDDY = 10, "buddy", WellKnown,
        "Free, in the buddy allocator (every page of a free block on 4.6 and later).";
    MMAP = 11, "mmap", WellKnown,
        "Mapped into at least one process's page tables.";
    ANON = 12, "anonymous", WellKnown,
        "Anonymous memory (not part of a file), mapped or in the swap cache.";
    SWAPCACHE = 13, "swapcache", WellKnown,
        "In the swap cache: has a swap entry.";
    SWAPBACKED = 14, "swapbacked", WellKnown,
        "Backed by swap or RAM: anonymous or shmem/tmpfs.";
    COMPOUND_HEAD = 15, "compound_head", WellKnown,
        "First page of a compound page (huge page, large folio, slab, driver allocation).";
    COMPOUND_TAIL = 16, "compound_tail", WellKnown,
        "Other page of a compound page.";
    HUGE = 17, "huge", WellKnown,
        "Part of a hugetlb page.";
    UNEVICTABLE = 18, "unevictable", WellKnown,
        "On the unevictable list: mlocked, ramfs, SHM_LOCK.";
    HWPOISON = 19, "hwpoison", WellKnown,
        "Hardware detected memory corruption: do not touch.";
    NOPAGE = 20, "nopage", WellKnown,
        "No page frame exists at this PFN (a hole).";
    KSM = 21, "ksm", WellKnown,
        "Merged by KSM: identical pages shared between processes.";
    THP = 22, "thp", WellKnown,
        "Part of a transparent huge page or large anonymous/file folio.";
    OFFLINE = 23, "offline", WellKnown,
        "Logically offline (balloon, virtio-mem, memory hot-unplug).";
    ZERO_PAGE = 24, "zero_page", WellKnown,
        "The shared zero page or huge zero page.";
    IDLE = 25, "idle_page", WellKnown,
        "Not accessed since marked idle (/sys/kernel/mm/page_idle).";
    PGTABLE = 26, "pgtable", WellKnown,
        "In use as a page table.";
    RESERVED = 32, "reserved", KernelHacking,
        "PG_reserved: never freed to the allocator (firmware, kernel image, memblock allocations).";
    MLOCKED = 33, "mlocked", KernelHacking,
        "PG_mlocked: in a VM_LOCKED mapping.";
    OWNER_2 = 34, "owner_2", KernelHacking,
        "PG_owner_2, owner use (PG_mappedtodisk on older kernels; anon_exclusive on anonymous pages).";
    PRIVATE = 35, "private", KernelHacking,
        "PG_private: page->private holds file system or driver data.";
    PRIVATE_2 = 36, "private_2", KernelHacking,
        "PG_private_2: owner use (fscache).";
    OWNER_PRIVATE = 37, "owner_private", KernelHacking,
        "PG_owner_priv_1: owner use (file system; PG_swapcache on older kernels).";
    ARCH = 38, "arch", KernelHacking,
        "PG_arch_1: architecture use (I-cache clean on some architectures).";
    UNCACHED = 39, "uncached", KernelHacking,
        "PG_uncached: mapped uncached (older kernels, a few architectures).";
    SOFTDIRTY = 40, "softdirty", KernelHacking,
        "Soft-dirty: written since soft-dirty bits were last cleared (from pagemap bit 55).";
    ARCH_2 = 41, "arch_2", KernelHacking,
        "PG_arch_2: architecture use (arm64 MTE tags).";
    ARCH_3 = 42, "arch_3", KernelHacking,
        "PG_arch_3: architecture use.";
    ANON_EXCLUSIVE = 47, "anon_exclusive", Overloaded,
        "Anonymous page exclusive to one process (PG_owner_2 on an anonymous page).";
    READAHEAD = 48, "readahead", Overloaded,
        "Read ahead, not yet used (PG_reclaim without writeback).";
    SLUB_FROZEN = 50, "slub_frozen", Overloaded,
        "SLUB slab held by one CPU (PG_active on a slab page).";
    SLUB_DEBUG = 51, "slub_debug", Overloaded,
        "SLUB debugging on this slab (PG_error on a slab page, older kernels).";
    FILE = 61, "file", Overloaded,
        "File page or shared anonymous page, from pagemap bit 61.";
    SWAP = 62, "swap", Overloaded,
        "Swapped out, from pagemap bit 62.";
    MMAP_EXCLUSIVE = 63, "mmap_exclusive", Overloaded,
        "Mapped by exactly one process, from pagemap bit 56.";
}

/// Both compound bits: page-types accepts `compound` for them in `--bits`.
pub const COMPOUND: u64 = COMPOUND_HEAD | COMPOUND_TAIL;

/// Bits 32–47: kernel-hacking assistance, hidden by [`well_known`]
/// (page-types `KPF_HACKERS_BITS`).
pub const HACKERS_BITS: u64 = 0xffff << 32;

/// The flag at `bit`, if memscope knows it.
pub fn flag_at(bit: u32) -> Option<&'static PageFlag> {
    FLAGS.iter().find(|f| f.bit == bit)
}

/// The flag named `name` exactly.
pub fn by_name(name: &str) -> Option<&'static PageFlag> {
    FLAGS.iter().find(|f| f.name == name)
}

/// The names of the bits set in `flags`, in bit order. A bit that is not in
/// [`FLAGS`] (a newer kernel) reads `bitN`, never an error.
pub fn names(flags: u64) -> Vec<String> {
    (0..64u32)
        .filter(|b| flags & (1u64 << b) != 0)
        .map(|b| flag_at(b).map(|f| f.name.to_string()).unwrap_or_else(|| format!("bit{b}")))
        .collect()
}

/// `names(flags)` joined with commas; `(none)` for no flags.
pub fn describe(flags: u64) -> String {
    if flags == 0 { "(none)".to_string() } else { names(flags).join(",") }
}

/// The default view (page-types `well_known_flags`): kernel-hacking bits are
/// hidden, and the compound bits are kept only on hugetlb pages (a THP, a
/// slab or a driver's compound allocation shows without them).
pub fn well_known(flags: u64) -> u64 {
    let mut f = flags & !HACKERS_BITS;
    if f & COMPOUND != 0 && f & HUGE == 0 {
        f &= !COMPOUND;
    }
    f
}

/// The raw view (page-types `expand_overloaded_flags`): bits that mean
/// something else in some page state are moved to bits of their own, and
/// the pagemap entry of a mapped page (`pme`, 0 for a physical scan) adds
/// `softdirty`, `file`, `swap` and `mmap_exclusive`.
pub fn expand_overloaded(flags: u64, pme: u64) -> u64 {
    use crate::parse::pid::pagemap::PagemapEntry;
    let mut f = flags;
    // Anonymous pages use PG_owner_2 for PageAnonExclusive (mm/rmap.c).
    if f & ANON != 0 && f & OWNER_2 != 0 {
        f ^= OWNER_2 | ANON_EXCLUSIVE;
    }
    // SLUB overloads PG_active (frozen slab) and, on older kernels, PG_error.
    if f & SLAB != 0 {
        if f & ACTIVE != 0 {
            f ^= ACTIVE | SLUB_FROZEN;
        }
        if f & ERROR != 0 {
            f ^= ERROR | SLUB_DEBUG;
        }
    }
    // PG_reclaim without writeback is PG_readahead (include/linux/page-flags.h).
    if f & (RECLAIM | WRITEBACK) == RECLAIM {
        f ^= RECLAIM | READAHEAD;
    }
    let e = PagemapEntry(pme);
    if e.soft_dirty() {
        f |= SOFTDIRTY;
    }
    if e.file_or_shared() {
        f |= FILE;
    }
    if e.swapped() {
        f |= SWAP;
    }
    if e.exclusive() {
        f |= MMAP_EXCLUSIVE;
    }
    f
}

/// A `--bits` filter in page-types' grammar. Several filters must all pass.
///
/// | spec | passes when |
/// |---|---|
/// | `bit1,bit2` | `flags & (bit1\|bit2) != 0` |
/// | `bit1,bit2=bit1` | `flags & (bit1\|bit2) == bit1` |
/// | `bit1,~bit2` | `flags & (bit1\|bit2) == bit1` |
/// | `=bit1,bit2` | `flags == bit1\|bit2` |
///
/// A bit is a flag name from [`FLAGS`] (or the first flag, in bit order,
/// whose name starts with it: `anon` is `anonymous`), `compound` for both
/// compound bits, or a number (`0x400`, `1024`) taken as a mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BitsFilter {
    /// Bits examined.
    pub mask: u64,
    /// Required value of `flags & mask`; `None`: any bit of `mask` set.
    pub bits: Option<u64>,
}

impl BitsFilter {
    /// Parse one spec; the error says which name was not understood.
    pub fn parse(spec: &str) -> Result<BitsFilter, String> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err("an empty bits spec".into());
        }
        if let Some(rest) = spec.strip_prefix('=') {
            let (mask, neg) = parse_names(rest)?;
            if neg != 0 {
                return Err(format!("`~` has no meaning after a leading `=` in `{spec}`"));
            }
            return Ok(BitsFilter { mask: u64::MAX, bits: Some(mask) });
        }
        if let Some((left, right)) = spec.split_once('=') {
            let (pos, neg) = parse_names(left)?;
            let (bits, neg2) = parse_names(right)?;
            if neg2 != 0 {
                return Err(format!("`~` is not allowed after `=` in `{spec}`"));
            }
            let mask = pos | neg;
            if bits & !mask != 0 {
                return Err(format!("`{right}` names bits that are not left of `=` in `{spec}`"));
            }
            return Ok(BitsFilter { mask, bits: Some(bits) });
        }
        let (pos, neg) = parse_names(spec)?;
        if neg != 0 {
            Ok(BitsFilter { mask: pos | neg, bits: Some(pos) })
        } else {
            Ok(BitsFilter { mask: pos, bits: None })
        }
    }

    /// Does a page with `flags` pass?
    pub fn matches(&self, flags: u64) -> bool {
        match self.bits {
            None => flags & self.mask != 0,
            Some(b) => flags & self.mask == b,
        }
    }
}

/// `a,~b,c` → (a|c, b).
fn parse_names(list: &str) -> Result<(u64, u64), String> {
    let mut pos = 0u64;
    let mut neg = 0u64;
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match item.strip_prefix('~') {
            Some(name) => neg |= parse_bit(name)?,
            None => pos |= parse_bit(item)?,
        }
    }
    if pos | neg == 0 {
        return Err(format!("no flag names in `{list}`"));
    }
    Ok((pos, neg))
}

fn parse_bit(name: &str) -> Result<u64, String> {
    if name == "compound" {
        return Ok(COMPOUND);
    }
    if let Some(f) = by_name(name) {
        return Ok(f.mask());
    }
    if let Some(f) = FLAGS.iter().find(|f| f.name.starts_with(name)) {
        return Ok(f.mask());
    }
    let number = match name.strip_prefix("0x").or_else(|| name.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => name.parse::<u64>().ok(),
    };
    number.filter(|n| *n != 0).ok_or_else(|| {
        format!(
            "unknown page flag `{name}` (names: {})",
            FLAGS.iter().map(|f| f.name).collect::<Vec<_>>().join(" ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table_bits_and_names_are_unique_and_ordered() {
        for w in FLAGS.windows(2) {
            assert!(w[0].bit < w[1].bit, "{} before {}", w[0].name, w[1].name);
        }
        let mut names: Vec<&str> = FLAGS.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FLAGS.len());
    }

    #[test]
    fn uapi_bit_numbers() {
        // include/uapi/linux/kernel-page-flags.h and include/linux/kernel-page-flags.h
        let expect = [
            ("locked", 0),
            ("buddy", 10),
            ("mmap", 11),
            ("anonymous", 12),
            ("compound_head", 15),
            ("huge", 17),
            ("unevictable", 18),
            ("nopage", 20),
            ("thp", 22),
            ("offline", 23),
            ("zero_page", 24),
            ("idle_page", 25),
            ("pgtable", 26),
            ("reserved", 32),
            ("mlocked", 33),
            ("softdirty", 40),
            ("arch_3", 42),
            ("anon_exclusive", 47),
            ("mmap_exclusive", 63),
        ];
        for (name, bit) in expect {
            assert_eq!(by_name(name).map(|f| f.bit), Some(bit), "{name}");
        }
        let kinds = |k| FLAGS.iter().filter(|f| f.kind == k).map(|f| f.bit).collect::<Vec<_>>();
        assert!(kinds(FlagKind::WellKnown).iter().all(|b| *b <= 26));
        assert!(kinds(FlagKind::KernelHacking).iter().all(|b| (32..47).contains(b)));
        assert!(kinds(FlagKind::Overloaded).iter().all(|b| *b >= 47));
    }

    #[test]
    fn names_of_unknown_bits_do_not_fail() {
        assert_eq!(names(BUDDY | (1 << 30)), vec!["buddy".to_string(), "bit30".to_string()]);
        assert_eq!(describe(0), "(none)");
        assert_eq!(describe(LRU | ANON), "lru,anonymous");
    }

    #[test]
    fn well_known_hides_hacking_bits_and_non_huge_compound() {
        let thp = THP | COMPOUND_HEAD | LRU | ANON | MLOCKED;
        assert_eq!(well_known(thp), THP | LRU | ANON);
        let hugetlb = HUGE | COMPOUND_TAIL | RESERVED;
        assert_eq!(well_known(hugetlb), HUGE | COMPOUND_TAIL);
    }

    #[test]
    fn overloaded_bits_expand_like_page_types() {
        assert_eq!(expand_overloaded(ANON | OWNER_2, 0), ANON | ANON_EXCLUSIVE);
        assert_eq!(expand_overloaded(OWNER_2, 0), OWNER_2);
        assert_eq!(expand_overloaded(SLAB | ACTIVE | ERROR, 0), SLAB | SLUB_FROZEN | SLUB_DEBUG);
        assert_eq!(expand_overloaded(RECLAIM, 0), READAHEAD);
        assert_eq!(expand_overloaded(RECLAIM | WRITEBACK, 0), RECLAIM | WRITEBACK);
        let pme = (1u64 << 63) | (1 << 61) | (1 << 56) | (1 << 55);
        assert_eq!(expand_overloaded(LRU, pme), LRU | FILE | MMAP_EXCLUSIVE | SOFTDIRTY);
        assert_eq!(expand_overloaded(0, 1u64 << 62), SWAP);
    }

    #[test]
    fn bits_any_exact_negation() {
        let any = BitsFilter::parse("anon,slab").unwrap();
        assert!(any.matches(ANON | LRU));
        assert!(any.matches(SLAB));
        assert!(!any.matches(LRU));

        let exact = BitsFilter::parse("=lru,anonymous").unwrap();
        assert!(exact.matches(LRU | ANON));
        assert!(!exact.matches(LRU | ANON | ACTIVE));

        let neg = BitsFilter::parse("lru,~active").unwrap();
        assert!(neg.matches(LRU | REFERENCED));
        assert!(!neg.matches(LRU | ACTIVE));
        assert!(!neg.matches(REFERENCED));

        let eq = BitsFilter::parse("lru,active=lru").unwrap();
        assert_eq!(eq, neg);

        let compound = BitsFilter::parse("compound").unwrap();
        assert!(compound.matches(COMPOUND_TAIL));

        let number = BitsFilter::parse("0x400").unwrap();
        assert!(number.matches(BUDDY));
    }

    #[test]
    fn bits_prefix_takes_first_flag_in_bit_order() {
        assert_eq!(BitsFilter::parse("anon").unwrap().mask, ANON);
        assert_eq!(BitsFilter::parse("swap").unwrap().mask, SWAP);
        assert_eq!(BitsFilter::parse("swapc").unwrap().mask, SWAPCACHE);
    }

    #[test]
    fn bits_errors_name_the_culprit() {
        let e = BitsFilter::parse("lru,bogus").unwrap_err();
        assert!(e.contains("bogus"), "{e}");
        assert!(BitsFilter::parse("").is_err());
        assert!(BitsFilter::parse("=lru,~active").is_err());
        assert!(BitsFilter::parse("lru=slab").is_err());
    }

    proptest! {
        #[test]
        fn bits_parser_never_panics(s in "\\PC{0,40}") { let _ = BitsFilter::parse(&s); }

        #[test]
        fn views_never_panic(f in any::<u64>(), p in any::<u64>()) {
            let _ = describe(expand_overloaded(f, p));
            let w = well_known(f);
            prop_assert_eq!(w & HACKERS_BITS, 0);
        }
    }
}
