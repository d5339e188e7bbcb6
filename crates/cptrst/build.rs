//! Builds the C eclone library (lib/cptrst_eclone.c), shared with the C
//! kselftests, into the tools.
fn main() {
    let top = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let src = top.join("lib/cptrst_eclone.c");
    println!("cargo:rerun-if-changed={}", src.display());
    println!("cargo:rerun-if-changed={}", top.join("include/cptrst_eclone.h").display());
    println!("cargo:rerun-if-changed={}", top.join("include/uapi/linux/cptrst.h").display());
    cc::Build::new()
        .file(&src)
        .include(top.join("include"))
        .include(top.join("include/uapi"))
        .warnings(true)
        .compile("cptrst_eclone");
}
