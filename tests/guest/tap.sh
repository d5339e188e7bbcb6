# tests/guest/tap.sh: TAP helpers for the guest test scripts (tests/guest/t-*.sh, run by
# /tests/run-all inside the test VM). POSIX sh (busybox ash). Source it first:
#     . /tests/tap.sh
#
#   plan N                      print the plan (1..N) before the first test
#   ok DESC                     a passing test:  ok N DESC
#   not_ok DESC [DIAG...]       a failing test:  not ok N DESC, then each DIAG as "# DIAG"
#   skip DESC [REASON]          a skipped test:  ok N DESC # SKIP REASON
#   diag MSG...                 a comment line:  # MSG
#   check DESC CMD [ARGS...]    run CMD (output captured): ok if it exits 0, else not_ok
#                               with its exit status and output as diagnostics
#   run_as USER CMD [ARGS...]   run CMD as USER: cptuser (uid/gid 1000) or nobody
#                               (uid/gid 65534). Uses busybox `su -s /bin/sh USER -c`:
#                               busybox 1.35 has no chpst and its setpriv cannot change uids.
#   module_loaded               true if cptrst.ko is loaded (/sys/module/cptrst exists)
#   done_testing                print the plan now if `plan` was not called (it is also
#                               printed at exit: a plan at the end is valid TAP)
#
# When the script exits, its status becomes 1 if any test failed or the number of tests
# differs from the plan (a "# ..." line says why), otherwise the script's own status.

_tap_n=0
_tap_failed=0
_tap_planned=

echo "TAP version 13"

plan() {
    _tap_planned=$1
    echo "1..$1"
}

diag() {
    for _tap_l in "$@"; do
        printf '%s\n' "$_tap_l" | sed 's/^/# /'
    done
}

ok() {
    _tap_n=$((_tap_n + 1))
    echo "ok $_tap_n $1"
}

not_ok() {
    _tap_n=$((_tap_n + 1))
    _tap_failed=$((_tap_failed + 1))
    echo "not ok $_tap_n $1"
    shift
    [ $# -gt 0 ] && diag "$@"
    return 0
}

skip() {
    _tap_n=$((_tap_n + 1))
    echo "ok $_tap_n $1 # SKIP${2:+ $2}"
}

check() {
    _tap_desc=$1
    shift
    if _tap_out=$("$@" 2>&1); then
        ok "$_tap_desc"
    else
        not_ok "$_tap_desc" "\`$*\` exited with status $?${_tap_out:+:}" ${_tap_out:+"$_tap_out"}
    fi
}

# Each argument single-quoted, for `sh -c`.
_tap_quote() {
    for _tap_a in "$@"; do
        printf "'%s' " "$(printf '%s' "$_tap_a" | sed "s/'/'\\\\''/g")"
    done
}

run_as() {
    _tap_user=$1
    shift
    su -s /bin/sh "$_tap_user" -c "exec $(_tap_quote "$@")"
}

module_loaded() {
    [ -d /sys/module/cptrst ]
}

done_testing() {
    [ -n "$_tap_planned" ] || plan "$_tap_n"
}

_tap_exit() {
    _tap_rc=$?
    [ -n "$_tap_planned" ] || plan "$_tap_n"
    if [ -n "$_tap_planned" ] && [ "$_tap_n" -ne "$_tap_planned" ]; then
        echo "# planned $_tap_planned tests but ran $_tap_n"
        exit 1
    fi
    [ "$_tap_failed" -gt 0 ] && exit 1
    exit "$_tap_rc"
}
trap _tap_exit EXIT
