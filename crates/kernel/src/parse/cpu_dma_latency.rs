//! `/dev/cpu_dma_latency`: the CPU latency QoS limit (kernel/power/qos.c,
//! Documentation/power/pm_qos_interface.rst).
//!
//! Reading gives the limit in force, the smallest of every open request, as
//! a native-endian `s32` in microseconds. `PM_QOS_DEFAULT_VALUE`
//! (2 000 000 000) means no process holds a limit: idle states follow the
//! cpuidle governor. A process lowers it by writing a value (binary `s32`,
//! or hexadecimal text) and keeping the file open; the request ends when it
//! closes the file.

/// The value meaning "no limit requested" (`PM_QOS_CPU_LATENCY_DEFAULT_VALUE`).
pub const NO_LIMIT_USEC: i32 = 2_000_000_000;

/// The limit in microseconds from the 4 bytes the device returns. `None`
/// for any other length.
pub fn parse(data: &[u8]) -> Option<i32> {
    let bytes: [u8; 4] = data.try_into().ok()?;
    Some(i32::from_ne_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn default_and_zero() {
        assert_eq!(parse(&NO_LIMIT_USEC.to_ne_bytes()), Some(NO_LIMIT_USEC));
        assert_eq!(parse(&0i32.to_ne_bytes()), Some(0));
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"12345"), None);
    }

    proptest! {
        #[test]
        fn never_panics(d in proptest::collection::vec(any::<u8>(), 0..16)) { let _ = parse(&d); }
    }
}
