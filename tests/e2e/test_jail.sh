#!/usr/bin/env bash
# `ember jail` (needs root; skipped otherwise):
# - a jailed ember boots the test guest (TESTGUEST DONE, fail=0, exit 0);
# - a long-running jailed ember shows in /proc: no capabilities (effective,
#   permitted, bounding), the given uid/gid and no groups, NoNewPrivs 1, the
#   cgroup v2 leaf, the jail root, the rlimits, the network namespace; it
#   stops cleanly on SIGTERM;
# - --new-pid-ns --daemonize: pid file, pid 1 in its namespace, own session,
#   stdio on /dev/null;
# - bad input and escape attempts exit 1 with one line on stderr and leave no
#   jail directory or cgroup behind.
set -u
. "$(dirname "$0")/lib.sh"
require "$EMBER" "$TESTGUEST"
if [ "$(id -u)" -ne 0 ]; then
	echo "  skip: ember jail needs root (running as $(id -un))"
	exit 0
fi

JUID=1234
JGID=1234
BASE=${JAIL_BASE:-$E2E_TMP/jails}
TAG=e2e$$
EXE=$(basename "$EMBER")
WAIT_S=30 # seconds for a jailed guest to come up

# cgroup2 mount point: the field after " - " is the fs type.
CG2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)
NETNS=ember-jail-$TAG
BGPIDS=()
LEAVES=()

cleanup() {
	local p l
	e2e_reap
	for p in "${BGPIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	for l in "${LEAVES[@]}"; do
		[ -d "$l" ] && rmdir "$l" 2>/dev/null
	done
	[ -n "$CG2" ] && rmdir "$CG2/$EXE" 2>/dev/null # only if no other jail uses it
	ip netns del "$NETNS" 2>/dev/null
	e2e_cleanup
}
trap cleanup EXIT

# expect_bad NAME ARGS...: exit 1 with exactly one non-empty line on stderr
# (which must contain $MUST if set).
expect_bad() {
	local name=$1 lines
	shift
	run_ember "$name" "$@"
	lines=$(wc -l <"$ERR")
	if [ "$RC" -ne 1 ]; then
		fail "$name: exited $RC, expected 1"
		show_file "$ERR" 5
	elif [ "$lines" -ne 1 ] || [ -z "$(tr -d '[:space:]' <"$ERR")" ]; then
		fail "$name: expected exactly one line on stderr, got $lines"
		show_file "$ERR" 5
	elif [ -n "${MUST:-}" ] && ! grep -qF -- "$MUST" "$ERR"; then
		fail "$name: the error does not mention '$MUST': $(cat "$ERR")"
	else
		pass "$name: $(cat "$ERR")"
		return 0
	fi
	return 1
}

# jail ID ARGS... -- EMBER ARGS: the common jail options.
jail_args() {
	local id=$1
	shift
	JARGS=(jail --id "$id" --exec-file "$EMBER" --uid "$JUID" --gid "$JGID"
		--chroot-base-dir "$BASE" "$@")
}

# start_jailed NAME: runs ember with JARGS and the hang guest in the
# background (console into the FIFO NAME.fifo, opened on fd 3, stderr in
# NAME.err), sets pid; fails with LABEL's message unless the guest reports
# ready within $WAIT_S s (status 1).
start_jailed() {
	local name=$1 label=$2
	mkfifo "$E2E_TMP/$name.fifo"
	e2e_cases=$((e2e_cases + 1))
	"$EMBER" "${JARGS[@]}" -- run --kernel /hang.elf --console stdio --mem 64M \
		>"$E2E_TMP/$name.fifo" 2>"$E2E_TMP/$name.err" </dev/null &
	pid=$!
	BGPIDS+=("$pid")
	exec 3<"$E2E_TMP/$name.fifo"
	if ! wait_line 3 "JAIL GUEST READY"; then
		fail "$label: the jailed guest did not start within ${WAIT_S}s"
		show_file "$E2E_TMP/$name.err" 5
		return 1
	fi
}

# status_field PID NAME: the value of a /proc/PID/status line (tabs -> spaces).
status_field() {
	awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "/proc/$1/status"
}

