#!/usr/bin/env bash
# Host files of the wrong type never block ember, and every error has its
# reason (issue #19, points 3 and 7), with the default seccomp filters on:
# - API, before boot: a FIFO, a Unix socket or a character device given as
#   the kernel, the initrd or a drive (read-only or not) is refused at PUT
#   time with 400 naming the file's type; the server keeps answering.
# - API, guest running (test guest holding, never reading its keyboard):
#   PATCH /drives to a FIFO is refused with 400; SendCtrlAltDel fills the
#   i8042 buffer and the refusal says why; GET / still answers; SIGTERM ends
#   ember with 0 and removes the socket.
# - --no-api --config-file: a FIFO kernel or drive, a FIFO config file and a
#   missing kernel each give exactly one line on stderr and exit 1.
set -u
. "$(dirname "$0")/lib.sh"
require "$EMBER" "$TESTGUEST"
SOCK=$E2E_TMP/api.sock
FIFO=$E2E_TMP/fifo
DISK=$E2E_TMP/disk.img
mkfifo "$FIFO"
truncate -s 1M "$DISK"
python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" "$E2E_TMP/unix.sock"

api() { api_call "$SOCK" "$@"; }

# refused NAME EXPECTED_REASON_ERE METHOD PATH JSON: 400 with the reason.
refused() {
	local name=$1 want=$2
	shift 2
	api "$@"
	expect_http "$name" 400 "$want"
}

# ---- API: wrong file types refused before boot ----
e2e_cases=$((e2e_cases + 1))
timeout -k 5 "$E2E_TIMEOUT" "$EMBER" --api-sock "$SOCK" --id host_files \
	</dev/null >"$E2E_TMP/api.out" 2>"$E2E_TMP/api.err" &
PID=$!
if ! wait_api "$SOCK"; then
	fail "the API socket never accepted"
	show_file "$E2E_TMP/api.err"
	kill "$PID" 2>/dev/null
	finish
fi
refused "kernel FIFO" "is a FIFO" PUT /boot-source "{\"kernel_image_path\": \"$FIFO\"}"
refused "kernel socket" "is a socket" PUT /boot-source "{\"kernel_image_path\": \"$E2E_TMP/unix.sock\"}"
refused "kernel /dev/null" "is a character device" PUT /boot-source '{"kernel_image_path": "/dev/null"}'
refused "initrd FIFO" "initrd_path: .* is a FIFO" PUT /boot-source \
	"{\"kernel_image_path\": \"$TESTGUEST\", \"initrd_path\": \"$FIFO\"}"
refused "read-only drive FIFO" "is a FIFO; a regular file or a block device is expected" \
	PUT /drives/ro "{\"drive_id\": \"ro\", \"path_on_host\": \"$FIFO\", \"is_root_device\": false, \"is_read_only\": true}"
refused "read-write drive FIFO" "is a FIFO" \
	PUT /drives/rw "{\"drive_id\": \"rw\", \"path_on_host\": \"$FIFO\", \"is_root_device\": false, \"is_read_only\": false}"
refused "drive /dev/null" "is a character device" \
	PUT /drives/cd '{"drive_id": "cd", "path_on_host": "/dev/null", "is_root_device": false, "is_read_only": true}'

api PUT /boot-source "{\"kernel_image_path\": \"$TESTGUEST\", \"boot_args\": \"console=ttyS0 tg.mem=128 tg.cpus=1 tg.blk=1 tg.wait=hold\"}"
c1=$CODE
api PUT /drives/d0 "{\"drive_id\": \"d0\", \"path_on_host\": \"$DISK\", \"is_root_device\": false, \"is_read_only\": true}"
c2=$CODE
api PUT /actions '{"action_type": "InstanceStart"}'
c3=$CODE
if [ "$c1$c2$c3" != 204204204 ]; then
	fail "could not boot the guest: boot-source $c1, drive $c2, InstanceStart $c3"
elif ! wait_line "$E2E_TMP/api.out" '^TESTGUEST HOLDING' 30; then
	fail "the guest never reached tg.wait=hold"
	show_file "$E2E_TMP/api.out"
else
	refused "PATCH drive to a FIFO (guest running)" "is a FIFO" \
		PATCH /drives/d0 "{\"drive_id\": \"d0\", \"path_on_host\": \"$FIFO\"}"
	# 16-byte buffer, 4 bytes per Ctrl-Alt-Del: the fifth cannot fit.
	codes=""
	for _ in 1 2 3 4; do
		api PUT /actions '{"action_type": "SendCtrlAltDel"}'
		codes="$codes$CODE "
	done
	[ "$codes" = "204 204 204 204 " ] || fail "SendCtrlAltDel x4: $codes"
	refused "SendCtrlAltDel, keyboard buffer full" "Internal VMM error: i8042: .*keyboard buffer" \
		PUT /actions '{"action_type": "SendCtrlAltDel"}'
	api GET /
	if [ "$CODE" = 200 ] && grep -q '"state": *"Running"' <<<"$BODY"; then
		pass "GET / after the refusals: $BODY"
	else
		fail "GET / after the refusals: HTTP $CODE $BODY"
	fi
fi
kill -TERM "$PID" 2>/dev/null
wait "$PID"
RC=$?
if [ "$RC" -eq 143 ] && [ ! -e "$SOCK" ]; then
	pass "SIGTERM: killed by it after clean-up (143), socket removed"
else
	fail "SIGTERM: exit $RC$([ -e "$SOCK" ] && echo ', socket left behind')"
	show_file "$E2E_TMP/api.err"
fi

# ---- --no-api --config-file: one line and exit 1 ----
# one_line NAME ERE CONFIG_JSON | -: the config file (or the FIFO itself).
one_line() {
	local name=$1 want=$2 cfg=$3 nl
	if [ "$cfg" != - ]; then
		printf '%s\n' "$cfg" >"$E2E_TMP/$name.json"
		cfg=$E2E_TMP/$name.json
	else
		cfg=$FIFO
	fi
	run_ember "$name" --no-api --config-file "$cfg"
	nl=$(wc -l <"$ERR")
	if [ "$RC" -eq 1 ] && [ "$nl" -eq 1 ] && grep -qE "$want" "$ERR"; then
		pass "$name: exit 1, one line: $(cat "$ERR")"
	else
		fail "$name: exit $RC, $nl line(s) on stderr (expected 1 matching /$want/)"
		show_file "$ERR"
	fi
}
one_line cfg_kernel_fifo "kernel_image_path: .* is a FIFO" \
	"{\"boot-source\": {\"kernel_image_path\": \"$FIFO\"}}"
one_line cfg_drive_fifo "drive ro: path_on_host: .* is a FIFO" \
	"{\"boot-source\": {\"kernel_image_path\": \"$TESTGUEST\"}, \"drives\": [{\"drive_id\": \"ro\", \"path_on_host\": \"$FIFO\", \"is_root_device\": false, \"is_read_only\": true}]}"
one_line cfg_no_kernel "kernel_image_path: cannot open" \
	'{"boot-source": {"kernel_image_path": "/nonexistent/vmlinux"}}'
one_line cfg_is_fifo "config-file.*not a regular file" -
finish
