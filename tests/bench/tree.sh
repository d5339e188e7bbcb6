#!/bin/sh
# bench-tree [N...]: restart time of a tree of N processes (cptrst-testprog
# tree-check N: process i > 0 a child of process (i - 1) / 3, so mixed
# depths), for each N (default: 10 100), median of $ROUNDS rounds (default
# 5), image on tmpfs; then how the time grows from the first N to the last
# (the ratio of their medians). Each round restarts the image with --detach
# (the tool returns once every process runs) and kills the tree.
[ $# -gt 0 ] || set -- 10 100
rounds=${ROUNDS:-5}
now() { awk '{print $1}' /proc/uptime; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
img=/tmp/bench-tree.img

# Waits until none of the pids in $pids exists.
wait_gone() {
    for p in $pids; do
        while [ -e /proc/$p ]; do sleep 0.05; done
    done
}

first= last= firstn= lastn=
for n in "$@"; do
    cptrst-testprog tree-check "$n" > /tmp/bench-tree.out &
    root=$!
    # The whole ready line (a long one for a big tree: written in pieces).
    until grep -q '}$' /tmp/bench-tree.out 2>/dev/null; do
        [ -e /proc/$root ] || { echo "bench-tree: tree-check $n died" >&2; exit 1; }
        sleep 0.1
    done
    # The ready line's "pids": [a, b, ...] (every process, root first).
    pids=$(sed -n 's/.*"pids": \[\([^]]*\)\].*/\1/p' /tmp/bench-tree.out | tr -d ',')
    t0=$(now)
    cptrst checkpoint "$root" -o $img --kill || { echo "bench-tree: checkpoint of $n processes failed" >&2; exit 1; }
    ck=$(echo "$(now) - $t0" | bc -l)
    wait "$root" 2>/dev/null
    wait_gone
    size=$(stat -c %s $img)
    times=/tmp/bench-tree.$n.times
    : > "$times"
    i=0
    while [ $i -lt "$rounds" ]; do
        t0=$(now)
        if ! cptrst restart -i $img --detach; then
            echo "bench-tree: restart of the $n-process tree failed" >&2
            kill -9 $pids 2>/dev/null
            rm -f $img
            exit 1
        fi
        t1=$(now)
        echo "$t1 - $t0" | bc -l >> "$times"
        kill -9 $pids 2>/dev/null
        wait_gone
        i=$((i + 1))
    done
    rm -f $img
    m=$(median < "$times")
    echo "tree of $n processes: restart median ${m} s, $(echo "$m * 1000 / $n" | bc -l | cut -c1-6) ms per process (all: $(tr '\n' ' ' < "$times")); checkpoint ${ck} s, image $size bytes"
    [ -n "$first" ] || { first=$m; firstn=$n; }
    last=$m lastn=$n
done
if [ "$firstn" != "$lastn" ]; then
    echo "ratio restart $lastn/$firstn: $(echo "$last / $first" | bc -l | cut -c1-6) (for $(echo "$lastn / $firstn" | bc -l | cut -c1-6) times the processes)"
fi
