#!/usr/bin/env bash
# One-shot runs' stdin over vsock, the host side (src/vmm/oneshot_stdin.c),
# with the test guest in the place of the init
# (firmware/testguest/check_virtio_vsock.c, tg.vsock_stdin): `ember run
# --kernel TG -- /bin/true` with ember's stdin
#  - a pipe of 300000 random bytes (more than the guest's 64 KiB window),
#  - the same bytes as a regular file (epoll refuses it: read when the stream
#    has room),
#  - an empty file;
# the guest connects to host port ONESHOT_STDIN_PORT, reads until ember's
# SHUTDOWN and reports the byte count and their FNV-1a, then ends the run
# through the one-shot exit register (status 0). ember adds the vsock device
# itself (no --vsock) and leaves nothing in TMPDIR. Real Linux (the init,
# a pipe into `cat`) is the nested oneshot run.
set -u
. "$(dirname "$0")/lib.sh"
require "$EMBER" "$TESTGUEST"

PORT=1000000000 # ONESHOT_STDIN_PORT (include/ember/oneshot_abi.h)
mkdir -p "$E2E_TMP/mods" "$E2E_TMP/tmp" "$E2E_TMP/cache"
: >"$E2E_TMP/mods/modules.dep" # no modules: the test guest needs none
cmdline="console=ttyS0 tg.mem=128 tg.cpus=1 tg.virtio=1 tg.vsock=1 tg.vsock_cid=3"
cmdline="$cmdline tg.vsock_stdin=$PORT"
head -c 300000 /dev/urandom >"$E2E_TMP/in.bin"
: >"$E2E_TMP/empty"

# fnv FILE: FNV-1a (32 bits) of its bytes, as the guest prints it
fnv() {
	python3 -c 'import sys
h = 2166136261
for b in open(sys.argv[1], "rb").read():
    h = ((h ^ b) * 16777619) & 0xffffffff
print("%08x" % h)' "$1"
}

# oneshot NAME: ember run ... -- /bin/true, stdin from the caller
oneshot() {
	local t0
	t0=$(now_ms)
	TMPDIR=$E2E_TMP/tmp XDG_CACHE_HOME=$E2E_TMP/cache timeout -k 5 "$E2E_TIMEOUT" "$EMBER" run \
		--kernel "$TESTGUEST" --mem 128M --cpus 1 --console "file:$E2E_TMP/$1.console" \
		--cmdline "$cmdline" --modules "$E2E_TMP/mods" -- /bin/true \
		>"$E2E_TMP/$1.stdout" 2>"$E2E_TMP/$1.stderr"
	RC=$?
	MS=$(($(now_ms) - t0))
	e2e_cases=$((e2e_cases + 1))
}

# check NAME FILE WHAT: the guest read FILE's bytes and the end; exit 0.
check() {
	local want line
	want="bytes=$(stat -c %s "$2") fnv=$(fnv "$2"), end seen, window respected: yes"
	line=$(tr -d '\r' <"$E2E_TMP/$1.console" | grep '^ok vsock0.stdin ')
	if [ "$RC" -eq 0 ] && grep -qF "$want" <<<"$line"; then
		pass "$3: the guest read $want (${MS} ms)"
	else
		fail "$3: exit $RC; want '$want'"
		tr -d '\r' <"$E2E_TMP/$1.console" | grep -E 'vsock|^FAIL|DONE' | show_file /dev/stdin
		show_file "$E2E_TMP/$1.stderr" 5
	fi
}

oneshot pipe < <(cat "$E2E_TMP/in.bin") # a pipe
check pipe "$E2E_TMP/in.bin" "a pipe of 300000 bytes"
oneshot file <"$E2E_TMP/in.bin"
check file "$E2E_TMP/in.bin" "a regular file of 300000 bytes"
oneshot empty <"$E2E_TMP/empty"
check empty "$E2E_TMP/empty" "an empty file"

# ember's vsock socket and the stdin listener are gone
if [ -z "$(ls -A "$E2E_TMP/tmp")" ]; then
	pass "nothing left in TMPDIR (vsock socket, <socket>_$PORT)"
else
	fail "left in TMPDIR: $(ls -A "$E2E_TMP/tmp")"
fi

finish
