//! Human units for bytes (binary: KiB, MiB, GiB, TiB).

/// `1536` → `1.5 KiB`; negative values keep their sign; under 1 KiB in
/// bytes. One decimal below 100 of a unit (`4.3 MiB`, `23.5 GiB`), none
/// from 100 (`470 MiB`).
pub fn fmt_bytes(v: i64) -> String {
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

/// Percentage of `part` in `whole`, one decimal (`0.9%`); `?` when whole is 0.
pub fn fmt_pct(part: i64, whole: i64) -> String {
    if whole == 0 {
        return "?".into();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

/// `n` and the noun in the right number: `1 process`, `3 processes`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
