//! Output style shared by the table renderers.

use std::borrow::Cow;
use std::io;

pub use crate::table::Keep;
use crate::table::{Cell, CellAlignment, Color, Table};

/// How to print.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    /// Use ANSI colours and bold. The caller decides (TTY and `NO_COLOR`).
    pub color: bool,
    /// Show lines and rows that are zero.
    pub all: bool,
    /// Wrap notes at this width.
    pub width: usize,
    /// Fit tables in this many columns (a terminal, or `COLUMNS` set, and
    /// no `--wide`): the widest text columns are cut with an ellipsis,
    /// numbers are kept whole.
    pub fit: Option<usize>,
}

impl Style {
    /// Plain output (no colour), as for a pipe.
    pub fn plain() -> Style {
        Style { color: false, all: false, width: 100, fit: None }
    }

    /// A table with memscope's look: no borders, two blanks between
    /// columns; fitted to [`Style::fit`] when set.
    pub fn table(&self, header: &[&str]) -> Table {
        Table::new(header.iter().map(|h| self.header_cell(h)).collect(), self.fit, self.color)
    }

    fn header_cell(&self, h: &str) -> Cell {
        let c = Cell::new(h);
        if self.color { c.add_attribute(crate::table::Attribute::Bold) } else { c }
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
        if self.color { c.add_attribute(crate::table::Attribute::Dim) } else { c }
    }

    /// A writer for this style's human output: every line escaped by
    /// [`escape_line`] (colour sequences kept when colour is on).
    pub fn guard<'a>(&self, w: &'a mut dyn io::Write) -> TerminalSafe<'a> {
        TerminalSafe::new(w, self.color)
    }

    /// A cell of text from the machine (a name, a path), escaped by
    /// [`escape_controls`] so that the table stays aligned.
    pub fn text(&self, s: &str) -> Cell {
        Cell::new(escape_controls(s))
    }

    /// Bold text for a heading line.
    /// A long one is wrapped at the style's width.
    pub fn heading(&self, s: &str) -> String {
        let text = if s.chars().count() > self.width { wrap(s, self.width, "", "  ") } else { s.to_string() };
        if self.color { format!("\x1b[1m{text}\x1b[0m") } else { text }
    }
}

/// Write a table with trailing blanks trimmed from every line, and every
/// control character in it escaped ([`escape_line`]).
pub fn write_table(w: &mut dyn std::io::Write, t: &Table) -> std::io::Result<()> {
    write_table_keeping(w, t, Keep::First)
}

/// [`write_table`], keeping the columns `keep` says when the table must
/// fit the terminal; the columns left out are named after it, so that
/// `--wide` can bring them back.
pub fn write_table_keeping(w: &mut dyn std::io::Write, t: &Table, keep: Keep) -> std::io::Result<()> {
    let sgr = t.should_style();
    let hidden = t.write(w, keep, |line| escape_line(line, sgr))?;
    if let (false, Some(width)) = (hidden.is_empty(), t.width()) {
        let note =
            format!("(left out to fit the terminal: {}; --wide shows every column)", hidden.join(", "));
        writeln!(w, "{}", wrap(&note, width, "", " "))?;
    }
    Ok(())
}

use memscope_analysis::units::push_escaped;
pub use memscope_analysis::units::{escape_controls, is_terminal_control};

/// Length of a Select Graphic Rendition sequence (`ESC [ 1 ; 31 m`) at the
/// start of `s`, the only escape memscope's own styling writes.
fn sgr_len(s: &str) -> Option<usize> {
    let rest = s.strip_prefix("\x1b[")?;
    let params = rest.bytes().take_while(|b| b.is_ascii_digit() || *b == b';').count();
    (params <= 32 && rest.as_bytes().get(params) == Some(&b'm')).then_some(2 + params + 1)
}

/// One line of human output made safe for a terminal: like
/// [`escape_controls`], but a tab is kept, and with `sgr` the colour and
/// bold sequences memscope's styling writes are kept too (any other escape
/// sequence, such as one that clears the screen or sets the window title,
/// is still shown as text). Every table and text renderer's output goes
/// through this function ([`write_table`], [`TerminalSafe`]).
pub fn escape_line(line: &str, sgr: bool) -> Cow<'_, str> {
    // Most lines are printable ASCII: tell so from the bytes, without
    // decoding characters (a table of hundreds of rows passes here).
    let printable_ascii = |b: &u8| matches!(b, b' '..=b'~' | b'\t');
    if line.as_bytes().iter().all(printable_ascii)
        || !line.chars().any(|c| c != '\t' && is_terminal_control(c))
    {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len() + 8);
    let mut i = 0;
    while let Some(c) = line[i..].chars().next() {
        if c == '\x1b'
            && sgr
            && let Some(n) = sgr_len(&line[i..])
        {
            out.push_str(&line[i..i + n]);
            i += n;
            continue;
        }
        if c != '\t' && is_terminal_control(c) {
            push_escaped(&mut out, c)
        } else {
            out.push(c)
        }
        i += c.len_utf8();
    }
    Cow::Owned(out)
}

/// A writer for human output that passes every complete line through
/// [`escape_line`] on its way to `inner`: whatever a renderer prints (a
/// note quoting a path, a heading with a command name), no control
/// character reaches the terminal. Newlines end lines and are kept. The
/// last partial line is written on [`io::Write::flush`] or when dropped.
pub struct TerminalSafe<'a> {
    inner: &'a mut dyn io::Write,
    sgr: bool,
    pending: Vec<u8>,
}