# wait_line FD TEXT: reads lines from FD until one contains TEXT ($WAIT_S s).
wait_line() {
	local fd=$1 text=$2 line deadline=$((SECONDS + WAIT_S))
	while [ $SECONDS -lt $deadline ]; do
		IFS= read -r -t $((deadline - SECONDS + 1)) -u "$fd" line || return 1
		case "$line" in *"$text"*) return 0 ;; esac
	done
	return 1
}

# wait_until SECONDS CMD...: polls CMD (every 50 ms) until it succeeds.
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.05
	done
}

# ---- 1. a jailed ember boots the test guest ----
ID=boot-$TAG
ROOT=$BASE/$EXE/$ID/root
jail_args "$ID" --copy-in "$TESTGUEST=/testguest.elf"
CMDLINE="tg.mem=128 tg.cpus=1"
run_ember boot "${JARGS[@]}" -- run --kernel /testguest.elf --console stdio --mem 128M \
	--cmdline "$CMDLINE"
done_line=$(tr -d '\r' <"$OUT" | grep -E '^TESTGUEST DONE pass=[0-9]+ fail=[0-9]+$' | tail -n 1)
if [ "$RC" -ne 0 ] || [ -z "$done_line" ] || [ "${done_line##*fail=}" != 0 ] ||
	[ "${done_line#*pass=}" = "0 fail=0" ]; then
	fail "boot: exit $RC, report '${done_line:-none}'"
	show_file "$OUT"
	show_file "$ERR" 5
else
	pass "boot: jailed ember as $JUID:$JGID: $done_line, exit 0 in ${MS} ms"
fi
# The jail as built: root owned by the jailed user, device nodes, a copied
# (not linked) binary.
dev_ok=1
for d in "kvm 10 232" "net/tun 10 200" "urandom 1 9"; do
	set -- $d
	got=$(stat -c '%F %t %T %u:%g %a' "$ROOT/dev/$1" 2>/dev/null)
	want=$(printf 'character special file %x %x %s:%s 600' "$2" "$3" "$JUID" "$JGID")
	if [ "$got" != "$want" ]; then
		fail "boot: $ROOT/dev/$1 is '$got', expected '$want'"
		dev_ok=0
	fi
done
[ $dev_ok -eq 1 ] && pass "boot: dev/kvm (10,232), dev/net/tun (10,200), dev/urandom (1,9) owned by $JUID:$JGID"
if [ "$(stat -c %u:%g "$ROOT")" != "$JUID:$JGID" ]; then
	fail "boot: $ROOT is owned by $(stat -c %u:%g "$ROOT"), expected $JUID:$JGID"
elif [ "$(stat -c %i "$ROOT/$EXE")" = "$(stat -c %i "$EMBER")" ] || [ "$(stat -c %h "$ROOT/$EXE")" != 1 ] ||
	! cmp -s "$ROOT/$EXE" "$EMBER"; then
	fail "boot: $ROOT/$EXE is not an identical copy of $EMBER"
else
	pass "boot: $ROOT owned by $JUID:$JGID, $EXE copied (not linked)"
fi

# ---- 2. a long-running jailed ember, inspected through /proc ----
# A guest that prints one line and halts forever (interrupts off).
HANG=$E2E_TMP/hang.elf
cat >"$E2E_TMP/hang.S" <<'EOF'
	.code64
	.text
	.globl _start
_start:
	cli
	mov $0x3f8, %dx
	lea msg(%rip), %rsi
1:	movb (%rsi), %al
	test %al, %al
	jz 2f
	outb %al, %dx
	inc %rsi
	jmp 1b
2:	hlt
	jmp 2b
msg:	.asciz "JAIL GUEST READY\n"
EOF
cat >"$E2E_TMP/hang.ld" <<'EOF'
ENTRY(_start)
SECTIONS {
	. = 0x100000;
	.text : { *(.text) }
	/DISCARD/ : { *(.note*) *(.eh_frame*) *(.comment) }
}
EOF
if ! ${CC:-gcc} -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,noexecstack \
	-T "$E2E_TMP/hang.ld" -o "$HANG" "$E2E_TMP/hang.S" 2>"$E2E_TMP/hang.err"; then
	fail "cannot build the halting guest"
	show_file "$E2E_TMP/hang.err"
	finish
fi

