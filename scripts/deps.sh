#!/usr/bin/env bash
# Install what cptrst needs to build and test, idempotently.
# Debian 12 (bookworm), x86_64. As non-root: print the commands and exit 1.
set -euo pipefail

RUST_VER="1.85.0+dfsg3-1~deb12u3"
BINDGEN_VER="0.69.5"
# rustfmt-web and rust-web-clippy: the gates' rustfmt and clippy-driver (scripts/gates),
# the same 1.85 toolchain as the kernel's rustc (a clippy-driver must match the rustc that
# built the kernel's crates; /usr/bin/rustfmt formats like the kernel's `make rustfmt`).
PKGS_PINNED=("rustc-web=$RUST_VER" "rust-web-src=$RUST_VER" "libstd-rust-web-dev=$RUST_VER"
             "rustfmt-web=$RUST_VER" "rust-web-clippy=$RUST_VER")
PKGS=(linux-source-6.12 clang lld llvm libclang-dev flex bison bc libelf-dev libssl-dev
      cpio kmod qemu-system-x86 busybox-static xz-utils make gcc libc6-dev git criu
      gnuplot-nox linux-perf perl python3)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
for p in "${PKGS_PINNED[@]}"; do
    name=${p%%=*}; ver=${p#*=}
    have=$(dpkg-query -W -f='${Status} ${Version}' "$name" 2>/dev/null || true)
    [[ "$have" == "install ok installed $ver" ]] || missing+=("$p")
done

need_bindgen=0
if ! command -v bindgen >/dev/null 2>&1 && [[ ! -x "$HOME/.cargo/bin/bindgen" ]]; then
    need_bindgen=1
elif ! { bindgen --version 2>/dev/null || "$HOME/.cargo/bin/bindgen" --version; } | grep -q " $BINDGEN_VER\$"; then
    need_bindgen=1
fi

if [[ ${#missing[@]} -eq 0 && $need_bindgen -eq 0 ]]; then
    exit 0
fi

cmds=()
[[ ${#missing[@]} -gt 0 ]] && cmds+=("apt-get update" "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}")
[[ $need_bindgen -eq 1 ]] && cmds+=("cargo install --locked bindgen-cli --version $BINDGEN_VER")

if [[ $(id -u) -ne 0 ]]; then
    echo "cptrst: missing build dependencies. Run as root:" >&2
    for c in "${cmds[@]}"; do echo "    $c" >&2; done
    exit 1
fi

for c in "${cmds[@]}"; do
    echo "+ $c" >&2
    eval "$c" >&2
done
# The pinned compiler must be the one installed: a newer one has not been verified with 6.12.
if ! /usr/bin/rustc --version | grep -q '^rustc 1\.85\.'; then
    echo "cptrst: /usr/bin/rustc is not 1.85 ($(/usr/bin/rustc --version)); the kernel build needs rustc-web $RUST_VER" >&2
    exit 1
fi
