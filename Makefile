# SPDX-License-Identifier: GPL-2.0
# cptrst: top-level Makefile.
#
#   make            build cptrst.ko against KDIR (default: the cached test kernel)
#   make modules_install   install it (the kernel's modules_install, M=; INSTALL_MOD_PATH=)
#   make rust-analyzer     write rust-project.json for the module (the kernel's target, M=)
#   make check      install what is missing, build everything, run all tests
#                   and the gates (rustfmt, CLIPPY=1, cargo clippy, checkpatch, abi)
#   make gates      the gates alone (scripts/gates)
#   make rustfmt    format the module's Rust under the kernel's .rustfmt.toml
#   make demo       boot the test VM and show cptrst at work
#   make bench      cptrst against CRIU (build/bench/, Documentation/bench/)
#   make fuzz-guest many more kselftest-fuzz mutants (Documentation/testing.rst)
#   make KDIR=/path/to/tree   build the module against another Rust-enabled tree
#                   (or, from the kernel's side: make -C /path/to/tree M=$PWD)
#
# Kernel-side builds use Debian's rustc 1.85 (RUSTC=/usr/bin/rustc): the
# kernel and its modules must be built by the same compiler.

TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
SHELL := /bin/bash
BINDGEN ?= $(shell PATH="$$HOME/.cargo/bin:$$PATH" command -v bindgen || echo bindgen)
KMAKE = PATH="/usr/bin:$$HOME/.cargo/bin:$$PATH" $(MAKE) LLVM=1 RUSTC=/usr/bin/rustc BINDGEN=$(BINDGEN)
GUEST_BIN := $(TOP)/build/guest-bin

ifeq ($(KDIR),)
KDIR_DEFAULT := 1
endif

.PHONY: all module modules_install rust-analyzer rustfmt gates deps kernel tools benches progs guest-bin kselftests check check-host check-guest fuzz-guest demo bench clean clean-cache

all: module

deps:
	@bash $(TOP)/scripts/deps.sh

# The test kernel is built only when KDIR is not given.
kernel: deps
ifdef KDIR_DEFAULT
	@bash $(TOP)/scripts/build-kernel >/dev/null
endif

# The kernel tree, in a recipe's shell: KDIR, or the cached test kernel.
KTREE = $(if $(KDIR),$(KDIR),$$(bash $(TOP)/scripts/build-kernel))

# Kbuild checks the tree's .config for what cptrst needs (README.md).
module: kernel
	+$(KMAKE) -C "$(KTREE)" M=$(TOP) modules

# To INSTALL_MOD_PATH (default /) under lib/modules/<release>/updates, then depmod.
modules_install: module
	+$(KMAKE) -C "$(KTREE)" M=$(TOP) modules_install

rust-analyzer: kernel
	+$(KMAKE) -C "$(KTREE)" M=$(TOP) rust-analyzer
	@python3 $(TOP)/scripts/rust-analyzer-project $(TOP)

# Static test programs for the guest (kselftest_harness.h from the kernel tree).
KSELFTESTS := $(patsubst $(TOP)/tests/kselftest/%.c,$(GUEST_BIN)/kselftest-%,$(wildcard $(TOP)/tests/kselftest/*.c))
kselftests: kernel
	@mkdir -p $(GUEST_BIN)
	+@$(MAKE) -s -f $(TOP)/tests/kselftest/Makefile TOP=$(TOP) OUT=$(GUEST_BIN) \
		KDIR="$(if $(KDIR),$(KDIR),$$(bash $(TOP)/scripts/build-kernel))" all

# The tools, static (glibc's crt-static), for the guest.
TOOLS_TARGET := x86_64-unknown-linux-gnu
GUEST_RUST_BINS := cptrst cptrst-testprog cptrst-bench $(notdir $(basename $(wildcard $(TOP)/crates/cptrst-tests/src/bin/kselftest-*.rs)))
tools:
	@mkdir -p $(GUEST_BIN)
	cd $(TOP) && RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked \
		--target $(TOOLS_TARGET) -p cptrst -p cptrst-tests --bins
	install -m 0755 $(addprefix $(TOP)/target/$(TOOLS_TARGET)/release/,$(GUEST_RUST_BINS)) $(GUEST_BIN)/

benches:
	@mkdir -p $(GUEST_BIN)
	+@$(MAKE) -s -f $(TOP)/tests/bench/Makefile TOP=$(TOP) OUT=$(GUEST_BIN) all

# glibc programs for the restart tests (tests/progs): one dynamically linked
# (scripts/mkinitramfs copies its libraries into the initramfs), one static.
progs:
	@mkdir -p $(GUEST_BIN)
	+@$(MAKE) -s -f $(TOP)/tests/progs/Makefile TOP=$(TOP) OUT=$(GUEST_BIN) all

guest-bin: kselftests tools benches progs

check: deps kernel module guest-bin
	@bash $(TOP)/scripts/check

check-host: deps kernel
	@bash $(TOP)/scripts/check --host-only

gates: deps kernel
	@bash $(TOP)/scripts/check --gates-only

# What the rustfmt gate checks: every .rs under src/ and the #[path] files they pull in.
rustfmt: deps kernel
	cd $(TOP) && /usr/bin/rustfmt --config-path "$(KTREE)/.rustfmt.toml" --edition 2021 $$(find src -name '*.rs' | sort)

check-guest: module guest-bin
	@bash $(TOP)/scripts/check --guest-only

# The kernel restart fuzzer with many more mutants than `make check` runs
# (Documentation/testing.rst): FUZZ_CASES mutants within FUZZ_BUDGET seconds,
# seed FUZZ_SEED (default: a new one each run; the suite prints it).
FUZZ_CASES ?= 5000
FUZZ_BUDGET ?= 7200
fuzz-guest: module guest-bin
	@seed=$${FUZZ_SEED:-$$(date +%s)}; \
	CPTRST_FUZZ_CASES=$(FUZZ_CASES) CPTRST_FUZZ_SEED=$$seed CPTRST_FUZZ_BUDGET=$(FUZZ_BUDGET) \
	RUN_ALL_FUZZ_TIMEOUT=$$(( $(FUZZ_BUDGET) + 900 )) \
	bash $(TOP)/scripts/check-guest --timeout $$(( $(FUZZ_BUDGET) + 1500 )) -- kselftest-fuzz

# cptrst against CRIU in one guest, on the bench kernel (no debug options):
# scripts/bench, Documentation/benchmark.rst.
bench: deps tools benches
	@bash $(TOP)/scripts/bench

demo: deps kernel module guest-bin
	@bash $(TOP)/scripts/vm-run -- /tests/demo.sh

clean:
	-$(MAKE) -C "$$(bash $(TOP)/scripts/build-kernel 2>/dev/null || echo /nonexistent)" M=$(TOP) clean 2>/dev/null
	rm -rf $(TOP)/build $(TOP)/target $(TOP)/rust-project.json

# Removes every cached kernel build (they are rebuilt on demand).
clean-cache:
	source $(TOP)/scripts/env.sh && rm -rf "$$CPTRST_CACHE"