ID=live-$TAG
ROOT=$BASE/$EXE/$ID/root
LEAF=$CG2/$EXE/$ID
LEAVES+=("$LEAF")
CGARGS=(--cgroup-version 2 --cgroup cgroup.max.descendants=0)
memctl=0
if [ -n "$CG2" ] && grep -qw memory "$CG2/cgroup.controllers"; then
	CGARGS+=(--cgroup memory.max=536870912)
	memctl=1
fi
have_netns=0
if ip netns add "$NETNS" 2>/dev/null; then
	have_netns=1
	NSARGS=(--netns "/run/netns/$NETNS")
else
	echo "  note: 'ip netns add' failed: --netns not tested"
	NSARGS=()
fi
[ -z "$CG2" ] && { echo "  note: no cgroup2 mount: cgroup checks skipped"; CGARGS=(); }
jail_args "$ID" "${CGARGS[@]}" "${NSARGS[@]}" --resource-limit fsize=268435456 \
	--resource-limit no-file=512 --copy-in "$HANG=/hang.elf"
mkfifo "$E2E_TMP/live.fifo"
e2e_cases=$((e2e_cases + 1))
exec 7>"$E2E_TMP/leak-marker"
"$EMBER" "${JARGS[@]}" -- run --kernel /hang.elf --console stdio --mem 64M \
	>"$E2E_TMP/live.fifo" 2>"$E2E_TMP/live.err" </dev/null &
pid=$!
exec 7>&-
BGPIDS+=("$pid")
exec 3<"$E2E_TMP/live.fifo"
if ! wait_line 3 "JAIL GUEST READY"; then
	fail "live: the jailed guest did not start within ${WAIT_S}s"
	show_file "$E2E_TMP/live.err" 5
