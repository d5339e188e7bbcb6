#!/bin/sh
# `make demo`: what cptrst does today, in the test VM.
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "the module is loaded; the device is root-only"
modinfo /lib/modules/cptrst.ko | grep -E '^(description|version|license)'
ls -l /dev/cptrst

say "a running program: a counter, printing every half second"
( i=0; while :; do i=$((i + 1)); echo "counter $i"; sleep 0.5; done ) > /tmp/counter.log &
pid=$!
sleep 2
tail -n 2 /tmp/counter.log

say "checkpoint it (cptrst checkpoint $pid -o /tmp/demo.img), leaving it stopped"
cptrst checkpoint $pid -o /tmp/demo.img 2>/tmp/ck.err && ls -l /tmp/demo.img
cat /tmp/ck.err
before=$(wc -l < /tmp/counter.log); sleep 1.5; after=$(wc -l < /tmp/counter.log)
echo "stopped: $before lines before, $after lines 1.5 s later"

say "inspect the image"
cptrst inspect /tmp/demo.img

say "a corrupted copy is refused, naming the record and offset"
cp /tmp/demo.img /tmp/bad.img
printf 'X' | dd of=/tmp/bad.img bs=1 seek=300 conv=notrunc 2>/dev/null
cptrst inspect /tmp/bad.img

say "let it run on (SIGCONT to the processes the tool stopped)"
kill -CONT $(sed -n 's/.*kill -CONT //p' /tmp/ck.err)
sleep 1.5
tail -n 2 /tmp/counter.log
kill $pid

say "eclone: a command at a chosen pid, and at pid 1 of a new pid namespace"
cptrst eclone --pid 4242 -- sh -c 'echo "my pid is $$"'
cptrst eclone --pid 4343,1 -- sh -c 'echo "my pid is $$"; exec grep NSpid /proc/self/status'

say "restart: a single process, cptrst-testprog counter (a tick every 0.3 s)"
cptrst-testprog counter > /tmp/ticks.log &
pid=$!
sleep 1.5
tail -n 2 /tmp/ticks.log

say "checkpoint it and kill it (cptrst checkpoint $pid -o /tmp/counter.img --kill)"
cptrst checkpoint $pid -o /tmp/counter.img --kill && ls -l /tmp/counter.img
wait $pid 2>/dev/null	# reap it: the restart needs its pid free
if kill -0 $pid 2>/dev/null; then echo "pid $pid still exists?"; else echo "pid $pid is gone"; fi
last=$(tail -n 1 /tmp/ticks.log); sleep 1
echo "last line: '$last'; 1 s later: '$(tail -n 1 /tmp/ticks.log)'"

say "restart it from the image, at pid $pid: its log file comes back open at its position"
echo "cptrst restart -i /tmp/counter.img --detach"
cptrst restart -i /tmp/counter.img --detach
sleep 1.5
tail -n 4 /tmp/ticks.log
grep -E '^(Name|Pid|PPid):' /proc/$pid/status
kill $pid
