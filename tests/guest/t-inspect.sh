#!/bin/sh
# `cptrst inspect` on bad images: truncated, corrupted, wrong magic, empty,
# trailing garbage. Each is refused with exit status 1 and a message that
# names the record and the byte offset. A good image lists each task's fds.
. /tests/tap.sh
plan 8

sleep 1000 &
pid=$!
cptrst checkpoint $pid -o /tmp/good.img --kill 2>/dev/null
size=$(stat -c %s /tmp/good.img)
check "a good image validates" cptrst inspect /tmp/good.img
check "the image lists fds 0, 1, 2" sh -c "cptrst inspect /tmp/good.img | grep -q '^ *fds 0:[a-z]* 1:[a-z]* 2:[a-z]*'"

refused() { # refused DESC FILE PATTERN
    out=$(cptrst inspect "$2" 2>&1)
    rc=$?
    if [ $rc -eq 1 ] && echo "$out" | grep -q "at offset [0-9]" && echo "$out" | grep -qi "$3"; then
        ok "$1"
    else
        not_ok "$1" "exit $rc: $out"
    fi
}

head -c $((size - 5)) /tmp/good.img > /tmp/trunc.img
refused "truncated image" /tmp/trunc.img "trailer\|truncat"

head -c $((size / 2)) /tmp/good.img > /tmp/half.img
refused "image cut in the middle" /tmp/half.img "truncat\|trailer"

cp /tmp/good.img /tmp/flip.img
printf '\377' | dd of=/tmp/flip.img bs=1 seek=$((size - 100)) conv=notrunc 2>/dev/null
refused "one corrupted byte" /tmp/flip.img "crc\|checksum\|page\|pad\|trailer\|reserved"

cp /tmp/good.img /tmp/magic.img
printf 'NOTCPTRS' | dd of=/tmp/magic.img bs=1 seek=0 conv=notrunc 2>/dev/null
refused "wrong magic" /tmp/magic.img "magic"

: > /tmp/empty.img
refused "empty file" /tmp/empty.img "header\|truncat"

cat /tmp/good.img /tmp/good.img > /tmp/double.img
refused "data after the trailer" /tmp/double.img "after"
