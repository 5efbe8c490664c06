# L1 side of the `oneshot` run (sourced by l1-init.sh): `ember run --kernel K
# -- CMD [ARGS...]` builds an initramfs from L1's own files and exits with
# CMD's status. No L2 part: the guest runs CMD itself, under ember's init.
# ember's stdin is /dev/null, or the output of the command in oneshot_feed
# (a pipe), or the file oneshot_file.
oneshot_run() { # NAME SECONDS ARGS...: stdout in /tmp/oneshot-NAME.out
	name=$1 secs=$2
	shift 2
	step "oneshot-$name"
	t0=$(up) tries=0
	# (repeated after an L2 triple fault: tests/nested/README.md, known problems)
	while :; do
		if [ -n "${oneshot_feed:-}" ]; then
			eval "$oneshot_feed" | timeout "$secs" ember run --kernel /l2/vmlinuz --mem 128M \
				"$@" >/tmp/oneshot-$name.out 2>/tmp/oneshot-$name.err
		else
			timeout "$secs" ember run --kernel /l2/vmlinuz --mem 128M "$@" \
				<"${oneshot_file:-/dev/null}" >/tmp/oneshot-$name.out 2>/tmp/oneshot-$name.err
		fi
		rc=$?
		tries=$((tries + 1))
		[ "$rc" = 2 ] && grep -q 'guest triple fault' /tmp/oneshot-$name.err && [ $tries -lt 3 ] ||
			break
		echo "NT-RETRY oneshot-$name: L2 triple fault; attempt $((tries + 1))"
	done
	echo "NT-L1: oneshot $name: exit $rc after $(echo "$(up) - $t0" | bc) s;" \
		"stdout: $(head -c 200 /tmp/oneshot-$name.out | tr '\n\r' '|~')"
	sed 's/^/ember| /' /tmp/oneshot-$name.err | head -n 5
}
run_oneshot() {
	export XDG_CACHE_HOME=/tmp/oneshot-cache
	oneshot_run sh 300 --keep-initrd /tmp/oneshot-sh.cpio -- /bin/sh -c 'echo hi; exit 7'
	if [ "$rc" = 7 ] && [ "$(cat /tmp/oneshot-sh.out)" = hi ]; then
		R PASS oneshot-sh "ember run -- /bin/sh -c 'echo hi; exit 7': printed hi, exited 7 ($(($(stat -c %s /tmp/oneshot-sh.cpio) / 1024)) KiB initramfs)"
	else
		R FAIL oneshot-sh "exit $rc, stdout '$(head -c 200 /tmp/oneshot-sh.out | tr '\n\r' '|~')'"
	fi
	# a dynamically linked program with its shared objects (found by ember)
	oneshot_run dyn 300 -- /usr/local/bin/nt-dyn one two
	if [ "$rc" = 0 ] && grep -qx 'nt-dyn: dynamic, 2 args: one two' /tmp/oneshot-dyn.out; then
		R PASS oneshot-dynamic "a dynamically linked binary ran: $(head -n 1 /tmp/oneshot-dyn.out)"
	else
		R FAIL oneshot-dynamic "exit $rc, stdout '$(head -c 200 /tmp/oneshot-dyn.out | tr '\n\r' '|~')'"
	fi
	# the host's stdin reaches CMD whole, then its end (over vsock): through
	# a pipe (hi and 4 KiB of every byte value: CR, ^C, ^D, 0xff among them),
	# and from a file (1 MiB: more than the socket's buffer and vsock's credit)
	nt gen 41 4K >/tmp/oneshot-bin4k
	oneshot_feed='{ echo hi; cat /tmp/oneshot-bin4k; }'
	oneshot_run cat 300 -- cat
	oneshot_feed=
	{ echo hi; cat /tmp/oneshot-bin4k; } >/tmp/oneshot-cat.want
	if [ "$rc" = 0 ] && cmp -s /tmp/oneshot-cat.out /tmp/oneshot-cat.want; then
		R PASS oneshot-stdin-pipe "{ echo hi; 4 KiB binary; } | ember run -- cat: printed every byte back, exited 0 at the pipe's end ($(echo "$(up) - $t0" | bc) s)"
	else
		R FAIL oneshot-stdin-pipe "exit $rc, $(wc -c </tmp/oneshot-cat.out) bytes out of $(wc -c </tmp/oneshot-cat.want), first line '$(head -n 1 /tmp/oneshot-cat.out | head -c 80 | tr '\r' '~')'"
	fi
	nt gen 42 1M >/tmp/oneshot-bin1m
	want=$(sha256sum </tmp/oneshot-bin1m | cut -d' ' -f1)
	oneshot_file=/tmp/oneshot-bin1m
	oneshot_run sha 300 -- sha256sum
	oneshot_file=
	if [ "$rc" = 0 ] && [ "$(tr -d '\r' </tmp/oneshot-sha.out)" = "$want  -" ]; then
		R PASS oneshot-stdin-file "ember run -- sha256sum < (1 MiB file): L1's sha256, exited 0 ($(echo "$(up) - $t0" | bc) s)"
	else
		R FAIL oneshot-stdin-file "exit $rc, stdout '$(head -c 120 /tmp/oneshot-sha.out | tr '\n\r' '|~')', want $want"
	fi
	rm -f /tmp/oneshot-bin4k /tmp/oneshot-bin1m /tmp/oneshot-cat.want
	# errors before anything boots: one line each
	oneshot_run nobin 60 -- /nonexistent/cmd
	nobin_rc=$rc nobin_err=$(cat /tmp/oneshot-nobin.err)
	oneshot_run nomod 60 --disk /l2/initrd --modules /nonexistent/modules -- /bin/true
	if [ "$nobin_rc" = 1 ] && [ "$(echo "$nobin_err" | wc -l)" = 1 ] && [ "$rc" = 1 ] &&
		[ "$(wc -l </tmp/oneshot-nomod.err)" = 1 ]; then
		R PASS oneshot-errors "one line each: '$nobin_err' / '$(cat /tmp/oneshot-nomod.err)'"
	else
		R FAIL oneshot-errors "missing binary: exit $nobin_rc '$nobin_err'; missing modules: exit $rc '$(cat /tmp/oneshot-nomod.err)'"
	fi
	unset XDG_CACHE_HOME
}
run_oneshot
