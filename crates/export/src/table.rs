//! Aligned text tables for the human views: a header, rows of cells left or
//! right aligned, two blanks between columns, colour on a terminal, and,
//! to fit a terminal, text columns cut with `…` and columns left out.
//!
//! Hand-written: the general table crate used before (borders, wrapping,
//! dynamic arrangement) built several strings per cell, about 0.7 µs a
//! cell: `ps` with 3,000 processes spent a sixth of its CPU rendering. These
//! tables need none of that, only widths, padding and cutting.

use std::io::{self, Write};

use unicode_width::UnicodeWidthStr;

/// A cell's colour (with [`crate::style::Style::color`] on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Red,
    Green,
    Yellow,
    Magenta,
}

/// A cell's emphasis (with colour on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribute {
    Bold,
    Dim,
}

/// Where a cell's text sits in its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CellAlignment {
    #[default]
    Left,
    Right,
}

/// One cell: its text, alignment and style.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    content: String,
    align: CellAlignment,
    fg: Option<Color>,
    bold: bool,
    dim: bool,
}

impl Cell {
    /// A left-aligned cell of plain text.
    pub fn new(content: impl ToString) -> Cell {
        Cell { content: content.to_string(), ..Cell::default() }
    }

    /// The cell in colour `c`.
    pub fn fg(mut self, c: Color) -> Cell {
        self.fg = Some(c);
        self
    }

    /// The cell in bold or dim.
    pub fn add_attribute(mut self, a: Attribute) -> Cell {
        match a {
            Attribute::Bold => self.bold = true,
            Attribute::Dim => self.dim = true,
        }
        self
    }

    /// The cell aligned `a`.
    pub fn set_alignment(mut self, a: CellAlignment) -> Cell {
        self.align = a;
        self
    }

    fn styled(&self) -> bool {
        self.fg.is_some() || self.bold || self.dim
    }

    /// The Select Graphic Rendition sequence that starts the cell's style.
    fn sgr(&self) -> String {
        let mut codes: Vec<&str> = Vec::new();
        if self.bold {
            codes.push("1");
        }
        if self.dim {
            codes.push("2");
        }
        codes.push(match self.fg {
            Some(Color::Red) => "31",
            Some(Color::Green) => "32",
            Some(Color::Yellow) => "33",
            Some(Color::Magenta) => "35",
            None => "",
        });
        codes.retain(|c| !c.is_empty());
        format!("\x1b[{}m", codes.join(";"))
    }
}

/// Columns `s` takes on a terminal.
fn display_width(s: &str) -> usize {
    if s.is_ascii() { s.len() } else { s.width() }
}

/// Which columns a table fitted to the terminal keeps longest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The first: the rightmost columns are left out first.
    First,
    /// The first and the last (a command line last, as `ps aux` prints it):
    /// the columns before the last are left out first, from the right.
    Last,
}

/// A table: a header, then rows.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<Cell>,
    rows: Vec<Vec<Cell>>,
    /// Fit in this many columns.
    width: Option<usize>,
    /// Write the cells' colours and emphasis.
    styled: bool,
}

/// Widths of the columns as printed, which are cut, which left out.
struct Layout {
    widths: Vec<usize>,
    cut: Vec<bool>,
    hidden: Vec<bool>,
    /// Fitted to a width: each row on one line (a cell of several lines
    /// shows its first, ending in `…`).
    one_line: bool,
}

impl Table {
    /// A table with this header, to fit in `width` columns when set, with
    /// colour when `styled`.
    pub fn new(header: Vec<Cell>, width: Option<usize>, styled: bool) -> Table {
        Table { header, rows: Vec::new(), width, styled }
    }

    /// Add a row.
    pub fn add_row(&mut self, row: Vec<Cell>) -> &mut Table {
        self.rows.push(row);
        self
    }

    fn columns(&self) -> usize {
        self.rows.iter().map(Vec::len).chain([self.header.len()]).max().unwrap_or(0)
    }

