//! The kernel's build configuration: `/proc/config.gz` (CONFIG_IKCONFIG_PROC,
//! gzip; the caller decompresses) or `/boot/config-<release>` (Debian).
//!
//! `CONFIG_NAME=value` lines, where value is `y`, `m`, a number or a quoted
//! string, and `# CONFIG_NAME is not set` lines for options turned off
//! (kept as `n`). Other comments and blank lines are skipped.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Malformed;

/// Every option of one configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kconfig {
    /// `CONFIG_HZ` → `250`; options not set → `n`. Quotes kept as printed.
    pub options: BTreeMap<String, String>,
    /// Lines that were skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<Malformed>,
}

impl Kconfig {
    /// Parse a configuration. Never fails; malformed lines are listed.
    pub fn parse(text: &str) -> Kconfig {
        let mut k = Kconfig::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if let Some(c) = line.strip_prefix("# ") {
                if let Some(name) = c.strip_suffix(" is not set")
                    && name.starts_with("CONFIG_")
                    && !name.contains(' ')
                {
                    k.options.insert(name.to_string(), "n".to_string());
                }
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            match line.split_once('=') {
                Some((name, value)) if name.starts_with("CONFIG_") && !name.contains(' ') => {
                    k.options.insert(name.to_string(), value.to_string());
                }
                _ => k.malformed.push(Malformed::new(i, line)),
            }
        }
        k
    }

    /// The raw value of an option (`CONFIG_HZ` → `250`), `None` when the
    /// configuration does not mention it (the option does not exist in this
    /// kernel version or its dependencies are off).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.options.get(name).map(String::as_str)
    }

    /// `Some(true)` for `y` or `m`, `Some(false)` for "is not set",
    /// `None` when not mentioned.
    pub fn enabled(&self, name: &str) -> Option<bool> {
        self.get(name).map(|v| v == "y" || v == "m")
    }

    /// A numeric option.
    pub fn number(&self, name: &str) -> Option<u64> {
        self.get(name)?.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE: &str = "#\n# Automatically generated file; DO NOT EDIT.\n#\nCONFIG_CC_VERSION_TEXT=\"gcc 12\"\n\
CONFIG_HZ_250=y\nCONFIG_HZ=250\n# CONFIG_PREEMPT_RT is not set\nCONFIG_PREEMPT_DYNAMIC=y\nCONFIG_KVM=m\n\
garbage line\n";

    #[test]
    fn options() {
        let k = Kconfig::parse(SAMPLE);
        assert_eq!(k.number("CONFIG_HZ"), Some(250));
        assert_eq!(k.enabled("CONFIG_PREEMPT_RT"), Some(false));
        assert_eq!(k.enabled("CONFIG_PREEMPT_DYNAMIC"), Some(true));
        assert_eq!(k.enabled("CONFIG_KVM"), Some(true));
        assert_eq!(k.enabled("CONFIG_NO_HZ_FULL"), None);
        assert_eq!(k.get("CONFIG_CC_VERSION_TEXT"), Some("\"gcc 12\""));
        assert_eq!(k.malformed.len(), 1);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") { let _ = Kconfig::parse(&s).number("CONFIG_HZ"); }
    }
}
