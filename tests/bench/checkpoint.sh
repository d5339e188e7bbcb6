#!/bin/sh
# bench-checkpoint [MIB [ROUNDS]]: checkpoint and restart time and image
# size of a process with MIB MiB of dirty anonymous memory, against a plain
# copy of the same amount in the same guest (dd from /dev/zero to tmpfs, and
# cp of the image file), images on tmpfs. Median of ROUNDS.
mib=${1:-256}
rounds=${2:-5}
now() { awk '{print $1}' /proc/uptime; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

cptrst-testprog dirty "$mib" > /tmp/bench-dirty.out &
pid=$!
while [ ! -s /tmp/bench-dirty.out ]; do sleep 0.1; done

ck=/tmp/bench-ck.times; cp_=/tmp/bench-cp.times; dd_=/tmp/bench-dd.times
: > $ck; : > $cp_; : > $dd_
i=0
while [ $i -lt "$rounds" ]; do
    t0=$(now); cptrst checkpoint $pid -o /tmp/bench.img --resume || exit 1; t1=$(now)
    echo "$t1 - $t0" | bc -l >> $ck
    size=$(stat -c %s /tmp/bench.img)
    t0=$(now); cp /tmp/bench.img /tmp/bench.copy; t1=$(now); rm -f /tmp/bench.copy
    echo "$t1 - $t0" | bc -l >> $cp_
    t0=$(now); dd if=/dev/zero of=/tmp/bench.dd bs=1M count="$mib" 2>/dev/null; t1=$(now); rm -f /tmp/bench.dd
    echo "$t1 - $t0" | bc -l >> $dd_
    i=$((i + 1))
done
# Restart: the image of the last round, the process killed first; each
# round restarts it (--detach: the tool returns once it runs) and kills it.
rs=/tmp/bench-rs.times
: > $rs
kill -9 $pid
wait $pid 2>/dev/null
i=0
while [ $i -lt "$rounds" ]; do
    while [ -e /proc/$pid ]; do sleep 0.05; done
    t0=$(now); cptrst restart -i /tmp/bench.img --detach 2>/dev/null || exit 1; t1=$(now)
    echo "$t1 - $t0" | bc -l >> $rs
    kill -9 $pid
    i=$((i + 1))
done
rm -f /tmp/bench.img
c=$(median < $ck); p=$(median < $cp_); d=$(median < $dd_); r=$(median < $rs)
echo "dirty anonymous memory: $mib MiB, $rounds rounds, images on tmpfs"
echo "checkpoint:         median ${c} s  (all: $(tr '\n' ' ' < $ck))"
echo "image size:         $size bytes ($(echo "$size / 1048576" | bc -l | cut -c1-7) MiB)"
echo "cp of the image:    median ${p} s"
echo "dd /dev/zero:       median ${d} s"
echo "restart:            median ${r} s  (all: $(tr '\n' ' ' < $rs))"
echo "ratio checkpoint/cp: $(echo "$c / $p" | bc -l | cut -c1-5)"
echo "ratio restart/cp:    $(echo "$r / $p" | bc -l | cut -c1-5)"
echo "ratio restart/checkpoint: $(echo "$r / $c" | bc -l | cut -c1-5)"
