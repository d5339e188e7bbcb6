#!/bin/sh
# `make demo`: what cptrst does today, in the test VM.
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "kernel"
uname -a
say "modinfo /lib/modules/cptrst.ko"
modinfo /lib/modules/cptrst.ko
say "the module is loaded"
lsmod | grep -E '^(Module|cptrst)'
dmesg | grep cptrst
say "the device (root-only)"
ls -l /dev/cptrst
say "unload is refused while the device is open"
exec 3<>/dev/cptrst
rmmod cptrst && echo "unexpected: rmmod succeeded" || echo "rmmod refused, as expected"
exec 3<&-
say "after close, unload works; load it again"
rmmod cptrst && echo "rmmod: ok"
ls -l /dev/cptrst 2>&1
insmod /lib/modules/cptrst.ko && ls -l /dev/cptrst
say "the operations (not implemented yet: each answers EOPNOTSUPP)"
kselftest-device -r dev.unimplemented_operations_are_eopnotsupp 2>&1 | grep -E '^(ok|not ok|#  )' || true
