#!/usr/bin/env bash
# virtio-blk end to end: the test guest finds two drives through the DSDT,
# writes a 4 KiB pattern to sectors 8-15 of the writable one, reads it back
# (indirect descriptors), flushes, and sees the read-only one refuse a
# write. Afterwards the host files must hold exactly that: the pattern in
# the writable image and nothing else changed, the read-only image intact.
# Both io_engines: "Sync" (io=sync) and "Async" (io=async, io_uring).
set -u
. "$(dirname "$0")/lib.sh"
require "$EMBER" "$TESTGUEST"

for io in sync async; do # the whole test once per io_engine
rw=$E2E_TMP/rw.img
ro=$E2E_TMP/ro.img
rm -f "$rw"
truncate -s 1M "$rw"
python3 - "$ro" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    f.write(bytes(1 << 20))
    f.seek(8 * 512)
    f.write(b"TG-READONLY-DISK")
PY
ro_sum=$(sha256sum <"$ro")

console=$E2E_TMP/console.txt
cmdline="tg.mem=256 tg.cpus=2 tg.virtio=2 tg.blk=2"
run_ember "blk-$io" run --kernel "$TESTGUEST" --mem 256M --cpus 2 --console "file:$console" \
	--cmdline "$cmdline" --disk "$rw,id=tgrw,io=$io" --disk "$ro,ro,id=tgro,io=$io"
out=$(tr -d '\r' <"$console" 2>/dev/null)
if [ "$RC" -ne 0 ]; then
	fail "io=$io: ember exited $RC$([ "$RC" -eq 124 ] && echo ' (timed out)') after ${MS} ms"
	show_file "$console"
	show_file "$ERR" 10
elif ! grep -qE '^TESTGUEST DONE pass=[1-9][0-9]* fail=0$' <<<"$out" || grep -q '^FAIL' <<<"$out"; then
	fail "io=$io: guest reported failures: $(grep '^TESTGUEST DONE' <<<"$out")"
	grep -E '^FAIL' <<<"$out" | sed 's/^/      | /'
else
	missing=""
	for r in virtio.slots virtio.slot0 virtio.slot1 blk0.init blk0.write blk0.read blk0.flush \
		blk0.out_of_range blk0.unsupported blk1.read blk1.write_refused blk.count; do
		grep -q "^ok $r " <<<"$out" || missing="$missing $r"
	done
	grep -q '^ok blk0.get_id .*id="tgrw"' <<<"$out" || missing="$missing blk0.get_id(tgrw)"
	grep -q '^ok blk1.get_id .*id="tgro"' <<<"$out" || missing="$missing blk1.get_id(tgro)"
	if [ -n "$missing" ]; then
		fail "io=$io: results missing from the report:$missing"
	else
		pass "io=$io: guest: $(grep '^TESTGUEST DONE' <<<"$out") in ${MS} ms"
	fi
fi

# The host side: pattern in sectors 8-15 of rw.img (as the guest computes it
# in firmware/testguest/check_virtio_blk.c), zeros elsewhere.
if msg=$(python3 - "$rw" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
if len(data) != 1 << 20:
    sys.exit("size changed: %d" % len(data))
want = bytearray(1 << 20)
for s in range(8, 16):
    sec = bytearray(((i * 131 + s * 7 + 1) & 0xFF) for i in range(512))
    tag = ("TG-SECTOR-%04d" % s).encode() + b"\0"
    sec[: len(tag)] = tag
    want[s * 512 : (s + 1) * 512] = sec
if data != bytes(want):
    bad = next(i for i in range(len(data)) if data[i] != want[i])
    sys.exit("first difference at byte %d (sector %d)" % (bad, bad // 512))
print("sectors 8-15 hold the pattern, the rest is zero")
PY
); then
	pass "io=$io: rw.img: $msg"
else
	fail "io=$io: rw.img: $msg"
fi
if [ "$(sha256sum <"$ro")" = "$ro_sum" ]; then
	pass "io=$io: ro.img unchanged"
else
	fail "io=$io: ro.img changed"
fi
done

finish
