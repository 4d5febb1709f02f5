//! With the `bpf` feature: compile `src/bpf/trace.bpf.c` (kernel allocations)
//! and `src/bpf/utrace.bpf.c` (user allocations) with clang (BPF target,
//! CO-RE) and generate their Rust skeletons into OUT_DIR. Without it:
//! nothing, so the default build needs no clang.

fn main() {
    #[cfg(feature = "bpf")]
    bpf::build();
}

#[cfg(feature = "bpf")]
mod bpf {
    use std::path::PathBuf;

    pub fn build() {
        one("src/bpf/trace.bpf.c", "trace.skel.rs");
        one("src/bpf/utrace.bpf.c", "utrace.skel.rs");
        println!("cargo:rerun-if-changed=src/bpf/vmlinux.h");
        println!("cargo:rerun-if-env-changed=CLANG");
    }

    fn one(src: &str, skel: &str) {
        let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo")).join(skel);
        let mut builder = libbpf_cargo::SkeletonBuilder::new();
        builder.source(src).clang_args(["-Isrc/bpf", "-Wall", "-Werror"]);
        if let Some(clang) = std::env::var_os("CLANG") {
            builder.clang(clang);
        }
        if let Err(e) = builder.build_and_generate(&out) {
            panic!(
                "building the BPF tracer ({src}) failed: {e:#}\n\
                 The `trace-bpf` feature needs clang (Debian: apt-get install clang libelf-dev \
                 zlib1g-dev pkg-config; scripts/install-test-deps does it). Set CLANG to use another clang."
            );
        }
        println!("cargo:rerun-if-changed={src}");
    }
}
