# Shared helpers for tests/e2e/test_*.sh (sourced, not run).
# Every ember run goes through run_ember, which wraps it in `timeout`.

BUILD=${BUILD:-build}
EMBER=${EMBER:-$BUILD/ember}
TESTGUEST=${TESTGUEST:-$BUILD/firmware/testguest.elf}
E2E_TIMEOUT=${E2E_TIMEOUT:-60} # seconds for one ember run

E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ember-e2e.XXXXXX")
# e2e_cleanup: at exit, whatever this script left running under its temporary
# directory (an ember started in the background by a test that failed before
# it stopped it, its timeout wrapper) is killed, then the directory goes.
# Scripts with their own EXIT trap call e2e_cleanup last (e2e_reap first
# where something must wait for those processes to be gone).
e2e_reap() {
	disown -a 2>/dev/null
	pkill -KILL -f -- "$E2E_TMP/" 2>/dev/null
}
e2e_cleanup() {
	e2e_reap
	[ -n "${E2E_KEEP:-}" ] || rm -rf "$E2E_TMP"
}
trap e2e_cleanup EXIT
e2e_failures=0
e2e_cases=0

# Seccomp report mode (include/ember/seccomp.h): every ember this script
# starts runs its built-in filters with "trap and record" instead of "kill",
# appending a line per would-be violation to one file; finish fails the
# script unless that file is empty (zero violations). E2E_SECCOMP_REPORT=0
# runs the real kill-process filters instead. Any other harness (tests/nested,
# stress runs) does the same: EMBER_SECCOMP_REPORT=FILE, then `[ ! -s FILE ]`.
if [ "${E2E_SECCOMP_REPORT:-1}" != 0 ]; then
	export EMBER_SECCOMP_REPORT=$E2E_TMP/seccomp-report.txt
	: >"$EMBER_SECCOMP_REPORT"
	chmod 666 "$EMBER_SECCOMP_REPORT" # runs under another uid append too
else
	unset EMBER_SECCOMP_REPORT
fi

fail() {
	echo "  FAIL $*"
	e2e_failures=$((e2e_failures + 1))
}

pass() {
	echo "  ok   $*"
}

# require FILE...: stop the script early when a build product is missing.
# Runs a private copy of ember and the test guest, so that a rebuild in the
# same tree while the script runs cannot swap them mid-test.
require() {
	local f
	for f in "$@"; do
		if [ ! -e "$f" ]; then
			echo "  FAIL missing $f (build it first: make all)"
			exit 1
		fi
	done
	cp "$EMBER" "$E2E_TMP/ember" && EMBER=$E2E_TMP/ember || exit 1
	cp "$TESTGUEST" "$E2E_TMP/testguest.elf" && TESTGUEST=$E2E_TMP/testguest.elf || exit 1
}

now_ms() {
	date +%s%3N
}

# run_ember NAME ARGS...: runs "$EMBER ARGS..." under timeout with stdin from
# /dev/null. Sets RC (124 = timed out), OUT and ERR (files), MS (duration).
run_ember() {
	local name=$1 t0
	shift
	OUT=$E2E_TMP/$name.stdout
	ERR=$E2E_TMP/$name.stderr
	e2e_cases=$((e2e_cases + 1))
	t0=$(now_ms)
	timeout -k 5 "$E2E_TIMEOUT" "$EMBER" "$@" <"${E2E_STDIN:-/dev/null}" >"$OUT" 2>"$ERR"
	RC=$?
	MS=$(($(now_ms) - t0))
}

# show_file FILE [N]: the last N lines of FILE, indented (for failure reports).
show_file() {
	tail -n "${2:-15}" "$1" 2>/dev/null | sed 's/^/      | /'
}

# seccomp_report_check: a failure for every line in the report file.
seccomp_report_check() {
	local f=${EMBER_SECCOMP_REPORT:-}
	[ -n "$f" ] && [ -s "$f" ] || return 0
	fail "seccomp report: $(wc -l <"$f") would-be violation(s) under the built-in filters:"
	show_file "$f" 20
	: >"$f"
}

# wait_api SOCK: until ember accepts on the API socket SOCK (10 s at most).
wait_api() {
	python3 -c "import sys; sys.path.insert(0, '$(dirname "${BASH_SOURCE[0]}")/api'); import fcapi; \
sys.exit(0 if fcapi.wait_for_socket(sys.argv[1]) else 1)" "$1"
}

# start_bg NAME ARGS...: ember ARGS in the background under timeout (PID;
# stdout and stderr in OUT and ERR, named after NAME; $SOCK removed first).
# Counts a case.
start_bg() {
	local name=$1
	shift
	OUT=$E2E_TMP/$name.stdout
	ERR=$E2E_TMP/$name.stderr
	e2e_cases=$((e2e_cases + 1))
	rm -f "$SOCK"
	timeout -k 5 "$E2E_TIMEOUT" "$EMBER" "$@" </dev/null >"$OUT" 2>"$ERR" &
	PID=$!
}

# start_api NAME ARGS...: start_bg with the API socket $SOCK; fails the case
# (stderr shown, ember stopped) and returns 1 unless the socket accepts.
start_api() {
	local name=$1
	shift
	start_bg "$name" --api-sock "$SOCK" "$@"
	if ! wait_api "$SOCK"; then
		fail "$name: the API socket never accepted"
		show_file "$ERR"
		kill "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
		return 1
	fi
}

# api_call SOCK METHOD PATH [JSON]: one request (10 s at most); sets CODE and
# BODY.
api_call() {
	local f=$E2E_TMP/api_call.json
	rm -f "$f"
	CODE=$(curl -sS --max-time 10 --unix-socket "$1" -X "$2" ${4+-d "$4"} \
		-o "$f" -w '%{http_code}' "http://localhost$3")
	BODY=$(cat "$f" 2>/dev/null)
}

# expect_http NAME STATUS [ERE]: the last api_call answered STATUS (and its
# body matches ERE).
expect_http() {
	if [ "$CODE" = "$2" ] && { [ $# -lt 3 ] || grep -qE "$3" <<<"$BODY"; }; then
		pass "$1: $CODE $BODY"
	else
		fail "$1: HTTP $CODE $BODY (expected $2${3+ matching /$3/})"
	fi
}

# wait_line FILE ERE SECONDS: until a line of FILE matches ERE (the file is
# followed as it grows: tail -F, inotify), at most SECONDS. 0 when it did.
wait_line() {
	local fd pid rc
	exec {fd}< <(exec timeout "$3" tail -F -n +1 "$1" 2>/dev/null)
	pid=$!
	grep -qE -m1 "$2" <&"$fd"
	rc=$?
	kill "$pid" 2>/dev/null
	exec {fd}<&-
	return $rc
}

# finish: exit status of the script.
finish() {
	seccomp_report_check
	if [ "$e2e_failures" -eq 0 ]; then
		echo "  $e2e_cases ember runs, all passed"
		exit 0
	fi
	echo "  $e2e_failures failure(s) in $e2e_cases ember runs"
	exit 1
}
