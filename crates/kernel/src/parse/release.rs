//! The kernel release (`uname -r`: `3.10.0-1160.el7.x86_64`) and where to
//! find it: `/proc/sys/kernel/osrelease`, or the third word of
//! `/proc/version`, which fs/proc/version.c prints as
//!
//! ```text
//! Linux version 3.10.0-1160.el7.x86_64 (mockbuild@x86-vm-26.build.eng.bos.redhat.com) (gcc version 4.8.5 20150623 (Red Hat 4.8.5-44) (GCC) ) #1 SMP Tue Aug 18 14:50:17 EDT 2020
//! ```
//! (`linux_proc_banner`, unchanged since 2.6). Choices that depend on the
//! kernel version take [`version`] of the release; an unparsable release is
//! an unknown version, never a guess.

/// The release in `/proc/version`'s text: the word after `Linux version`.
pub fn from_proc_version(text: &str) -> Option<String> {
    let mut words = text.split_ascii_whitespace();
    if words.next()? != "Linux" || words.next()? != "version" {
        return None;
    }
    let r = words.next()?;
    version(r).map(|_| r.to_string())
}

/// The release in a MANIFEST's `kernel:` value (`3.10.0-1160.el7.x86_64`,
/// possibly followed by words): its first word, when it reads as a release.
pub fn from_manifest(value: &str) -> Option<String> {
    let r = value.split_ascii_whitespace().next()?;
    version(r).map(|_| r.to_string())
}

/// `6.18.44-fc-v669` → (6, 18); `3.2` → (3, 2). `None` unless the release
/// starts with two dot-separated numbers.
pub fn version(release: &str) -> Option<(u32, u32)> {
    let mut it = release.splitn(3, '.');
    let major = it.next()?.parse().ok()?;
    let minor: String = it.next()?.chars().take_while(char::is_ascii_digit).collect();
    Some((major, minor.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn proc_version_of_rhel7_and_android() {
        let rhel = "Linux version 3.10.0-1160.el7.x86_64 (mockbuild@x86-vm-26.build.eng.bos.redhat.com) \
                    (gcc version 4.8.5 20150623 (Red Hat 4.8.5-44) (GCC) ) #1 SMP Tue Aug 18 14:50:17 EDT 2020\n";
        assert_eq!(from_proc_version(rhel).as_deref(), Some("3.10.0-1160.el7.x86_64"));
        let arm = "Linux version 3.4.0-perf-g1a2b3c4 (build@host) (gcc version 4.7 (GCC) ) #1 SMP PREEMPT Mon Jan 5 2015\n";
        assert_eq!(from_proc_version(arm).as_deref(), Some("3.4.0-perf-g1a2b3c4"));
        assert_eq!(from_proc_version(""), None);
        assert_eq!(from_proc_version("Linux version garbage"), None);
    }

    #[test]
    fn versions_and_manifest_values() {
        assert_eq!(version("6.18.44-fc-v669"), Some((6, 18)));
        assert_eq!(version("4.4"), Some((4, 4)));
        assert_eq!(version("5.3-rc1"), Some((5, 3)));
        assert_eq!(version("garbage"), None);
        assert_eq!(version("4"), None);
        assert_eq!(
            from_manifest("4.18.0-553.el8_10.x86_64 (hand-made)").as_deref(),
            Some("4.18.0-553.el8_10.x86_64")
        );
        assert_eq!(from_manifest("unknown"), None);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = from_proc_version(&s);
            let _ = from_manifest(&s);
            let _ = version(&s);
        }
    }
}
