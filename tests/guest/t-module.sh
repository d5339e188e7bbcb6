#!/bin/sh
# The module: modinfo, and 100 unload/load cycles with no leak (kmemleak)
# and the device back each time.
. /tests/tap.sh
KO=/lib/modules/cptrst.ko
KML=/sys/kernel/debug/kmemleak

plan 5

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
