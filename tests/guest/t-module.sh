#!/bin/sh
# The module: modinfo, and 100 unload/load cycles with no leak (kmemleak)
# and the device back each time; a restarted process keeps no hold on it.
. /tests/tap.sh
KO=/lib/modules/cptrst.ko
KML=/sys/kernel/debug/kmemleak

plan 6

info=$(modinfo "$KO" 2>&1)
if echo "$info" | grep -q '^license: *GPL$' && echo "$info" | grep -q '^version: *[0-9]' &&
   echo "$info" | grep -q '^description: .*[Cc]heckpoint' && echo "$info" | grep -q '^author: '; then
    ok "modinfo shows description, author, license GPL and version"
else
    not_ok "modinfo shows description, author, license GPL and version"; echo "$info" | sed 's/^/# /'
fi

if [ -w "$KML" ]; then
    echo scan > "$KML"; echo clear > "$KML"; have_kml=1
else
    have_kml=0
fi
meminfo() { awk -v k="$1:" '$1 == k {print $2}' /proc/meminfo; }
slab_before=$(meminfo Slab)
vmalloc_before=$(meminfo VmallocUsed)

fail=""
i=0
while [ $i -lt 100 ]; do
    rmmod cptrst || { fail="rmmod failed at cycle $i"; break; }
    [ -e /dev/cptrst ] && { fail="/dev/cptrst still there after rmmod (cycle $i)"; break; }
    insmod "$KO" || { fail="insmod failed at cycle $i"; break; }
    [ -c /dev/cptrst ] || { fail="/dev/cptrst missing after insmod (cycle $i)"; break; }
    i=$((i + 1))
done
[ -z "$fail" ] && ok "100 unload/load cycles" || not_ok "100 unload/load cycles: $fail"

mode=$(stat -c %a /dev/cptrst 2>/dev/null)
[ "$mode" = 600 ] && ok "/dev/cptrst is 0600 after reloading" || not_ok "/dev/cptrst mode is '$mode', not 600"

if [ $have_kml -eq 1 ]; then
    # kmemleak reports only objects older than 5 s, and needs two scans to be sure.
    sleep 6; echo scan > "$KML"; sleep 1; echo scan > "$KML"
    leaks=$(cat "$KML")
    if [ -z "$leaks" ]; then
        ok "kmemleak: no leak after 100 cycles"
    else
        not_ok "kmemleak: leaks after 100 cycles"; echo "$leaks" | head -40 | sed 's/^/# /'
    fi
else
    skip "kmemleak: not available in this kernel"
fi

# A module lives in vmalloc space: each load/unload must give it all back.
# (Slab is only reported: KASAN's quarantine keeps freed objects for a while,
# so it grows without any leak; kmemleak above is the leak check.)
vmalloc_after=$(meminfo VmallocUsed)
slab_after=$(meminfo Slab)
diag "Slab: ${slab_before} -> ${slab_after} KiB, VmallocUsed: ${vmalloc_before} -> ${vmalloc_after} KiB"
growth=$((vmalloc_after - vmalloc_before))
if [ "$growth" -lt 256 ]; then
    ok "vmalloc usage stable over 100 cycles (${growth} KiB)"
else
    not_ok "vmalloc usage grew by ${growth} KiB over 100 cycles"
fi

# A restarted process must not keep the module: its /dev/cptrst and image
# fds are closed and the task work that sets rax has dropped its reference.
# It runs on after the unload (checkpoint/restart is disabled, not it).
cptrst-testprog counter > /tmp/t-module.ticks &
pid=$!
sleep 1
res=""
if cptrst checkpoint $pid -o /tmp/t-module.img --kill >/dev/null 2>&1; then
    wait $pid 2>/dev/null
    # Its fd 1, the ticks file, comes back itself (at its position, checked
    # against the size it had: the restart's own output goes elsewhere).
    if cptrst restart -i /tmp/t-module.img --detach >/dev/null 2>/tmp/t-module.err; then
        sleep 0.5
        fds=$(ls /proc/$pid/fd 2>/dev/null | tr '\n' ' ')
        if ! rmmod cptrst; then
            res="rmmod failed after the restart (fds of the restored process: $fds)"
        elif ! kill -0 $pid 2>/dev/null; then
            res="the restored process died when the module went"
        else
            n1=$(tail -1 /tmp/t-module.ticks); sleep 1; n2=$(tail -1 /tmp/t-module.ticks)
            [ "$n1" != "$n2" ] || res="the restored process stopped counting ($n1)"
            [ "$fds" = "0 1 2 " ] || res="${res:+$res; }the restored process has fds '$fds', not 0 1 2"
        fi
        insmod "$KO" 2>/dev/null
    else
        res="restart failed: $(cat /tmp/t-module.err)"
    fi
else
    res="checkpoint failed"
fi
kill -9 $pid 2>/dev/null
[ -c /dev/cptrst ] || insmod "$KO"
rm -f /tmp/t-module.img /tmp/t-module.ticks /tmp/t-module.err
[ -z "$res" ] && ok "after a restart, rmmod works and the restored process runs on" || not_ok "after a restart, rmmod: $res"
