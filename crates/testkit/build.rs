//! Build the C workloads of the user-space tracer's tests
//! (`c/utrace-workload.c`) with the system C compiler, through the cc
//! crate's compiler detection: once with frame pointers and debuginfo, once
//! without either. Their paths reach the tests as `MEMSCOPE_UTRACE_FP` and
//! `MEMSCOPE_UTRACE_NOFP`.

use std::path::PathBuf;
use std::process::Command;

const SRC: &str = "c/utrace-workload.c";

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let compiler = cc::Build::new().cargo_metadata(false).cargo_warnings(false).get_compiler();
    for (name, env, flags) in [
        ("utrace-workload-fp", "MEMSCOPE_UTRACE_FP", &["-g", "-fno-omit-frame-pointer"][..]),
        ("utrace-workload-nofp", "MEMSCOPE_UTRACE_NOFP", &["-g0", "-fomit-frame-pointer"][..]),
    ] {
        let exe = out.join(name);
        let mut cmd: Command = compiler.to_command();
        cmd.args(["-O1", "-fno-optimize-sibling-calls", "-Wall", "-Werror", "-pthread"])
            .args(flags)
            .arg(SRC)
            .arg("-o")
            .arg(&exe);
        let status = cmd.status().unwrap_or_else(|e| panic!("cannot run the C compiler for {SRC}: {e}"));
        assert!(status.success(), "compiling {SRC} failed ({status}): {cmd:?}");
        println!("cargo:rustc-env={env}={}", exe.display());
    }
    println!("cargo:rerun-if-changed={SRC}");
}
