//! `/proc/kallsyms`: the kernel's symbol table (kernel/kallsyms.c
//! `s_show`), one symbol per line, modules' symbols with the module name in
//! brackets after a tab:
//!
//! ```text
//! ffffffff81000000 T _stext
//! ffffffff812a4c10 t pipe_write
//! ffffffffc0a01230 t nf_ct_alloc_hashtable<TAB>[nf_conntrack]
//! ```
//!
//! The type letter follows nm(1): `t`/`T` code, `w`/`W` weak code, `d`/`D`
//! data, … Only code symbols are kept: stack frames point into code.
//! Addresses read as zero when `kernel.kptr_restrict` hides them from the
//! reader (Documentation/admin-guide/sysctl/kernel.rst, kptr_restrict: 1
//! hides them from readers without CAP_SYSLOG, 2 from everyone); then no
//! address can be symbolized, and [`Kallsyms::addresses_hidden`] says so.

use serde::{Deserialize, Serialize};

use super::{Malformed, hex_u64};

/// One code symbol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Symbol {
    /// Start address.
    pub addr: u64,
    /// The nm(1) type letter (`t`, `T`, `w`, `W`).
    pub kind: char,
    /// Function name as the kernel prints it (`copy_process.part.0`).
    pub name: String,
    /// The module it lives in, without brackets; `None` for the kernel image.
    pub module: Option<String>,
}

/// A symbolized address: the function containing it and the offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved<'a> {
    /// Function name.
    pub name: &'a str,
    /// Module, if not the kernel image.
    pub module: Option<&'a str>,
    /// Bytes from the start of the function.
    pub offset: u64,
}

/// The code symbols of `/proc/kallsyms`, sorted by address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kallsyms {
    /// Code symbols in address order.
    pub symbols: Vec<Symbol>,
    /// True when every address read as zero (`kptr_restrict`).
    pub addresses_hidden: bool,
    /// Lines that were skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<Malformed>,
}

/// The largest distance from a symbol's start that still counts as inside
/// it. kallsyms gives no sizes; an address far past the last symbol of a
/// region (a JIT page, a module freed since) must not be named after it.
pub const MAX_SYMBOL_OFFSET: u64 = 1 << 20;

fn is_code(kind: char) -> bool {
    matches!(kind, 't' | 'T' | 'w' | 'W')
}

impl Kallsyms {
    /// Parse `/proc/kallsyms`. Never fails; malformed lines are listed.
    pub fn parse(text: &str) -> Kallsyms {
        let mut out = Kallsyms::default();
        let mut any = false;
        let mut all_zero = true;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let Some(sym) = parse_line(line) else {
                out.malformed.push(Malformed::new(i, line));
                continue;
            };
            any = true;
            if sym.addr != 0 {
                all_zero = false;
            }
            if is_code(sym.kind) {
                out.symbols.push(sym);
            }
        }
        out.addresses_hidden = any && all_zero;
        if out.addresses_hidden {
            out.symbols.clear();
        }
        // Stable: aliases at one address keep file order, the first printed
        // name (`_stext` before `_text`) wins a lookup.
        out.symbols.sort_by_key(|s| s.addr);
        out
    }

    /// The function containing `addr`, or `None` when the address is before
    /// every symbol, more than [`MAX_SYMBOL_OFFSET`] past the nearest one, or
    /// addresses are hidden.
    pub fn lookup(&self, addr: u64) -> Option<Resolved<'_>> {
        let idx = self.symbols.partition_point(|s| s.addr <= addr);
        if idx == 0 {
            return None;
        }
        // Several names at one address: take the first one printed.
        let start = self.symbols[idx - 1].addr;
        let first = self.symbols[..idx].partition_point(|s| s.addr < start);
        let s = &self.symbols[first];
        let offset = addr - s.addr;
        (offset <= MAX_SYMBOL_OFFSET).then_some(Resolved {
            name: &s.name,
            module: s.module.as_deref(),
            offset,
        })
    }
}

fn parse_line(line: &str) -> Option<Symbol> {
    let (main, module) = match line.split_once('\t') {
        Some((m, rest)) => {
            let rest = rest.trim();
            let module = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']'))?;
            (m, Some(module.to_string()))
        }
        None => (line, None),
    };
    let mut it = main.split_ascii_whitespace();
    let addr = it.next()?;
    if addr.len() > 16 {
        return None;
    }
    let addr = hex_u64(addr)?;
    let kind = it.next()?;
    let mut kc = kind.chars();
    let kind = kc.next()?;
    if kc.next().is_some() || !kind.is_ascii_alphabetic() {
        return None;
    }
    let name = it.next()?.to_string();
    // Older kernels print the module after a space rather than a tab.
    let module = match (module, it.next()) {
        (Some(m), None) => Some(m),
        (None, Some(m)) => Some(m.strip_prefix('[')?.strip_suffix(']')?.to_string()),
        (None, None) => None,
        (Some(_), Some(_)) => return None,
    };
    if it.next().is_some() {
        return None;
    }
    Some(Symbol { addr, kind, name, module })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE: &str = "\
ffffffff81000000 T _stext
ffffffff81000000 T _text
ffffffff812a4c10 t pipe_write
ffffffff812a5000 T vfs_write
ffffffff82600000 D jiffies
ffffffff812a4a00 W arch_weak
ffffffffc0a01230 t nf_ct_alloc_hashtable\t[nf_conntrack]
ffffffffc0a01400 t old_style [oldmod]
zzzz T broken
";

    #[test]
    fn code_symbols_sorted_with_modules() {
        let k = Kallsyms::parse(SAMPLE);
        assert_eq!(k.malformed.len(), 1);
        assert!(!k.addresses_hidden);
        let names: Vec<&str> = k.symbols.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["_stext", "_text", "arch_weak", "pipe_write", "vfs_write", "nf_ct_alloc_hashtable", "old_style"]
        );
        let r = k.lookup(0xffffffff812a4c10 + 0x42).unwrap();
        assert_eq!((r.name, r.module, r.offset), ("pipe_write", None, 0x42));
        let r = k.lookup(0xffffffffc0a01240).unwrap();
        assert_eq!((r.name, r.module), ("nf_ct_alloc_hashtable", Some("nf_conntrack")));
        assert_eq!(k.lookup(0xffffffffc0a01401).unwrap().module, Some("oldmod"));
        // Aliases: the first printed name wins.
        assert_eq!(k.lookup(0xffffffff81000004).unwrap().name, "_stext");
        // Before the first symbol, or far past the last: unknown.
        assert_eq!(k.lookup(0x1000), None);
        assert_eq!(k.lookup(0xffffffffc0a01400 + MAX_SYMBOL_OFFSET + 1), None);
    }

    #[test]
    fn zero_addresses_mean_hidden() {
        let k = Kallsyms::parse("0000000000000000 T _stext\n0000000000000000 t pipe_write\n");
        assert!(k.addresses_hidden);
        assert!(k.symbols.is_empty());
        assert_eq!(k.lookup(0), None);
        assert!(!Kallsyms::parse("").addresses_hidden);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*", a in any::<u64>()) {
            let k = Kallsyms::parse(&s);
            let _ = k.lookup(a);
        }
    }
}
