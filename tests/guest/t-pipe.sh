#!/bin/sh
# The README's pipeline, the way a user runs it: a shell script starts a program in the
# background and moves it with `cptrst checkpoint $! --kill | cptrst restart --detach`.
# The original is the shell's child: killed, it stays a zombie until the shell reaps it,
# which the restart must wait for (issue 12). Each run checks that the restored program
# carried on: its standard output, a regular file, is restored at its position (issue 14),
# so its ticks go on in that file, each one after the other, none lost or repeated, and
# nothing goes to the restart's own standard output.
# Runs 3 times as is, then 2 times with the restart side starting 2 s late.
. "$(dirname "$0")/tap.sh"

if ! module_loaded; then
    plan 1
    skip "checkpoint | restart from a shell" "cptrst.ko not loaded"
    exit 0
fi

runs="0 0 0 2 2"
plan 5

dir=$(mktemp -d /tmp/t-pipe.XXXXXX)

# The last tick number in file $1 (empty if none).
last_tick() { sed -n 's/^tick \([0-9][0-9]*\)$/\1/p' "$1" | tail -n 1; }
first_tick() { sed -n 's/^tick \([0-9][0-9]*\)$/\1/p' "$1" | head -n 1; }

n=0
for delay in $runs; do
    n=$((n + 1))
    before=$dir/before.$n after=$dir/after.$n err=$dir/err.$n
    # The script a user would write; it prints the pid it moved.
    out=$(sh -c '
        cptrst-testprog counter >"$1" 2>&1 &
        pid=$!
        i=0
        while ! grep -q "^tick 2$" "$1"; do
            i=$((i + 1)); [ $i -gt 120 ] && { echo "no tick 2 from $pid after 120 s"; exit 1; }
            sleep 1
        done
        if [ "$3" = 0 ]; then
            cptrst checkpoint $pid --kill | cptrst restart --detach >"$2" 2>"$4"
        else
            cptrst checkpoint $pid --kill | { sleep "$3"; cptrst restart --detach >"$2" 2>"$4"; }
        fi
        echo "pid $pid status $?"
    ' sh "$before" "$after" "$delay" "$err" 2>&1)
    pid=$(echo "$out" | sed -n 's/^pid \([0-9]*\) status .*/\1/p')
    status=$(echo "$out" | sed -n 's/^pid [0-9]* status \(.*\)/\1/p')
    desc="run $n: sh -c 'prog & cptrst checkpoint \$! --kill | cptrst restart --detach'"
    [ "$delay" = 0 ] || desc="$desc, restart $delay s late"
    if [ "$status" != 0 ]; then
        not_ok "$desc" "script output: $out" "restart said: $(cat "$err" 2>/dev/null)"
        [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
        continue
    fi
    # The restored program ticks on, in its own log: two ticks past the last one there
    # when the restart returned.
    last=$(last_tick "$before")
    i=0
    while [ "$(last_tick "$before")" -lt $((${last:-0} + 2)) ] && [ $i -lt 120 ]; do i=$((i + 1)); sleep 1; done
    now=$(last_tick "$before")
    kill -9 "$pid" 2>/dev/null
    # Every tick in the log follows the one before it.
    gap=$(sed -n 's/^tick \([0-9][0-9]*\)$/\1/p' "$before" |
        awk 'NR > 1 && $1 != prev + 1 { print "tick " $1 " after tick " prev; exit } { prev = $1 }')
    if [ -z "$last" ] || [ "$now" -lt $((last + 2)) ]; then
        not_ok "$desc" "pid $pid: no tick after the restart in 120 s (last ${last:-none})" "restart said: $(cat "$err")"
    elif [ -n "$gap" ]; then
        not_ok "$desc" "the log is not one run of ticks: $gap" "$(tail -n 5 "$before")"
    elif [ -s "$after" ]; then
        not_ok "$desc" "the restart's standard output got output: $(head -c 200 "$after")"
    else
        ok "$desc"
    fi
done
rm -rf "$dir"