    /// Every column's widest cell (the header counted).
    fn natural_widths(&self) -> Vec<usize> {
        let mut w = vec![0; self.columns()];
        for row in std::iter::once(&self.header).chain(&self.rows) {
            for (i, c) in row.iter().enumerate() {
                w[i] = w[i].max(c.content.split('\n').map(display_width).max().unwrap_or(0));
            }
        }
        w
    }

    /// The widths to print at: the natural ones, or, to fit the table's
    /// width, numeric columns whole and the widest text columns cut, one
    /// character at a time, down to their header's width (at least 10);
    /// when that is not enough, columns left out as `keep` says; what
    /// leaving them out freed goes back to the cut columns, from the left.
    fn layout(&self, keep: Keep) -> Layout {
        let widths = self.natural_widths();
        let n = widths.len();
        let mut l =
            Layout { widths: widths.clone(), cut: vec![false; n], hidden: vec![false; n], one_line: false };
        let Some(width) = self.width else { return l };
        // Each column takes its width and a blank either side.
        let total = |l: &Layout| (0..n).filter(|&i| !l.hidden[i]).map(|i| l.widths[i] + 2).sum::<usize>();
        let mut excess = total(&l).saturating_sub(width);
        if excess == 0 {
            return l;
        }
        l.one_line = true;
        let floor: Vec<usize> = (0..n)
            .map(|i| {
                let numeric = self.rows.iter().all(|r| r.get(i).is_none_or(|c| looks_numeric(&c.content)));
                let header = self.header.get(i).map_or(0, |h| display_width(&h.content));
                if numeric { widths[i] } else { widths[i].min(header.max(10)) }
            })
            .collect();
        while excess > 0 {
            // The widest column that can still give way.
            let Some(i) =
                (0..n).filter(|&i| l.widths[i] > floor[i]).max_by_key(|&i| (l.widths[i], usize::MAX - i))
            else {
                break;
            };
            l.widths[i] -= 1;
            l.cut[i] = true;
            excess -= 1;
        }
        // Still too wide: leave out columns from the right, never the first;
        // a kept last column only once every other column is out.
        let order: Vec<usize> = match keep {
            Keep::Last if n > 2 => (1..n - 1).rev().chain([n - 1]).collect(),
            _ => (1..n).rev().collect(),
        };
        for i in order {
            if total(&l) <= width {
                break;
            }
            l.hidden[i] = true;
        }
        let mut slack = width.saturating_sub(total(&l));
        for (i, &natural) in widths.iter().enumerate() {
            if slack == 0 {
                break;
            }
            if l.cut[i] && !l.hidden[i] {
                let extra = slack.min(natural - l.widths[i]);
                l.widths[i] += extra;
                l.cut[i] = l.widths[i] < natural;
                slack -= extra;
            }
        }
        l
    }

    /// The names of the columns left out.
    fn hidden_names(&self, l: &Layout) -> Vec<String> {
        (0..l.hidden.len())
            .filter(|&i| l.hidden[i])
            .map(|i| self.header.get(i).map(|h| h.content.replace('\n', " ")).unwrap_or_default())
            .collect()
    }

