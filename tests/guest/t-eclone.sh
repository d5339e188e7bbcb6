#!/bin/sh
# `cptrst eclone`: run a command with chosen pids, in the current and in new
# nested pid namespaces; exit status; refusals.
. /tests/tap.sh
plan 9

# The NSpid line of the command itself (it execs cat, so /proc/self is it).
nspid_of() { cptrst eclone --pid "$1" -- cat /proc/self/status 2>&1 | sed -n 's/^NSpid:[[:space:]]*//p' | tr '\t' ' '; }

out=$(cptrst eclone --pid 25000 -- sh -c 'echo $$' 2>&1)
[ "$out" = 25000 ] && ok "chosen pid in the current namespace" || not_ok "chosen pid in the current namespace" "got: $out"

out=$(cptrst eclone --pid 25010,1 -- sh -c 'echo $$' 2>&1; nspid_of 25011,1)
[ "$out" = "1
25011 1" ] && ok "two levels: init of a new namespace at 25010" || not_ok "two levels: init of a new namespace" "got: $out"

out=$(nspid_of 25020,60,1)
[ "$out" = "25020 60 1" ] && ok "three levels: 25020,60,1" || not_ok "three levels: 25020,60,1" "got: $out"

out=$(nspid_of 25030,70)
[ "$out" = "25030 70" ] && ok "two levels under a started init: 25030,70" || not_ok "two levels under a started init" "got: $out"

cptrst eclone --pid 25040 -- sh -c 'exit 7'
rc=$?
[ $rc = 7 ] && ok "exit status of the command" || not_ok "exit status of the command" "got $rc"

out=$(cptrst eclone --pid 1 -- true 2>&1)
rc=$?
case "$out" in *"in use"*) [ $rc = 1 ] && ok "pid in use: clear error" || not_ok "pid in use: exit $rc" "$out" ;;
    *) not_ok "pid in use: clear error" "exit $rc: $out" ;; esac

out=$(cptrst eclone --pid 0 -- true 2>&1)
rc=$?
[ $rc = 2 ] && ok "bad pid list: usage error" || not_ok "bad pid list: usage error" "exit $rc: $out"

out=$(run_as cptuser cptrst eclone --pid 25060 -- true 2>&1)
rc=$?
case "$out" in *"/dev/cptrst"*) [ $rc = 1 ] && ok "unprivileged user: refused" || not_ok "unprivileged: exit $rc" "$out" ;;
    *) not_ok "unprivileged user: refused" "exit $rc: $out" ;; esac

out=$(cptrst eclone --pid 25070 2>&1)
rc=$?
[ $rc = 2 ] && ok "no command: usage error" || not_ok "no command: usage error" "exit $rc: $out"
