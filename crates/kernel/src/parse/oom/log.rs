//! Kernel log lines as saved by the usual tools, reduced to time stamp,
//! caller and message text.
//!
//! | form | example prefix |
//! |---|---|
//! | raw `/dev/kmsg` | `4,343,2446291777,-,caller=T9728;` (Documentation/ABI/testing/dev-kmsg) |
//! | `dmesg` | `[ 2446.291777] ` or, with CONFIG_PRINTK_CALLER, `[ 2446.291777][ T9728] ` |
//! | `dmesg -T` | `[Fri Dec  4 18:10:05 2026] ` (local time of the machine that printed it) |
//! | `journalctl -k`, syslog | `Dec 04 18:10:05 host kernel: `, optionally followed by a dmesg stamp |
//! | `journalctl -o short-iso` | `2026-12-04T18:10:05+0000 host kernel: ` |
//! | `journalctl -o short-monotonic` | `[ 2446.291777] host kernel: ` |
//!
//! `/dev/kmsg` escapes bytes below 0x20 (and `\`) as `\xNN` inside a record
//! (kernel/printk/printk.c `msg_add_ext_text`), so a message printed with
//! embedded newlines (show_mem's `Mem-Info:` block, a v2 `memory.stat`
//! dump) is one record there and several lines everywhere else; it is split
//! here into lines carrying the record's stamp. Indented lines after a raw
//! record are its dictionary (`SUBSYSTEM=`, `DEVICE=`) and are dropped.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// The form a log line was saved in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// Raw `/dev/kmsg` records.
    Kmsg,
    /// `dmesg` with seconds since boot.
    Dmesg,
    /// `dmesg -T` with human local times.
    DmesgHuman,
    /// `journalctl -k` or a syslog file.
    Journal,
    /// Text without any prefix.
    Plain,
}

impl LogFormat {
    /// The name used in outputs.
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Kmsg => "kmsg",
            LogFormat::Dmesg => "dmesg",
            LogFormat::DmesgHuman => "dmesg -T",
            LogFormat::Journal => "journal",
            LogFormat::Plain => "plain",
        }
    }
}

/// When a line was printed, as far as its prefix says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// Microseconds since boot (kmsg, dmesg).
    pub since_boot_usec: Option<u64>,
    /// The wall-clock time as printed (`dmesg -T`, journal, syslog), in the
    /// printing machine's time zone unless it names one.
    pub wall: Option<String>,
}

/// One message line of a kernel log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine<'a> {
    /// 1-based line number in the input.
    pub line: usize,
    /// The form of its prefix.
    pub format: LogFormat,
    /// Its time stamp.
    pub stamp: Stamp,
    /// The printing context with CONFIG_PRINTK_CALLER: `T<pid>` for a task,
    /// `C<cpu>` for interrupt context.
    pub caller: Option<String>,
    /// The message text, prefix removed.
    pub text: Cow<'a, str>,
}

/// Split a saved or read log into message lines. Lines of other programs
/// in a syslog file (not `kernel:`) are left out.
pub fn split_log(text: &str) -> Vec<LogLine<'_>> {
    let mut out = Vec::new();
    let mut after_kmsg = false;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if after_kmsg && raw.starts_with(' ') {
            continue; // a record's dictionary
        }
        after_kmsg = false;
        if let Some((stamp, caller, body)) = kmsg_record(raw) {
            after_kmsg = true;
            match unescape(body) {
                Cow::Borrowed(b) => {
                    out.push(LogLine { line, format: LogFormat::Kmsg, stamp, caller, text: Cow::Borrowed(b) })
                }
                Cow::Owned(s) => {
                    for part in s.split('\n') {
                        out.push(LogLine {
                            line,
                            format: LogFormat::Kmsg,
                            stamp: stamp.clone(),
                            caller: caller.clone(),
                            text: Cow::Owned(part.to_string()),
                        });
                    }
                }
            }
            continue;
        }
        if let Some(l) = prefixed_line(line, raw) {
            out.push(l);
        }
    }
    out
}

