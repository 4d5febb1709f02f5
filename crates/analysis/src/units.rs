//! Human units for bytes (binary: KiB, MiB, GiB, TiB).

use std::borrow::Cow;

/// `1536` → `1.5 KiB`; negative values keep their sign; under 1 KiB in
/// bytes. One decimal below 100 of a unit (`4.3 MiB`, `23.5 GiB`), none
/// from 100 (`470 MiB`).
///
/// In integers, as the float formatting (`{:.1}` of the size in its unit)
/// rounds: the size as an `f64` (exact below 2^53 bytes), divided by a power
/// of 1024 (exact), rounded half to even. A table of thousands of sizes
/// spent most of this function's time in the float formatter.
pub fn fmt_bytes(v: i64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let sign = if v < 0 { "-" } else { "" };
    let n = v.unsigned_abs();
    if n < 1024 {
        return format!("{sign}{n} B");
    }
    // The exact value of the f64 nearest to n (an integer: n ≥ 1024).
    let m = n as f64 as u128;
    let mut shift = 10;
    while shift < 10 * (UNITS.len() - 1) && m >> (shift + 10) > 0 {
        shift += 10;
    }
    let unit = UNITS[shift / 10];
    // m / 2^shift rounded half to even, after scaling by `scale`.
    let rounded = |scale: u128| {
        let (q, r) = ((m * scale) >> shift, (m * scale) & ((1 << shift) - 1));
        let half = 1 << (shift - 1);
        q + u128::from(r > half || (r == half && q % 2 == 1))
    };
    if m < 100 << shift {
        let t = rounded(10);
        format!("{sign}{}.{} {unit}", t / 10, t % 10)
    } else {
        format!("{sign}{} {unit}", rounded(1))
    }
}

/// Percentage of `part` in `whole`, one decimal (`0.9%`); `?` when whole is 0.
pub fn fmt_pct(part: i64, whole: i64) -> String {
    if whole == 0 {
        return "?".into();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

/// The last millisecond RFC 3339 can write: 9999-12-31T23:59:59.999Z.
pub const MAX_TIMESTAMP_MS: u64 = 253_402_300_799_999;

/// `2026-11-21T23:59:01Z` from milliseconds since the epoch. A time after
/// year 9999 (a corrupt MANIFEST or recording) is said to be invalid, never
/// formatted: RFC 3339 has four-digit years.
pub fn fmt_timestamp(unix_ms: u64) -> String {
    if unix_ms > MAX_TIMESTAMP_MS {
        return format!("invalid time ({unix_ms} ms after 1970, past year 9999)");
    }
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(unix_ms);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Would a terminal act on this character rather than show it? C0 controls
/// (ESC, BEL, CR, backspace, newline…), DEL and C1 controls (U+0080–U+009F:
/// CSI, OSC as single code points), and the invisible characters that
/// reorder or hide text: bidirectional controls (U+202A–U+202E,
/// U+2066–U+2069, U+200E, U+200F, U+061C), zero-width characters (U+200B–
/// U+200D, U+2060, U+FEFF) and the soft hyphen.
pub fn is_terminal_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{061C}'
                | '\u{FEFF}'
                | '\u{00AD}'
        )
}

/// Append `c` as a visible escape: `\\x1b` below U+0080, `\\u{202e}` above.
pub fn push_escaped(out: &mut String, c: char) {
    use std::fmt::Write as _;
    let _ = if (c as u32) < 0x80 {
        write!(out, "\\x{:02x}", c as u32)
    } else {
        write!(out, "\\u{{{:x}}}", c as u32)
    };
}

/// Text from the machine (a process name, a path, a cache name) made safe
/// to print on a terminal: every [`is_terminal_control`] character becomes
/// a visible escape (`\x1b`, `\u{202e}`), so a process named
/// `"\e[2J\e]0;PWN\a"` cannot clear the screen or retitle the window.
/// Borrowed when there is nothing to escape (the usual case).
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_terminal_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_terminal_control(c) { push_escaped(&mut out, c) } else { out.push(c) }
    }
    Cow::Owned(out)
}

