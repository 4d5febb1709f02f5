//! How to print: format (table, JSON, CSV), colour, and where.

use std::io::{IsTerminal, Write};

use memscope_export::{Render, Style};

use crate::cli::Global;

/// The output format asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human tables.
    Table,
    /// One JSON document.
    Json,
    /// CSV.
    Csv,
}

/// Format and style from the global flags and the environment.
pub fn choose(g: &Global) -> (Format, Style) {
    let format = if g.json {
        Format::Json
    } else if g.csv {
        Format::Csv
    } else {
        Format::Table
    };
    // https://no-color.org: any non-empty NO_COLOR turns colour off.
    let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let color = !g.no_color && !no_color_env && std::io::stdout().is_terminal();
    // COLUMNS (set by the user, or exported by the shell) wins over the
    // terminal's size, as for ls and ps.
    let columns =
        std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<usize>().ok()).filter(|c| *c > 0);
    let term = terminal_width();
    let fit = columns.or(term).filter(|_| !g.wide).map(|c| c.max(40));
    // Notes wrap at a readable width, even on a very wide terminal.
    let width = columns.or(term).unwrap_or(100).clamp(60, 160);
    (format, Style { color, all: false, width, fit })
}

fn terminal_width() -> Option<usize> {
    let stdout = std::io::stdout();
    if !stdout.is_terminal() {
        return None;
    }
    rustix::termios::tcgetwinsize(&stdout).ok().map(|w| w.ws_col as usize).filter(|w| *w > 0)
}

/// Locked, buffered standard output.
pub fn stdout() -> std::io::BufWriter<std::io::StdoutLock<'static>> {
    std::io::BufWriter::new(std::io::stdout().lock())
}

/// Print a view to standard output in the format asked for.
pub fn emit(format: Format, style: &Style, view: &dyn Render) -> anyhow::Result<()> {
    let mut w = stdout();
    match format {
        Format::Json => view.write_json(&mut w)?,
        Format::Csv => view.write_csv(&mut w)?,
        Format::Table => view.write_table(&mut w, style)?,
    }
    finish(w)
}

/// Flush, treating a closed pipe as success.
pub fn finish(mut w: impl Write) -> anyhow::Result<()> {
    match w.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// Parse a size: bytes, or with a binary suffix K, M, G, T (also KiB, MB …,
/// all binary: memory is sized in powers of two).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num.parse().map_err(|_| format!("`{s}` is not a size (examples: 4096, 512M, 2G)"))?;
    let mult: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        "T" | "TB" | "TIB" => 1 << 40,
        other => return Err(format!("unknown size suffix `{other}` in `{s}` (use K, M, G or T)")),
    };
    let v = num * mult as f64;
    if !v.is_finite() || v < 0.0 || v > u64::MAX as f64 {
        return Err(format!("`{s}` is out of range"));
    }
    Ok(v as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert!(parse_size("12Q").is_err());
        assert!(parse_size("M").is_err());
    }
}
