//! `/proc/PID/mountinfo` (fs/proc_namespace.c `show_mountinfo`, proc(5)).
//!
//! One mount per line:
//!
//! ```text
//! 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//! (1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11)
//! ```
//!
//! mount id, parent id, `major:minor`, root (the directory of the file
//! system that is mounted here), mount point, per-mount options, zero or more
//! optional fields (`shared:N`, `master:N`, …) ended by a lone `-`, file
//! system type, source, per-superblock options.
//!
//! Paths and names are escaped by the kernel: a space, tab, newline or
//! backslash (and `#` on recent kernels) prints as a backslash and three octal
//! digits (`\040`); they are unescaped here. For a cgroup mount the *root*
//! field matters: it is the cgroup path of the mounted directory, so a
//! container that bind-mounts its own cgroup shows `/docker/<id>` there, and
//! a mount made inside a cgroup namespace shows `/` (the namespace root).
//! procfs-core's `MountInfo` was not used: it fails the whole file on one
//! malformed line and keeps the octal escapes in paths.

use serde::{Deserialize, Serialize};

use crate::parse::Malformed;

/// One mount.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// Unique id of the mount (may be reused after unmount).
    pub mount_id: u32,
    /// Id of the parent mount.
    pub parent_id: u32,
    /// `major:minor` of the file system (`st_dev`).
    pub major_minor: String,
    /// Directory of the file system that forms the root of this mount
    /// (unescaped). For cgroupfs: the cgroup path of the mount point.
    pub root: String,
    /// Mount point, relative to the process's root (unescaped).
    pub mount_point: String,
    /// Per-mount options (`rw`, `nosuid`, `relatime`, …).
    pub mount_options: Vec<String>,
    /// Optional fields (`shared:1`, `master:2`, `propagate_from:3`, `unbindable`).
    pub optional_fields: Vec<String>,
    /// File system type (`cgroup`, `cgroup2`, `ext4`, …).
    pub fs_type: String,
    /// Source (`/dev/sda1`, `cgroup`, `none`; unescaped).
    pub source: String,
    /// Per-superblock options; for cgroup v1 these name the controllers
    /// (`rw,memory`, `rw,cpu,cpuacct`, `rw,name=systemd`).
    pub super_options: Vec<String>,
}

/// Every mount of one mountinfo file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mountinfo {
    /// Mounts, in the file's order (parents before children).
    pub mounts: Vec<Mount>,
    /// Lines that were skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<Malformed>,
}

impl Mountinfo {
    /// Parse a mountinfo file. Never fails; malformed lines are listed.
    pub fn parse(text: &str) -> Mountinfo {
        let mut out = Mountinfo::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match parse_line(line) {
                Some(m) => out.mounts.push(m),
                None => out.malformed.push(Malformed::new(i, line)),
            }
        }
        out
    }

    /// Mounts of this file system type, in order.
    pub fn of_type<'a>(&'a self, fs_type: &'a str) -> impl Iterator<Item = &'a Mount> + 'a {
        self.mounts.iter().filter(move |m| m.fs_type == fs_type)
    }
}

fn parse_line(line: &str) -> Option<Mount> {
    let mut it = line.split(' ').filter(|f| !f.is_empty());
    let mount_id = it.next()?.parse().ok()?;
    let parent_id = it.next()?.parse().ok()?;
    let major_minor = it.next()?.to_string();
    if !major_minor.contains(':') {
        return None;
    }
    let root = unescape(it.next()?);
    let mount_point = unescape(it.next()?);
    let mount_options = options(it.next()?);
    let mut optional_fields = Vec::new();
    loop {
        let f = it.next()?;
        if f == "-" {
            break;
        }
        optional_fields.push(f.to_string());
    }
    let fs_type = unescape(it.next()?);
    let source = unescape(it.next()?);
    // The superblock options may be absent on very old kernels' odd mounts;
    // an empty list is then the honest value.
    let super_options = it.next().map(options).unwrap_or_default();
    if it.next().is_some() {
        return None;
    }
    Some(Mount {
        mount_id,
        parent_id,
        major_minor,
        root,
        mount_point,
        mount_options,
        optional_fields,
        fs_type,
        source,
        super_options,
    })
}

fn options(field: &str) -> Vec<String> {
    field.split(',').filter(|o| !o.is_empty()).map(unescape).collect()
}

/// Undo the kernel's `\ooo` octal escapes (fs/seq_file.c `seq_escape`).
/// A backslash not followed by three octal digits is kept as is.
pub fn unescape(field: &str) -> String {
    if !field.contains('\\') {
        return field.to_string();
    }
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = (b[i + 1] - b'0') as u32 * 64 + (b[i + 2] - b'0') as u32 * 8 + (b[i + 3] - b'0') as u32;
            if v <= 0xff {
                out.push(v as u8);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The cgroup mounts of a Debian 12 machine with hybrid cgroups.
    const HYBRID: &str = "\
23 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_cgroup_mounts() {
        let m = Mountinfo::parse(HYBRID);
        assert!(m.malformed.is_empty(), "{:?}", m.malformed);
        assert_eq!(m.mounts.len(), 6);
        let mem = &m.mounts[3];
        assert_eq!(mem.mount_id, 35);
        assert_eq!(mem.parent_id, 31);
        assert_eq!(mem.major_minor, "0:32");
        assert_eq!(mem.root, "/");
        assert_eq!(mem.mount_point, "/sys/fs/cgroup/memory");
        assert_eq!(mem.fs_type, "cgroup");
        assert_eq!(mem.super_options, vec!["rw", "memory"]);
        assert_eq!(m.mounts[0].optional_fields, vec!["shared:7"]);
        assert_eq!(m.of_type("cgroup2").count(), 1);
        assert_eq!(m.of_type("cgroup").count(), 3);
    }

    #[test]
    fn escaped_paths_are_unescaped() {
        let m = Mountinfo::parse(
            "50 23 0:40 /docker/a\\040b /sys/fs/cgroup/my\\011dir rw shared:1 master:2 - cgroup2 cgroup2 rw\n",
        );
        let mount = &m.mounts[0];
        assert_eq!(mount.root, "/docker/a b");
        assert_eq!(mount.mount_point, "/sys/fs/cgroup/my\tdir");
        assert_eq!(mount.optional_fields, vec!["shared:1", "master:2"]);
        assert_eq!(unescape("a\\134b"), "a\\b");
        assert_eq!(unescape("trailing\\04"), "trailing\\04");
        assert_eq!(unescape("\\999"), "\\999");
    }

    #[test]
    fn malformed_lines_are_listed() {
        let m = Mountinfo::parse(
            "x 1 0:1 / / rw - ext4 /dev/a rw\n1 2 0:3 / / rw\n7 1 0:9 / /a rw - t s o extra\n",
        );
        assert!(m.mounts.is_empty());
        assert_eq!(m.malformed.len(), 3);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") { let _ = Mountinfo::parse(&s); }

        #[test]
        fn never_panics_on_escapes(s in "[0-9 \\\\/a-z:-]*") { let _ = Mountinfo::parse(&s); let _ = unescape(&s); }
    }
}