/// `n` and the noun in the right number: `1 process`, `3 processes`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// [`fmt_bytes`] as first written, with the float formatter.
    fn fmt_bytes_float(v: i64) -> String {
        const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        let sign = if v < 0 { "-" } else { "" };
        let mut x = v.unsigned_abs() as f64;
        let mut u = 0;
        while x >= 1024.0 && u < UNITS.len() - 1 {
            x /= 1024.0;
            u += 1;
        }
        if u == 0 {
            format!("{sign}{} B", v.unsigned_abs())
        } else if x < 100.0 {
            format!("{sign}{x:.1} {}", UNITS[u])
        } else {
            format!("{sign}{x:.0} {}", UNITS[u])
        }
    }

    #[test]
    fn sizes_format_as_the_float_formatter_rounds() {
        // Every size up to 4 MiB, and around each unit's edges and ties.
        for v in 0..(4 << 20) {
            assert_eq!(fmt_bytes(v), fmt_bytes_float(v), "{v}");
        }
        for shift in [10, 20, 30, 40, 50, 60] {
            for base in [1i64 << shift, 100 << shift.min(56), 1023 << shift.min(53)] {
                for d in -3000..3000 {
                    let v = base.saturating_add(d);
                    assert_eq!(fmt_bytes(v), fmt_bytes_float(v), "{v}");
                    assert_eq!(fmt_bytes(-v), fmt_bytes_float(-v), "{v}");
                }
            }
        }
        // Exact ties (1.25 MiB, 100.5 GiB, 101.5 GiB) round to even.
        assert_eq!(fmt_bytes((1 << 20) + (1 << 18)), "1.2 MiB");
        assert_eq!(fmt_bytes((1 << 20) + 3 * (1 << 18)), "1.8 MiB");
        assert_eq!(fmt_bytes((1 << 30) * 100 + (1 << 29)), "100 GiB");
        assert_eq!(fmt_bytes((1 << 30) * 101 + (1 << 29)), "102 GiB");
        assert_eq!(fmt_bytes((1 << 30) * 100 + (1 << 29)), fmt_bytes_float((1 << 30) * 100 + (1 << 29)));
        assert_eq!(fmt_bytes((1 << 30) * 101 + (1 << 29)), fmt_bytes_float((1 << 30) * 101 + (1 << 29)));
        for v in [i64::MIN, i64::MIN + 1, i64::MAX, i64::MAX - 512, 1 << 53, (1 << 53) + 1] {
            assert_eq!(fmt_bytes(v), fmt_bytes_float(v), "{v}");
        }
    }

    proptest! {
        #[test]
        fn any_size_formats_as_the_float_formatter_rounds(v in any::<i64>(), shift in 0u32..63) {
            prop_assert_eq!(fmt_bytes(v), fmt_bytes_float(v));
            let w = v >> shift;
            prop_assert_eq!(fmt_bytes(w), fmt_bytes_float(w));
        }
    }

    #[test]
    fn units() {
        assert_eq!(fmt_bytes(0), "0 B");
        assert_eq!(fmt_bytes(1023), "1023 B");
        assert_eq!(fmt_bytes(1536), "1.5 KiB");
        assert_eq!(fmt_bytes(470 << 20), "470 MiB");
        assert_eq!(fmt_bytes(-(3 << 20)), "-3.0 MiB");
        assert_eq!(fmt_bytes(24 * (1 << 30) + (1 << 29)), "24.5 GiB");
        assert_eq!(fmt_bytes(i64::MIN), "-8192 PiB");
        assert_eq!(fmt_pct(9, 1000), "0.9%");
        assert_eq!(fmt_pct(1, 0), "?");
        assert_eq!(count(1, "process", "processes"), "1 process");
        assert_eq!(count(0, "process", "processes"), "0 processes");
    }

    #[test]
    fn timestamps_after_year_9999_are_invalid_not_a_panic() {
        assert_eq!(fmt_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(fmt_timestamp(MAX_TIMESTAMP_MS), "9999-12-31T23:59:59Z");
        assert!(fmt_timestamp(MAX_TIMESTAMP_MS + 1).starts_with("invalid time"));
        assert!(fmt_timestamp(u64::MAX).contains("past year 9999"));
    }
}
