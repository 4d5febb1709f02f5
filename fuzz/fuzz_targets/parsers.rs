//! Every kernel-file parser on arbitrary input: the first byte picks the
//! parser, the rest is the file (see `memscope_kernel::fuzzing`). A parser
//! may reject input; it may never panic, loop or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| memscope_kernel::fuzzing::parse_any(data));
