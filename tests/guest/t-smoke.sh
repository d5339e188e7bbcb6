#!/bin/sh
# Smoke test of the test VM itself: filesystems, CPUs, the unprivileged user, the module.
. "$(dirname "$0")/tap.sh"

plan 6

check "/proc is mounted" grep -q '^proc /proc proc ' /proc/mounts
check "/sys/fs/cgroup is cgroup2" grep -q '^cgroup2 /sys/fs/cgroup cgroup2 ' /proc/mounts

n=$(nproc)
[ "$n" = 2 ] && ok "2 CPUs online" || not_ok "2 CPUs online" "nproc says $n"

uid=$(run_as cptuser id -u 2>&1)
[ "$uid" = 1000 ] && ok "run_as cptuser runs with uid 1000" || not_ok "run_as cptuser runs with uid 1000" "got: $uid"

out=$(run_as nobody sh -c 'echo x > /proc/sys/kernel/hostname' 2>&1)
[ $? -ne 0 ] && ok "nobody cannot write /proc/sys/kernel/hostname" ||
    not_ok "nobody cannot write /proc/sys/kernel/hostname" "$out"

if module_loaded; then
    check "/dev/cptrst exists" test -c /dev/cptrst
else
    skip "/dev/cptrst exists" "cptrst.ko not loaded"
fi
