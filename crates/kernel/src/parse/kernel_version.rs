//! `/proc/sys/kernel/version`: the string `uname -v` prints (UTS_VERSION).
//!
//! init/Makefile builds it as `#<build> [SMP] [<preempt flag>] <timestamp>`,
//! cut to 64 bytes, e.g. `#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)`.
//! The preempt flag is the last of these that the configuration sets, in
//! this order: `PREEMPT` (CONFIG_PREEMPT_BUILD), `PREEMPT_DYNAMIC`,
//! `PREEMPT_RT`; so a real-time kernel says `PREEMPT_RT` even when it is
//! also dynamic. Some trees add `PREEMPT_LAZY` or `PREEMPT_AUTO`. Only whole
//! words count: `PREEMPT_RTX` is not `PREEMPT_RT`.

use serde::{Deserialize, Serialize};

/// The preemption words found in a UTS version string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelVersion {
    /// The whole string, trimmed.
    pub text: String,
    /// `SMP` is present.
    pub smp: bool,
    /// The preempt flag: `PREEMPT`, `PREEMPT_DYNAMIC`, `PREEMPT_RT`,
    /// `PREEMPT_LAZY` or `PREEMPT_AUTO`; `None` when the kernel was built
    /// without preemption (CONFIG_PREEMPT_NONE or VOLUNTARY, not dynamic).
    pub preempt_flag: Option<String>,
}

const FLAGS: [&str; 5] = ["PREEMPT", "PREEMPT_DYNAMIC", "PREEMPT_RT", "PREEMPT_LAZY", "PREEMPT_AUTO"];

impl KernelVersion {
    /// Parse the string. Never fails.
    pub fn parse(text: &str) -> KernelVersion {
        let text = text.lines().next().unwrap_or("").trim().to_string();
        let words: Vec<&str> = text.split_ascii_whitespace().collect();
        let smp = words.contains(&"SMP");
        // PREEMPT_RT wins wherever it stands (it is the last flag set).
        let preempt_flag = if words.contains(&"PREEMPT_RT") {
            Some("PREEMPT_RT".to_string())
        } else {
            words.iter().find(|w| FLAGS.contains(w)).map(|w| w.to_string())
        };
        KernelVersion { text, smp, preempt_flag }
    }

    /// True for a PREEMPT_RT kernel.
    pub fn is_rt(&self) -> bool {
        self.preempt_flag.as_deref() == Some("PREEMPT_RT")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dynamic() {
        let v = KernelVersion::parse("#1 SMP PREEMPT_DYNAMIC @0\n");
        assert!(v.smp);
        assert_eq!(v.preempt_flag.as_deref(), Some("PREEMPT_DYNAMIC"));
        assert!(!v.is_rt());
    }

    #[test]
    fn debian_rt() {
        let v = KernelVersion::parse("#1 SMP PREEMPT_RT Debian 6.1.76-1 (2024-02-01)");
        assert!(v.is_rt());
    }

    #[test]
    fn not_preemptible_and_partial_words() {
        assert_eq!(KernelVersion::parse("#1 SMP Tue Jan 2 2024").preempt_flag, None);
        assert_eq!(KernelVersion::parse("#7 SMP PREEMPT_RTX x").preempt_flag, None);
        assert_eq!(KernelVersion::parse("#7 PREEMPT x").preempt_flag.as_deref(), Some("PREEMPT"));
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") { let _ = KernelVersion::parse(&s).is_rt(); }
    }
}
