#!/usr/bin/env bash
# The stdio console on a real terminal (a pty from script(1)): ember puts it
# in raw mode and restores it on every way out — guest reset, Ctrl-A x,
# SIGTERM, guest triple fault (exit 2) — and Ctrl-A x stops a running guest.
set -u
. "$(dirname "$0")/lib.sh"
require "$EMBER" "$TESTGUEST"
if ! command -v script >/dev/null; then
	echo "  skip: script(1) not installed"
	exit 0
fi

# in_pty NAME WAIT_FOR INPUT CMD...: runs CMD in a pty; types INPUT once
# CMD's output has WAIT_FOR (at most 30 s); writes the tty settings before
# and after, and CMD's exit code, to $E2E_TMP/NAME.*
in_pty() {
	local name=$1 wait_for=$2 input=$3
	shift 3
	local d=$E2E_TMP/$name
	e2e_cases=$((e2e_cases + 1))
	rm -f "$d.out"
	# keep script's stdin open until CMD has finished (bounded by the timeout)
	( if [ -n "$input" ]; then
		for _ in $(seq 300); do grep -qs "$wait_for" "$d.out" && break; sleep 0.1; done
		printf "$input"
	  fi
	  for _ in $(seq 400); do [ -e "$d.rc" ] && break; sleep 0.1; done ) |
		timeout -k 5 40 script -qec "stty -g > $d.before; $* > $d.out 2> $d.err; echo \$? > $d.rc; stty -g > $d.after" /dev/null >/dev/null 2>&1
	RC=$(cat "$d.rc" 2>/dev/null || echo none)
}

check() {
	local name=$1 want_rc=$2 what=$3 d=$E2E_TMP/$1
	if [ "$RC" != "$want_rc" ]; then
		fail "$name: exit $RC (want $want_rc)"
		show_file "$d.err" 5
	elif ! cmp -s "$d.before" "$d.after"; then
		fail "$name: terminal not restored: $(cat "$d.before") -> $(cat "$d.after")"
	else
		pass "$name: $what, exit $RC, terminal settings restored"
	fi
}

tg="$EMBER run --kernel $TESTGUEST --mem 128M --console stdio"
in_pty reset "" "" "$tg --cmdline 'tg.mem=128 tg.cpus=1'"
check reset 0 "guest reset"
grep -q "TESTGUEST DONE" "$E2E_TMP/reset.out" || fail "reset: guest output missing on stdout"

in_pty ctrl_a_x "TESTGUEST WAITING" '\001x' "$tg --cmdline 'tg.mem=128 tg.cpus=1 tg.wait=cad'"
check ctrl_a_x 0 "Ctrl-A x stops a waiting guest"
grep -q "TESTGUEST WAITING" "$E2E_TMP/ctrl_a_x.out" || fail "ctrl_a_x: the guest never waited"

in_pty sigterm "" "" "timeout --foreground --preserve-status -s TERM 2 $tg --cmdline 'tg.mem=128 tg.cpus=1 tg.wait=cad'"
check sigterm 0 "SIGTERM"

in_pty triple_fault "" "" "$tg --cmdline 'tg.mem=128 tg.cpus=1 tg.end=triplefault'"
check triple_fault 2 "guest triple fault"
grep -q "registers" "$E2E_TMP/triple_fault.err" || fail "triple_fault: no register dump on stderr"
finish