impl<'a> TerminalSafe<'a> {
    /// Wrap `inner`; `sgr`: keep colour sequences (the style has colour on).
    pub fn new(inner: &'a mut dyn io::Write, sgr: bool) -> TerminalSafe<'a> {
        TerminalSafe { inner, sgr, pending: Vec::new() }
    }

    fn emit(&mut self, upto: usize) -> io::Result<()> {
        let chunk: Vec<u8> = self.pending.drain(..upto).collect();
        let text = String::from_utf8_lossy(&chunk);
        for (n, line) in text.split('\n').enumerate() {
            if n > 0 {
                self.inner.write_all(b"\n")?;
            }
            self.inner.write_all(escape_line(line, self.sgr).as_bytes())?;
        }
        Ok(())
    }
}

impl io::Write for TerminalSafe<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if let Some(last) = self.pending.iter().rposition(|b| *b == b'\n') {
            self.emit(last + 1)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.emit(self.pending.len())?;
        self.inner.flush()
    }
}

impl Drop for TerminalSafe<'_> {
    fn drop(&mut self) {
        let _ = self.emit(self.pending.len());
    }
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

/// `2026-11-21T23:59:01Z` from milliseconds since the epoch; a time after
/// year 9999 reads `invalid time (…)`.
pub fn timestamp(unix_ms: u64) -> String {
    memscope_analysis::units::fmt_timestamp(unix_ms)
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
    fn a_process_name_that_clears_the_screen_is_shown_escaped() {
        let evil = "\x1b[2J\x1b]0;PWN\x07";
        assert_eq!(escape_controls(evil), "\\x1b[2J\\x1b]0;PWN\\x07");
        assert_eq!(escape_controls("bash"), "bash");
        assert!(matches!(escape_controls("bash"), Cow::Borrowed(_)));
        // C1 CSI, DEL, bidi override, zero-width space, newline.
        assert_eq!(
            escape_controls("a\u{9b}b\x7fc\u{202e}d\u{200b}e\n"),
            "a\\u{9b}b\\x7fc\\u{202e}d\\u{200b}e\\x0a"
        );
    }

    #[test]
    fn lines_keep_colour_only_when_colour_is_on() {
        let line = "\x1b[1mpid\x1b[0m \x1b[2J\x1b]0;t\x07\tx";
        assert_eq!(escape_line(line, true), "\x1b[1mpid\x1b[0m \\x1b[2J\\x1b]0;t\\x07\tx");
        assert_eq!(escape_line(line, false), "\\x1b[1mpid\\x1b[0m \\x1b[2J\\x1b]0;t\\x07\tx");
    }

    #[test]
    fn a_printable_ascii_line_is_passed_through_and_del_is_not_printable() {
        assert!(matches!(escape_line("  42 root\tsleep 3600 ~", false), Cow::Borrowed(_)));
        assert_eq!(escape_line("a\x7fb", false), "a\\x7fb");
        assert_eq!(escape_line("caf\u{e9} \u{202e}x", false), "caf\u{e9} \\u{202e}x");
    }

    #[test]
    fn terminal_safe_writer_escapes_across_split_writes() {
        use std::io::Write;
        let mut out = Vec::new();
        {
            let mut g = TerminalSafe::new(&mut out, false);
            // An escape and a multi-byte character split between writes.
            g.write_all(b"name: \x1b").unwrap();
            g.write_all(b"[2J \xe2\x80").unwrap();
            g.write_all(b"\xae end\nlast").unwrap();
        }
        assert_eq!(String::from_utf8(out).unwrap(), "name: \\x1b[2J \\u{202e} end\nlast");
    }

    #[test]
    fn tables_escape_their_cells() {
        let s = Style::plain();
        let mut t = s.table(&["pid", "command"]);
        t.add_row(vec![Cell::new("1"), Cell::new("\x1b]0;PWN\x07")]);
        let mut out = Vec::new();
        write_table(&mut out, &t).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
        assert!(text.contains("\\x1b]0;PWN\\x07"));
    }

    #[test]
    fn a_cut_command_line_last_stays_while_the_numbers_before_it_are_left_out() {
        let mut s = Style::plain();
        s.fit = Some(40);
        let mut t = s.table(&["pid", "PSS", "RSS", "anon", "file", "command"]);
        let long = "java -Xmx8g -cp /opt/app/lib/*:/opt/app/conf com.example.Main --port 8080";
        t.add_row(vec![
            s.num(4242),
            s.num("73.8 MiB"),
            s.num("94.1 MiB"),
            s.num("68.5 MiB"),
            s.num("25.6 MiB"),
            s.text(long),
        ]);
        let mut out = Vec::new();
        write_table_keeping(&mut out, &t, Keep::Last).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.iter().all(|l| l.chars().count() <= 40), "{text}");
        assert!(
            lines[0].contains("command") && lines[1].contains("java") && lines[1].contains('…'),
            "{text}"
        );
        // The numbers nearest the command line went, named in table order.
        assert!(lines[0].contains("PSS") && !lines[0].contains("file"), "{text}");
        let note = lines[2..].join(" ");
        assert!(note.contains("left out to fit the terminal:"), "{text}");
        let (anon, file) = (note.find("anon"), note.find("file"));
        assert!(file.is_some() && anon.is_none_or(|a| a < file.unwrap()), "{text}");
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        // A corrupt MANIFEST or recording: past year 9999, once a panic.
        assert!(timestamp(u64::MAX).starts_with("invalid time"));
    }
}
