# Sourced by the build scripts: where things are, and which toolchain builds the kernel side.
# The kernel and every module built against it must use Debian's rustc 1.85, not rustup's.
: "${CPTRST_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/cptrst}"
CPTRST_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KSRC_TARBALL=/usr/src/linux-source-6.12.tar.xz
kernel_pkg_version() { dpkg-query -W -f='${Version}' linux-source-6.12; }
# Two kernels are built from scripts/kernel.config: "test" (all of it, with the
# debug options that catch module bugs: KASAN, lockdep, kmemleak) for `make check`,
# and "bench" (the same without its debug section) for `make bench`, since a KASAN
# kernel slows every kernel-side copy several times over and would skew the
# comparison with CRIU.
: "${CPTRST_KERNEL_FLAVOR:=test}"
kernel_config() {
    case "$CPTRST_KERNEL_FLAVOR" in
        test) cat "$CPTRST_TOP/scripts/kernel.config" ;;
        bench) sed '/^# Debug options/,$d' "$CPTRST_TOP/scripts/kernel.config" ;;
        *) echo "env.sh: CPTRST_KERNEL_FLAVOR must be test or bench, not '$CPTRST_KERNEL_FLAVOR'" >&2
           return 1 ;;
    esac
}
kernel_key() {
    local h cfg
    cfg=$(kernel_config) || return 1
    h=$({ printf '%s\n' "$cfg"; cat "$CPTRST_TOP/scripts/build-kernel"; } | sha256sum | cut -c1-12)
    if [[ "$CPTRST_KERNEL_FLAVOR" == test ]]; then
        echo "linux-$(kernel_pkg_version)-$h"
    else
        echo "linux-$(kernel_pkg_version)-$CPTRST_KERNEL_FLAVOR-$h"
    fi
}
# The default test kernel tree (a built, Rust-enabled tree).
default_kdir() { echo "$CPTRST_CACHE/$(kernel_key)/linux"; }
KBUILD_PATH="/usr/bin:$HOME/.cargo/bin:$PATH"
BINDGEN_BIN=$(PATH="$HOME/.cargo/bin:$PATH" command -v bindgen || echo bindgen)
KMAKE=(make LLVM=1 RUSTC=/usr/bin/rustc BINDGEN="$BINDGEN_BIN")