    /// One row's lines (a cell may hold several), trailing blanks trimmed,
    /// each passed to `out`.
    fn render_row(
        &self,
        row: &[Cell],
        l: &Layout,
        line: &mut String,
        out: &mut dyn FnMut(&str) -> io::Result<()>,
    ) -> io::Result<()> {
        let empty = Cell::default();
        let height = if l.one_line {
            1
        } else {
            row.iter().map(|c| c.content.bytes().filter(|&b| b == b'\n').count() + 1).max().unwrap_or(1)
        };
        for k in 0..height {
            line.clear();
            for (i, &w) in l.widths.iter().enumerate() {
                if l.hidden[i] {
                    continue;
                }
                let c = row.get(i).unwrap_or(&empty);
                let (mut text, more) = match height {
                    1 if !c.content.contains('\n') => (c.content.as_str(), false),
                    _ => {
                        let mut lines = c.content.split('\n');
                        let text = lines.nth(k).unwrap_or("");
                        (text, l.one_line && lines.next().is_some())
                    }
                };
                let cut;
                let mut shown = display_width(text);
                if shown > w || more {
                    cut = cut_to(text, w, more);
                    text = &cut;
                    shown = display_width(text);
                }
                let pad = w.saturating_sub(shown);
                line.push(' ');
                if c.align == CellAlignment::Right {
                    push_blanks(line, pad);
                }
                let style = self.styled && c.styled() && !text.is_empty();
                if style {
                    line.push_str(&c.sgr());
                }
                line.push_str(text);
                if style {
                    line.push_str("\x1b[0m");
                }
                if c.align == CellAlignment::Left {
                    push_blanks(line, pad);
                }
                line.push(' ');
            }
            // Trailing blanks are ASCII: cut them by byte.
            line.truncate(line.bytes().rposition(|b| b != b' ').map_or(0, |i| i + 1));
            out(line)?;
        }
        Ok(())
    }

    /// The table's lines, as [`Table::write`] prints them before escaping.
    pub fn lines(&self) -> Vec<String> {
        let l = self.layout(Keep::First);
        let mut out = Vec::with_capacity(self.rows.len() + 1);
        let mut line = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let _ = self.render_row(row, &l, &mut line, &mut |l| {
                out.push(l.to_string());
                Ok(())
            });
        }
        out
    }

    /// Write the table: every line through `escape` (which makes it safe for
    /// a terminal), then, when columns were left out to fit, a line naming
    /// them.
    pub fn write(
        &self,
        w: &mut dyn Write,
        keep: Keep,
        escape: impl Fn(&str) -> std::borrow::Cow<'_, str>,
    ) -> io::Result<Vec<String>> {
        let l = self.layout(keep);
        let mut line = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            self.render_row(row, &l, &mut line, &mut |line| {
                w.write_all(escape(line).as_bytes())?;
                w.write_all(b"\n")
            })?;
        }
        Ok(self.hidden_names(&l))
    }

    /// The width to fit in, if any.
    pub fn width(&self) -> Option<usize> {
        self.width
    }

    /// Whether colours and emphasis are written.
    pub fn should_style(&self) -> bool {
        self.styled
    }
}

fn push_blanks(line: &mut String, mut n: usize) {
    // Whole runs of blanks rather than one char at a time: every cell of a
    // table of thousands of rows pads.
    const BLANKS: &str = "                                                                ";
    while n > 0 {
        let k = n.min(BLANKS.len());
        line.push_str(&BLANKS[..k]);
        n -= k;
    }
}

/// `s` cut to `w` columns, ending in `…`: cut when it is wider, or
/// followed by lines not shown (`more`).
fn cut_to(s: &str, w: usize, more: bool) -> String {
    if !more && display_width(s) <= w {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + cw + 1 > w {
            break;
        }
        out.push(c);
        used += cw;
    }
    out.push('…');
    out
}

