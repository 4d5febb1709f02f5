//! `read-files LIST`: the physical floor of a scan, for the benchmark
//! scripts. LIST holds one kernel path per line, as a traced run of memscope
//! opened them: a path ending in `/` is listed, `@path` is a link read, any
//! other path is opened, read and closed. Every file is read into one
//! buffer, kept, until a read returns less than the buffer holds (one read
//! for most kernel files: a file of several `seq_file` records may end
//! sooner than a full read would, which only makes the floor lower); nothing
//! is parsed or printed. It runs on one thread and exits.

use std::io::Read;

pub fn run(args: &[String]) -> i32 {
    let Some(list) = args.get(1) else {
        eprintln!("memscope-workload: read-files LIST");
        return 2;
    };
    let list = match std::fs::read_to_string(list) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("memscope-workload: {list}: {e}");
            return 2;
        }
    };
    let mut buf = vec![0u8; 64 << 10];
    let (mut read, mut failed) = (0usize, 0usize);
    for line in list.lines().filter(|l| !l.is_empty()) {
        let ok = if let Some(link) = line.strip_prefix('@') {
            std::fs::read_link(link).is_ok()
        } else if line.ends_with('/') {
            std::fs::read_dir(line).map(|d| d.count()).is_ok()
        } else {
            match std::fs::File::open(line) {
                Ok(mut f) => loop {
                    match f.read(&mut buf) {
                        Ok(n) if n < buf.len() => break true,
                        Ok(_) => continue,
                        Err(_) => break false,
                    }
                },
                Err(_) => false,
            }
        };
        if ok {
            read += 1;
        } else {
            failed += 1;
        }
    }
    // The counts go to stderr: a run under a benchmark shows nothing.
    if std::env::var_os("MEMSCOPE_FLOOR_VERBOSE").is_some() {
        eprintln!("read {read}, failed {failed}");
    }
    0
}
