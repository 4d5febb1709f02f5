//! `/proc/PID/pagemap`: one `u64` per virtual page of the process
//! (fs/proc/task_mmu.c `pagemap_read`; Documentation/admin-guide/mm/pagemap.rst).
//!
//! ```text
//!  63 present · 62 swapped · 61 file page or shared anon · 58 guard region (6.15)
//!  57 uffd-wp · 56 exclusively mapped (4.2) · 55 soft-dirty
//!  0-54 PFN when present (zero without CAP_SYS_ADMIN since 4.2)
//!  0-4 swap type, 5-54 swap offset when swapped
//! ```
//! The entry of virtual address `a` is at byte `a / page_size * 8`. Walk the
//! ranges of `/proc/PID/maps`: outside them every entry is 0.

use serde::Serialize;

/// Bits 0–54: the page frame number of a present page.
pub const PFN_MASK: u64 = (1u64 << 55) - 1;
/// Bits 0–4 of a swapped entry: the swap file (`MAX_SWAPFILES_SHIFT`).
pub const SWAP_TYPE_BITS: u32 = 5;
/// Bit 55: the pte is soft-dirty (Documentation/admin-guide/mm/soft-dirty.rst).
pub const SOFT_DIRTY: u64 = 1 << 55;
/// Bit 56: the page is mapped by exactly one process (since 4.2).
pub const EXCLUSIVE: u64 = 1 << 56;
/// Bit 57: the pte is write-protected by userfaultfd (since 5.13).
pub const UFFD_WP: u64 = 1 << 57;
/// Bit 58: the pte is a guard region, `MADV_GUARD_INSTALL` (since 6.15).
pub const GUARD_REGION: u64 = 1 << 58;
/// Bit 61: a file page, or shared anonymous memory (since 3.5).
pub const FILE_OR_SHARED: u64 = 1 << 61;
/// Bit 62: swapped out.
pub const SWAPPED: u64 = 1 << 62;
/// Bit 63: present in RAM.
pub const PRESENT: u64 = 1 << 63;

/// One pagemap entry: pure accessors over the raw `u64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PagemapEntry(pub u64);

impl PagemapEntry {
    /// The page is in RAM.
    pub const fn present(self) -> bool {
        self.0 & PRESENT != 0
    }

    /// The page is swapped out.
    pub const fn swapped(self) -> bool {
        self.0 & SWAPPED != 0
    }

    /// Neither present nor swapped: never touched, or a shared page that
    /// was swapped out (its pte is cleared; pagemap.rst "Exceptions for
    /// Shared Memory").
    pub const fn is_none(self) -> bool {
        self.0 & (PRESENT | SWAPPED) == 0
    }

    /// The page frame number of a present page. `None` when not present,
    /// and when the kernel hid it: PFNs read as 0 without CAP_SYS_ADMIN.
    pub const fn pfn(self) -> Option<u64> {
        let pfn = self.0 & PFN_MASK;
        if self.present() && pfn != 0 { Some(pfn) } else { None }
    }

    /// The swap file index of a swapped page.
    pub const fn swap_type(self) -> Option<u64> {
        if self.swapped() { Some(self.0 & ((1 << SWAP_TYPE_BITS) - 1)) } else { None }
    }

    /// The page's offset in its swap file, in pages.
    pub const fn swap_offset(self) -> Option<u64> {
        if self.swapped() { Some((self.0 & PFN_MASK) >> SWAP_TYPE_BITS) } else { None }
    }

    /// Soft-dirty: written since the soft-dirty bits were last cleared.
    pub const fn soft_dirty(self) -> bool {
        self.0 & SOFT_DIRTY != 0
    }

    /// Mapped by exactly one process (`page_mapcount == 1`).
    pub const fn exclusive(self) -> bool {
        self.0 & EXCLUSIVE != 0
    }

    /// Write-protected by userfaultfd.
    pub const fn uffd_wp(self) -> bool {
        self.0 & UFFD_WP != 0
    }

    /// A guard region installed with `MADV_GUARD_INSTALL`.
    pub const fn guard_region(self) -> bool {
        self.0 & GUARD_REGION != 0
    }

    /// A page of a file, or shared anonymous memory (shmem).
    pub const fn file_or_shared(self) -> bool {
        self.0 & FILE_OR_SHARED != 0
    }
}

/// Decode a buffer of native-endian `u64` records (as read from pagemap or
/// the kpage* files) into `out`; a trailing partial record is ignored.
pub fn decode_u64s(bytes: &[u8], out: &mut Vec<u64>) {
    out.clear();
    out.extend(bytes.chunks_exact(8).map(|c| {
        let mut b = [0u8; 8];
        b.copy_from_slice(c);
        u64::from_ne_bytes(b)
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn present_page_with_pfn() {
        let e = PagemapEntry(PRESENT | EXCLUSIVE | SOFT_DIRTY | 0x1234);
        assert!(e.present() && !e.swapped() && !e.is_none());
        assert_eq!(e.pfn(), Some(0x1234));
        assert!(e.exclusive() && e.soft_dirty() && !e.file_or_shared());
        assert_eq!(e.swap_type(), None);
    }

    #[test]
    fn unprivileged_reader_sees_no_pfn() {
        let e = PagemapEntry(PRESENT | FILE_OR_SHARED);
        assert!(e.present() && e.file_or_shared());
        assert_eq!(e.pfn(), None);
    }

    #[test]
    fn swapped_page_type_and_offset() {
        let e = PagemapEntry(SWAPPED | (0xabcd << 5) | 3);
        assert_eq!(e.swap_type(), Some(3));
        assert_eq!(e.swap_offset(), Some(0xabcd));
        assert_eq!(e.pfn(), None);
    }

    #[test]
    fn uffd_and_guard_bits() {
        assert!(PagemapEntry(UFFD_WP).uffd_wp());
        assert!(PagemapEntry(GUARD_REGION).guard_region());
        assert!(PagemapEntry(0).is_none());
    }

    #[test]
    fn decode_ignores_a_partial_record() {
        let mut bytes = 7u64.to_ne_bytes().to_vec();
        bytes.extend_from_slice(&[1, 2, 3]);
        let mut out = vec![99];
        decode_u64s(&bytes, &mut out);
        assert_eq!(out, vec![7]);
    }

    proptest! {
        #[test]
        fn accessors_never_panic(v in any::<u64>()) {
            let e = PagemapEntry(v);
            if let Some(p) = e.pfn() { prop_assert!(p <= PFN_MASK); }
            if let Some(o) = e.swap_offset() { prop_assert!(o < 1 << 50); }
        }
    }
}
