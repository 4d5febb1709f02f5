//! Output style shared by the table renderers.

use comfy_table::{Cell, CellAlignment, Color, ContentArrangement, Table, presets};

/// How to print.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    /// Use ANSI colours and bold. The caller decides (TTY and `NO_COLOR`).
    pub color: bool,
    /// Show lines and rows that are zero.
    pub all: bool,
    /// Wrap notes at this width.
    pub width: usize,
}

impl Style {
    /// Plain output (no colour), as for a pipe.
    pub fn plain() -> Style {
        Style { color: false, all: false, width: 100 }
    }

    /// A table with memscope's look: no borders, a header underline.
    pub fn table(&self, header: &[&str]) -> Table {
        let mut t = Table::new();
        t.load_style(presets::NOTHING).set_content_arrangement(ContentArrangement::Disabled);
        if self.color {
            t.enforce_styling();
        } else {
            t.force_no_tty();
        }
        t.set_header(header.iter().map(|h| self.header_cell(h)));
        t
    }

    fn header_cell(&self, h: &str) -> Cell {
        let c = Cell::new(h);
        if self.color { c.add_attribute(comfy_table::Attribute::Bold) } else { c }
    }

    /// A right-aligned cell (numbers).
    pub fn num(&self, s: impl ToString) -> Cell {
        Cell::new(s.to_string()).set_alignment(CellAlignment::Right)
    }

    /// A cell in a colour (when colour is on).
    pub fn colored(&self, s: impl ToString, color: Color) -> Cell {
        let c = Cell::new(s.to_string());
        if self.color { c.fg(color) } else { c }
    }

    /// A dim cell (when colour is on).
    pub fn dim(&self, s: impl ToString) -> Cell {
        let c = Cell::new(s.to_string());
        if self.color { c.add_attribute(comfy_table::Attribute::Dim) } else { c }
    }

    /// Bold text for a heading line.
    pub fn heading(&self, s: &str) -> String {
        if self.color { format!("\x1b[1m{s}\x1b[0m") } else { s.to_string() }
    }
}

/// Write a table with trailing blanks trimmed from every line.
pub fn write_table(w: &mut dyn std::io::Write, t: &Table) -> std::io::Result<()> {
    for line in t.lines() {
        writeln!(w, "{}", line.trim_end())?;
    }
    Ok(())
}

/// Wrap `text` at `width` columns, continuing lines with `indent`.
pub fn wrap(text: &str, width: usize, first: &str, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::from(first);
    let mut line_len = first.chars().count();
    let mut empty = true;
    for word in text.split_whitespace() {
        let wl = word.chars().count();
        if !empty && line_len + 1 + wl > width.max(20) {
            out.push_str(line.trim_end());
            out.push('\n');
            line = String::from(indent);
            line_len = indent.chars().count();
            empty = true;
        }
        if !empty {
            line.push(' ');
            line_len += 1;
        }
        line.push_str(word);
        line_len += wl;
        empty = false;
    }
    out.push_str(line.trim_end());
    out
}

/// `2026-11-21T23:59:01Z` from milliseconds since the epoch.
pub fn timestamp(unix_ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(unix_ms);
    humantime::format_rfc3339_seconds(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_words() {
        let w = wrap("aaa bbb ccc ddd eee fff ggg hhh iii jjj kkk", 20, "- ", "  ");
        for l in w.lines() {
            assert!(l.chars().count() <= 20, "{l:?}");
        }
        assert!(w.starts_with("- aaa"));
        assert!(w.lines().nth(1).unwrap().starts_with("  "));
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
    }
}