else
	pass "live: jailed ember (pid $pid) runs the guest"
	st=/proc/$pid/status
	for f in CapInh CapPrm CapEff CapBnd CapAmb; do
		v=$(status_field "$pid" "$f")
		[ "$v" = 0000000000000000 ] || fail "live: $f is '$v', expected 0000000000000000"
	done
	uid=$(status_field "$pid" Uid)
	gid=$(status_field "$pid" Gid)
	groups=$(status_field "$pid" Groups)
	nnp=$(status_field "$pid" NoNewPrivs)
	[ "$(echo $uid)" = "$JUID $JUID $JUID $JUID" ] || fail "live: Uid '$uid', expected $JUID (all four)"
	[ "$(echo $gid)" = "$JGID $JGID $JGID $JGID" ] || fail "live: Gid '$gid', expected $JGID (all four)"
	[ -z "$(echo $groups)" ] || fail "live: supplementary groups '$groups', expected none"
	[ "$nnp" = 1 ] || fail "live: NoNewPrivs '$nnp', expected 1"
	pass "live: CapEff/CapPrm/CapBnd/CapAmb 0, Uid/Gid $JUID/$JGID, Groups empty, NoNewPrivs $nnp"

	# the root: /proc/PID/root is the jail root (same inode), the host is gone
	if [ "$(stat -L -c %d:%i "/proc/$pid/root")" != "$(stat -c %d:%i "$ROOT")" ]; then
		fail "live: /proc/$pid/root is not $ROOT"
	elif [ -e "/proc/$pid/root/etc" ] || [ -e "/proc/$pid/root/old_root" ] ||
		[ ! -e "/proc/$pid/root/dev/kvm" ]; then
		fail "live: the jailed root shows host files or lacks dev/kvm: $(ls "/proc/$pid/root" | tr '\n' ' ')"
	elif [ "$(wc -l <"/proc/$pid/mountinfo")" -ne 1 ]; then
		fail "live: the jailed process sees $(wc -l <"/proc/$pid/mountinfo") mounts, expected 1"
		show_file "/proc/$pid/mountinfo" 5
	elif [ "$(readlink "/proc/$pid/ns/mnt")" = "$(readlink /proc/self/ns/mnt)" ]; then
		fail "live: the jailed process shares our mount namespace"
	else
		pass "live: /proc/$pid/root is $ROOT, one mount, own mount namespace"
	fi

	# the cgroup leaf and the values written there
	if [ ${#CGARGS[@]} -gt 0 ]; then
		cg=$(grep '^0::' "/proc/$pid/cgroup")
		if [ "$cg" != "0::/$EXE/$ID" ]; then
			fail "live: /proc/$pid/cgroup has '$cg', expected 0::/$EXE/$ID"
		elif [ "$(cat "$LEAF/cgroup.max.descendants")" != 0 ]; then
			fail "live: $LEAF/cgroup.max.descendants is $(cat "$LEAF/cgroup.max.descendants")"
		elif [ $memctl -eq 1 ] && [ "$(cat "$LEAF/memory.max")" != 536870912 ]; then
			fail "live: $LEAF/memory.max is $(cat "$LEAF/memory.max")"
		else
			pass "live: in cgroup $cg ($LEAF), values written$([ $memctl -eq 1 ] && echo ', memory.max set')"
		fi
	fi

	# rlimits
	fsz=$(awk '/^Max file size/ { print $4, $5 }' "/proc/$pid/limits")
	nof=$(awk '/^Max open files/ { print $4, $5 }' "/proc/$pid/limits")
	if [ "$fsz" != "268435456 268435456" ] || [ "$nof" != "512 512" ]; then
		fail "live: limits fsize '$fsz', no-file '$nof', expected 268435456 and 512"
	else
		pass "live: rlimits fsize 268435456, no-file 512"
	fi

	# the network namespace
	if [ $have_netns -eq 1 ]; then
		if [ "$(stat -L -c %i "/proc/$pid/ns/net")" != "$(stat -L -c %i "/run/netns/$NETNS")" ]; then
			fail "live: not in network namespace $NETNS"
		else
			pass "live: joined network namespace $NETNS"
		fi
	fi

	# fd 7 was open (not close-on-exec) when the jailer started: closed
	if ls -l "/proc/$pid/fd" | grep -q leak-marker; then
		fail "live: a descriptor of the test leaked into the jail: $(ls -l "/proc/$pid/fd" | grep leak-marker)"
	elif [ -s "/proc/$pid/environ" ]; then
		fail "live: the jailed process has an environment: $(tr '\0' ' ' <"/proc/$pid/environ")"
	else
		pass "live: empty environment, no leaked descriptors"
	fi

	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	if [ $rc -ne 0 ]; then
		fail "live: exit status $rc after SIGTERM, expected 0"
		show_file "$E2E_TMP/live.err" 5
	else
		pass "live: SIGTERM stops it, exit 0"
	fi
fi
exec 3<&-
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
rmdir "$LEAF" 2>/dev/null

# ---- 2b. cgroup v1, the default of Firecracker's jailer ----
# Without --cgroup-version, --cgroup files go to each controller's v1
# hierarchy: the leaf <mount>/<exec>/<id>, cpuset.mems inherited from the
# parent (v1 starts it empty), the value written, the process in it; the
# same --id is refused while it runs and runs again once it has exited.
CPUSET1=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup" && (","$(i + 3)",") ~ /,cpuset,/) { print $5; exit } break } }' /proc/self/mountinfo)
if [ -z "$CPUSET1" ]; then
	echo "  note: no cgroup v1 cpuset hierarchy: the v1 checks run where one is mounted"
else
	ID=v1-$TAG
	V1LEAF=$CPUSET1/$EXE/$ID
	LEAVES+=("$V1LEAF")
	cpu=$(cut -d, -f1 <"$CPUSET1/cpuset.effective_cpus" | cut -d- -f1)
	jail_args "$ID" --cgroup "cpuset.cpus=$cpu" --copy-in "$HANG=/hang.elf"
	if start_jailed v1 "v1"; then
		cg=$(grep -E '^[0-9]+:([^:]*,)?cpuset(,[^:]*)?:' "/proc/$pid/cgroup" | cut -d: -f3)
		mems=$(cat "$V1LEAF/cpuset.mems" 2>/dev/null)
		if [ "$cg" != "/$EXE/$ID" ]; then
			fail "v1: /proc/$pid/cgroup cpuset is '$cg', expected /$EXE/$ID"
		elif [ "$(cat "$V1LEAF/cpuset.cpus")" != "$cpu" ]; then
			fail "v1: $V1LEAF/cpuset.cpus is '$(cat "$V1LEAF/cpuset.cpus")', expected $cpu"
		elif [ -z "$mems" ] || [ "$mems" != "$(cat "$CPUSET1/$EXE/cpuset.mems")" ]; then
			fail "v1: cpuset.mems '$mems' not inherited from $CPUSET1/$EXE ('$(cat "$CPUSET1/$EXE/cpuset.mems")')"
		else
			pass "v1 (default --cgroup-version): in cpuset:$cg, cpuset.cpus=$cpu, cpuset.mems=$mems inherited"
		fi
		MUST="is in use" expect_bad v1_same_id_running "${JARGS[@]}" -- --version
		kill -TERM "$pid"
		wait "$pid"
	fi
	exec 3<&-
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	run_ember v1_same_id_again "${JARGS[@]}" -- --version
	if [ "$RC" -ne 0 ] || ! grep -q '^Firecracker v' "$OUT"; then
		fail "v1: the same --id after the first exited: exit $RC: $(tail -n 2 "$ERR")"
	else
		pass "v1: the same --id runs again after the first exited (its leaf reused)"
	fi
	MUST="no cgroup v1 hierarchy with the 'nosuchctl' controller" expect_bad cgroup_v1_unknown_controller \
		jail --id "cg5-$TAG" --exec-file "$EMBER" --uid "$JUID" --gid "$JGID" \
		--chroot-base-dir "$BASE" --cgroup nosuchctl.max=1
	rmdir "$V1LEAF" "$CPUSET1/$EXE" 2>/dev/null
fi

# ---- 2c. --cgroup-version 2 without --cgroup: into --parent-cgroup ----
# (Firecracker's jailer: no leaf; the process joins the parent if it exists,
# and goes on where it is if not.)
if [ -n "$CG2" ]; then
	PNAME=ember-parent-$TAG
	mkdir "$CG2/$PNAME"
	LEAVES+=("$CG2/$PNAME")
	jail_args "p2-$TAG" --cgroup-version 2 --parent-cgroup "$PNAME" --copy-in "$HANG=/hang.elf"
	if start_jailed p2 "v2 parent"; then
		cg=$(grep '^0::' "/proc/$pid/cgroup")
		if [ "$cg" != "0::/$PNAME" ] || [ -e "$CG2/$PNAME/p2-$TAG" ]; then
			fail "v2 parent: /proc/$pid/cgroup has '$cg' (expected 0::/$PNAME, no leaf)"
		else
			pass "v2 without --cgroup: moved into --parent-cgroup ($cg), no leaf created"
		fi
		kill -TERM "$pid"
		wait "$pid"
	fi
	exec 3<&-
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	run_ember v2_parent_missing jail --id "p3-$TAG" --exec-file "$EMBER" --uid "$JUID" \
		--gid "$JGID" --chroot-base-dir "$BASE" --cgroup-version 2 \
		--parent-cgroup "no-such-$TAG" -- --version
	if [ "$RC" -ne 0 ] || [ -e "$CG2/no-such-$TAG" ]; then
		fail "v2 parent missing: exit $RC, $(tail -n 1 "$ERR")"
	else
		pass "v2 without --cgroup, --parent-cgroup missing: runs where it is, creates nothing"
	fi
fi

# ---- 3. --new-pid-ns --daemonize ----
ID=pidns-$TAG
ROOT=$BASE/$EXE/$ID/root
jail_args "$ID" --new-pid-ns --daemonize --copy-in "$HANG=/hang.elf"
run_ember pidns "${JARGS[@]}" -- run --kernel /hang.elf --console file:/console.txt --mem 64M
cpid=$(cat "$ROOT/$EXE.pid" 2>/dev/null)
if [ "$RC" -ne 0 ] || [ -z "$cpid" ]; then
	fail "pidns: jailer exited $RC, pid file '$cpid'"
	show_file "$ERR" 5
else
	BGPIDS+=("$cpid")
	if ! wait_until $WAIT_S grep -q "JAIL GUEST READY" "$ROOT/console.txt" 2>/dev/null; then
		fail "pidns: the guest did not start within ${WAIT_S}s (pid $cpid)"
	else
		nspid=$(status_field "$cpid" NSpid)
		sid=$(awk '{ print $6 }' "/proc/$cpid/stat")
		fds=$(for f in 0 1 2; do readlink "/proc/$cpid/fd/$f"; done | sort -u | tr '\n' ' ')
		if [ "$(echo $nspid)" != "$cpid 1" ]; then
			fail "pidns: NSpid '$nspid', expected '$cpid 1'"
		elif [ "$sid" != "$cpid" ]; then
			fail "pidns: session $sid, expected its own ($cpid)"
		elif [ "$fds" != "/dev/null " ]; then
			fail "pidns: stdio is '$fds', expected /dev/null"
		elif [ "$(status_field "$cpid" CapEff)" != 0000000000000000 ]; then
			fail "pidns: CapEff $(status_field "$cpid" CapEff)"
		else
			pass "pidns: pid file $cpid, pid 1 in its namespace, own session, stdio /dev/null"
		fi
		kill -TERM "$cpid"
		if wait_until 10 test ! -e "/proc/$cpid"; then
			pass "pidns: SIGTERM stops it"
		else
			fail "pidns: still running 10 s after SIGTERM"
		fi
	fi
	kill -9 "$cpid" 2>/dev/null
fi

# ---- 4. refused input: one line, exit 1, nothing left behind ----
# gone ID: no jail directory and no cgroup leaf for ID.
gone() {
	if [ -e "$BASE/$EXE/$1" ]; then
		fail "$2: $BASE/$EXE/$1 was left behind"
	elif [ -n "$CG2" ] && [ -e "$CG2/$EXE/$1" ]; then
		fail "$2: cgroup $CG2/$EXE/$1 was left behind"
	fi
}
E=(--exec-file "$EMBER" --uid "$JUID" --gid "$JGID" --chroot-base-dir "$BASE")

MUST="only letters, digits and '-'" expect_bad id_dotdot jail --id ../escape "${E[@]}"
[ -e "$BASE/escape" ] && fail "id_dotdot: $BASE/escape was created"
MUST="only letters" expect_bad id_slash jail --id a/b "${E[@]}"
MUST="only letters" expect_bad id_dot jail --id . "${E[@]}"
MUST="1..64" expect_bad id_empty jail --id "" "${E[@]}"
MUST="1..64" expect_bad id_65_chars jail --id "$(printf 'a%.0s' $(seq 1 65))" "${E[@]}"
MUST="missing --id" expect_bad id_missing jail "${E[@]}"

# An existing jail directory is used as Firecracker's jailer uses it (Kata
# creates <base>/<exec>/<id>/root with the guest's files first; the same id
# runs again after the previous process exited, its cgroup leaf too): what
# was there stays, ember's files are put in place, twice in a row.
[ -n "$CG2" ] && LEAVES+=("$CG2/$EXE/dup-$TAG")
mkdir -p "$BASE/$EXE/dup-$TAG/root"
echo keep >"$BASE/$EXE/dup-$TAG/root/marker"
for run in 1 2; do
	run_ember "existing_jail_dir_$run" jail --id "dup-$TAG" "${E[@]}" "${CGARGS[@]}" -- --version
	if [ "$RC" -ne 0 ] || ! grep -q '^Firecracker v' "$OUT"; then
		fail "existing_jail_dir (run $run): exit $RC: $(tail -n 2 "$ERR")"
	elif [ "$(cat "$BASE/$EXE/dup-$TAG/root/marker" 2>/dev/null)" != keep ] ||
		[ ! -x "$BASE/$EXE/dup-$TAG/root/$EXE" ]; then
		fail "existing_jail_dir (run $run): the marker is gone or $EXE was not copied in"
	else
		pass "existing_jail_dir (run $run): reused, the marker kept, $EXE copied in, exit 0"
	fi
done

MUST="does not exist" expect_bad exec_missing jail --id "x-$TAG" --exec-file "$E2E_TMP/no-such-ember" \
	--uid 1 --gid 1 --chroot-base-dir "$BASE"
MUST="not a regular file" expect_bad exec_directory jail --id "x-$TAG" --exec-file "$E2E_TMP" \
	--uid 1 --gid 1 --chroot-base-dir "$BASE"
MUST="not an ELF" expect_bad exec_not_elf jail --id "x-$TAG" --exec-file "$E2E_TMP/hang.S" \
	--uid 1 --gid 1 --chroot-base-dir "$BASE"
if [ -n "$(readelf -l /bin/true 2>/dev/null | grep INTERP)" ]; then
	MUST="dynamically linked" expect_bad exec_foreign_dynamic jail --id "x-$TAG" \
		--exec-file /bin/true --uid 1 --gid 1 --chroot-base-dir "$BASE"
fi
gone "x-$TAG" exec_checks

MUST="--uid" expect_bad uid_garbage jail --id "x-$TAG" --exec-file "$EMBER" --uid abc --gid 1
MUST="--uid" expect_bad uid_negative jail --id "x-$TAG" --exec-file "$EMBER" --uid -1 --gid 1
MUST="--uid" expect_bad uid_too_big jail --id "x-$TAG" --exec-file "$EMBER" --uid 4294967295 --gid 1
MUST="--gid" expect_bad gid_garbage jail --id "x-$TAG" --exec-file "$EMBER" --uid 1 --gid 1x
MUST="missing --gid" expect_bad gid_missing jail --id "x-$TAG" --exec-file "$EMBER" --uid 1

MUST="no 'nosuchctl' controller" expect_bad cgroup_unknown_controller jail --id "cg1-$TAG" "${E[@]}" \
	--cgroup-version 2 --cgroup nosuchctl.max=1
gone "cg1-$TAG" cgroup_unknown_controller
if [ -n "$CG2" ]; then
	# passes the early checks; refused once the leaf exists, which is removed again
	MUST="unknown cgroup file" expect_bad cgroup_unknown_file jail --id "cg2-$TAG" "${E[@]}" \
		--cgroup-version 2 --cgroup cgroup.no_such_file=1
	gone "cg2-$TAG" cgroup_unknown_file
	MUST="writing" expect_bad cgroup_bad_value jail --id "cg3-$TAG" "${E[@]}" \
		--cgroup-version 2 --cgroup cgroup.max.descendants=lots
	gone "cg3-$TAG" cgroup_bad_value
fi
MUST="FILE=VALUE" expect_bad cgroup_no_value jail --id "cg4-$TAG" "${E[@]}" --cgroup memory.max
MUST="managed by the jailer" expect_bad cgroup_procs jail --id "cg4-$TAG" "${E[@]}" --cgroup cgroup.procs=1
MUST="letters, digits" expect_bad cgroup_path_escape jail --id "cg4-$TAG" "${E[@]}" \
	--cgroup ../../cgroup.procs=1
MUST="supported: 1, 2" expect_bad cgroup_version_3 jail --id "cg4-$TAG" "${E[@]}" --cgroup-version 3
MUST="'..' are not allowed" expect_bad parent_cgroup_escape jail --id "cg4-$TAG" "${E[@]}" \
	--parent-cgroup ../..

MUST="unknown resource" expect_bad rlimit_unknown jail --id "rl-$TAG" "${E[@]}" --resource-limit bogus=1
MUST="decimal number" expect_bad rlimit_garbage jail --id "rl-$TAG" "${E[@]}" --resource-limit fsize=abc
MUST="decimal number" expect_bad rlimit_negative jail --id "rl-$TAG" "${E[@]}" --resource-limit no-file=-1
MUST="RESOURCE=VALUE" expect_bad rlimit_no_value jail --id "rl-$TAG" "${E[@]}" --resource-limit fsize
MUST="given twice" expect_bad rlimit_twice jail --id "rl-$TAG" "${E[@]}" --resource-limit fsize=1 \
	--resource-limit fsize=2

MUST="not a network namespace" expect_bad netns_not_ns jail --id "ns-$TAG" "${E[@]}" --netns "$HANG"
MUST="--netns" expect_bad netns_missing jail --id "ns-$TAG" "${E[@]}" --netns "$E2E_TMP/no-such-ns"
gone "ns-$TAG" netns

# refused after the jail directory was created: it is removed again
MUST="--copy-in" expect_bad copy_in_missing jail --id "cp-$TAG" "${E[@]}" --copy-in "$E2E_TMP/nothing"
gone "cp-$TAG" copy_in_missing
MUST="'..' are not allowed" expect_bad copy_in_escape jail --id "cp-$TAG" "${E[@]}" \
	--copy-in "$HANG=/../../etc/evil"
MUST="would replace" expect_bad copy_in_over_dev jail --id "cp-$TAG" "${E[@]}" \
	--copy-in "$HANG=/dev/kvm"
gone "cp-$TAG" copy_in
MUST="unknown option" expect_bad unknown_option jail --id "u-$TAG" "${E[@]}" --frobnicate
MUST="after '--'" expect_bad stray_argument jail --id "u-$TAG" "${E[@]}" run

finish
