//! With the `bpf` feature: compile `src/bpf/trace.bpf.c` with clang (BPF
//! target, CO-RE) and generate its Rust skeleton into OUT_DIR. Without it:
//! nothing, so the default build needs no clang.

fn main() {
    #[cfg(feature = "bpf")]
    bpf::build();
}

#[cfg(feature = "bpf")]
mod bpf {
    use std::path::PathBuf;

    const SRC: &str = "src/bpf/trace.bpf.c";

    pub fn build() {
        let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"))
            .join("trace.skel.rs");
        let mut builder = libbpf_cargo::SkeletonBuilder::new();
        builder.source(SRC).clang_args(["-Isrc/bpf", "-Wall", "-Werror"]);
        if let Some(clang) = std::env::var_os("CLANG") {
            builder.clang(clang);
        }
        if let Err(e) = builder.build_and_generate(&out) {
            panic!(
                "building the BPF tracer ({SRC}) failed: {e:#}\n\
                 The `trace-bpf` feature needs clang (Debian: apt-get install clang libelf-dev \
                 zlib1g-dev pkg-config; scripts/install-test-deps does it). Set CLANG to use another clang."
            );
        }
        println!("cargo:rerun-if-changed={SRC}");
        println!("cargo:rerun-if-changed=src/bpf/vmlinux.h");
        println!("cargo:rerun-if-env-changed=CLANG");
    }
}
