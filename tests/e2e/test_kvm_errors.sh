#!/usr/bin/env bash
# KVM checks give one clear line and exit 1: no /dev/kvm, no permission on
# it, and a /dev/kvm that is not KVM (API version). Uses a private mount
# namespace (unshare -m) to hide or replace /dev/kvm; needs root.
set -u
. "$(dirname "$0")/lib.sh"
require "$EMBER" "$TESTGUEST"
if [ "$(id -u)" -ne 0 ] || ! unshare -m true 2>/dev/null; then
	echo "  skip: needs root and unshare -m"
	exit 0
fi

expect_one_line() { # NAME PATTERN
	if [ "$RC" -eq 1 ] && [ "$(wc -l <"$ERR")" -eq 1 ] && grep -q "$2" "$ERR"; then
		pass "$1: exit 1: $(cat "$ERR")"
	else
		fail "$1: exit $RC, stderr: $(head -c 300 "$ERR")"
	fi
}

args="run --kernel $TESTGUEST --console none"
# run_wrapped NAME WRAPPER...: like run_ember, with ember run under WRAPPER
run_wrapped() {
	local name=$1
	shift
	ERR=$E2E_TMP/$name.stderr
	e2e_cases=$((e2e_cases + 1))
	timeout -k 5 "$E2E_TIMEOUT" "$@" $EMBER $args </dev/null >/dev/null 2>"$ERR"
	RC=$?
}
printf '#!/bin/sh\nmount -t tmpfs none /dev && exec "$@"\n' >"$E2E_TMP/nokvm.sh"
printf '#!/bin/sh\nmount --bind /dev/null /dev/kvm && exec "$@"\n' >"$E2E_TMP/notkvm.sh"
chmod +x "$E2E_TMP"/*.sh

run_wrapped no_dev_kvm unshare -m "$E2E_TMP/nokvm.sh"
expect_one_line no_dev_kvm "/dev/kvm does not exist"

run_wrapped not_kvm unshare -m "$E2E_TMP/notkvm.sh"
expect_one_line not_kvm "/dev/kvm: .*KVM"

# permission: an unprivileged uid (setpriv from util-linux)
if command -v setpriv >/dev/null; then
	chmod 755 "$E2E_TMP"
	chmod 644 "$E2E_TMP/testguest.elf"
	chmod 755 "$EMBER"
	run_wrapped no_permission setpriv --reuid=65534 --regid=65534 --clear-groups
	expect_one_line no_permission "/dev/kvm: permission denied"
fi
finish