/// `prio,seq,usec,flags[,caller=…];text`.
fn kmsg_record(raw: &str) -> Option<(Stamp, Option<String>, &str)> {
    let (head, body) = raw.split_once(';')?;
    let mut fields = head.split(',');
    let prio = fields.next()?;
    let seq = fields.next()?;
    let usec = fields.next()?;
    if ![prio, seq, usec].iter().all(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    fields.next()?; // flags
    let caller = fields.find_map(|f| f.strip_prefix("caller=")).map(str::to_string);
    let stamp = Stamp { since_boot_usec: usec.parse().ok(), wall: None };
    Some((stamp, caller, body))
}

/// Undo `/dev/kmsg`'s `\xNN` escapes.
fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains("\\x") {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && b.get(i + 1) == Some(&b'x')
            && let Some(v) = b.get(i + 2..i + 4).and_then(|h| std::str::from_utf8(h).ok())
            && let Ok(v) = u8::from_str_radix(v, 16)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

fn prefixed_line(line: usize, raw: &str) -> Option<LogLine<'_>> {
    let mut stamp = Stamp::default();
    let mut caller = None;
    let mut format = LogFormat::Plain;
    let mut rest = raw;
    if let Some((inside, after)) = bracket(rest) {
        if let Some(usec) = seconds_usec(inside) {
            stamp.since_boot_usec = Some(usec);
            format = LogFormat::Dmesg;
            rest = after;
        } else if is_human_time(inside) {
            stamp.wall = Some(squeeze(inside));
            format = LogFormat::DmesgHuman;
            rest = after;
        }
        if format != LogFormat::Plain {
            (caller, rest) = caller_bracket(rest);
        }
    } else if let Some((wall, after)) = syslog_time(rest) {
        stamp.wall = Some(wall);
        format = LogFormat::Journal;
        rest = after;
    }
    // `host kernel: ` after a journal or monotonic stamp.
    if format != LogFormat::Plain && format != LogFormat::DmesgHuman {
        let trimmed = rest.trim_start();
        let mut words = trimmed.splitn(3, ' ');
        if let (Some(_host), Some(tag)) = (words.next(), words.next()) {
            if tag == "kernel:" {
                rest = words.next().unwrap_or("");
                if format == LogFormat::Dmesg {
                    format = LogFormat::Journal;
                }
                // kern.log: `… kernel: [ 123.456] text`
                if let Some((inside, after)) = bracket(rest)
                    && let Some(usec) = seconds_usec(inside)
                {
                    stamp.since_boot_usec = Some(usec);
                    (caller, rest) = caller_bracket(after);
                }
            } else if format == LogFormat::Journal {
                return None; // another program's line in a syslog file
            }
        } else if format == LogFormat::Journal {
            return None;
        }
    }
    let text = if format == LogFormat::Plain { rest } else { rest.strip_prefix(' ').unwrap_or(rest) };
    Some(LogLine { line, format, stamp, caller, text: Cow::Borrowed(text) })
}

/// `[inside]rest`.
fn bracket(s: &str) -> Option<(&str, &str)> {
    let s = s.strip_prefix('[')?;
    let end = s.find(']')?;
    Some((&s[..end], &s[end + 1..]))
}

/// A caller bracket `[ T1234]` / `[  C1]` right after the stamp.
fn caller_bracket(s: &str) -> (Option<String>, &str) {
    if let Some((inside, after)) = bracket(s.trim_start_matches(' ')) {
        let id = inside.trim();
        let mut chars = id.chars();
        if matches!(chars.next(), Some('T' | 'C'))
            && !chars.as_str().is_empty()
            && chars.as_str().bytes().all(|b| b.is_ascii_digit())
        {
            return (Some(id.to_string()), after);
        }
    }
    (None, s)
}

/// `  123.456789` → microseconds.
fn seconds_usec(s: &str) -> Option<u64> {
    let (secs, frac) = s.trim().split_once('.')?;
    if secs.is_empty() || frac.is_empty() || frac.len() > 9 {
        return None;
    }
    if !secs.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = secs.parse().ok()?;
    let mut f: u64 = frac.parse().ok()?;
    let digits = frac.len() as u32;
    f = if digits <= 6 { f * 10u64.pow(6 - digits) } else { f / 10u64.pow(digits - 6) };
    secs.checked_mul(1_000_000)?.checked_add(f)
}

/// `Fri Dec  4 18:10:05 2026`.
fn is_human_time(s: &str) -> bool {
    let w: Vec<&str> = s.split_ascii_whitespace().collect();
    w.len() == 5 && MONTHS.contains(&w[1]) && w[3].matches(':').count() == 2 && w[4].parse::<u32>().is_ok()
}

fn squeeze(s: &str) -> String {
    s.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
}

/// `Dec 04 18:10:05 ` or `2026-12-04T18:10:05+0000 `: the time and the rest.
fn syslog_time(s: &str) -> Option<(String, &str)> {
    let first = s.split(' ').next()?;
    if MONTHS.contains(&first) {
        let mut rest = &s[first.len()..];
        rest = rest.trim_start_matches(' ');
        let day_end = rest.find(' ')?;
        let day = &rest[..day_end];
        if day.is_empty() || day.len() > 2 || !day.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        rest = &rest[day_end + 1..];
        let time = rest.get(..8)?;
        if time.matches(':').count() != 2 || !time.bytes().all(|b| b.is_ascii_digit() || b == b':') {
            return None;
        }
        return Some((format!("{first} {day} {time}"), &rest[8..]));
    }
    // ISO 8601: 2026-12-04T18:10:05[.ffffff][+zone]
    let b = first.as_bytes();
    if b.len() >= 19
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[..4].iter().all(u8::is_ascii_digit)
    {
        return Some((first.to_string(), &s[first.len()..]));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> LogLine<'_> {
        let mut v = split_log(s);
        assert_eq!(v.len(), 1, "{v:?}");
        v.remove(0)
    }

    #[test]
    fn raw_kmsg_record_with_caller() {
        let l = one("4,343,2446291777,-,caller=T9728;x invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL)");
        assert_eq!(l.format, LogFormat::Kmsg);
        assert_eq!(l.stamp.since_boot_usec, Some(2_446_291_777));
        assert_eq!(l.caller.as_deref(), Some("T9728"));
        assert!(l.text.starts_with("x invoked"));
    }

    #[test]
    fn raw_kmsg_escaped_newlines_become_lines_and_dictionaries_are_dropped() {
        let v = split_log("4,1,5,-;Mem-Info:\n4,2,6,-;active_anon:1\\x0a active_file:2\n SUBSYSTEM=pci\n");
        let texts: Vec<&str> = v.iter().map(|l| l.text.as_ref()).collect();
        assert_eq!(texts, ["Mem-Info:", "active_anon:1", " active_file:2"]);
        assert!(v[2].stamp.since_boot_usec == Some(6));
    }

    #[test]
    fn dmesg_stamps_with_and_without_caller() {
        let l = one("[ 2446.291777] memory: usage 65536kB");
        assert_eq!((l.format, l.stamp.since_boot_usec), (LogFormat::Dmesg, Some(2_446_291_777)));
        assert_eq!(l.text, "memory: usage 65536kB");
        let l = one("[ 2446.291777][ T9728] memory: usage 65536kB");
        assert_eq!(l.caller.as_deref(), Some("T9728"));
        assert_eq!(l.text, "memory: usage 65536kB");
        let l = one("[    5.5][    C1] hi");
        assert_eq!((l.caller.as_deref(), l.stamp.since_boot_usec), (Some("C1"), Some(5_500_000)));
    }

    #[test]
    fn dmesg_human_times_are_kept_as_printed() {
        let l = one("[Fri Dec  4 18:10:05 2026] Out of memory: Killed process 1 (a)");
        assert_eq!(l.format, LogFormat::DmesgHuman);
        assert_eq!(l.stamp.wall.as_deref(), Some("Fri Dec 4 18:10:05 2026"));
        assert_eq!(l.text, "Out of memory: Killed process 1 (a)");
    }

    #[test]
    fn journal_and_syslog_prefixes() {
        let l = one("Dec 04 18:10:05 web1 kernel: oom_reaper: reaped process 1 (a)");
        assert_eq!((l.format, l.stamp.wall.as_deref()), (LogFormat::Journal, Some("Dec 04 18:10:05")));
        assert_eq!(l.text, "oom_reaper: reaped process 1 (a)");
        let l = one("Dec  4 18:10:05 web1 kernel: [ 12.000001] Mem-Info:");
        assert_eq!(l.stamp.since_boot_usec, Some(12_000_001));
        assert_eq!(l.text, "Mem-Info:");
        assert!(split_log("Dec 04 18:10:05 web1 sshd[12]: Accepted key").is_empty());
        let l = one("2026-12-04T18:10:05+0000 web1 kernel: Mem-Info:");
        assert_eq!(l.stamp.wall.as_deref(), Some("2026-12-04T18:10:05+0000"));
        let l = one("[ 2446.291777] web1 kernel: Mem-Info:");
        assert_eq!((l.format, l.text.as_ref()), (LogFormat::Journal, "Mem-Info:"));
    }

    #[test]
    fn plain_text_is_kept_whole() {
        let l = one(" active_file:2 inactive_file:3");
        assert_eq!((l.format, l.text.as_ref()), (LogFormat::Plain, " active_file:2 inactive_file:3"));
    }
}
