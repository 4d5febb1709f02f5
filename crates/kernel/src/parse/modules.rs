//! `/proc/modules`: the loaded kernel modules, one per line
//! (kernel/module/procfs.c `m_show`):
//!
//! ```text
//! hv_balloon 24576 0 [permanent], Live 0xffffffffc0599000
//! virtio_balloon 28672 0 - Live 0x0000000000000000
//! ```
//!
//! name, size in bytes, reference count, users (`-` for none), state
//! (`Live`, `Loading`, `Unloading`) and address (zero for non-root). Only
//! the names and sizes are kept; a line without them is listed in
//! `malformed`.

/// One loaded module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// The module's name (`hv_balloon`).
    pub name: String,
    /// Memory its code and data take, bytes.
    pub size_bytes: u64,
}

/// The parsed file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Modules {
    /// Modules in the kernel's order.
    pub modules: Vec<Module>,
    /// 1-based numbers of lines that are not `name size …`.
    pub malformed: Vec<usize>,
}

impl Modules {
    /// Parse the text of `/proc/modules`. Never fails: an odd line is
    /// listed in `malformed`.
    pub fn parse(text: &str) -> Modules {
        let mut out = Modules::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let mut w = line.split_whitespace();
            match (w.next(), w.next().and_then(|s| s.parse::<u64>().ok())) {
                (Some(name), Some(size_bytes)) => {
                    out.modules.push(Module { name: name.to_string(), size_bytes })
                }
                _ => out.malformed.push(i + 1),
            }
        }
        out
    }

    /// Is a module of this name loaded?
    pub fn has(&self, name: &str) -> bool {
        self.modules.iter().any(|m| m.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_of_a_hyperv_guest() {
        let m = Modules::parse(
            "hv_balloon 24576 0 [permanent], Live 0xffffffffc0599000\n\
             hv_vmbus 106496 7 hyperv_fb,hv_balloon,hv_utils, Live 0xffffffffc0378000\n\
             virtio_balloon 28672 0 - Live 0x0000000000000000\n\
             garbage\n",
        );
        assert!(m.has("hv_balloon") && m.has("virtio_balloon") && !m.has("vmw_balloon"));
        assert_eq!(m.modules[1], Module { name: "hv_vmbus".into(), size_bytes: 106496 });
        assert_eq!(m.malformed, [4]);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in ".*") {
            let _ = Modules::parse(&text);
        }
    }
}
