# Sourced by the build scripts: where things are, and which toolchain builds the kernel side.
# The kernel and every module built against it must use Debian's rustc 1.85, not rustup's.
: "${CPTRST_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/cptrst}"
CPTRST_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KSRC_TARBALL=/usr/src/linux-source-6.12.tar.xz
kernel_pkg_version() { dpkg-query -W -f='${Version}' linux-source-6.12; }
kernel_key() {
    local h
    h=$(cat "$CPTRST_TOP/scripts/kernel.config" "$CPTRST_TOP/scripts/build-kernel" | sha256sum | cut -c1-12)
    echo "linux-$(kernel_pkg_version)-$h"
}
# The default test kernel tree (a built, Rust-enabled tree).
default_kdir() { echo "$CPTRST_CACHE/$(kernel_key)/linux"; }
KBUILD_PATH="/usr/bin:$HOME/.cargo/bin:$PATH"
BINDGEN_BIN=$(PATH="$HOME/.cargo/bin:$PATH" command -v bindgen || echo bindgen)
KMAKE=(make LLVM=1 RUSTC=/usr/bin/rustc BINDGEN="$BINDGEN_BIN")