/// A figure as memscope prints it: `1.2 GiB`, `83.0%`, `-`, `*4242`,
/// `12 ms`, `3/4`, or empty.
pub(crate) fn looks_numeric(s: &str) -> bool {
    let s = s.trim();
    let body = s.trim_start_matches(['*', '+', '-', '~', '≥', '≤', '<', '>']);
    if s.is_empty() || body.is_empty() {
        return true;
    }
    let digits = body.bytes().take_while(|b| b.is_ascii_digit() || matches!(b, b'.' | b',' | b'/')).count();
    if digits == 0 {
        return false;
    }
    let unit = body[digits..].trim();
    unit.len() <= 4 && unit.chars().all(|c| c.is_alphabetic() || c == '%' || c == 'µ')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(width: Option<usize>) -> Table {
        let mut t = Table::new(vec![Cell::new("pid"), Cell::new("name"), Cell::new("RSS")], width, false);
        t.add_row(vec![
            Cell::new(1).set_alignment(CellAlignment::Right),
            Cell::new("init"),
            Cell::new("9.9 MiB"),
        ]);
        t.add_row(vec![
            Cell::new(4242).set_alignment(CellAlignment::Right),
            Cell::new("a-rather-long-process-name"),
            Cell::new("120 KiB").set_alignment(CellAlignment::Right),
        ]);
        t
    }

    #[test]
    fn columns_are_as_wide_as_their_widest_cell_and_two_blanks_apart() {
        assert_eq!(
            table(None).lines(),
            [
                " pid   name                        RSS",
                "    1  init                        9.9 MiB",
                " 4242  a-rather-long-process-name  120 KiB",
            ]
        );
    }

    #[test]
    fn a_table_too_wide_cuts_its_text_and_keeps_its_numbers() {
        let lines = table(Some(30)).lines();
        assert!(lines.iter().all(|l| display_width(l) <= 30), "{lines:#?}");
        assert!(lines[2].contains("a-rather-") && lines[2].contains('…'), "{lines:#?}");
        assert!(lines[2].ends_with("120 KiB"), "{lines:#?}");
    }

    #[test]
    fn wide_characters_count_twice_and_cells_are_cut_by_columns() {
        let mut t = Table::new(vec![Cell::new("n"), Cell::new("name")], None, false);
        t.add_row(vec![Cell::new("1"), Cell::new("日本語のプロセス名前")]);
        t.add_row(vec![Cell::new("2"), Cell::new("x")]);
        assert_eq!(t.lines()[2], " 2  x");
        assert_eq!(display_width(&t.lines()[1]), 1 + 1 + 2 + 20);
        assert_eq!(cut_to("日本語のプロセス", 7, false), "日本語…");
    }

    #[test]
    fn colour_wraps_the_text_not_the_padding() {
        let mut t =
            Table::new(vec![Cell::new("a").add_attribute(Attribute::Bold), Cell::new("b")], None, true);
        t.add_row(vec![Cell::new("red").fg(Color::Red), Cell::new("x").add_attribute(Attribute::Dim)]);
        let lines = t.lines();
        assert_eq!(lines[0], " \x1b[1ma\x1b[0m    b");
        assert_eq!(lines[1], " \x1b[31mred\x1b[0m  \x1b[2mx\x1b[0m");
    }

    #[test]
    fn a_cell_of_several_lines_makes_its_row_as_high_and_one_line_when_fitted() {
        let mut t = Table::new(vec![Cell::new("check"), Cell::new("verdict")], None, false);
        t.add_row(vec![Cell::new("preemption"), Cell::new("ok\nwants: PREEMPT_RT")]);
        t.add_row(vec![Cell::new("swap"), Cell::new("off")]);
        assert_eq!(
            t.lines(),
            [" check       verdict", " preemption  ok", "             wants: PREEMPT_RT", " swap        off"]
        );
        t.width = Some(24);
        assert_eq!(t.lines(), [" check       verdict", " preemption  ok…", " swap        off"]);
    }

    #[test]
    fn ragged_rows_and_an_empty_table_render() {
        let mut t = Table::new(vec![Cell::new("a"), Cell::new("b")], Some(3), false);
        assert_eq!(t.lines(), [" a"]);
        t.add_row(vec![Cell::new("1"), Cell::new("2"), Cell::new("3")]);
        t.add_row(vec![]);
        let mut out = Vec::new();
        fn plain(l: &str) -> std::borrow::Cow<'_, str> {
            std::borrow::Cow::Borrowed(l)
        }
        let hidden = t.write(&mut out, Keep::First, plain).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), " a\n 1\n\n");
        assert_eq!(hidden, ["b", ""]);
    }
}
