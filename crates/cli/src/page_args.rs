//! The flags `memscope phys` and `memscope pages` share, their value
//! parsers and their help: cli.rs builds the commands from these, the
//! commands read them.

use clap::Args as ClapArgs;
use memscope_kernel::parse::kpageflags::{self as kpf, BitsFilter, FlagKind};

/// Which pages a census shows and how: the flags of `memscope phys` and
/// `memscope pages`.
#[derive(Debug, Clone, ClapArgs)]
pub struct PageSelection {
    /// Show every flag bit, the kernel-hacking ones too, with overloaded bits
    /// expanded, and for a process pagemap's bits (page-types -r).
    #[arg(long)]
    pub raw: bool,

    /// Only pages whose flags match (page-types grammar, repeatable, all must
    /// match): `a,b` any of them, `=a,b` exactly these, `a,~b` a and not b.
    #[arg(long, value_name = "SPEC", value_parser = bits_arg)]
    pub bits: Vec<BitsArg>,

    /// Only these pages (repeatable): `N`, `N+COUNT`, `N,END`, `N,` or `,END`,
    /// decimal or 0x hex: page frame numbers for `phys`, virtual page numbers
    /// (address / page size) for `pages`.
    #[arg(long, value_name = "RANGE", value_parser = parse_addr_range)]
    pub addr: Vec<(u64, u64)>,
}

/// `--help` text listing the page flags and the `--bits` grammar, from the
/// one flag table.
pub fn flags_help() -> String {
    let mut s = String::from("Page flags (for --bits; page-types' names):\n");
    for kind in [FlagKind::WellKnown, FlagKind::KernelHacking, FlagKind::Overloaded] {
        let names: Vec<&str> = kpf::FLAGS.iter().filter(|f| f.kind == kind).map(|f| f.name).collect();
        s.push_str(&format!("  {}:\n", kind.name()));
        s.push_str(&memscope_export::style::wrap(&names.join(" "), 90, "    ", "    "));
        s.push('\n');
    }
    s.push_str(
        "  `compound` names both compound bits; a number (0x400) is a mask.\n\
         --bits grammar: `a,b` any of a, b · `=a,b` exactly a and b · `a,~b` a and not b \
         (also written `a,b=a`).\n`memscope phys --explain` describes every flag.",
    );
    s
}

/// A `--bits` argument: the spec as given and its filter.
#[derive(Debug, Clone)]
pub struct BitsArg {
    /// As typed.
    pub spec: String,
    /// Parsed.
    pub filter: BitsFilter,
}

/// clap value parser for `--bits`.
pub fn bits_arg(spec: &str) -> Result<BitsArg, String> {
    Ok(BitsArg { spec: spec.to_string(), filter: BitsFilter::parse(spec)? })
}

/// PFN ranges in page-types' `--addr` grammar: `N` (one page), `N+M` (M
/// pages from N), `N,M` (N to M−1), `N,` (N to the end), `,M` (0 to M−1).
/// Numbers are decimal or `0x` hex, in pages.
pub fn parse_addr_range(spec: &str) -> Result<(u64, u64), String> {
    let num = |s: &str| -> Result<u64, String> {
        let t = s.trim();
        let v = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            Some(h) => u64::from_str_radix(h, 16),
            None => t.parse::<u64>(),
        };
        v.map_err(|_| format!("`{t}` is not a page number (decimal or 0x hex) in `{spec}`"))
    };
    let spec_t = spec.trim();
    let (start, end) = if let Some((a, b)) = spec_t.split_once(',') {
        let start = if a.trim().is_empty() { 0 } else { num(a)? };
        let end = if b.trim().is_empty() { u64::MAX } else { num(b)? };
        (start, end)
    } else if let Some((a, b)) = spec_t.split_once('+') {
        let start = num(a)?;
        (start, start.saturating_add(num(b)?))
    } else {
        let n = num(spec_t)?;
        (n, n.saturating_add(1))
    };
    if end <= start {
        return Err(format!("`{spec}` is an empty range"));
    }
    Ok((start, end))
}

#[cfg(test)]
mod tests {
    use super::parse_addr_range;

    #[test]
    fn addr_ranges_in_page_types_grammar() {
        assert_eq!(parse_addr_range("10"), Ok((10, 11)));
        assert_eq!(parse_addr_range("10+5"), Ok((10, 15)));
        assert_eq!(parse_addr_range("10,20"), Ok((10, 20)));
        assert_eq!(parse_addr_range("0x10,"), Ok((16, u64::MAX)));
        assert_eq!(parse_addr_range(",8"), Ok((0, 8)));
        assert!(parse_addr_range("20,10").is_err());
        assert!(parse_addr_range("x").is_err());
    }
}
